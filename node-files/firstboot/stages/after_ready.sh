#: Stage after_ready (Kubernetes nodes): one's own hooks (custom.hooks.afterReady) once the node is Ready.
stage_after_ready() {
  local status
  if [ -z "$HOOKS_DIR" ] || [ ! -d "$HOOKS_DIR/after-ready" ]; then
    log "no after-ready hooks"
    return 0
  fi
  # Asked here, not taken from the ready stage: on a rerun that stage is already done and did not wait.
  if [ "$NOT_READY" = 1 ]; then status=''; else status=$(node_status); fi
  case $status in
    Ready | Ready,*) ;;
    *)
      # Hooks that expect a Ready node would fail for the wrong reason: they run at the next start.
      log "WARNING: node $NODE_NAME is ${status:-not Ready}: the after-ready hooks wait for the next run ('systemctl start k8s-image-firstboot')"
      STAGE_UNFINISHED=1
      return 0
      ;;
  esac
  run_hooks after-ready
}
