#!/bin/bash
# k8s-image install: the persistent setup of a node, run once at install time.
#
# Runs in two places:
#   - anaconda's %post chroot (kickstart), no argument: no running systemd, so units are only
#     enabled/disabled (symlinks); the reboot that follows starts them.
#   - a running system (cloud-init runcmd, or first boot resuming an unfinished install), with --live:
#     the same, then what a reboot would have done: daemon-reload, SELinux permissive now, disabled
#     units stopped, START_SERVICES (re)started (chronyd reads the new chrony.conf, lb proxies bind),
#     and the first-boot unit started without waiting.
# The first-boot unit is enabled before anything can fail, so a reboot (or `systemctl start
# k8s-image-firstboot`) reruns an unfinished install; INSTALL_MARKER is written only at the end, and
# first boot will not go on without it. Exits non-zero on any failure, so cloud-init records an
# error. Safe to run again (idempotent). With STATUS_URL set it reports installing, installed or
# failed (with its log's tail) to the farm's status server, in the background; only the installer's
# "installed" is waited for (bounded), since a PXE node's next boot depends on it.
# Settings: ${K8S_IMAGE_INSTALL_ENV:-/etc/k8s-image/install.env} (see node-files/README.md).
# Written for CentOS 7: bash 4.2 (no "${empty_array[@]}" under set -u), yum 3, systemd 219.
set -euo pipefail

LIVE=0
case ${1:-} in
  --live) LIVE=1 ;;
  '') ;;
  *)
    echo "k8s-image install: unknown argument '$1' (use --live on a running system, nothing in the installer's chroot)" >&2
    exit 2
    ;;
esac

ENV_FILE=${K8S_IMAGE_INSTALL_ENV:-/etc/k8s-image/install.env}
if [ ! -r "$ENV_FILE" ]; then
  echo "k8s-image install: cannot read $ENV_FILE (written by the kickstart/cloud-init seed); nothing done" >&2
  exit 1
fi
# shellcheck source=/dev/null
. "$ENV_FILE"

PACKAGES=${PACKAGES:-}
DISABLE_EXCLUDES=${DISABLE_EXCLUDES:-}
ENABLE_SERVICES=${ENABLE_SERVICES:-}
DISABLE_SERVICES=${DISABLE_SERVICES:-}
MASK_SERVICES=${MASK_SERVICES:-}
START_SERVICES=${START_SERVICES:-}
RELOAD_SERVICES=${RELOAD_SERVICES:-}
FIRSTBOOT_UNIT=${FIRSTBOOT_UNIT:-}
NODE_ADDRESS=${NODE_ADDRESS:-}
NIC=${NIC:-}
INSTALL_MARKER=${INSTALL_MARKER:-/var/lib/k8s-image/install.done}
SELINUX=${SELINUX:-permissive}
FSTAB=${FSTAB:-/etc/fstab}
SELINUX_CONFIG=${SELINUX_CONFIG:-/etc/selinux/config}
INSTALL_LOG=${INSTALL_LOG:-/var/log/k8s-image/install.log}
YUM_RETRIES=${YUM_RETRIES:-5}
YUM_BACKOFF=${YUM_BACKOFF:-15}
NODE_NAME=${NODE_NAME:-}
STATUS_URL=${STATUS_URL:-}
REPORTER=${REPORTER:-/usr/local/lib/k8s-image/report.py}
REPORT_PYTHON=${REPORT_PYTHON:-python}
REPORT_WAIT=${REPORT_WAIT:-30}
KERNEL_ARGS=${KERNEL_ARGS:-}
DEFAULT_KERNEL=${DEFAULT_KERNEL:-}
DEFAULT_KERNEL_PACKAGE=${DEFAULT_KERNEL_PACKAGE:-}
GRUB_DEFAULTS=${GRUB_DEFAULTS:-/etc/default/grub}
KERNEL_SYSCONFIG=${KERNEL_SYSCONFIG:-/etc/sysconfig/kernel}
PROC_CMDLINE=${PROC_CMDLINE:-/proc/cmdline}
REBOOT_WAIT=${REBOOT_WAIT:-600}
UPDATE_CA_TRUST=${UPDATE_CA_TRUST:-0}
HOOKS_DIR=${HOOKS_DIR:-}
BUNDLE_MOUNT=${BUNDLE_MOUNT:-}
BUNDLE_LABEL=${BUNDLE_LABEL:-}
BUNDLE_DIR=${BUNDLE_DIR:-}
BUNDLE_SUBDIR=${BUNDLE_SUBDIR:-}
BUNDLE_COPY=${BUNDLE_COPY:-}
LINK_MTUS=${LINK_MTUS:-}
NETWORK_SCRIPTS=${NETWORK_SCRIPTS:-/etc/sysconfig/network-scripts}

