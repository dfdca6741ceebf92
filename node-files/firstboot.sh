#!/bin/bash
# k8s-image first boot: turn this CentOS 7 machine into a Kubernetes node, unattended.
#
# Static file: every value comes from ${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env} (see
# node-files/README.md). Run by k8s-image-firstboot.service. Stages, each recorded as
# $STATE_DIR/<stage>.done so a rerun resumes at the first unfinished one:
#   init:               prepare time pull init cni ready keeper endpoint
#   join-control-plane: prepare time pull join ready  (pull only if the config names images)
#   join:               prepare time join ready
#   none (lb):          nothing beyond the install
# Before any stage: the install must have finished (INSTALL_MARKER); if it did not, it is rerun here.
# Success leaves $STATE_DIR/bootstrap-success.complete; after that a run does nothing.
# To retry after a failure: fix the cause, then `systemctl start k8s-image-firstboot`.
# With STATUS_URL set, each step is reported to the farm's status server (report.py): in the
# background, so a server that is down or hangs never slows or fails the bootstrap.
# Written for CentOS 7: bash 4.2 (no "${empty_array[@]}" under set -u), systemd 219, curl 7.29.
set -euo pipefail

ENV_FILE=${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image firstboot: cannot read $ENV_FILE (written by the kickstart/cloud-init seed); nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

# Optional settings (not written by the plan): defaults suit real nodes; tests shrink them.
STATE_DIR=${STATE_DIR:-/var/lib/k8s-image}
LOG_FILE=${LOG_FILE:-/var/log/k8s-image/firstboot.log}
MODULES_LOAD_DIR=${MODULES_LOAD_DIR:-/etc/modules-load.d}
RETRIES=${RETRIES:-5}
WAIT_BACKOFF_BASE=${WAIT_BACKOFF_BASE:-5}
WAIT_BACKOFF_MAX=${WAIT_BACKOFF_MAX:-60}
RETRY_BACKOFF_BASE=${RETRY_BACKOFF_BASE:-10}
RETRY_BACKOFF_MAX=${RETRY_BACKOFF_MAX:-120}
POLL_INTERVAL=${POLL_INTERVAL:-5}
READY_DEADLINE=${READY_DEADLINE:-900}
TIME_SYNC_DEADLINE=${TIME_SYNC_DEADLINE:-300}
WAIT_FOR=${WAIT_FOR:-}
CONFIRM_URLS=${CONFIRM_URLS:-}
WAIT_TCP=${WAIT_TCP:-}
INSTALL_SCRIPT=${INSTALL_SCRIPT:-/usr/local/lib/k8s-image/install.sh}
INSTALL_MARKER=${INSTALL_MARKER:-/var/lib/k8s-image/install.done}
INSTALL_LOG=${INSTALL_LOG:-/var/log/k8s-image/install.log}
KEEPER_TIMER=k8s-image-token-keeper.timer
SENTINEL=$STATE_DIR/bootstrap-success.complete
WAIT_DEADLINE=${WAIT_DEADLINE:-604800}
STATUS_URL=${STATUS_URL:-}
REPORTER=${REPORTER:-/usr/local/lib/k8s-image/report.py}
REPORT_PYTHON=${REPORT_PYTHON:-python}
CURRENT_STAGE=startup
STAGE_UNFINISHED=0
NOT_READY=0

umask 022
mkdir -p "$STATE_DIR" "$(dirname "$LOG_FILE")"
# 0600: kubeadm's output is logged (the bootstrap token is redacted, but keep it root's anyway).
touch "$LOG_FILE"
chmod 0600 "$LOG_FILE"
# Everything (our lines and every command's output) goes to the log file and to stdout (the journal).
exec > >(tee -a "$LOG_FILE") 2>&1

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

# ------------------------------------------------------------------------------------------
# Stage: prepare — kernel, swap, SELinux, sysctl, the container runtime.
# ------------------------------------------------------------------------------------------
stage_prepare() {
  run swapoff -a || die "swapoff -a failed: the kubelet refuses to run with swap on"
  if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce 2>/dev/null || true)" = Enforcing ]; then
    run setenforce 0 || log "WARNING: setenforce 0 failed; SELinux stays enforcing until the next boot"
  fi
  # The modules are the plan's list (modules-load.d/k8s.conf loads them at every later boot); this boot
  # needs them now. br_netfilter and overlay are required; without the IPVS ones kube-proxy falls back.
  local list="$MODULES_LOAD_DIR/k8s.conf" m
  [ -r "$list" ] || die "cannot read $list (written by the seed): it lists the kernel modules Kubernetes needs"
  while read -r m; do
    case $m in '' | '#'*) continue ;; esac
    if ! run modprobe "$m"; then
      case $m in
        br_netfilter) die "modprobe br_netfilter failed: bridged pod traffic would bypass iptables" ;;
        overlay) die "modprobe overlay failed: containerd's overlayfs snapshotter needs it" ;;
        *) log "WARNING: modprobe $m failed; kube-proxy falls back to iptables mode if an IPVS module is missing" ;;
      esac
    fi
  done <"$list"
  # CentOS 7's 3.10 kernel has nf_conntrack_ipv4; newer kernels merged it into nf_conntrack.
  local conntrack=''
  if modprobe nf_conntrack_ipv4 >/dev/null 2>&1; then
    conntrack=nf_conntrack_ipv4
  elif modprobe nf_conntrack >/dev/null 2>&1; then
    conntrack=nf_conntrack
  fi
  if [ -n "$conntrack" ]; then
    mkdir -p "$MODULES_LOAD_DIR"
    printf '# k8s-image: the conntrack module this kernel has (probed at first boot)\n%s\n' "$conntrack" >"$MODULES_LOAD_DIR/k8s-conntrack.conf"
    chmod 0644 "$MODULES_LOAD_DIR/k8s-conntrack.conf"
    log "conntrack module: $conntrack (persisted in $MODULES_LOAD_DIR/k8s-conntrack.conf)"
  else
    log "WARNING: neither nf_conntrack_ipv4 nor nf_conntrack loads; kube-proxy will complain"
  fi
  run sysctl --system || die "sysctl --system failed (see above for the setting it rejected)"
  run systemctl start "$RUNTIME_SERVICE" || die "cannot start $RUNTIME_SERVICE: see 'journalctl -u $RUNTIME_SERVICE'"
}

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

