#: Stage cni (the first master): apply the CNI manifest.
stage_cni() {
  retry "applying $CNI_MANIFEST" : kubectl --kubeconfig "$KUBE_DIR/admin.conf" apply -f "$CNI_MANIFEST"
  if [ "$RETRY_OK" = 0 ]; then
    die "applying $CNI_MANIFEST failed $RETRIES times: is the API server up? ('kubectl --kubeconfig $KUBE_DIR/admin.conf get pods -n kube-system')"
  fi
}