mkdir -p "$(dirname "$INSTALL_LOG")"
# 0600: yum may print a mirror's or proxy's URL, password included, when it fails.
touch "$INSTALL_LOG"
chmod 0600 "$INSTALL_LOG"
# Everything goes to the log and to stdout (the %post log, or cloud-init's output log).
exec > >(tee -a "$INSTALL_LOG") 2>&1

log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) k8s-image install: $*"
}

die() {
  log "ERROR: $*"
  exit 1
}

# report STAGE [report.py options]: tell the status server, in the background with its output in the
# log file (not the tee pipe, which the installer or cloud-init would wait on); never our failure.
report() {
  if [ -z "$STATUS_URL" ] || [ -z "$NODE_NAME" ]; then return 0; fi
  local stage=$1
  shift
  # Queued here, in this script's order (a local write); sent in the background, oldest first.
  "$REPORT_PYTHON" "$REPORTER" --queue-only "$@" "$STATUS_URL" "$NODE_NAME" "$stage" </dev/null >>"$INSTALL_LOG" 2>&1 || return 0
  "$REPORT_PYTHON" "$REPORTER" --flush "$STATUS_URL" </dev/null >>"$INSTALL_LOG" 2>&1 &
}

# bundle_mount mount|umount: the offline bundle's disc (mirrors.bundle: iso), by node-files/bundle-mount.sh.
bundle_mount() {
  BUNDLE_LABEL=$BUNDLE_LABEL BUNDLE_DIR=$BUNDLE_DIR BUNDLE_SUBDIR=$BUNDLE_SUBDIR BUNDLE_COPY=$BUNDLE_COPY bash "$BUNDLE_MOUNT" "$1" >>"$INSTALL_LOG" 2>&1
}
BUNDLE_MOUNTED=0

on_exit() {
  local rc=$?
  # The installer's chroot: the disc is unmounted before anaconda unmounts the new system (first boot mounts it again).
  if [ "$BUNDLE_MOUNTED" = 1 ]; then bundle_mount umount || true; fi
  if [ "$rc" -ne 0 ] && [ -n "$STATUS_URL" ] && [ -n "$NODE_NAME" ]; then
    # Waited for, at most 10 s: the installer halts and cloud-init moves on once this script ends.
    # shellcheck disable=SC2094 # the sender reads the log's tail before it appends its own lines
    "$REPORT_PYTHON" "$REPORTER" --log "$INSTALL_LOG" --sync 10 "$STATUS_URL" "$NODE_NAME" failed </dev/null >>"$INSTALL_LOG" 2>&1 || true
  fi
}
trap on_exit EXIT

case $SELINUX in
  disabled | permissive) ;;
  *) die "$ENV_FILE: SELINUX=$SELINUX; expected disabled or permissive (the kubelet cannot run with enforcing here)" ;;
