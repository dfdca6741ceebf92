#: Stage pull (masters): the control-plane images, before kubeadm needs them.
# ------------------------------------------------------------------------------------------
# Stage: pull — the control-plane images, retried, before kubeadm needs them.
# ------------------------------------------------------------------------------------------
config_names_images() {
  grep -Eq '^kind: *(InitConfiguration|ClusterConfiguration) *$' "$KUBEADM_CONFIG"
}

stage_pull() {
  if [ -n "${IMPORT_IMAGES:-}" ]; then
    # An air-gapped node: stage images imported them; a pull could only fail, slowly, retried.
    log "skipped: the offline bundle's images were imported (stage images)"
    return 0
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

