#: Stage join (other masters and workers): wait for the endpoint's /healthz, kubeadm join.
stage_join() {
  wait_for_urls "$WAIT_FOR"
  if [ "$ROLE" = join-control-plane ]; then
    kubeadm_with_retries "kubeadm join (control plane)" kubeadm join --config "$KUBEADM_CONFIG"
    copy_admin_conf
  else
    kubeadm_with_retries "kubeadm join" kubeadm join --config "$KUBEADM_CONFIG"
  fi
}