esac
[[ $YUM_RETRIES =~ ^[1-9][0-9]*$ ]] || die "$ENV_FILE: YUM_RETRIES=$YUM_RETRIES is not a positive whole number"
[[ $YUM_BACKOFF =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$ENV_FILE: YUM_BACKOFF=$YUM_BACKOFF is not a number of seconds"
[[ $REPORT_WAIT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$ENV_FILE: REPORT_WAIT=$REPORT_WAIT is not a number of seconds"
[[ $REBOOT_WAIT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$ENV_FILE: REBOOT_WAIT=$REBOOT_WAIT is not a number of seconds"

log "start ($([ "$LIVE" = 1 ] && echo 'running system' || echo 'installer chroot'), settings from $ENV_FILE)"
report installing

# --- first: the first-boot unit, so an install that fails below is rerun by a reboot or by
# `systemctl start $FIRSTBOOT_UNIT` (first boot reruns it when INSTALL_MARKER is missing).
rm -f "$INSTALL_MARKER"
if [ -n "$FIRSTBOOT_UNIT" ]; then
  systemctl enable "$FIRSTBOOT_UNIT" || die "systemctl enable $FIRSTBOOT_UNIT failed: is /etc/systemd/system/$FIRSTBOOT_UNIT there?"
  log "enabled $FIRSTBOOT_UNIT"
fi

# --- a running system: the static address must be on a NIC. cloud-init only logs a network-config
# that names a NIC the image does not have (ifup: Cannot find device), and the node would go on
# without its address; fail here, where cloud-init reports it.
if [ "$LIVE" = 1 ] && [ -n "$NODE_ADDRESS" ]; then
  # Captured first: `ip ... | grep -q` would kill ip with SIGPIPE, which pipefail reports as a failure.
  addrs=$(ip -4 -o addr show) || die "ip -4 addr show failed"
  if ! grep -q "inet $NODE_ADDRESS/" <<<"$addrs"; then
    die "this machine has no interface with the node's address $NODE_ADDRESS (the seed configures NIC '${NIC:-?}'; this machine has: $(ip -o link show | awk -F': ' '{ print $2 }' | grep -v '^lo$' | tr '\n' ' ')). cloud-init matches a NIC only by MAC: set the node's mac (or its interface to the name above, eth0 on CentOS 7 GenericCloud) in cluster.yaml, rebuild the seed and boot again"
  fi
  log "the node's address $NODE_ADDRESS is configured"
fi

# --- swap: the kubelet refuses to start with swap on. Comment out swap entries (idempotent).
if [ -f "$FSTAB" ]; then
  tmp=$(mktemp "$FSTAB.k8s-image.XXXXXX")
  rc=0
  # Exit 3: nothing to change.
  awk '!/^[[:space:]]*#/ && $3 == "swap" { print "#" $0; n++; next } { print } END { exit n > 0 ? 0 : 3 }' "$FSTAB" >"$tmp" || rc=$?
  case $rc in
    0)
      cat "$tmp" >"$FSTAB" # keeps the file's owner, mode and SELinux label
      log "commented out the swap entries in $FSTAB"
      ;;
    3) log "$FSTAB has no active swap entry" ;;
    *)
      rm -f "$tmp"
      die "cannot read $FSTAB (awk exit $rc)"
      ;;
  esac
  rm -f "$tmp"
else
  log "WARNING: $FSTAB not found; swap entries not checked"
fi

# --- the MTU of a VLAN's parent (LINK_MTUS: "<device>=<mtu>[=<mac>]" each). Anaconda 21.48 writes a
# VLAN line's --mtu into the VLAN's ifcfg only: the parent bond's ifcfg gets none and a physical parent
# none at all (test/reference/kickstart-rhel7-network.md), so the parent would stay at 1500 and the
# kernel refuse the VLAN's larger MTU. Set MTU= in the parent's ifcfg (found by DEVICE=), or write one
# for a NIC that has none; cloud-init's ifcfg already has the line (unchanged then). Idempotent.
for entry in $LINK_MTUS; do
  dev=${entry%%=*}
  rest=${entry#*=}
  mtu=${rest%%=*}
  mac=
  [ "$rest" != "$mtu" ] && mac=${rest#*=}
  cfg=
  for f in "$NETWORK_SCRIPTS"/ifcfg-*; do
    [ -f "$f" ] || continue
    if grep -Eq "^DEVICE=\"?$dev\"?\$" "$f"; then
      cfg=$f
      break
    fi
  done
  if [ -z "$cfg" ]; then
    [ -n "$mac" ] || die "no ifcfg file in $NETWORK_SCRIPTS has DEVICE=$dev: the installer did not write $dev's (a bond of the kickstart's network lines), so its MTU $mtu cannot be set"
    cfg=$NETWORK_SCRIPTS/ifcfg-$dev
    printf '# Written by k8s-image: %s carries a VLAN and needs MTU %s (nodes[].interfaces[].mtu)\nDEVICE=%s\nHWADDR=%s\nTYPE=Ethernet\nBOOTPROTO=none\nONBOOT=yes\nMTU=%s\n' "$dev" "$mtu" "$dev" "$mac" "$mtu" >"$cfg" || die "cannot write $cfg"
    log "wrote $cfg for $dev with MTU $mtu (it carries a VLAN)"
  elif grep -Eq "^MTU=\"?$mtu\"?\$" "$cfg"; then
    log "$cfg has MTU $mtu"
  elif grep -q '^MTU=' "$cfg"; then
    sed -i "s/^MTU=.*/MTU=$mtu/" "$cfg" || die "cannot set MTU in $cfg"
    log "set MTU $mtu in $cfg (it carries a VLAN)"
  else
    echo "MTU=$mtu" >>"$cfg" || die "cannot set MTU in $cfg"
    log "added MTU $mtu to $cfg (it carries a VLAN)"
  fi
done

# --- SELinux mode for the next boots (first boot also runs setenforce 0 for the current one).
if [ -f "$SELINUX_CONFIG" ] && grep -q '^SELINUX=' "$SELINUX_CONFIG"; then
  sed -i -r "s/^SELINUX=.*/SELINUX=$SELINUX/" "$SELINUX_CONFIG"
else
  mkdir -p "$(dirname "$SELINUX_CONFIG")"
  echo "SELINUX=$SELINUX" >>"$SELINUX_CONFIG"
fi
log "SELINUX=$SELINUX in $SELINUX_CONFIG"

# --- one's own CA certificates (custom.caCertificates, written to /etc/pki/ca-trust/source/anchors):
# trusted before yum runs, so a mirror or proxy behind a private CA works (and the runtime, which
# reads the system bundle, trusts a private registry).
if [ "$UPDATE_CA_TRUST" = 1 ]; then
  command -v update-ca-trust >/dev/null 2>&1 || die "update-ca-trust: not found on this machine (package ca-certificates); the CA certificates in /etc/pki/ca-trust/source/anchors/k8s-image-*.crt cannot be trusted"
  update-ca-trust extract || die "update-ca-trust extract failed: the CA certificates in /etc/pki/ca-trust/source/anchors/k8s-image-*.crt are not trusted"
  log "trusted the CA certificates in /etc/pki/ca-trust/source/anchors (update-ca-trust extract)"
fi

# --- packages, exact versions. Mirrors flake: retry, with a bounded backoff.
if [ -n "${PACKAGES// /}" ]; then
  # mirrors.bundle: iso: the only enabled repository is file://$BUNDLE_DIR/repo on the bundle's disc.
  if [ -n "$BUNDLE_MOUNT" ]; then
    bundle_mount mount || die "the offline bundle's disc (label ${BUNDLE_LABEL:-K8SBUNDLE}) could not be mounted at ${BUNDLE_DIR:-/run/k8s-image/bundle}, and yum reads its packages there: $(tail -n 1 "$INSTALL_LOG")"
    if [ "$LIVE" = 0 ]; then BUNDLE_MOUNTED=1; fi
    log "the offline bundle's disc is mounted at ${BUNDLE_DIR:-/run/k8s-image/bundle}"
  fi
  read -r -a packages <<<"$PACKAGES"
  yum_args=(install -y --setopt=obsoletes=0)
  if [ -n "$DISABLE_EXCLUDES" ]; then yum_args+=("--disableexcludes=$DISABLE_EXCLUDES"); fi
  yum_args+=("${packages[@]}")

  # CentOS 7's yum skips names it cannot find (skip_missing_names_on_install) and may still exit 0,
  # and exits non-zero on "Nothing to do" in some versions: rpm -q is the real check.
  # Without yum and rpm nothing can be installed or checked: say so, never "packages installed".
  for tool in yum rpm; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool: not found on this machine: install.sh installs packages with yum and checks them with rpm, so it runs only on CentOS 7 (the kickstart's %post or a CentOS 7 cloud image)"
  done
  all_installed() {
    rpm -q "${packages[@]}" >/dev/null 2>&1
  }

  attempt=1
  # A golden image (or a rerun) has them all already: nothing to fetch, no mirror needed.
  if all_installed; then
    log "packages already installed (a golden image, or an earlier run): ${packages[*]}"
    attempt=0
  fi
  while [ "$attempt" -gt 0 ]; do
    log "yum ${yum_args[*]} (attempt $attempt of $YUM_RETRIES)"
    rc=0
    yum "${yum_args[@]}" || rc=$?
    if all_installed; then
      log "packages installed: ${packages[*]}"
      break
    fi
    if [ "$rc" -eq 0 ]; then
      log "yum exited 0 but not every package is installed: $(rpm -q "${packages[@]}" 2>&1 | grep 'not installed' | tr '\n' ' ')"
    else
      log "yum exited $rc"
    fi
    if [ "$attempt" -ge "$YUM_RETRIES" ]; then
      die "packages not installed after $YUM_RETRIES attempts. Check the yum repositories in /etc/yum.repos.d/ (mirror reachable? proxy? the pinned versions present?)"
    fi
    attempt=$((attempt + 1))
    yum clean expire-cache >/dev/null 2>&1 || true
    log "retrying in ${YUM_BACKOFF}s"
    sleep "$YUM_BACKOFF"
  done
else
  log "no PACKAGES listed; nothing to install"
fi

# --- boot entries (the plan's boot: src/plan/kernel.ts), after the packages: a kernel-lt package has
# just added its entry. grubby (CentOS 7's 8.28) edits the grub2 config of whichever firmware booted
# (BIOS /boot/grub2/grub.cfg, UEFI /boot/efi/EFI/centos/grub.cfg); the same in the installer's chroot
# (%post runs after anaconda wrote the bootloader) and on a running system.
# set_grub_default KEY VALUE: KEY=VALUE in /etc/default/grub, read by grub2-mkconfig (kernels to come).
set_grub_default() {
  local key=$1 value=$2
  [ -f "$GRUB_DEFAULTS" ] || return 0
  if grep -q "^$key=" "$GRUB_DEFAULTS"; then
    sed -i -r "s|^$key=.*|$key=$value|" "$GRUB_DEFAULTS"
  else
    echo "$key=$value" >>"$GRUB_DEFAULTS"
  fi
}
if [ -n "$KERNEL_ARGS$DEFAULT_KERNEL" ]; then
  command -v grubby >/dev/null 2>&1 || die "grubby: not found: the boot entries cannot be set (KERNEL_ARGS='$KERNEL_ARGS' DEFAULT_KERNEL='$DEFAULT_KERNEL'); CentOS 7 ships it in @core"
fi
if [ -n "$KERNEL_ARGS" ]; then
  # Every entry now; kernels installed later copy the default entry's arguments (new-kernel-pkg), and
  # grub2-mkconfig reads GRUB_CMDLINE_LINUX.
  grubby --update-kernel=ALL --args="$KERNEL_ARGS" || die "grubby --update-kernel=ALL --args='$KERNEL_ARGS' failed"
  if [ -f "$GRUB_DEFAULTS" ]; then
    cmdline=$(sed -n -r 's/^GRUB_CMDLINE_LINUX="(.*)"$/\1/p' "$GRUB_DEFAULTS" | tail -n 1)
    for arg in $KERNEL_ARGS; do
      case " $cmdline " in *" $arg "*) ;; *) cmdline="${cmdline:+$cmdline }$arg" ;; esac
    done
    set_grub_default GRUB_CMDLINE_LINUX "\"$cmdline\""
  fi
  log "kernel arguments on every boot entry: $KERNEL_ARGS"
fi
if [ -n "$DEFAULT_KERNEL" ]; then
  # CentOS 7: GRUB_DEFAULT=saved, grub.cfg boots ${saved_entry}, which grubby --set-default writes to
  # grubenv (as grub2-set-default does). grubby says nothing and exits 0 for a kernel it has no
  # entry for, so the result is read back.
  set_grub_default GRUB_DEFAULT saved
  grubby --set-default="$DEFAULT_KERNEL" || die "grubby --set-default=$DEFAULT_KERNEL failed"
  now=$(grubby --default-kernel 2>/dev/null || true)
  [ "$now" = "$DEFAULT_KERNEL" ] || die "the default boot entry is '${now:-none}', not $DEFAULT_KERNEL: is the $DEFAULT_KERNEL_PACKAGE package installed (rpm -q $DEFAULT_KERNEL_PACKAGE; grubby --info=ALL)?"
  # Later $DEFAULT_KERNEL_PACKAGE updates become the default themselves: new-kernel-pkg makes a new
  # kernel the default only when its package is DEFAULTKERNEL (and UPDATEDEFAULT=yes).
  if [ -n "$DEFAULT_KERNEL_PACKAGE" ]; then
    if [ -f "$KERNEL_SYSCONFIG" ] && grep -q '^DEFAULTKERNEL=' "$KERNEL_SYSCONFIG"; then
      sed -i -r "s/^DEFAULTKERNEL=.*/DEFAULTKERNEL=$DEFAULT_KERNEL_PACKAGE/" "$KERNEL_SYSCONFIG"
    else
      mkdir -p "$(dirname "$KERNEL_SYSCONFIG")"
      echo "DEFAULTKERNEL=$DEFAULT_KERNEL_PACKAGE" >>"$KERNEL_SYSCONFIG"
    fi
  fi
  log "default boot entry: $DEFAULT_KERNEL (the next boot runs it)"
fi

# --- units: enable/disable/mask only (no running systemd in the installer's chroot).
# systemctl VERB on a unit that may not be installed (iptables on a minimal image): fine either way.
if_installed() {
  local verb=$1 done=$2 unit=$3
  if systemctl "$verb" "$unit"; then
    log "$done $unit"
  else
    log "$unit not $done (not installed?); fine"
  fi
}

for unit in $DISABLE_SERVICES; do if_installed disable disabled "$unit"; done
for unit in $MASK_SERVICES; do
  systemctl mask "$unit" || die "systemctl mask $unit failed"
  log "masked $unit"
done
for unit in $ENABLE_SERVICES; do
  systemctl enable "$unit" || die "systemctl enable $unit failed: is the package that ships it installed?"
  log "enabled $unit"
done

# --- a running system: do now what the reboot after an installation would do.
if [ "$LIVE" = 1 ]; then
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  # The config file says permissive/disabled for the next boots; this boot may still enforce
  # (CentOS 7 GenericCloud boots enforcing, which keeps nginx off the API port).
  if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce 2>/dev/null || true)" = Enforcing ]; then
    setenforce 0 || die "setenforce 0 failed: SELinux stays enforcing until a reboot"
    log "SELinux permissive for this boot (setenforce 0)"
  fi
  for unit in $DISABLE_SERVICES; do if_installed stop stopped "$unit"; done
  for unit in $START_SERVICES; do
    # restart, not start: a unit already running (chronyd) must read the files the seed just wrote.
    systemctl restart "$unit" || die "systemctl restart $unit failed: see 'journalctl -u $unit'"
    log "(re)started $unit"
  done
  for unit in $RELOAD_SERVICES; do
    if systemctl is-active --quiet "$unit"; then
      systemctl reload "$unit" || die "systemctl reload $unit failed: see 'journalctl -u $unit'"
      log "reloaded $unit (it reads the configuration the seed wrote)"
    fi
  done
fi

# --- one's own after-install hooks (custom.hooks.afterInstall), in the config's order, each a file
# run by bash (never inlined). A failing hook fails the install; a rerun runs every hook again.
if [ -n "$HOOKS_DIR" ] && [ -d "$HOOKS_DIR/after-install" ]; then
  for hook in "$HOOKS_DIR"/after-install/*; do
    [ -f "$hook" ] || continue
    log "hook $hook: start"
    rc=0
    K8S_IMAGE_HOOK=after-install K8S_IMAGE_LIVE=$LIVE K8S_IMAGE_NODE_IP=$NODE_ADDRESS bash "$hook" </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
      die "hook $hook (custom.hooks.afterInstall) failed with exit $rc; its output is above. Fix the script next to cluster.yaml and rebuild the seed, or fix $hook here and run 'systemctl start ${FIRSTBOOT_UNIT:-k8s-image-firstboot.service}' to run the install again"
    fi
    log "hook $hook: done"
  done
fi

mkdir -p "$(dirname "$INSTALL_MARKER")"
date +%Y-%m-%dT%H:%M:%S%:z >"$INSTALL_MARKER"
log "wrote $INSTALL_MARKER"
if [ "$LIVE" = 1 ]; then
  report installed
elif [ -n "$STATUS_URL" ] && [ -n "$NODE_NAME" ]; then
  # In the installer: a PXE node whose "installed" never arrives installs again at its next boot.
  # The sender's own lines (the server's answer) go to the log through this script's output.
  rc=0
  sender=$("$REPORT_PYTHON" "$REPORTER" --sync "$REPORT_WAIT" "$STATUS_URL" "$NODE_NAME" installed </dev/null 2>&1) || rc=$?
  if [ -n "$sender" ]; then printf '%s\n' "$sender"; fi
  case $rc in
    0) log "reported 'installed' to $STATUS_URL (the server took it)" ;;
    3)
      reason=$(sed -n "s/.*report 'installed' .* REFUSED by [^ ]*: \(.*\); dropped.*/\1/p" <<<"$sender" | tail -n 1)
      log "WARNING: 'installed' REFUSED by $STATUS_URL (${reason:-see the line above}); it is dropped, not retried, and a PXE node boots the installer again until the server has it. Check this machine's clock ($(date -u +%Y-%m-%dT%H:%M:%SZ)) and the server's log"
      ;;
    *) log "WARNING: could not report 'installed' to $STATUS_URL (not taken in ${REPORT_WAIT} s: it stays queued and goes at first boot); a PXE node boots the installer again until the server has it" ;;
  esac
fi

# A running system boots another kernel or other arguments than the entries now say (cloud-init path):
# first boot must run on them (kubeadm 1.32+ refuses the 3.10 kernel), so the machine reboots and the
# enabled first-boot unit goes on from there.
reboot_why=''
if [ "$LIVE" = 1 ]; then
  running=${KERNEL_RELEASE:-$(uname -r)}
  if [ -n "$DEFAULT_KERNEL" ] && [ "/boot/vmlinuz-$running" != "$DEFAULT_KERNEL" ]; then reboot_why="runs kernel $running, not $DEFAULT_KERNEL"; fi
  for arg in $KERNEL_ARGS; do
    case " $(cat "$PROC_CMDLINE" 2>/dev/null || true) " in *" $arg "*) ;; *) reboot_why="${reboot_why:+$reboot_why; }booted without $arg" ;; esac
  done