# ------------------------------------------------------------------------------------------
# Stage: pull — the control-plane images, retried, before kubeadm needs them.
# ------------------------------------------------------------------------------------------
config_names_images() {
  grep -Eq '^kind: *(InitConfiguration|ClusterConfiguration) *$' "$KUBEADM_CONFIG"
}

stage_pull() {
  # mirrors.bundle: the offline bundle's images are imported first (import-images.sh), so nothing is pulled.
  if [ -n "${IMPORT_IMAGES:-}" ]; then
    retry "importing the bundle's images" : "$IMPORT_IMAGES"
    [ "$RETRY_OK" = 1 ] || die "the bundle's images could not be imported (import-images.sh said why above); fix the bundle or its server, then run 'systemctl start k8s-image-firstboot'"
  fi
  if ! config_names_images; then
    # A JoinConfiguration alone makes `kubeadm config images pull` fall back to default images
    # (wrong repository and version); kubeadm join pulls the right ones in its preflight.
    log "skipped: $KUBEADM_CONFIG holds no Init/ClusterConfiguration; kubeadm join pulls its images itself"
    return 0
  fi
  retry "pulling images" : kubeadm config images pull --config "$KUBEADM_CONFIG"
  if [ "$RETRY_OK" = 0 ]; then
    # Not fatal: kubeadm's own preflight pulls again, inside its retried stage.
    log "WARNING: image pull failed $RETRIES times; going on (kubeadm pulls again). Check the registry, proxy and mirrors"
    STAGE_UNFINISHED=1
  fi
}

# ------------------------------------------------------------------------------------------
# Masters: the shared CA material, copied into kubeadm's PKI directory before every attempt.
# ------------------------------------------------------------------------------------------
# The shared material kubeadm needs to init or join a control plane without --upload-certs; the seed
# carries it (test/render checks that the plan's list and this one agree).
PKI_FILES='ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub'

restore_pki() {
  local f mode
  for f in $PKI_FILES; do
    [ -f "$PKI_BACKUP/$f" ] || die "missing $PKI_BACKUP/$f: the seed must carry the cluster's CA material for every master"
  done
  for f in $PKI_FILES; do
    case $f in
      *.key) mode=0600 ;;
      *) mode=0644 ;;
    esac
    mkdir -p "$(dirname "$PKI_DIR/$f")" || die "cannot create $(dirname "$PKI_DIR/$f")"
    install -m "$mode" "$PKI_BACKUP/$f" "$PKI_DIR/$f" || die "cannot restore $PKI_DIR/$f from $PKI_BACKUP"
  done
  log "restored the shared CA material from $PKI_BACKUP into $PKI_DIR"
}

copy_admin_conf() {
  [ -f "$KUBE_DIR/admin.conf" ] || die "kubeadm succeeded but left no $KUBE_DIR/admin.conf"
  local dir
  dir=$(dirname "$ADMIN_KUBECONFIG")
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    chmod 0700 "$dir"
  fi
  install -m 0600 "$KUBE_DIR/admin.conf" "$ADMIN_KUBECONFIG"
  log "copied $KUBE_DIR/admin.conf to $ADMIN_KUBECONFIG"
}

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

