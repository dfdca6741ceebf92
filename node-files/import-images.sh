#!/bin/bash
# k8s-image: import the offline bundle's container images (cluster.yaml mirrors.bundle) into the
# node's runtime before kubeadm runs, so no node pulls an image from the internet. First boot runs
# it at the start of its pull stage; it can be run again by hand (images already imported from the
# same archive are skipped).
#
# Values (from the env file, /etc/k8s-image/firstboot.env unless K8S_IMAGE_ENV names another):
#   BUNDLE_URL          where the bundle is served (http://<server>:8080/bundle), or file:///<dir>
#   KUBERNETES_VERSION  the cluster's version: a bundle built for another one is refused
#   IMAGE_REPOSITORY    the cluster's imageRepository: a bundle whose images are named for another is refused
#   RUNTIME_SERVICE     docker (docker load) or containerd (ctr -n k8s.io images import)
#   STATE_DIR           where the archives are downloaded, verified and marked imported
#   BUNDLE_MOUNT        (mirrors.bundle: iso) bundle-mount.sh: the bundle's disc, found by BUNDLE_LABEL, is
#                       mounted read-only at BUNDLE_DIR first (BUNDLE_URL is then file://BUNDLE_DIR); with
#                       BUNDLE_SUBDIR/BUNDLE_COPY (remaster --bundle) the install's copy on the disk is bound there
# Exit codes: 0 imported (or nothing to do), 3 a bundle for another cluster (version or image
# repository; permanent: the reason is also left in $STATE_DIR/bundle-images/refused for first boot,
# which then stops retrying), 4 a download failed its sha256 or index.txt names a file outside
# images/ (it comes over plain HTTP: a name with / or a leading dot is refused), 5 the runtime
# refused an archive, 6 the bundle could not be reached (or its disc mounted). A downloaded archive is removed on every
# failure.
set -euo pipefail
ENV_FILE=${K8S_IMAGE_ENV:-/etc/k8s-image/firstboot.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${BUNDLE_URL:?BUNDLE_URL is not set in $ENV_FILE}" "${KUBERNETES_VERSION:?}" "${RUNTIME_SERVICE:?}" "${STATE_DIR:?}"
work="$STATE_DIR/bundle-images"
mkdir -p "$work"
rm -f "$work/refused"

say() { echo "import-images: $*" >&2; }

# mirrors.bundle: iso: after the install's reboot nothing is mounted; the helper finds the disc again.
if [ -n "${BUNDLE_MOUNT:-}" ]; then
  if ! BUNDLE_LABEL=${BUNDLE_LABEL:-} BUNDLE_DIR=${BUNDLE_DIR:-} BUNDLE_SUBDIR=${BUNDLE_SUBDIR:-} BUNDLE_COPY=${BUNDLE_COPY:-} bash "$BUNDLE_MOUNT" mount; then
    say "the bundle's disc is not mounted (bundle-mount.sh said why above), so $BUNDLE_URL cannot be read"
    exit 6
  fi
fi

# curl 7.29 (CentOS 7): -f fails on HTTP errors; the bundle is on the farm network, never behind the proxy.
fetch() {
  case "$1" in
    file://*) cp -f "${1#file://}" "$2" ;;
    *) curl -fsS --retry 3 --connect-timeout 10 --noproxy '*' -o "$2" "$1" ;;
  esac
}

if ! fetch "$BUNDLE_URL/images/index.txt" "$work/index.txt.part"; then
  say "cannot read $BUNDLE_URL/images/index.txt: is the bundle served there (k8s-image serve --bundle DIR)?"
  exit 6
fi
mv -f "$work/index.txt.part" "$work/index.txt"
# refuse WHY: a bundle for another cluster; no retry can help, so first boot is told to stop.
refuse() {
  say "refused: $1; run k8s-image bundle with this cluster.yaml again"
  echo "$1" >"$work/refused"
  exit 3
}
built_for=$(awk '$1 == "kubernetesVersion" { print $2 }' "$work/index.txt")
if [ "$built_for" != "$KUBERNETES_VERSION" ]; then
  refuse "the bundle at $BUNDLE_URL was built for Kubernetes ${built_for:-(no version)}, this node runs $KUBERNETES_VERSION, so its images are not the ones kubeadm asks for"
fi
named_for=$(awk '$1 == "imageRepository" { print $2 }' "$work/index.txt")
if [ -n "${IMAGE_REPOSITORY:-}" ] && [ "$named_for" != "$IMAGE_REPOSITORY" ]; then
  refuse "the images of the bundle at $BUNDLE_URL are named for ${named_for:-(no image repository)}, this cluster's imageRepository is $IMAGE_REPOSITORY, so kubeadm would not find them"
fi

count=0
while read -r sum file name; do
  case "$sum" in '' | '#'* | kubernetesVersion | imageRepository) continue ;; esac
  # The name becomes a path under $work: one plain file name, nothing else.
  case "$file" in
    '' | */* | .*)
      say "refused: index.txt names the archive '$file', which is not a plain file name in images/ (an altered index.txt?)"
      exit 4
      ;;
  esac
  if [ -f "$work/$file.imported" ] && [ "$(cat "$work/$file.imported")" = "$sum" ]; then
    continue
  fi
  if ! fetch "$BUNDLE_URL/images/$file" "$work/$file"; then
    rm -f "$work/$file"
    say "cannot download $BUNDLE_URL/images/$file"
    exit 6
  fi
  if ! echo "$sum  $work/$file" | sha256sum -c --status; then
    rm -f "$work/$file"
    say "$file: its sha256 is not $sum (a cut or altered download); run again"
    exit 4
  fi
  case "$RUNTIME_SERVICE" in
    docker) loader=(docker load -i "$work/$file") ;;
    *) loader=(ctr -n k8s.io images import "$work/$file") ;;
  esac
  if ! "${loader[@]}" >&2; then
    rm -f "$work/$file"
    say "${loader[0]} refused $file ($name)"
    exit 5
  fi
  echo "$sum" >"$work/$file.imported"
  rm -f "$work/$file"
  count=$((count + 1))
  say "imported $name"
done <"$work/index.txt"
say "done: $count images imported for Kubernetes $KUBERNETES_VERSION from $BUNDLE_URL"
