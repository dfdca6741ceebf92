#!/bin/bash
# k8s-image certificate renewal, run daily by k8s-image-cert-renew.timer on every master.
#
# kubeadm's leaf certificates (API server, front-proxy client, etcd, and the client certificates in
# admin.conf, controller-manager.conf, scheduler.conf) last a year. This script decides from the
# certificates themselves (`openssl x509 -checkend`), never from timer state: when any of them ends
# within RENEW_WITHIN seconds, it runs the renewal command of the cluster's kubeadm (RENEW_COMMAND:
# `alpha certs renew all` up to 1.19, `certs renew all` from 1.20), checks that everything now lasts
# past the window, that the CAs did not change, restarts the static control-plane pods so they read
# the new files (stopping their containers: the kubelet starts them again), and copies admin.conf to
# ADMIN_KUBECONFIG. Before kubeadm has made the PKI it does nothing. On a 1.15/1.16 master whose
# kubelet.conf embeds a client certificate that never rotates, it points kubelet.conf at the rotated
# /var/lib/kubelet/pki/kubelet-client-current.pem, as kubeadm 1.17+ writes it.
# Reports (with STATUS_URL): `certs-checked` or `certs-renewed` with the expiry, `certs-failed` with
# the log's tail. The CA itself is never renewed here (README: CA rotation is a manual procedure).
# Settings: ${K8S_IMAGE_CERT_ENV:-/etc/k8s-image/cert-renew.env} (see node-files/README.md).
# Written for CentOS 7: bash 4.2, openssl 1.0.2k, coreutils 8.22, systemd 219.
set -euo pipefail

ENV_FILE=${K8S_IMAGE_CERT_ENV:-/etc/k8s-image/cert-renew.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image cert-renew: cannot read $ENV_FILE (written by the seed on masters); nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

NODE_NAME=${NODE_NAME:-$(hostname)}
KUBE_DIR=${KUBE_DIR:-/etc/kubernetes}
PKI_DIR=${PKI_DIR:-$KUBE_DIR/pki}
ADMIN_KUBECONFIG=${ADMIN_KUBECONFIG:-/root/.kube/config}
KUBELET_PKI=${KUBELET_PKI:-/var/lib/kubelet/pki}
STATE_DIR=${STATE_DIR:-/var/lib/k8s-image}
CERT_LOG=${CERT_LOG:-/var/log/k8s-image/cert-renew.log}
RENEW_COMMAND=${RENEW_COMMAND:-}
RENEW_WITHIN=${RENEW_WITHIN:-5184000}
RUNTIME=${RUNTIME:-docker}
STATUS_URL=${STATUS_URL:-}
REPORTER=${REPORTER:-/usr/local/lib/k8s-image/report.py}
REPORT_PYTHON=${REPORT_PYTHON:-python}
# This master's place among the masters and its timer's time (HH:MM), written by the plan; with
# CATCH_UP_STAGGER (seconds) they space out the catch-up runs after a farm-wide outage (catch_up_wait).
MASTER_INDEX=${MASTER_INDEX:-0}
RENEW_SLOT=${RENEW_SLOT:-}
CATCH_UP_STAGGER=${CATCH_UP_STAGGER:-600}
PROC_UPTIME=${PROC_UPTIME:-/proc/uptime}

# kubeadm's leaf certificates and the kubeconfig files whose client certificate it renews (its renewal
# manager, cmd/kubeadm/app/phases/certs/renewal); only those present are looked at (no local etcd:
# no etcd/*; super-admin.conf exists from 1.29).
LEAF_CERTS='apiserver.crt apiserver-kubelet-client.crt apiserver-etcd-client.crt front-proxy-client.crt etcd/server.crt etcd/peer.crt etcd/healthcheck-client.crt'
KUBECONFIGS='admin.conf super-admin.conf controller-manager.conf scheduler.conf'
CA_CERTS='ca.crt front-proxy-ca.crt etcd/ca.crt'
# The static pods that read those files.
CONTROL_PLANE='kube-apiserver kube-controller-manager kube-scheduler etcd'

umask 077
mkdir -p "$STATE_DIR" "$(dirname "$CERT_LOG")"
touch "$CERT_LOG"
chmod 0600 "$CERT_LOG"
# Everything goes straight into the log (no `tee` process: systemd ends a oneshot unit's whole cgroup
# when the script exits, and a tee could be killed before it wrote the last lines, which the failure
# report reads). The journal (the unit's stdout, kept as fd 3) gets a one-line summary from on_exit.
exec 3>&1
exec >>"$CERT_LOG" 2>&1

WORK=''
SUMMARY=''
log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) cert-renew: $*"
}

