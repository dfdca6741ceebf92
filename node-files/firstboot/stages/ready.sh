#: Stage ready (every role): wait, bounded, for this Node to be Ready; late is a warning.
# node_status: this Node's STATUS column (Ready, NotReady, Ready,SchedulingDisabled), empty when unknown.
node_status() {
  local kubeconfig=$KUBE_DIR/admin.conf
  # A worker reads its own Node with the kubelet's credentials (the node authorizer allows it).
  if [ "$ROLE" = join ]; then kubeconfig=$KUBE_DIR/kubelet.conf; fi
  kubectl --kubeconfig "$kubeconfig" get node "$NODE_NAME" --no-headers 2>/dev/null | awk '{ print $2 }' || true
}

stage_ready() {
  local deadline interval_ms status=''
  deadline=$(($(date +%s) + READY_DEADLINE))
  interval_ms=$(to_ms "$POLL_INTERVAL")
  log "waiting up to ${READY_DEADLINE}s for node $NODE_NAME to be Ready"
  while :; do
    status=$(node_status)
    case $status in
      Ready | Ready,*)
        log "node $NODE_NAME is $status"
        return 0
        ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      # The cluster exists and other nodes can join; a NotReady node is a CNI/kubelet problem to look at.
      log "WARNING: node $NODE_NAME is still '${status:-unknown}' after ${READY_DEADLINE}s; going on. Look at 'kubectl get pods -n kube-system' and 'journalctl -u kubelet'"
      NOT_READY=1
      return 0
    fi
    sleep_ms "$interval_ms"
  done
}

