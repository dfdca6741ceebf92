#: One's own hook scripts (custom.hooks): run_hooks POINT runs each file in $HOOKS_DIR/POINT in order.
# run_hooks POINT: each hook is a file (never inlined), run by bash with what it may want to know in
# its environment; its output goes to the log; a failure stops first boot at this stage.
run_hooks() {
  local point=$1 hook rc
  if [ -z "$HOOKS_DIR" ] || [ ! -d "$HOOKS_DIR/$point" ]; then
    log "no $point hooks"
    return 0
  fi
  for hook in "$HOOKS_DIR/$point"/*; do
    [ -f "$hook" ] || continue
    log "hook $hook: start"
    rc=0
    K8S_IMAGE_HOOK=$point K8S_IMAGE_NODE=$NODE_NAME K8S_IMAGE_ROLE=$ROLE K8S_IMAGE_NODE_IP=${NODE_IP:-} bash "$hook" </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
      die "hook $hook ($point) failed with exit $rc (its output is above); fix it, then run 'systemctl start k8s-image-firstboot' to run it again (finished stages are skipped)"
    fi
    log "hook $hook: done"
  done
}