die() {
  log "ERROR: $*"
  exit 1
}

# report KIND: sent before the script goes on, waiting at most 10 s. Never in the background: the
# unit is Type=oneshot with KillMode=control-group, so systemd SIGTERMs every process left in its
# cgroup the moment the script exits (systemd 219 service.c: service_enter_running ->
# service_enter_stop), a background sender included. A report not sent in time stays queued on
# the node (report.py's spool) and goes with the next report.
report() {
  [ -n "$STATUS_URL" ] || return 0
  local kind=$1 rc=0
  shift
  "$REPORT_PYTHON" "$REPORTER" --certs "$KUBE_DIR" --sync 10 "$@" "$STATUS_URL" "$NODE_NAME" "$kind" </dev/null >>"$CERT_LOG" 2>&1 || rc=$?
  case $rc in
    0) ;;
    3) log "WARNING: the status server refused the $kind report (its reason is above)" ;;
    *) log "WARNING: the $kind report is not sent yet (status server down or slow); it stays queued on this node and goes with the next report" ;;
  esac
}

on_exit() {
  local rc=$?
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ "$rc" -ne 0 ]; then
    log "FAILED (exit $rc). Read $CERT_LOG; 'kubeadm certs check-expiration' (1.15-1.19: 'kubeadm alpha certs check-expiration') shows every certificate. The timer tries again tomorrow; 'systemctl start k8s-image-cert-renew' tries now"
    echo "k8s-image cert-renew: FAILED (exit $rc): $(grep 'ERROR: ' "$CERT_LOG" | tail -n 1 | sed 's/^.*ERROR: //'); the log is $CERT_LOG" >&3
    if [ -n "$STATUS_URL" ]; then
      # shellcheck disable=SC2094 # the sender reads the log's tail before it appends its own lines
      "$REPORT_PYTHON" "$REPORTER" --log "$CERT_LOG" --certs "$KUBE_DIR" --sync 10 "$STATUS_URL" "$NODE_NAME" certs-failed </dev/null >>"$CERT_LOG" 2>&1 || true
    fi
  else
    echo "k8s-image cert-renew: ${SUMMARY:-done} (the log is $CERT_LOG)" >&3
  fi
}
trap on_exit EXIT

# The PEM of the client certificate embedded in a kubeconfig (client-certificate-data), on stdout.
embedded_cert() {
  local data
  data=$(sed -n 's/^ *client-certificate-data: *//p' "$1" | head -n 1)
  [ -n "$data" ] || return 1
  printf '%s' "$data" | base64 -d 2>/dev/null
}

# expiring SECONDS: the certificates (files, or kubeconfig names) that end within SECONDS, one a line.
expiring() {
  local within=$1 f pem
  for f in $LEAF_CERTS; do
    [ -f "$PKI_DIR/$f" ] || continue
    if ! openssl x509 -noout -checkend "$within" -in "$PKI_DIR/$f" >/dev/null 2>&1; then echo "$f"; fi
  done
  for f in $KUBECONFIGS; do
    [ -f "$KUBE_DIR/$f" ] || continue
    # A kubeconfig pointing at a file (client-certificate:) is not kubeadm's to renew.
    grep -q '^ *client-certificate-data:' "$KUBE_DIR/$f" || continue
    pem=$WORK/$(basename "$f").pem
    if ! embedded_cert "$KUBE_DIR/$f" >"$pem" || ! openssl x509 -noout -checkend "$within" -in "$pem" >/dev/null 2>&1; then echo "$f"; fi
  done
}

# The end of every certificate looked at, for the log.
log_expiry() {
  local f pem
  for f in $CA_CERTS $LEAF_CERTS; do
    [ -f "$PKI_DIR/$f" ] || continue
    log "  $f: $(openssl x509 -noout -enddate -in "$PKI_DIR/$f" | sed 's/^notAfter=//')"
  done
  for f in $KUBECONFIGS; do
    [ -f "$KUBE_DIR/$f" ] || continue
    pem=$WORK/$(basename "$f").pem
    if embedded_cert "$KUBE_DIR/$f" >"$pem"; then log "  $f: $(openssl x509 -noout -enddate -in "$pem" | sed 's/^notAfter=//')"; fi
  done
}

ca_fingerprints() {
  local f
  for f in $CA_CERTS; do
    if [ -f "$PKI_DIR/$f" ]; then echo "$f $(openssl x509 -noout -fingerprint -sha256 -in "$PKI_DIR/$f")"; fi
  done
}

