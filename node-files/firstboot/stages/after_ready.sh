#: Stage after_ready (Kubernetes nodes): one's own hooks (custom.hooks.afterReady) once the node is Ready.
stage_after_ready() {
  if [ "$NOT_READY" = 1 ]; then
    # Hooks that expect a Ready node would fail for the wrong reason: they run at the next start.
    log "WARNING: node $NODE_NAME is not Ready: the after-ready hooks wait for the next run ('systemctl start k8s-image-firstboot')"
    STAGE_UNFINISHED=1
    return 0
  fi
  run_hooks after-ready
}
