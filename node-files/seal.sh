#!/bin/bash
# k8s-image seal: make this machine a golden image that can be cloned: no identity of its own left,
# and a marker saying which cluster and versions it was built for.
#
# Run by golden.sh at the end of the golden VM's first boot (after the image pulls), just before it
# powers off. Every path is under $ROOT (empty on the machine; tests seal a sandbox root).
# Removes: the machine-id (emptied: systemd makes a new one at each clone's first boot), SSH host keys
# (sshd-keygen makes new ones), cloud-init's state and logs (each clone runs cloud-init as a new
# instance with its own seed), HWADDR/UUID in ifcfg files (a clone's NIC has another MAC), the
# persistent-net udev rules, logs, shell histories, yum caches, temporary files, the golden unit's
# own enablement, and the cloud-init switch-off the golden boot used.
# Settings: ${K8S_IMAGE_GOLDEN_ENV:-$ROOT/etc/k8s-image/golden.env} (see node-files/README.md).
set -euo pipefail

ROOT=${ROOT:-}
ENV_FILE=${K8S_IMAGE_GOLDEN_ENV:-$ROOT/etc/k8s-image/golden.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image seal: cannot read $ENV_FILE; nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

CLUSTER=${CLUSTER:-}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-}
RUNTIME=${RUNTIME:-}
PACKAGES=${PACKAGES:-}
IMAGES=${IMAGES:-}
MARKER=${MARKER:-/etc/k8s-image/golden.json}
GOLDEN_UNIT=${GOLDEN_UNIT:-k8s-image-golden.service}

log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) k8s-image seal: $*"
}

# Files under a directory, not the directory itself; fine when it is missing.
clear_dir() {
  local d=$1
  if [ -d "$d" ]; then find "$d" -mindepth 1 -delete; fi
}

# --- identity
if [ -e "$ROOT/etc/machine-id" ]; then
  : >"$ROOT/etc/machine-id"
  log "emptied /etc/machine-id (each clone gets its own at first boot)"
fi
# Older images keep a second copy (a file, not the usual symlink to /etc/machine-id).
if [ -f "$ROOT/var/lib/dbus/machine-id" ] && [ ! -L "$ROOT/var/lib/dbus/machine-id" ]; then
  rm -f "$ROOT/var/lib/dbus/machine-id"
  log "removed /var/lib/dbus/machine-id"
fi
rm -f "$ROOT"/etc/ssh/ssh_host_*
log "removed the SSH host keys (sshd-keygen makes each clone its own)"
rm -f "$ROOT/etc/udev/rules.d/70-persistent-net.rules"

# --- network: a clone's NIC has another MAC, and NetworkManager would keep the golden's UUID.
for f in "$ROOT"/etc/sysconfig/network-scripts/ifcfg-*; do
  [ -f "$f" ] || continue
  case $f in */ifcfg-lo) continue ;; esac
  sed -i -r '/^(HWADDR|UUID|MACADDR)=/d' "$f"
  log "stripped HWADDR/UUID from ${f#"$ROOT"}"
done

# --- cloud-init: every clone is a new instance that reads its own cidata seed.
clear_dir "$ROOT/var/lib/cloud"
rm -f "$ROOT"/var/log/cloud-init*.log
rm -f "$ROOT/etc/cloud/cloud-init.disabled"
log "cleaned cloud-init's state and logs; cloud-init runs at each clone's first boot"

# --- k8s-image's own state of the golden boot (the install marker stays: the image is installed).
for f in "$ROOT"/var/lib/k8s-image/*.done; do
  case $f in */install.done) ;; *) rm -f "$f" ;; esac
done
rm -f "$ROOT/var/lib/k8s-image/bootstrap-success.complete" "$ROOT/var/lib/k8s-image/firstboot.lock"
clear_dir "$ROOT/var/lib/k8s-image/reports"
if [ -e "$ROOT/etc/systemd/system/multi-user.target.wants/$GOLDEN_UNIT" ] || [ -L "$ROOT/etc/systemd/system/multi-user.target.wants/$GOLDEN_UNIT" ]; then
  rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/$GOLDEN_UNIT"
  log "disabled $GOLDEN_UNIT (clones do not run it)"
fi

# --- caches, histories, temporary files, logs.
if [ -z "$ROOT" ] && command -v yum >/dev/null 2>&1; then yum clean all >/dev/null 2>&1 || true; fi
clear_dir "$ROOT/var/cache/yum"
rm -f "$ROOT/root/.bash_history" "$ROOT"/home/*/.bash_history
clear_dir "$ROOT/tmp"
clear_dir "$ROOT/var/tmp"
clear_dir "$ROOT/var/log/journal"
if [ -d "$ROOT/var/log" ]; then
  # Rotated logs go; current ones are emptied (daemons keep their files open and their modes).
  find "$ROOT/var/log" -type f \( -name '*.gz' -o -name '*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' -o -name '*.old' \) -delete
  find "$ROOT/var/log" -type f -exec truncate -s 0 {} +
fi
log "cleared logs, shell histories, yum caches and temporary files"

# --- the marker: which cluster and versions this image is for (clones and humans read it).
mkdir -p "$(dirname "$ROOT$MARKER")"
json_list() {
  local first=1 x
  printf '['
  for x in $1; do
    if [ "$first" = 0 ]; then printf ', '; fi
    printf '"%s"' "$x"
    first=0
  done
  printf ']'
}
{
  printf '{\n'
  printf '  "cluster": "%s",\n' "$CLUSTER"
  printf '  "kubernetesVersion": "%s",\n' "$KUBERNETES_VERSION"
  printf '  "runtime": "%s",\n' "$RUNTIME"
  printf '  "packages": %s,\n' "$(json_list "$PACKAGES")"
  printf '  "images": %s,\n' "$(json_list "$IMAGES")"
  printf '  "sealedAt": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '}\n'
} >"$ROOT$MARKER"
log "wrote $MARKER: golden image of cluster $CLUSTER, Kubernetes $KUBERNETES_VERSION, $RUNTIME"
