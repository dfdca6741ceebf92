#!/bin/bash
# k8s-image token keeper, run every 10 minutes by k8s-image-token-keeper.timer on the init master.
#
# Every node's seed carries the same pre-generated bootstrap token, so nodes may be installed days
# after the first master. Until every node in EXPECTED_NODES has joined, or JOIN_DEADLINE seconds
# after the keeper's first run, each run pushes the token's expiration to now + TOKEN_TTL (never
# past the deadline), recreating the token if it is gone. Then it deletes the token, disables its
# timer and writes $STATE_DIR/token-keeper.done. TOKEN_TTL=0: the token never expires, nothing to do.
# Settings: ${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env} (see node-files/README.md).
# Written for CentOS 7: bash 4.2, coreutils 8.22 (date -d @N), systemd 219.
set -euo pipefail

ENV_FILE=${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image token keeper: cannot read $ENV_FILE; nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

STATE_DIR=${STATE_DIR:-/var/lib/k8s-image}
LOG_FILE=${LOG_FILE:-/var/log/k8s-image/firstboot.log}
KEEPER_LOG=${KEEPER_LOG:-$(dirname "$LOG_FILE")/token-keeper.log}
KUBE_DIR=${KUBE_DIR:-/etc/kubernetes}
TOKEN_FILE=${TOKEN_FILE:-/etc/k8s-image/token}
TOKEN_TTL=${TOKEN_TTL:-86400}
JOIN_DEADLINE=${JOIN_DEADLINE:-604800}
EXPECTED_NODES=${EXPECTED_NODES:-}
TIMER=k8s-image-token-keeper.timer
DONE_FILE=$STATE_DIR/token-keeper.done
START_FILE=$STATE_DIR/keeper-start

mkdir -p "$STATE_DIR" "$(dirname "$KEEPER_LOG")"
touch "$KEEPER_LOG"
chmod 0600 "$KEEPER_LOG"

log() {
  local line
  line="$(date +%Y-%m-%dT%H:%M:%S%:z) token-keeper: $*"
  echo "$line"
  echo "$line" >>"$KEEPER_LOG"
}

die() {
  log "ERROR: $*"
  exit 1
}

for name in TOKEN_TTL JOIN_DEADLINE; do
  [[ ${!name} =~ ^[0-9]+$ ]] || die "$ENV_FILE: $name=${!name} is not a whole number of seconds"
done

if [ "$TOKEN_TTL" -eq 0 ]; then
  log "TOKEN_TTL=0: the bootstrap token never expires and is never deleted; nothing to do"
  exit 0
fi
if [ -e "$DONE_FILE" ]; then
  log "already finished ($DONE_FILE exists); nothing to do"
  exit 0
fi

[ -r "$TOKEN_FILE" ] || die "cannot read the bootstrap token file $TOKEN_FILE"
token=$(head -n 1 "$TOKEN_FILE" | tr -d '[:space:]')
[[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || die "$TOKEN_FILE does not hold a bootstrap token (<6 chars>.<16 chars>, lower-case letters and digits)"
token_id=${token%%.*}
secret=bootstrap-token-$token_id

kc() {
  kubectl --kubeconfig "$KUBE_DIR/admin.conf" "$@"
}

now=$(date +%s)
if [ ! -s "$START_FILE" ]; then
  echo "$now" >"$START_FILE"
  log "first run: the token $token_id is kept for at most ${JOIN_DEADLINE}s from now (recorded in $START_FILE)"
fi
start=$(head -n 1 "$START_FILE")
[[ $start =~ ^[0-9]+$ ]] || die "$START_FILE holds '$start', not a time in seconds; delete it to start the join deadline over"
deadline=$((start + JOIN_DEADLINE))

nodes=$(kc get nodes -o name) || die "cannot list nodes (is the API server up?); trying again at the next run"
missing=''
for name in $EXPECTED_NODES; do
  if ! grep -qxF "node/$name" <<<"$nodes"; then missing="$missing $name"; fi
done

finish() {
  log "$1: deleting the bootstrap token $token_id"
  kc -n kube-system delete secret "$secret" --ignore-not-found || die "cannot delete secret $secret; trying again at the next run"
  systemctl disable --now "$TIMER" || log "WARNING: 'systemctl disable --now $TIMER' failed; $DONE_FILE stops later runs anyway"
  date +%Y-%m-%dT%H:%M:%S%:z >"$DONE_FILE"
  log "done: token deleted, $TIMER disabled, wrote $DONE_FILE"
  exit 0
}

if [ -z "$missing" ]; then
  finish "every expected node joined (${EXPECTED_NODES:-none expected})"
fi
if [ "$now" -ge "$deadline" ]; then
  finish "join deadline passed ($(date -u -d "@$deadline" +%Y-%m-%dT%H:%M:%SZ)); never joined:$missing"
fi

# The token lives until now + TOKEN_TTL, but never past the deadline.
expires=$((now + TOKEN_TTL))
if [ "$expires" -gt "$deadline" ]; then expires=$deadline; fi
expiration=$(date -u -d "@$expires" +%Y-%m-%dT%H:%M:%SZ)

# --ignore-not-found: an absent secret prints nothing and succeeds; only API errors fail.
found=$(kc -n kube-system get secret "$secret" --ignore-not-found -o name) || die "cannot read secret $secret (is the API server up?); trying again at the next run"
if [ -n "$found" ]; then
  kc -n kube-system patch secret "$secret" --type merge -p "{\"stringData\":{\"expiration\":\"$expiration\"}}" >/dev/null ||
    die "cannot extend secret $secret; trying again at the next run"
  log "waiting for:$missing; extended the token $token_id to $expiration"
else
  # `kubeadm token create <token>` fails while the Secret exists, so only now that it is gone.
  kubeadm token create "$token" --ttl "$((expires - now))s" --kubeconfig "$KUBE_DIR/admin.conf" \
    --description "k8s-image shared join token; the token keeper refreshes it until every node joined" >/dev/null ||
    die "cannot recreate the bootstrap token $token_id; trying again at the next run"
  log "waiting for:$missing; the token $token_id was gone: recreated it, valid until $expiration"
fi
