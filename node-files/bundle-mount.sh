#!/bin/bash
# k8s-image bundle-mount: mount the offline bundle's disc (cluster.yaml mirrors.bundle: iso; the ISO
# `k8s-image bundle --iso` wrote, attached as one more CD drive) read-only where the yum repository
# file and import-images.sh read it (file://$BUNDLE_DIR). One helper for every user: install.sh runs
# it before yum (the kickstart's %post chroot, which has the installer's /dev, or cloud-init), and
# import-images.sh at first boot (after the reboot nothing is mounted any more) and on the golden VM.
#
#   bundle-mount.sh mount    find the disc by its label (blkid -L) and mount it; already mounted: nothing
#   bundle-mount.sh umount   unmount it when mounted (the installer's chroot, before anaconda unmounts)
#
# Values from the environment: BUNDLE_LABEL (K8SBUNDLE), BUNDLE_DIR (/run/k8s-image/bundle); with
# `k8s-image remaster --bundle` the bundle is the folder BUNDLE_SUBDIR of the install DVD (BUNDLE_LABEL
# is the DVD's label): the first mount copies it to BUNDLE_COPY on the disk (at first boot the DVD is
# gone), and BUNDLE_DIR is that copy, bound there (mount --bind).
# Exit codes: 0 done, 2 usage, 7 no disc with that label, or it is not a k8s-image bundle.
# Written for CentOS 7: util-linux 2.23 (blkid -L prints nothing and exits 2 when no device has the label).
set -euo pipefail
BUNDLE_LABEL=${BUNDLE_LABEL:-K8SBUNDLE}
BUNDLE_DIR=${BUNDLE_DIR:-/run/k8s-image/bundle}
BUNDLE_SUBDIR=${BUNDLE_SUBDIR:-}
BUNDLE_COPY=${BUNDLE_COPY:-/var/lib/k8s-image/bundle}

say() { echo "bundle-mount: $*" >&2; }

case ${1:-} in
  mount)
    if mountpoint -q "$BUNDLE_DIR"; then
      if [ ! -r "$BUNDLE_DIR/bundle.json" ]; then
        say "$BUNDLE_DIR is mounted but holds no bundle.json: something else is mounted there; unmount it (umount $BUNDLE_DIR) and run again"
        exit 7
      fi
      exit 0
    fi
    dev=$(blkid -L "$BUNDLE_LABEL" 2>/dev/null) || dev=''
    if [ -n "$BUNDLE_SUBDIR" ]; then
      # remaster --bundle: the bundle is a folder of the install DVD, copied to the disk once.
      if [ ! -r "$BUNDLE_COPY/bundle.json" ]; then
        if [ -z "$dev" ]; then
          say "no copy of the bundle in $BUNDLE_COPY and no install DVD labelled '$BUNDLE_LABEL' (blkid -L found none): insert the DVD 'k8s-image remaster --bundle' wrote and run again"
          exit 7
        fi
        disc=$BUNDLE_DIR.disc
        mkdir -p "$disc"
        if ! mount -r -t iso9660 "$dev" "$disc"; then
          say "cannot mount $dev (label '$BUNDLE_LABEL') at $disc (mount said why above)"
          exit 7
        fi
        if [ ! -r "$disc/$BUNDLE_SUBDIR/bundle.json" ]; then
          umount "$disc" || true
          say "$dev (label '$BUNDLE_LABEL') holds no /$BUNDLE_SUBDIR/bundle.json: this DVD was remastered without --bundle; remaster it with --bundle DIR"
          exit 7
        fi
        rm -rf "$BUNDLE_COPY.part"
        mkdir -p "$BUNDLE_COPY.part"
        if ! cp -R "$disc/$BUNDLE_SUBDIR/." "$BUNDLE_COPY.part/"; then
          umount "$disc" || true
          rm -rf "$BUNDLE_COPY.part"
          say "copying the bundle from $dev to $BUNDLE_COPY failed (disk full?)"
          exit 7
        fi
        umount "$disc"
        rm -rf "$BUNDLE_COPY"
        mv "$BUNDLE_COPY.part" "$BUNDLE_COPY"
        say "copied the bundle from $dev:/$BUNDLE_SUBDIR to $BUNDLE_COPY"
      fi
      mkdir -p "$BUNDLE_DIR"
      mount --bind "$BUNDLE_COPY" "$BUNDLE_DIR" || {
        say "cannot bind $BUNDLE_COPY at $BUNDLE_DIR (mount said why above)"
        exit 7
      }
      say "bound the bundle's copy $BUNDLE_COPY at $BUNDLE_DIR"
      exit 0
    fi
    if [ -z "$dev" ]; then
      say "no disc labelled $BUNDLE_LABEL on this machine (blkid -L $BUNDLE_LABEL found none): mirrors.bundle is iso, so attach the ISO 'k8s-image bundle --iso FILE' wrote as a CD drive of this machine, connected, and run again"
      exit 7
    fi
    mkdir -p "$BUNDLE_DIR"
    if ! mount -r -t iso9660 "$dev" "$BUNDLE_DIR"; then
      say "cannot mount $dev (label $BUNDLE_LABEL) at $BUNDLE_DIR (mount said why above)"
      exit 7
    fi
    if [ ! -r "$BUNDLE_DIR/bundle.json" ]; then
      umount "$BUNDLE_DIR" || true
      say "$dev is labelled $BUNDLE_LABEL but holds no bundle.json: it is not a k8s-image bundle; attach the ISO 'k8s-image bundle --iso FILE' wrote"
      exit 7
    fi
    say "mounted $dev ($BUNDLE_LABEL) read-only at $BUNDLE_DIR"
    ;;
  umount)
    if mountpoint -q "$BUNDLE_DIR"; then
      umount "$BUNDLE_DIR"
      say "unmounted $BUNDLE_DIR"
    fi
    ;;
  *)
    echo "usage: bundle-mount.sh mount|umount" >&2
    exit 2
    ;;
esac
