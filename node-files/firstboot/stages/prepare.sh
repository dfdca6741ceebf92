#: Stage prepare (every role): swap, SELinux, kernel modules, sysctl, the container runtime.
# ------------------------------------------------------------------------------------------
# Stage: prepare — kernel, swap, SELinux, sysctl, the container runtime.
# ------------------------------------------------------------------------------------------
stage_prepare() {
  run swapoff -a || die "swapoff -a failed: the kubelet refuses to run with swap on"
  if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce 2>/dev/null || true)" = Enforcing ]; then
    run setenforce 0 || log "WARNING: setenforce 0 failed; SELinux stays enforcing until the next boot"
  fi
  # The modules are the plan's list (modules-load.d/k8s.conf loads them at every later boot); this boot
  # needs them now. br_netfilter and overlay are required; without the IPVS ones kube-proxy falls back.
  local list="$MODULES_LOAD_DIR/k8s.conf" m
  [ -r "$list" ] || die "cannot read $list (written by the seed): it lists the kernel modules Kubernetes needs"
  while read -r m; do
    case $m in '' | '#'*) continue ;; esac
    if ! run modprobe "$m"; then
      case $m in
        br_netfilter) die "modprobe br_netfilter failed: bridged pod traffic would bypass iptables" ;;
        overlay) die "modprobe overlay failed: containerd's overlayfs snapshotter needs it" ;;
        *) log "WARNING: modprobe $m failed; kube-proxy falls back to iptables mode if an IPVS module is missing" ;;
      esac
    fi
  done <"$list"
  # CentOS 7's 3.10 kernel has nf_conntrack_ipv4; newer kernels merged it into nf_conntrack.
  local conntrack=''
  if modprobe nf_conntrack_ipv4 >/dev/null 2>&1; then
    conntrack=nf_conntrack_ipv4
  elif modprobe nf_conntrack >/dev/null 2>&1; then
    conntrack=nf_conntrack
  fi
  if [ -n "$conntrack" ]; then
    mkdir -p "$MODULES_LOAD_DIR"
    printf '# k8s-image: the conntrack module this kernel has (probed at first boot)\n%s\n' "$conntrack" >"$MODULES_LOAD_DIR/k8s-conntrack.conf"
    chmod 0644 "$MODULES_LOAD_DIR/k8s-conntrack.conf"
    log "conntrack module: $conntrack (persisted in $MODULES_LOAD_DIR/k8s-conntrack.conf)"
  else
    log "WARNING: neither nf_conntrack_ipv4 nor nf_conntrack loads; kube-proxy will complain"
  fi
  run sysctl --system || die "sysctl --system failed (see above for the setting it rejected)"
  run systemctl start "$RUNTIME_SERVICE" || die "cannot start $RUNTIME_SERVICE: see 'journalctl -u $RUNTIME_SERVICE'"
}