# 1.15/1.16: kubeadm init left the kubelet's first client certificate embedded in kubelet.conf, where
# it never rotates (kubernetes/kubeadm#1753); the kubelet's rotated one is kubelet-client-current.pem.
# kubeadm 1.17+ writes kubelet.conf pointing at that file; do the same here, once.
fix_kubelet_conf() {
  local conf=$KUBE_DIR/kubelet.conf current=$KUBELET_PKI/kubelet-client-current.pem
  [ -f "$conf" ] || return 0
  grep -q '^ *client-certificate-data:' "$conf" || return 0
  if [ ! -f "$current" ] || ! openssl x509 -noout -checkend 0 -in "$current" >/dev/null 2>&1; then
    log "WARNING: $conf embeds a client certificate that never rotates, and there is no valid $current (client certificate rotation off?) to point it at; the kubelet's credentials end $(embedded_cert "$conf" | openssl x509 -noout -enddate 2>/dev/null | sed 's/^notAfter=//')"
    return 0
  fi
  local tmp=$conf.k8s-image.tmp
  sed -e "s#^\\( *\\)client-certificate-data: .*#\\1client-certificate: $current#" \
    -e "s#^\\( *\\)client-key-data: .*#\\1client-key: $current#" "$conf" >"$tmp"
  chmod 0600 "$tmp"
  cp -p "$conf" "$STATE_DIR/kubelet.conf.before-cert-renew"
  mv -f "$tmp" "$conf"
  log "pointed $conf at the kubelet's rotated client certificate $current (it embedded one that never rotates; the old file is $STATE_DIR/kubelet.conf.before-cert-renew)"
  systemctl restart kubelet || die "systemctl restart kubelet failed after rewriting $conf"
}

# The timer has Persistent=true: after the whole farm was off at its time, every master runs at boot,
# together, and would restart etcd and the API server together. A run within 15 minutes of boot and
# not at this master's own time (RENEW_SLOT, +15 min) is such a catch-up: before renewing, it waits
# MASTER_INDEX x CATCH_UP_STAGGER seconds (master 0 at once, master 1 ten minutes later, ...).
# No randomness: the order is the masters' order in cluster.yaml.
catch_up_wait() {
  if ! [[ $MASTER_INDEX =~ ^[0-9]+$ && $CATCH_UP_STAGGER =~ ^[0-9]+$ ]]; then
    die "$ENV_FILE: MASTER_INDEX=$MASTER_INDEX and CATCH_UP_STAGGER=$CATCH_UP_STAGGER must be whole numbers"
  fi
  [ "$MASTER_INDEX" -gt 0 ] || return 0
  [[ $RENEW_SLOT =~ ^[0-9]{2}:[0-9]{2}$ ]] || return 0
  local slot=$((10#${RENEW_SLOT%:*} * 60 + 10#${RENEW_SLOT#*:})) up now wait
  up=$(cut -d. -f1 "$PROC_UPTIME" 2>/dev/null) || return 0
  if ! [[ $up =~ ^[0-9]+$ ]] || [ "$up" -ge 900 ]; then return 0; fi
  now=$((10#$(date +%H) * 60 + 10#$(date +%M)))
  [ $(((now - slot + 1440) % 1440)) -ge 15 ] || return 0
  wait=$((MASTER_INDEX * CATCH_UP_STAGGER))
  log "a catch-up run $((up / 60)) minute(s) after boot, not at this master's time ($RENEW_SLOT): the other masters may be renewing now; waiting ${wait}s (master index $MASTER_INDEX x ${CATCH_UP_STAGGER}s) first"
  sleep "$wait"
}

# Stop the running containers of the static control-plane pods: the kubelet starts them again from
# the same manifests, and the new processes read the renewed files. Works the same from 1.15 on,
# without depending on the kubelet's file-check period as moving manifests out and back does.
restart_control_plane() {
  local c ids
  for c in $CONTROL_PLANE; do
    case $RUNTIME in
      docker) ids=$(docker ps -q --filter "label=io.kubernetes.container.name=$c" --filter label=io.kubernetes.pod.namespace=kube-system) || die "docker ps failed" ;;
      containerd) ids=$(crictl ps -q --name "^$c\$") || die "crictl ps failed (is /etc/crictl.yaml pointing at containerd?)" ;;
      *) die "RUNTIME=$RUNTIME: expected docker or containerd" ;;
    esac
    if [ -z "$ids" ]; then
      log "WARNING: no running $c container to restart (not on this master, or not up yet)"
      continue
    fi
    # shellcheck disable=SC2086 # one ID per word
    case $RUNTIME in
      docker) docker stop $ids >/dev/null || die "docker stop $c failed" ;;
      containerd) crictl stop --timeout 30 $ids >/dev/null || die "crictl stop $c failed" ;;
    esac
    log "restarted $c (stopped $(echo "$ids" | wc -w) container(s); the kubelet starts it again)"
  done
}

