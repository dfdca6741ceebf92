#!/bin/bash
# Stand-in for kubeadm's certificate renewal (`kubeadm alpha certs renew all` / `kubeadm certs renew
# all`), run by fake-command.sh for `kubeadm alpha ...` and `kubeadm certs ...`. Bound by the test to
# one version's facts from test/reference/kubeadm-certs-renew.json:
#   FAKE_RENEW_ARGV        the subcommand path ("alpha certs renew all"); any other is refused as cobra does
#   FAKE_RENEW_FLAGS       that version's flags; any other is refused ("unknown flag")
#   FAKE_RENEW_PKI         what it rewrites under --cert-dir and the CA that signs each ("apiserver:ca ...")
#   FAKE_RENEW_KUBECONFIGS the kubeconfigs whose embedded client certificate it rewrites ("admin.conf:ca ...")
#   FAKE_KUBE_DIR          kubeadm's fixed /etc/kubernetes (no flag moves it)
# Like kubeadm: renews unconditionally, keeps subject, SANs and key usages, makes a new key (of the old key's type), signs with
# the existing CA for a year, never touches a CA, prints "MISSING!" for what is not there. Re-signs
# with the openssl CLI.
set -euo pipefail
read -r -a want <<<"$FAKE_RENEW_ARGV"
done_words=''
for w in "${want[@]}"; do
  if [ "${1:-}" != "$w" ]; then
    echo "Error: unknown command \"${1:-}\" for \"kubeadm${done_words}\"" >&2
    exit 1
  fi
  done_words="$done_words $w"
  shift
done
cert_dir=/etc/kubernetes/pki
while [ $# -gt 0 ]; do
  flag=${1%%=*}
  case " $FAKE_RENEW_FLAGS " in
    *" $flag "*) ;;
    *)
      echo "Error: unknown flag: $flag" >&2
      exit 1
      ;;
  esac
  case $flag in
    --csr-only | --use-api)
      echo "fake kubeadm: $flag does not renew from the local CA" >&2
      exit 1
      ;;
  esac
  if [[ $1 == *=* ]]; then
    val=${1#*=}
    shift
  else
    if [ $# -lt 2 ]; then
      echo "Error: flag needs an argument: $flag" >&2
      exit 1
    fi
    val=$2
    shift 2
  fi
  if [ "$flag" = --cert-dir ]; then cert_dir=$val; fi
done
if [ $# -gt 0 ]; then
  echo "Error: unknown command \"$1\" for \"kubeadm$done_words\"" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# resign OLD_CERT CA_NAME NEW_CERT NEW_KEY: same subject, SANs and usages, new key, a year from now.
resign() {
  local old=$1 ca=$2 subj san eku
  subj=$(openssl x509 -in "$old" -noout -subject -nameopt compat | sed 's/^subject=//')
  san=$(openssl x509 -in "$old" -noout -ext subjectAltName 2>/dev/null | sed -n 2p | sed -e 's/^ *//' -e 's/IP Address:/IP:/g')
  eku=$(openssl x509 -in "$old" -noout -ext extendedKeyUsage 2>/dev/null | sed -n 2p | sed -e 's/^ *//' -e 's/TLS Web Server Authentication/serverAuth/' -e 's/TLS Web Client Authentication/clientAuth/' -e 's/, /,/g')
  {
    echo 'keyUsage=critical,digitalSignature,keyEncipherment'
    if [ -n "$eku" ]; then echo "extendedKeyUsage=$eku"; fi
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } >"$work/ext"
  # A new key of the old one's type (kubeadm: RSA 2048 unless the config says ECDSA).
  local newkey=(-newkey rsa:2048)
  if openssl x509 -in "$old" -noout -text | grep -q 'Public Key Algorithm: id-ecPublicKey'; then newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
  openssl req -new "${newkey[@]}" -nodes -keyout "$4" -out "$work/csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$work/csr" -CA "$cert_dir/$ca.crt" -CAkey "$cert_dir/$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 365 -sha256 -extfile "$work/ext" -out "$3" 2>/dev/null
}

for entry in $FAKE_RENEW_PKI; do
  name=${entry%%:*}
  ca=${entry#*:}
  if [ ! -f "$cert_dir/$name.crt" ]; then
    echo "MISSING! certificate $name"
    continue
  fi
  resign "$cert_dir/$name.crt" "$ca" "$work/new.crt" "$work/new.key"
  install -m 0644 "$work/new.crt" "$cert_dir/$name.crt"
  install -m 0600 "$work/new.key" "$cert_dir/$name.key"
  echo "certificate $name renewed"
done
for entry in $FAKE_RENEW_KUBECONFIGS; do
  name=${entry%%:*}
  ca=${entry#*:}
  conf=$FAKE_KUBE_DIR/$name
  if [ ! -f "$conf" ]; then
    echo "MISSING! certificate embedded in the kubeconfig file $name"
    continue
  fi
  sed -n 's/^ *client-certificate-data: *//p' "$conf" | head -n 1 | base64 -d >"$work/old.crt"
  resign "$work/old.crt" "$ca" "$work/new.crt" "$work/new.key"
  crt=$(base64 -w0 <"$work/new.crt")
  key=$(base64 -w0 <"$work/new.key")
  sed -e "s|^\\( *\\)client-certificate-data: .*|\\1client-certificate-data: $crt|" -e "s|^\\( *\\)client-key-data: .*|\\1client-key-data: $key|" "$conf" >"$work/conf"
  install -m 0600 "$work/conf" "$conf"
  echo "certificate embedded in the kubeconfig file $name renewed"
done
echo
echo "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates."
