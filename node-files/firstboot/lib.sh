#: Helpers every stage uses: log/die, reports to serve, the failure trap, env checks, ms timing, run.

log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) firstboot[$CURRENT_STAGE]: $*"
}

die() {
  log "ERROR: $*"
  exit 1
}

# report STAGE [report.py options]: tell the status server, in the background and with its output in
# the log file (not the tee pipe, which would wait for it); its status is never ours.
report() {
  [ -n "$STATUS_URL" ] || return 0
  local stage=$1
  shift
  # Queued here, in this script's order (a local write); sent in the background, oldest first.
  "$REPORT_PYTHON" "$REPORTER" --queue-only "$@" "$STATUS_URL" "$NODE_NAME" "$stage" </dev/null >>"$LOG_FILE" 2>&1 || return 0
  "$REPORT_PYTHON" "$REPORTER" --flush "$STATUS_URL" </dev/null >>"$LOG_FILE" 2>&1 &
}

on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    log "FAILED in stage $CURRENT_STAGE (exit $rc). Read $LOG_FILE, fix the cause, then run 'systemctl start k8s-image-firstboot' to resume at this stage (finished stages are skipped)."
    # Waited for (at most 10 s): systemd stops what a failed unit leaves running.
    if [ -n "$STATUS_URL" ] && [ -n "${NODE_NAME:-}" ]; then
      # shellcheck disable=SC2094 # the sender reads the log's tail before it appends its own lines
      "$REPORT_PYTHON" "$REPORTER" --log "$LOG_FILE" --sync 10 "$STATUS_URL" "$NODE_NAME" failed </dev/null >>"$LOG_FILE" 2>&1 || true
    fi
  fi
}
trap on_exit EXIT

need_var() {
  local name
  for name in "$@"; do
    if [ -z "${!name:-}" ]; then die "$ENV_FILE does not set $name"; fi
  done
}

need_int() {
  local name
  for name in "$@"; do
    [[ ${!name:-} =~ ^[0-9]+$ ]] || die "$ENV_FILE: $name=${!name:-} is not a whole number (seconds or attempts)"
  done
}

need_seconds() {
  local name
  for name in "$@"; do
    [[ ${!name:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$ENV_FILE: $name=${!name:-} is not a number of seconds"
  done
}

# Seconds (decimals allowed: "0.2") to milliseconds, and back for sleep (coreutils sleep takes decimals).
to_ms() {
  local v=$1 int frac=000
  int=${v%%.*}
  if [[ $v == *.* ]]; then
    frac=${v#*.}000
    frac=${frac:0:3}
  fi
  echo $((10#$int * 1000 + 10#$frac))
}

sleep_ms() {
  sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"
}

# Next backoff: double, capped.
next_backoff_ms() {
  local cur=$1 cap=$2
  cur=$((cur * 2))
  if [ "$cur" -gt "$cap" ]; then cur=$cap; fi
  echo "$cur"
}

# Run a command, its output (token redacted) into the log; returns the command's status.
run() {
  log "+ $*"
  local rc=0
  "$@" 2>&1 | sed -u -r 's/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/<bootstrap-token>/g' || rc=$?
  if [ "$rc" -ne 0 ]; then log "exit $rc from: $*"; fi
  return "$rc"
}

