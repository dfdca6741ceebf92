#!/bin/bash
# k8s-image golden: the golden VM's one and only first boot. The kickstart installed everything a
# node needs (runtime, pinned kubeadm/kubelet/kubectl, sysctl, modules, repos, the first-boot
# machinery) but no role; this pulls what the installer's chroot could not (the control-plane
# images: no runtime runs there; with mirrors.bundle, the bundle's images are imported instead), seals the machine for cloning (seal.sh) and powers it off, which
# is what Packer (or a human) waits for before making it a template.
# Settings: ${K8S_IMAGE_GOLDEN_ENV:-/etc/k8s-image/golden.env} (see node-files/README.md).
set -euo pipefail

ENV_FILE=${K8S_IMAGE_GOLDEN_ENV:-/etc/k8s-image/golden.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image golden: cannot read $ENV_FILE; nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

KUBERNETES_VERSION=${KUBERNETES_VERSION:-}
IMAGE_REPOSITORY=${IMAGE_REPOSITORY:-}
RUNTIME_SERVICE=${RUNTIME_SERVICE:-docker}
CRI_SOCKET=${CRI_SOCKET:-}
INSTALL_MARKER=${INSTALL_MARKER:-/var/lib/k8s-image/install.done}
SEAL_SCRIPT=${SEAL_SCRIPT:-/usr/local/lib/k8s-image/seal.sh}
GOLDEN_LOG=${GOLDEN_LOG:-/var/log/k8s-image/golden.log}
RETRIES=${RETRIES:-5}
RETRY_PAUSE=${RETRY_PAUSE:-15}
POWEROFF=${POWEROFF:-poweroff}
IMPORT_IMAGES=${IMPORT_IMAGES:-}
BUNDLE_URL=${BUNDLE_URL:-}

mkdir -p "$(dirname "$GOLDEN_LOG")"
exec > >(tee -a "$GOLDEN_LOG") 2>&1

log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) k8s-image golden: $*"
}

die() {
  log "ERROR: $*"
  exit 1
}

[ -n "$KUBERNETES_VERSION" ] || die "$ENV_FILE does not set KUBERNETES_VERSION"
[ -n "$IMAGE_REPOSITORY" ] || die "$ENV_FILE does not set IMAGE_REPOSITORY"
[[ $RETRIES =~ ^[1-9][0-9]*$ ]] || die "$ENV_FILE: RETRIES=$RETRIES is not a positive whole number"
[ -e "$INSTALL_MARKER" ] || die "the install did not finish (no $INSTALL_MARKER): read /var/log/k8s-image/install.log; the image is not sealed"

systemctl start "$RUNTIME_SERVICE" || die "cannot start $RUNTIME_SERVICE: see 'journalctl -u $RUNTIME_SERVICE'"
if [ -n "$IMPORT_IMAGES" ]; then
  # mirrors.bundle: the offline bundle's images (every one the cluster needs, CNI's too), imported
  # from the bundle (served, or its disc mounted), never pulled: an air-gapped farm has no registry.
  K8S_IMAGE_ENV=$ENV_FILE bash "$IMPORT_IMAGES" ||
    die "the bundle's images could not be imported (import-images.sh said why above); the image is not sealed. Fix the bundle or its server/disc and run 'systemctl start k8s-image-golden'"
  log "imported the offline bundle's images for Kubernetes $KUBERNETES_VERSION from $BUNDLE_URL"
else
  pull=(kubeadm config images pull --kubernetes-version "v$KUBERNETES_VERSION" --image-repository "$IMAGE_REPOSITORY")
  if [ -n "$CRI_SOCKET" ]; then pull+=(--cri-socket "$CRI_SOCKET"); fi
  attempt=1
  until "${pull[@]}"; do
    if [ "$attempt" -ge "$RETRIES" ]; then
      die "the image pull failed $RETRIES times (registry $IMAGE_REPOSITORY reachable? proxy?); the image is not sealed. Fix it and run 'systemctl start k8s-image-golden'"
    fi
    log "the image pull failed (attempt $attempt of $RETRIES); again in ${RETRY_PAUSE}s"
    attempt=$((attempt + 1))
    sleep "$RETRY_PAUSE"
  done
  log "pulled the control-plane images of Kubernetes $KUBERNETES_VERSION from $IMAGE_REPOSITORY"
fi
images=$(kubeadm config images list --kubernetes-version "v$KUBERNETES_VERSION" --image-repository "$IMAGE_REPOSITORY" 2>/dev/null | tr '\n' ' ') || images=''

# The marker names the images; the seal writes it.
IMAGES=$images bash "$SEAL_SCRIPT" || die "sealing failed; the image is not ready to clone"
log "sealed; powering off (make this machine a template now)"
sync
$POWEROFF
