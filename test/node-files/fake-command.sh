#!/bin/bash
# Fake system commands for the node-files sandbox: linked under every name (kubeadm, kubectl, systemctl,
# chronyc, chronyd, efibootmgr, modprobe, sysctl, swapoff, setenforce, getenforce, yum, rpm, ip, docker,
# crictl); logs its argv (tab-separated)
# to $FAKE_CALLS and behaves by env knobs and counter files in $FAKE_DIR (see sandbox.ts).
set -u
name=$(basename "$0")
{ printf '%s' "$name"; printf '\t%s' "$@"; printf '\n'; } >>"$FAKE_CALLS"
# take COUNTER: succeeds (and decrements) while $FAKE_DIR/COUNTER holds a number > 0.
take() {
  local f=$FAKE_DIR/$1 n
  n=$(cat "$f" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$f"; return 0; fi
  return 1
}
config_of() {
  local prev=''
  for a in "$@"; do
    if [ "$prev" = --config ]; then echo "$a"; return; fi
    prev=$a
  done
}
case $name in
  kubeadm)
    case "$1" in
      init)
        if [ ! -f "$FAKE_PKI_DIR/ca.crt" ] || [ ! -f "$FAKE_PKI_DIR/ca.key" ]; then echo "fake kubeadm init: no CA in $FAKE_PKI_DIR" >&2; exit 1; fi
        cp "$FAKE_PKI_DIR/ca.key" "$FAKE_DIR/ca.key.seen-by-init"
        mkdir -p "$FAKE_PKI_DIR" "$FAKE_KUBE_DIR"
        echo apiserver >"$FAKE_PKI_DIR/apiserver.crt"
        if take init-fails; then echo "[init] fake failure: timed out waiting for the control plane" >&2; exit 1; fi
        echo "apiVersion: v1 # admin" >"$FAKE_KUBE_DIR/admin.conf"
        echo "Your Kubernetes control-plane has initialized successfully!"
        echo "kubeadm join 10.0.0.1:6443 --token ${TOKEN} --discovery-token-ca-cert-hash sha256:00"
        ;;
      join)
        cfg=$(config_of "$@")
        if grep -q '^controlPlane:' "$cfg"; then
          if [ ! -f "$FAKE_PKI_DIR/ca.key" ] || [ ! -f "$FAKE_PKI_DIR/etcd/ca.key" ]; then echo "fake kubeadm join: no shared CA in $FAKE_PKI_DIR" >&2; exit 1; fi
          cp "$FAKE_PKI_DIR/ca.key" "$FAKE_DIR/ca.key.seen-by-join"
        fi
        mkdir -p "$FAKE_KUBE_DIR"
        echo kubelet >"$FAKE_KUBE_DIR/kubelet.conf"
        if take join-fails; then echo "[preflight] fake failure: couldn't validate the identity of the API Server" >&2; exit 1; fi
        if grep -q '^controlPlane:' "$cfg"; then echo "apiVersion: v1 # admin" >"$FAKE_KUBE_DIR/admin.conf"; fi
        echo "This node has joined the cluster"
        ;;
      reset)
        # Like the real one: PKI_DIR's contents (CA included) and the kubeconfigs go.
        rm -rf "${FAKE_PKI_DIR:?}"/* "${FAKE_KUBE_DIR:?}"/*.conf
        ;;
      config)
        if take pull-fails; then echo "fake pull failure" >&2; exit 1; fi
        ;;
      token)
        : >"$FAKE_DIR/secret"
        ;;
      alpha | certs)
        # Certificate renewal: its own stand-in, bound to test/reference/kubeadm-certs-renew.json.
        exec bash "$FAKE_KUBEADM_CERTS" "$@"
        ;;
      *)
        echo "Error: unknown command \"$1\" for \"kubeadm\"" >&2
        exit 1
        ;;
    esac
    ;;
  docker | crictl)
    # `docker ps -q --filter label=io.kubernetes.container.name=NAME ...` / `crictl ps -q --name ^NAME$`:
    # one container per control-plane name unless FAKE_NO_CONTAINERS lists it; `stop ID...` succeeds.
    if [ "${1:-}" = ps ]; then
      c=''
      for a in "$@"; do
        case $a in
          label=io.kubernetes.container.name=*) c=${a#label=io.kubernetes.container.name=} ;;
          ^*) c=${a#^} c=${c%\$} ;;
        esac
      done
      for m in ${FAKE_NO_CONTAINERS:-}; do if [ "$m" = "$c" ]; then exit 0; fi; done
      if [ -n "$c" ]; then echo "cid-$c"; fi
    fi
    # cri-tools' `crictl stop` (urfave/cli: options before the IDs) has --timeout/-t default 0: the
    # runtime SIGKILLs at once, etcd and the API server included. The stand-in refuses a stop that
    # does not give the container time to end (real crictl would kill it; a test must catch that).
    if [ "$(basename "$0")" = crictl ] && [ "${1:-}" = stop ]; then
      case ${2:-} in
        --timeout | -t) [ "${3:-0}" -gt 0 ] || { echo "stand-in crictl: stop --timeout ${3:-} gives no time" >&2; exit 1; } ;;
        --timeout=* | -t=*) [ "${2#*=}" -gt 0 ] || { echo "stand-in crictl: stop $2 gives no time" >&2; exit 1; } ;;
        *) echo "stand-in crictl: stop without --timeout (default 0: SIGKILL at once) refused" >&2; exit 1 ;;
      esac
    fi
    ;;
  kubectl)
    args=" $* "
    case $args in
      *" apply -f "*)
        if take apply-fails; then echo "The connection to the server was refused" >&2; exit 1; fi
        echo "daemonset.apps/cni created"
        ;;
      *" get node "*)
        n=''
        prev=''
        for a in "$@"; do if [ "$prev" = node ]; then n=$a; fi; prev=$a; done
        if take notready; then echo "$n   NotReady   master   5s   v1.17.4"; else echo "$n   ${FAKE_NODE_STATUS:-Ready}   master   1m   v1.17.4"; fi
        ;;
      *" get nodes -o name "*)
        if take api-down; then echo "The connection to the server was refused" >&2; exit 1; fi
        cat "$FAKE_DIR/nodes" 2>/dev/null || true
        ;;
      *" get secret "*)
        if [ -e "$FAKE_DIR/secret" ]; then echo "secret/$(cat "$FAKE_DIR/secret-name" 2>/dev/null || echo bootstrap-token)"; fi
        ;;
      *" patch secret "*)
        if [ ! -e "$FAKE_DIR/secret" ]; then echo "Error from server (NotFound)" >&2; exit 1; fi
        ;;
      *" delete secret "*)
        rm -f "$FAKE_DIR/secret"
        ;;
    esac
    ;;
  systemctl)
    for u in ${FAKE_MISSING_UNITS:-}; do
      if [ "${2:-}" = "$u" ]; then echo "Failed to execute operation: No such file or directory" >&2; exit 1; fi
    done
    ;;
  chronyc)
    rc=${FAKE_CHRONY_RC:-0}
    if [ "$1" = tracking ]; then
      if [ "$rc" = 0 ]; then echo "Leap status     : Normal"; else echo "Leap status     : Not synchronised"; fi
      exit 0
    fi
    exit "$rc"
    ;;
  chronyd)
    # chronyd -q (-t N) 'server ...': FAKE_CHRONYD_RC=0 sets the clock (as chrony 3.4 prints it), else
    # no server answers and -t ends it with status 1.
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) chronyd version 3.4 starting (+CMDMON +NTP +REFCLOCK +RTC +PRIVDROP +SCFILTER +SIGND +ASYNCDNS +SECHASH +IPV6 +DEBUG)"
    if [ "${FAKE_CHRONYD_RC:-0}" = 0 ]; then
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) System clock wrong by 172800.004533 seconds (step)"
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) chronyd exiting"
      exit 0
    fi
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) No suitable source for synchronisation"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) chronyd exiting"
    exit "$FAKE_CHRONYD_RC"
    ;;
  efibootmgr)
    # No argument: print $FAKE_DIR/efibootmgr.out (real efibootmgr 17 output, see the tests). -o LIST:
    # set BootOrder in that file (as the firmware variable would change); FAKE_EFIBOOTMGR_RC fails it.
    out=$FAKE_DIR/efibootmgr.out
    if [ ! -r "$out" ]; then echo "EFI variables are not supported on this system." >&2; exit 2; fi
    if [ "$#" -eq 0 ]; then cat "$out"; exit 0; fi
    if [ "$1" = -o ] && [ "$#" -ge 2 ]; then
      if [ "${FAKE_EFIBOOTMGR_RC:-0}" != 0 ]; then echo "Could not set BootOrder: Input/output error" >&2; exit "$FAKE_EFIBOOTMGR_RC"; fi
      sed -i "s/^BootOrder: .*/BootOrder: $2/" "$out"
      cat "$out"
      exit 0
    fi
    echo "fake efibootmgr: unexpected arguments $*" >&2
    exit 1
    ;;
  modprobe)
    for m in ${FAKE_MODPROBE_MISSING:-}; do
      if [ "$1" = "$m" ]; then echo "modprobe: FATAL: Module $m not found." >&2; exit 1; fi
    done
    ;;
  ip)
    # `ip -4 -o addr show` / `ip -o link show`: the machine's addresses from FAKE_IP_ADDRS.
    if [ "${1:-}" = -4 ]; then
      n=2
      for a in ${FAKE_IP_ADDRS:-192.168.108.100 192.168.108.101 192.168.108.102 10.0.1.157}; do
        echo "$n: eth0    inet $a/24 brd 0.0.0.0 scope global eth0\       valid_lft forever preferred_lft forever"
        n=$((n + 1))
      done
    else
      echo "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN"
      echo "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP"
    fi
    ;;
  getenforce)
    echo "${FAKE_GETENFORCE:-Enforcing}"
    ;;
  yum)
    if [ "$1" = install ]; then
      if take yum-fails; then echo "Cannot retrieve repository metadata (repomd.xml)" >&2; exit 1; fi
      for a in "$@"; do
        case $a in
          -* | install) ;;
          *)
            skip=0
            for s in ${FAKE_YUM_SKIP:-}; do if [ "$a" = "$s" ]; then skip=1; fi; done
            if [ "$skip" = 1 ]; then echo "No package $a available."; else echo "$a" >>"$FAKE_DIR/rpmdb"; fi
            ;;
        esac
      done
    fi
    ;;
  rpm)
    rc=0
    for a in "$@"; do
      [ "$a" = -q ] && continue
      if grep -qxF "$a" "$FAKE_DIR/rpmdb" 2>/dev/null; then echo "$a.x86_64"; else echo "package $a is not installed"; rc=1; fi
    done
    exit "$rc"
    ;;
  grubby)
    # CentOS 7's grubby 8.28 on a grub2 config, as rhboot/grubby tag 8.28-1 grubby.c does it (the 7.9
    # package is 8.28-26.el7, the same logic): a config whose default line is
    # `set default="${saved_entry}"` (GRUB_DEFAULT=saved) has grubenv's saved_entry as its default, a
    # title or an index, and entry 0 when neither matches (main(), displayDefault); --set-default=KERNEL
    # takes the first entry booting KERNEL (findEntryByPath) and saves its title with
    # `grub2-editenv <env> set saved_entry=<title>` (grub2SetEnv; written here directly), and when no
    # entry boots KERNEL it changes nothing and still exits 0 (setDefaultImage: defaultImage = -1);
    # --default-kernel prints the boot prefix (/boot on its own partition) and the entry's linux16 path;
    # --update-kernel=ALL --args replaces an argument of the same name or appends it, on every entry.
    cfg=${FAKE_GRUB_CFG:-$FAKE_DIR/grub.cfg}
    envf=${FAKE_GRUBENV:-$FAKE_DIR/grubenv}
    if [ ! -r "$cfg" ]; then echo "grubby: error opening $cfg for read: No such file or directory" >&2; exit 1; fi
    # One "title<TAB>kernel" line per menuentry, in order.
    entries=$(awk '/^menuentry / { t = $0; sub(/^menuentry \047/, "", t); sub(/\047.*/, "", t) } /^[ \t]*linux(16|efi)? / && t != "" { print t "\t" $2; t = "" }' "$cfg")
    default_index() {
      local saved i=0 title
      # shellcheck disable=SC2016 # the literal text grub2-mkconfig writes
      if ! grep -qF 'set default="${saved_entry}"' "$cfg"; then echo 0; return; fi
      saved=$(sed -n 's/^saved_entry=//p' "$envf" 2>/dev/null)
      if [[ $saved =~ ^[0-9]+$ ]]; then echo "$saved"; return; fi
      while IFS=$'\t' read -r title _; do
        if [ "$title" = "$saved" ]; then echo "$i"; return; fi
        i=$((i + 1))
      done <<<"$entries"
      echo 0
    }
    for a in "$@"; do
      case $a in
        --default-kernel)
          k=$(sed -n "$(($(default_index) + 1))p" <<<"$entries" | cut -f2)
          [ -n "$k" ] && echo "/boot$k"
          ;;
        --set-default=*)
          want=${a#--set-default=}
          i=0
          while IFS=$'\t' read -r title k; do
            if [ "/boot$k" = "$want" ] || [ "$k" = "$want" ]; then
              printf '# GRUB Environment Block\nsaved_entry=%s\n' "$title" >"$envf"
              break
            fi
            i=$((i + 1))
          done <<<"$entries"
          ;;
        --args=*)
          args=${a#--args=}
          for arg in $args; do
            key=${arg%%=*}
            awk -v key="$key" -v arg="$arg" 'BEGIN { OFS = " " } /^[ \t]*linux(16|efi)? / { out = ""; for (i = 1; i <= NF; i++) { k = $i; sub(/=.*/, "", k); if (i > 2 && k == key) continue; out = out (out == "" ? "" : " ") $i } match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) out " " arg; next } { print }' "$cfg" >"$cfg.new" && cat "$cfg.new" >"$cfg" && rm -f "$cfg.new"
          done
          ;;
      esac
    done
    ;;
  blkid | mount | umount | mountpoint)
    # util-linux 2.23 (CentOS 7), as test/reference/util-linux-2.23-blkid-mount.md records it. A "disc" is
    # a directory of the sandbox; $FAKE_DIR/labels/LABEL names the one carrying LABEL (none: no such
    # device). Mounting copies the disc's files to the mount point, read-only, and records it in
    # $FAKE_DIR/mounts ("DEV DIR" lines); unmounting empties the mount point again.
    mounts=$FAKE_DIR/mounts
    touch "$mounts"
    case $name in
      blkid)
        # blkid -L LABEL: the device on stdout and 0; no device with the label: no output, exit 2.
        [ "${1:-}" = -L ] || { echo "fake blkid: only -L LABEL is modelled" >&2; exit 4; }
        if [ -f "$FAKE_DIR/labels/$2" ]; then cat "$FAKE_DIR/labels/$2"; exit 0; fi
        exit 2
        ;;
      mountpoint)
        # mountpoint -q DIR: 0 when DIR is a mount point, 1 when not.
        dir=${*: -1}
        if awk -v d="$dir" '$2 == d { f = 1 } END { exit !f }' "$mounts"; then exit 0; fi
        exit 1
        ;;
      mount)
        dev='' dir=''
        while [ $# -gt 0 ]; do
          case $1 in
            -t | -o) shift ;;
            -*) ;;
            *) if [ -z "$dev" ]; then dev=$1; else dir=$1; fi ;;
          esac
          shift
        done
        if [ ! -e "$dev" ]; then echo "mount: special device $dev does not exist" >&2; exit 32; fi
        if [ ! -d "$dir" ]; then echo "mount: mount point $dir does not exist" >&2; exit 32; fi
        if grep -qxF "$dev $dir" "$mounts"; then echo "mount: $dev is already mounted or $dir busy" >&2; exit 32; fi
        cp -R "$dev"/. "$dir"/
        find "$dir" -type f -exec chmod a-w {} +
        echo "$dev $dir" >>"$mounts"
        ;;
      umount)
        dir=$1
        if ! awk -v d="$dir" '$2 == d { f = 1 } END { exit !f }' "$mounts"; then echo "umount: $dir: not mounted" >&2; exit 32; fi
        find "$dir" -mindepth 1 -delete
        awk -v d="$dir" '$2 != d' "$mounts" >"$mounts.new" && mv -f "$mounts.new" "$mounts"
        ;;
    esac
    ;;
esac
exit 0
