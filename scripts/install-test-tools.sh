#!/usr/bin/env bash
# Install the real readers the tests feed our output to (Debian 12 packages, through apt-get).
# Run by `npm run test:full` and therefore by CI (.ci/run); safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
# cloud-init: schema + network renderer; xorriso/genisoimage/p7zip/pycdlib/blkid: ISO readers;
# shellcheck: scripts; systemd: systemd-analyze verify of the units; openssl: certificates;
# nginx+stream, haproxy, keepalived: LB configs; toml: containerd config; cloud-image-utils: the
# cloud-localds baseline of the benchmark; tzdata: timezone names; firewalld: its offline config check;
# dnsmasq (--test, and DHCP/TFTP in network namespaces), grub-common (grub-script-check), iproute2
# (ip netns), busybox (udhcpc), tftp-hpa and curl: the PXE tree, driven for real; QEMU with iPXE,
# OVMF (with the Secure Boot build and Microsoft keys), pxelinux, GRUB EFI modules, Microsoft-signed shim
# and Debian-signed netboot GRUB (Secure Boot chain), a small Debian kernel (Debian-signed), gdisk
# (sgdisk: the GPT test disk): real firmware PXE-boots it. chromium
# (driven by playwright-core from npm) and a font: the status page, with screenshots. packer: its
# own validate of the golden image template. isolinux, mtools, dosfstools: a small bootable DVD
# for the remaster test (isolinux.bin and the isohybrid MBR, the FAT EFI boot image). golang-go (with gcc
# and libc6-dev for cgo): a real Go dialer reads a master's /etc/hosts as kubeadm and the kubelet do.
# ifupdown, ifenslave, cpio: the bond/VLAN boot test (test/boot/), whose guest runs Debian's cloud-init
# over a read-only 9p view of this machine and brings the network up with ifupdown.
# rpm (rpmbuild, rpm2cpio), cpio, createrepo-c, dnf, gpg: the offline bundle's synthetic upstream and
# its solver; docker-registry, containerd (ctr), skopeo: the bundle's images pushed, pulled and loaded.
PACKAGES=(cloud-init xorriso genisoimage shellcheck p7zip-full python3-pycdlib python3-yaml python3-toml
  openssl util-linux systemd nginx libnginx-mod-stream haproxy keepalived cloud-image-utils ca-certificates tzdata firewalld dnsmasq grub-common
  iproute2 busybox tftp-hpa curl qemu-system-x86 ipxe-qemu ovmf pxelinux syslinux-common grub-efi-amd64-bin
  shim-signed grub-efi-amd64-signed gdisk
  debian-installer-12-netboot-amd64 chromium fonts-dejavu-core packer
  isolinux mtools dosfstools golang-go gcc libc6-dev ifupdown ifenslave cpio
  rpm createrepo-c dnf gpg docker-registry containerd skopeo)
# ipxe: undionly.kpxe and ipxe.efi, the loaders k8s-image pxe puts on TFTP (BIOS and UEFI chain to iPXE);
# kea-admin: perfdhcp, which drives dnsmasq in npm run bench:farm; isc-dhcp-relay: a rack's DHCP relay.
PACKAGES+=(ipxe kea-admin isc-dhcp-relay)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# kubectl reads the admin kubeconfig in the tests; Debian's kubernetes-client provides one unless
# the machine already has a kubectl (a second package owning /usr/bin/kubectl would conflict).
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing the test readers: ${missing[*]}" >&2
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "test readers already installed" >&2
fi

# The bond/VLAN boot test (test/boot/): a Debian guest kernel with the bonding and 8021q modules
# (this machine's own kernel may have neither), from Debian's linux-image-amd64, unpacked once.
GUEST_KERNEL_DIR=${K8S_IMAGE_GUEST_KERNEL:-/var/cache/k8s-image-tests/linux-image}
if ! ls "$GUEST_KERNEL_DIR"/boot/vmlinuz-* >/dev/null 2>&1; then
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
  [ -n "$pkg" ] || { echo "linux-image-amd64 names no kernel package (apt-get update?)" >&2; exit 1; }
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download "$pkg")
  $SUDO mkdir -p "$GUEST_KERNEL_DIR"
  $SUDO dpkg-deb -x "$tmp"/"$pkg"_*.deb "$GUEST_KERNEL_DIR"
  rm -rf "$tmp"
  echo "guest kernel $pkg unpacked in $GUEST_KERNEL_DIR" >&2
else
  echo "guest kernel already in $GUEST_KERNEL_DIR" >&2
fi