stage_init() {
  # A load-balanced endpoint must accept connections before kubeadm init, whose admin.conf and
  # readiness checks go through it: when the lb boots later, waiting beats burning the retries.
  wait_for check_tcp "to accept connections" "$WAIT_TCP"
  kubeadm_with_retries "kubeadm init" kubeadm init --config "$KUBEADM_CONFIG"
  copy_admin_conf
}

stage_join() {
  wait_for_urls "$WAIT_FOR"
  if [ "$ROLE" = join-control-plane ]; then
    kubeadm_with_retries "kubeadm join (control plane)" kubeadm join --config "$KUBEADM_CONFIG"
    copy_admin_conf
  else
    kubeadm_with_retries "kubeadm join" kubeadm join --config "$KUBEADM_CONFIG"
  fi
}

stage_cni() {
  retry "applying $CNI_MANIFEST" : kubectl --kubeconfig "$KUBE_DIR/admin.conf" apply -f "$CNI_MANIFEST"
  if [ "$RETRY_OK" = 0 ]; then
    die "applying $CNI_MANIFEST failed $RETRIES times: is the API server up? ('kubectl --kubeconfig $KUBE_DIR/admin.conf get pods -n kube-system')"
  fi
}

stage_ready() {
  local deadline interval_ms status='' kubeconfig=$KUBE_DIR/admin.conf
  # A worker reads its own Node with the kubelet's credentials (the node authorizer allows it).
  if [ "$ROLE" = join ]; then kubeconfig=$KUBE_DIR/kubelet.conf; fi
  deadline=$(($(date +%s) + READY_DEADLINE))
  interval_ms=$(to_ms "$POLL_INTERVAL")
  log "waiting up to ${READY_DEADLINE}s for node $NODE_NAME to be Ready"
  while :; do
    status=$(kubectl --kubeconfig "$kubeconfig" get node "$NODE_NAME" --no-headers 2>/dev/null | awk '{ print $2 }') || status=''
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

# HA: the first master reports success only once the load balancer forwards to it, so a
# "complete" sentinel means workers can join through the endpoint.
stage_endpoint() {
  wait_for_urls "$CONFIRM_URLS"
}

stage_keeper() {
  # Always started: the keeper itself exits when TOKEN_TTL=0.
  run systemctl enable --now "$KEEPER_TIMER" || die "cannot start $KEEPER_TIMER: the bootstrap token would expire before every node joined"
}

# ------------------------------------------------------------------------------------------
# The install (packages, units): done by the kickstart %post or cloud-init's runcmd; when it did not
# finish (a mirror was down), first boot reruns it before anything else and refuses to go on without it.
# ------------------------------------------------------------------------------------------
ensure_installed() {
  CURRENT_STAGE=install
  if [ -e "$INSTALL_MARKER" ]; then
    log "install finished ($(tr '\n' ' ' <"$INSTALL_MARKER"))"
    return 0
  fi
  log "the install did not finish (no $INSTALL_MARKER): running '$INSTALL_SCRIPT --live' again (its log: $INSTALL_LOG)"
  local rc=0
  bash "$INSTALL_SCRIPT" --live || rc=$?
  if [ "$rc" -ne 0 ] || [ ! -e "$INSTALL_MARKER" ]; then
    die "the install failed (exit $rc), so this node is not set up to run Kubernetes. Read $INSTALL_LOG, fix the cause (often a yum mirror or proxy), then run 'systemctl start k8s-image-firstboot' (or reboot): it reruns the install and goes on"
  fi
  log "install finished now"
}

# ------------------------------------------------------------------------------------------
# Driver
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
    # Only a stage that may go on after a failure sets this (pull); the others exit through die.
    log "not recorded as done; it runs again next time"
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
      stage pull
      stage init
      stage cni
      stage ready
      stage keeper
      stage endpoint
      ;;
    join-control-plane)
      need_var PKI_BACKUP PKI_DIR ADMIN_KUBECONFIG CA_CERT
      stage prepare
      stage time
      stage pull
      stage join
      stage ready
      ;;
    join)
      need_var CA_CERT
      stage prepare
      stage time
      stage join
      stage ready
      ;;
    *)
      die "ROLE=$ROLE: expected init, join-control-plane, join or none"
      ;;
  esac
  CURRENT_STAGE=complete
  printf '%s %s\n' "$(date +%Y-%m-%dT%H:%M:%S%:z)" "$ROLE" >"$SENTINEL"
  log "bootstrap complete: $NODE_NAME is a Kubernetes node ($ROLE); wrote $SENTINEL"
  report 'done'
}

main "$@"
