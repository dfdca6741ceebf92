#: Stage time (every role): wait, bounded, for chrony before anything checks a certificate.
# ------------------------------------------------------------------------------------------
# Stage: time — certificates are checked against the clock: a skewed clock breaks TLS.
# ------------------------------------------------------------------------------------------
time_synced() {
  chronyc waitsync 1 >/dev/null 2>&1 && return 0
  local tracking
  # Captured, not piped into grep -q: an early grep exit would SIGPIPE chronyc and pipefail says "no".
  tracking=$(chronyc tracking 2>/dev/null) || return 1
  grep -Eq '^Leap status *: *Normal' <<<"$tracking"
}

stage_time() {
  if ! command -v chronyc >/dev/null 2>&1; then
    log "WARNING: chronyc not found; cannot check the clock. A skewed clock makes TLS certificates look expired or not yet valid"
    return 0
  fi
  local deadline interval_ms
  deadline=$(($(date +%s) + TIME_SYNC_DEADLINE))
  interval_ms=$(to_ms "$POLL_INTERVAL")
  log "waiting up to ${TIME_SYNC_DEADLINE}s for chrony to synchronise the clock"
  while ! time_synced; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "WARNING: the clock is still not synchronised after ${TIME_SYNC_DEADLINE}s; going on. If it is skewed, TLS fails (certificates 'not yet valid' or 'expired'): check 'chronyc sources' and the NTP servers in /etc/chrony.conf"
      return 0
    fi
    sleep_ms "$interval_ms"
  done
  log "clock synchronised"
}

