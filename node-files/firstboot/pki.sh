#: Masters: the shared CA material into kubeadm's PKI directory; admin.conf out of it.
# ------------------------------------------------------------------------------------------
# Masters: the shared CA material, copied into kubeadm's PKI directory before every attempt.
# ------------------------------------------------------------------------------------------
# The shared material kubeadm needs to init or join a control plane without --upload-certs; the seed
# carries it (test/render checks that the plan's list and this one agree).
PKI_FILES='ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub'

restore_pki() {
  local f mode
  for f in $PKI_FILES; do
    [ -f "$PKI_BACKUP/$f" ] || die "missing $PKI_BACKUP/$f: the seed must carry the cluster's CA material for every master"
  done
  for f in $PKI_FILES; do
    case $f in
      *.key) mode=0600 ;;
      *) mode=0644 ;;
    esac
    mkdir -p "$(dirname "$PKI_DIR/$f")" || die "cannot create $(dirname "$PKI_DIR/$f")"
    install -m "$mode" "$PKI_BACKUP/$f" "$PKI_DIR/$f" || die "cannot restore $PKI_DIR/$f from $PKI_BACKUP"
  done
  log "restored the shared CA material from $PKI_BACKUP into $PKI_DIR"
}

copy_admin_conf() {
  [ -f "$KUBE_DIR/admin.conf" ] || die "kubeadm succeeded but left no $KUBE_DIR/admin.conf"
  local dir
  dir=$(dirname "$ADMIN_KUBECONFIG")
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    chmod 0700 "$dir"
  fi
  install -m 0600 "$KUBE_DIR/admin.conf" "$ADMIN_KUBECONFIG"
  log "copied $KUBE_DIR/admin.conf to $ADMIN_KUBECONFIG"
}

