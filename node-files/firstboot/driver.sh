#: The driver: markers, resumption, reports per stage, and each role's stage order (main).
# ------------------------------------------------------------------------------------------
stage() {
  local name=$1
  if [ -e "$STATE_DIR/$name.done" ]; then
    CURRENT_STAGE=$name
    log "already done (found $STATE_DIR/$name.done)"
    return 0
  fi
  CURRENT_STAGE=$name
  STAGE_UNFINISHED=0
  log "start"
  case $name in
    init) report init ;;
    join) report join ;;
  esac
  # Called plainly, not in an `if`: inside a condition bash would ignore set -e in the whole stage.
  "stage_$name"
  if [ "$STAGE_UNFINISHED" = 1 ]; then
    # Only a stage that may go on after a failure sets this (pull, after_ready); the others exit through die.
    log "not recorded as done; it runs again next time"
    UNFINISHED_STAGES="$UNFINISHED_STAGES $name"
  else
    date +%Y-%m-%dT%H:%M:%S%:z >"$STATE_DIR/$name.done"
    log "done"
    case $name in
      prepare) report runtime ;;
      ready) if [ "$NOT_READY" = 0 ]; then report ready; fi ;;
    esac
  fi
}

main() {
  if [ -e "$SENTINEL" ]; then
    # Reports queued while the status server was down go now.
    if [ -n "$STATUS_URL" ]; then "$REPORT_PYTHON" "$REPORTER" --flush "$STATUS_URL" </dev/null >>"$LOG_FILE" 2>&1 & fi
    log "bootstrap already complete ($(tr '\n' ' ' <"$SENTINEL")); nothing to do. Delete $SENTINEL and the *.done files in $STATE_DIR to run it again"
    exit 0
  fi
  need_var ROLE NODE_NAME
  case $ROLE in
    init | join-control-plane | join | none) ;;
    *) die "ROLE=$ROLE: expected init, join-control-plane, join or none" ;;
  esac
  need_int RETRIES WAIT_DEADLINE TIME_SYNC_DEADLINE READY_DEADLINE
  need_seconds WAIT_BACKOFF_BASE WAIT_BACKOFF_MAX RETRY_BACKOFF_BASE RETRY_BACKOFF_MAX POLL_INTERVAL
  if [ "$RETRIES" -lt 1 ]; then RETRIES=1; fi
  if [ "$ROLE" != none ]; then
    need_var KUBEADM_CONFIG RUNTIME_SERVICE KUBE_DIR
    [ -r "$KUBEADM_CONFIG" ] || die "cannot read $KUBEADM_CONFIG"
  fi

  # One run at a time (a manual run while the unit runs would race kubeadm).
  exec 9>"$STATE_DIR/firstboot.lock"
  if ! flock -n 9; then die "another firstboot run holds $STATE_DIR/firstboot.lock; not starting a second one"; fi

  log "k8s-image first boot: role $ROLE, node $NODE_NAME (${NODE_IP:-?}), endpoint ${ENDPOINT:-?}, env $ENV_FILE"
  report firstboot
  ensure_installed
  case $ROLE in
    none)
      # A load balancer: the install enabled and started its proxy; nothing to init or join.
      ;;
    init)
      need_var PKI_BACKUP PKI_DIR ADMIN_KUBECONFIG CNI_MANIFEST
      stage prepare
      stage time
      stage images
      stage pull
      stage before_kubeadm
      stage init
      stage cni
      stage ready
      stage after_ready
      stage keeper
      stage endpoint
      ;;
    join-control-plane)
      need_var PKI_BACKUP PKI_DIR ADMIN_KUBECONFIG CA_CERT
      stage prepare
      stage time
      stage images
      stage pull
      stage before_kubeadm
      stage join
      stage ready
      stage after_ready
      ;;
    join)
      need_var CA_CERT
      stage prepare
      stage time
      stage images
      stage before_kubeadm
      stage join
      stage ready
      stage after_ready
      ;;
    *)
      die "ROLE=$ROLE: expected init, join-control-plane, join or none"
      ;;
  esac
  CURRENT_STAGE=complete
  if [ -n "$UNFINISHED_STAGES" ]; then
    # No sentinel: the next run (a reboot, or 'systemctl start k8s-image-firstboot') runs these again.
    log "not complete: stage(s)$UNFINISHED_STAGES unfinished; $SENTINEL not written, so the next run ('systemctl start k8s-image-firstboot' or a reboot) runs them again"
    return 0
  fi
  printf '%s %s\n' "$(date +%Y-%m-%dT%H:%M:%S%:z)" "$ROLE" >"$SENTINEL"
  log "bootstrap complete: $NODE_NAME is a Kubernetes node ($ROLE); wrote $SENTINEL"
  report 'done'
}

main "$@"
