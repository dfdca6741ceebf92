#: Before any stage: the install (install.sh) must have finished; rerun it here if not.
# ------------------------------------------------------------------------------------------
# The install (packages, units): done by the kickstart %post or cloud-init's runcmd; when it did not
# finish (a mirror was down), first boot reruns it before anything else and refuses to go on without it.
# ------------------------------------------------------------------------------------------
ensure_installed() {
  CURRENT_STAGE=install
  if [ -e "$INSTALL_MARKER" ]; then
    log "install finished ($(tr '\n' ' ' <"$INSTALL_MARKER"))"
    return 0
  fi
  log "the install did not finish (no $INSTALL_MARKER): running '$INSTALL_SCRIPT --live' again (its log: $INSTALL_LOG)"
  local rc=0
  bash "$INSTALL_SCRIPT" --live || rc=$?
  if [ "$rc" -ne 0 ] || [ ! -e "$INSTALL_MARKER" ]; then
    die "the install failed (exit $rc), so this node is not set up to run Kubernetes. Read $INSTALL_LOG, fix the cause (often a yum mirror or proxy), then run 'systemctl start k8s-image-firstboot' (or reboot): it reruns the install and goes on"
  fi
  log "install finished now"
}

# ------------------------------------------------------------------------------------------
# Driver