fi
if [ -n "$reboot_why" ]; then
  # The install is done (INSTALL_MARKER above); nothing may go on on this boot, so this script does not
  # return to its caller (cloud-init's runcmd, or first boot rerunning the install): the shutdown ends
  # it. cloud-init does not rerun runcmd after the reboot (its per-instance semaphore is written before
  # the module runs); the enabled first-boot unit finds the marker and goes on, on the new boot.
  log "rebooting: this boot $reboot_why; $FIRSTBOOT_UNIT goes on after the reboot"
  systemctl --no-block reboot || die "systemctl reboot failed: reboot this machine ($reboot_why)"
  sleep "$REBOOT_WAIT"
  die "no reboot within ${REBOOT_WAIT}s of asking for it ($reboot_why): reboot this machine; first boot goes on after it"
fi

if [ "$LIVE" = 1 ] && [ -n "$FIRSTBOOT_UNIT" ]; then
  # --no-block: the unit may be the caller (first boot resuming an install), or ordered after cloud-init.
  systemctl start --no-block "$FIRSTBOOT_UNIT" || die "systemctl start $FIRSTBOOT_UNIT failed"
  log "started $FIRSTBOOT_UNIT (follow it with 'journalctl -fu $FIRSTBOOT_UNIT')"
fi

log "done"
