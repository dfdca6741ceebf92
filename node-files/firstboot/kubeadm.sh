#: kubeadm init/join attempts: retry with backoff, reset and restore the CA between them.
# ------------------------------------------------------------------------------------------
# kubeadm init / join with reset-and-retry.
# ------------------------------------------------------------------------------------------
# retry WHAT BETWEEN CMD...: run CMD up to RETRIES times with capped exponential backoff, calling the
# function BETWEEN (or :) after each failure. Sets RETRY_OK=1 or 0 and always returns 0, so callers
# run it plainly and `set -e` stays in force inside (in an `if` or `||` bash would ignore it).
retry() {
  local what=$1 between=$2
  shift 2
  local attempt=1 backoff_ms cap_ms
  backoff_ms=$(to_ms "$RETRY_BACKOFF_BASE")
  cap_ms=$(to_ms "$RETRY_BACKOFF_MAX")
  while :; do
    log "$what, attempt $attempt of $RETRIES"
    if run "$@"; then
      log "$what succeeded"
      RETRY_OK=1
      return 0
    fi
    log "$what failed (attempt $attempt of $RETRIES)"
    "$between"
    if [ "$attempt" -ge "$RETRIES" ]; then
      RETRY_OK=0
      return 0
    fi
    attempt=$((attempt + 1))
    log "next attempt in $(sleep_ms_text "$backoff_ms")"
    sleep_ms "$backoff_ms"
    backoff_ms=$(next_backoff_ms "$backoff_ms" "$cap_ms")
  done
}

# After a failed init/join: kubeadm reset, which empties PKI_DIR (CA included), then the CA back.
reset_for_retry() {
  log "resetting with 'kubeadm reset -f'"
  run kubeadm reset -f || log "WARNING: kubeadm reset -f failed; trying anyway"
  if [ "$ROLE" != join ]; then restore_pki; fi
}

# $1: what (for the log); rest: the kubeadm command.
kubeadm_with_retries() {
  local what=$1
  shift
  # Masters: the shared CA goes into PKI_DIR before the first attempt and after every reset.
  if [ "$ROLE" != join ]; then restore_pki; fi
  retry "$what" reset_for_retry "$@"
  if [ "$RETRY_OK" = 0 ]; then
    die "$what failed $RETRIES times. Read the kubeadm output above in $LOG_FILE and 'journalctl -u kubelet'; fix the cause, then run 'systemctl start k8s-image-firstboot' to try again"
  fi
}

