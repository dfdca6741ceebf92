#: Stage images (every role, with mirrors.bundle): the offline bundle's images into the runtime.
# ------------------------------------------------------------------------------------------
# Stage: images — with an offline bundle (mirrors.bundle), its image archives are imported before
# kubeadm on every role (import-images.sh checks the bundle's version and each archive's sha256): a
# worker's kubelet needs pause, kube-proxy and the CNI's images as much as a master needs its own.
# ------------------------------------------------------------------------------------------
stage_images() {
  if [ -z "${IMPORT_IMAGES:-}" ]; then
    log "skipped: no offline bundle (mirrors.bundle); the runtime pulls from the registries"
    return 0
  fi
  retry "importing the bundle's images" images_refused "$IMPORT_IMAGES"
  [ "$RETRY_OK" = 1 ] || die "the bundle's images could not be imported (import-images.sh said why above); fix the bundle or its server, then run 'systemctl start k8s-image-firstboot'"
}


# After a failed import: a bundle for another cluster (import-images.sh exit 3, its reason in
# STATE_DIR/bundle-images/refused) is permanent, so first boot stops at once instead of retrying.
images_refused() {
  local refused="$STATE_DIR/bundle-images/refused"
  if [ -f "$refused" ]; then
    die "the offline bundle is not this cluster's: $(cat "$refused"); retrying cannot help. Build it with this cluster.yaml (k8s-image bundle), serve it, then run 'systemctl start k8s-image-firstboot'"
  fi
}
