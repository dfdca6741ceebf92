#: Stage init (the first master): kubeadm init once the endpoint accepts connections.
stage_init() {
  # A load-balanced endpoint must accept connections before kubeadm init, whose admin.conf and
  # readiness checks go through it: when the lb boots later, waiting beats burning the retries.
  wait_for check_tcp "to accept connections" "$WAIT_TCP"
  kubeadm_with_retries "kubeadm init" kubeadm init --config "$KUBEADM_CONFIG"
  copy_admin_conf
}

