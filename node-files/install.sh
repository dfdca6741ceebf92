#!/bin/bash
# k8s-image install: the persistent setup of a node, run once at install time.
#
# Runs in two places, so it never needs a running systemd:
#   - anaconda's %post chroot (kickstart): `systemctl enable/disable` only edit symlinks there;
#   - a live system, from cloud-init runcmd (which runs daemon-reload and starts the first-boot unit).
# Never starts or stops a unit (no start, no --now). Safe to run again (idempotent).
# Settings: ${K8S_IMAGE_INSTALL_ENV:-/etc/k8s-image/install.env} (see node-files/README.md).
# Written for CentOS 7: bash 4.2 (no "${empty_array[@]}" under set -u), yum 3, systemd 219.
set -euo pipefail

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
SELINUX=${SELINUX:-permissive}
FSTAB=${FSTAB:-/etc/fstab}
SELINUX_CONFIG=${SELINUX_CONFIG:-/etc/selinux/config}
INSTALL_LOG=${INSTALL_LOG:-/var/log/k8s-image/install.log}
YUM_RETRIES=${YUM_RETRIES:-5}
YUM_BACKOFF=${YUM_BACKOFF:-15}

mkdir -p "$(dirname "$INSTALL_LOG")"
# Everything goes to the log and to stdout (the %post log, or cloud-init's output log).
exec > >(tee -a "$INSTALL_LOG") 2>&1

log() {
  echo "$(date +%Y-%m-%dT%H:%M:%S%:z) k8s-image install: $*"
}

die() {
  log "ERROR: $*"
  exit 1
}

case $SELINUX in
  disabled | permissive) ;;
  *) die "$ENV_FILE: SELINUX=$SELINUX; expected disabled or permissive (the kubelet cannot run with enforcing here)" ;;
esac
[[ $YUM_RETRIES =~ ^[1-9][0-9]*$ ]] || die "$ENV_FILE: YUM_RETRIES=$YUM_RETRIES is not a positive whole number"
[[ $YUM_BACKOFF =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$ENV_FILE: YUM_BACKOFF=$YUM_BACKOFF is not a number of seconds"

log "start (settings from $ENV_FILE)"

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

# --- SELinux mode for the next boots (first boot also runs setenforce 0 for the current one).
if [ -f "$SELINUX_CONFIG" ] && grep -q '^SELINUX=' "$SELINUX_CONFIG"; then
  sed -i -r "s/^SELINUX=.*/SELINUX=$SELINUX/" "$SELINUX_CONFIG"
else
  mkdir -p "$(dirname "$SELINUX_CONFIG")"
  echo "SELINUX=$SELINUX" >>"$SELINUX_CONFIG"
fi
log "SELINUX=$SELINUX in $SELINUX_CONFIG"

# --- packages, exact versions. Mirrors flake: retry, with a bounded backoff.
if [ -n "${PACKAGES// /}" ]; then
  read -r -a packages <<<"$PACKAGES"
  yum_args=(install -y --setopt=obsoletes=0)
  if [ -n "$DISABLE_EXCLUDES" ]; then yum_args+=("--disableexcludes=$DISABLE_EXCLUDES"); fi
  yum_args+=("${packages[@]}")

  # CentOS 7's yum skips names it cannot find (skip_missing_names_on_install) and may still exit 0,
  # and exits non-zero on "Nothing to do" in some versions: rpm -q is the real check.
  all_installed() {
    command -v rpm >/dev/null 2>&1 || return 0
    rpm -q "${packages[@]}" >/dev/null 2>&1
  }

  attempt=1
  while :; do
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

# --- units: enable/disable/mask only (no running systemd in the installer's chroot).
for unit in $DISABLE_SERVICES; do
  if systemctl disable "$unit"; then
    log "disabled $unit"
  else
    log "$unit not disabled (not installed?); fine"
  fi
done
for unit in $MASK_SERVICES; do
  systemctl mask "$unit" || die "systemctl mask $unit failed"
  log "masked $unit"
done
for unit in $ENABLE_SERVICES; do
  systemctl enable "$unit" || die "systemctl enable $unit failed: is the package that ships it installed?"
  log "enabled $unit"
done

log "done"
