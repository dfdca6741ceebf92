#: Waits on other machines (URLs, TCP), bounded by WAIT_DEADLINE, with capped backoff.
# ------------------------------------------------------------------------------------------
# Waits, bounded by WAIT_DEADLINE with capped backoff. A URL counts when it answers 200 (an L4 load
# balancer accepts TCP with no backend alive, so joins check /healthz); a host:port counts when it
# accepts a TCP connection (the first master, before init, needs only the proxy in front of it up).
# ------------------------------------------------------------------------------------------
check_url() {
  # --noproxy: these are in-cluster addresses; curl 7.29 cannot match CIDRs in NO_PROXY.
  curl -fsS --noproxy '*' --cacert "$CA_CERT" --max-time 10 -o /dev/null "$1" 2>&1
}

check_tcp() {
  local host=${1%:*} port=${1##*:}
  # bash's /dev/tcp: no nc or telnet on a minimal CentOS 7. The inner script is quoted on purpose:
  # it gets host and port as $0 and $1.
  # shellcheck disable=SC2016
  if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then return 0; fi
  echo "no TCP connection to $host:$port"
  return 1
}

# wait_for CHECK WHAT LIST: until CHECK succeeds for every item of the space-separated LIST.
wait_for() {
  local check=$1 what=$2 list=$3
  if [ -z "${list// /}" ]; then
    log "nothing to wait for (no $what given)"
    return 0
  fi
  local -a items
  read -r -a items <<<"$list"
  local start deadline delay_ms cap_ms now left_ms item out pending attempt=0
  start=$(date +%s)
  deadline=$((start + WAIT_DEADLINE))
  delay_ms=$(to_ms "$WAIT_BACKOFF_BASE")
  cap_ms=$(to_ms "$WAIT_BACKOFF_MAX")
  log "waiting for ${items[*]} ($what) (gives up after ${WAIT_DEADLINE}s, at $(date -d "@$deadline" +%Y-%m-%dT%H:%M:%S%:z))"
  while :; do
    attempt=$((attempt + 1))
    pending=''
    for item in "${items[@]}"; do
      if ! out=$("$check" "$item"); then
        pending="$pending${pending:+;} $item (${out//$'\n'/ })"
      fi
    done
    if [ -z "$pending" ]; then
      log "ready: ${items[*]}"
      return 0
    fi
    now=$(date +%s)
    if [ "$now" -ge "$deadline" ]; then
      die "gave up after ${WAIT_DEADLINE}s waiting for${pending}. Check that machine (its /var/log/k8s-image/firstboot.log and 'journalctl -u k8s-image-firstboot'), fix it, then run 'systemctl start k8s-image-firstboot' on this node to retry"
    fi
    left_ms=$(((deadline - now) * 1000))
    if [ "$delay_ms" -gt "$left_ms" ]; then delay_ms=$left_ms; fi
    log "still waiting (check $attempt) for${pending}; next check in $(sleep_ms_text "$delay_ms")"
    sleep_ms "$delay_ms"
    delay_ms=$(next_backoff_ms "$delay_ms" "$cap_ms")
  done
}

wait_for_urls() {
  wait_for check_url "to answer 200" "$1"
}

sleep_ms_text() {
  echo "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))s"
}