copy_admin_conf() {
  local dir
  dir=$(dirname "$ADMIN_KUBECONFIG")
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    chmod 0700 "$dir"
  fi
  install -m 0600 "$KUBE_DIR/admin.conf" "$ADMIN_KUBECONFIG.k8s-image.tmp"
  mv -f "$ADMIN_KUBECONFIG.k8s-image.tmp" "$ADMIN_KUBECONFIG"
  log "copied the renewed $KUBE_DIR/admin.conf to $ADMIN_KUBECONFIG"
}

main() {
  [[ $RENEW_WITHIN =~ ^[0-9]+$ ]] || die "$ENV_FILE: RENEW_WITHIN=$RENEW_WITHIN is not a whole number of seconds"
  [ -n "$RENEW_COMMAND" ] || die "$ENV_FILE does not set RENEW_COMMAND (the kubeadm renewal subcommand of this cluster's version)"
  # Without openssl every `-checkend` would fail and every certificate would look due: renewing daily.
  command -v openssl >/dev/null 2>&1 || die "openssl is not installed (yum install openssl; the plan installs it on masters): cannot read any certificate, nothing checked or renewed"
  exec 9>"$STATE_DIR/cert-renew.lock"
  if ! flock -n 9; then die "another cert-renew run holds $STATE_DIR/cert-renew.lock"; fi
  if [ ! -f "$PKI_DIR/ca.crt" ] || [ ! -f "$PKI_DIR/apiserver.crt" ] || [ ! -f "$KUBE_DIR/admin.conf" ]; then
    log "kubeadm has not made this master's PKI yet (no $PKI_DIR/apiserver.crt or $KUBE_DIR/admin.conf); nothing to do"
    SUMMARY="no kubeadm PKI yet; nothing to do"
    exit 0
  fi
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/k8s-image-cert-renew.XXXXXX")
  local ca
  for ca in $CA_CERTS; do
    if [ -f "$PKI_DIR/$ca" ] && ! openssl x509 -noout -checkend "$RENEW_WITHIN" -in "$PKI_DIR/$ca" >/dev/null 2>&1; then
      log "WARNING: the CA $ca ends $(openssl x509 -noout -enddate -in "$PKI_DIR/$ca" | sed 's/^notAfter=//'): renewal never extends a CA; rotate it by hand (README: CA rotation)"
    fi
  done
  fix_kubelet_conf
  local due
  due=$(expiring "$RENEW_WITHIN")
  if [ -z "$due" ]; then
    log "every certificate lasts more than $((RENEW_WITHIN / 86400)) days; nothing to renew"
    log_expiry
    SUMMARY="every certificate lasts more than $((RENEW_WITHIN / 86400)) days; nothing renewed"
    report certs-checked
    exit 0
  fi
  log "ending within $((RENEW_WITHIN / 86400)) days: $(echo "$due" | tr '\n' ' ')"
  catch_up_wait
  local before after due_before=$due
  before=$(ca_fingerprints)
  # shellcheck disable=SC2086 # RENEW_COMMAND is the subcommand's words (the plan writes it from its table)
  log "+ kubeadm $RENEW_COMMAND --cert-dir $PKI_DIR"
  # shellcheck disable=SC2086
  kubeadm $RENEW_COMMAND --cert-dir "$PKI_DIR" || die "kubeadm $RENEW_COMMAND failed (output above)"
  after=$(ca_fingerprints)
  [ "$before" = "$after" ] || die "a CA certificate changed during the renewal; kubeadm must only renew leaf certificates. Before: $before; after: $after"
  due=$(expiring "$RENEW_WITHIN")
  [ -z "$due" ] || die "still ending within $((RENEW_WITHIN / 86400)) days after kubeadm renewed: $(echo "$due" | tr '\n' ' ') (does the CA itself end that soon? README: CA rotation)"
  log "renewed; now:"
  log_expiry
  restart_control_plane
  copy_admin_conf
  SUMMARY="renewed: $(echo "$due_before" | tr '\n' ' ')"
  report certs-renewed
  log "done"
}

main "$@"
