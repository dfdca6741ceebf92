#: Stage before_kubeadm (Kubernetes nodes): one's own hooks (custom.hooks.beforeKubeadm) before init or join.
stage_before_kubeadm() {
  run_hooks before-kubeadm
}
