/**
 * Strict shapes for every value that later reaches a shell, a kickstart line or YAML.
 * A value that passes one of these needs no quoting tricks anywhere downstream: no whitespace
 * (except where noted), no quotes, no `$`, backticks, backslashes, semicolons or newlines.
 */
export const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
export const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
export const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const IFACE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/;
export const K8S_VERSION = /^1\.[0-9]{1,2}\.[0-9]{1,3}$/;
/** RPM [epoch:]version-release as yum takes it after `name-`. */
export const RPM_VERSION = /^([0-9]{1,3}:)?[0-9][0-9A-Za-z._~+]*(-[0-9A-Za-z._~+]+)?$/;
/** An ELRepo EL7 kernel-lt version-release, no epoch: it names /boot/vmlinuz-<it>.x86_64, which has none. */
export const ELREPO_KERNEL_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+(\.[0-9]+)*\.el7\.elrepo$/;
/**
 * http(s) URL with optional `user:password@` (RFC 3986 unreserved characters and %XX escapes only),
 * a host, optional port and a plain path; no query, fragment, quotes, spaces or `$`.
 */
/** The status server nodes report to: http://host[:port][/path], no credentials (reports are signed). */
export const STATUS_URL = /^http:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/-]*)?$/;
export const HTTP_URL = /^https?:\/\/([A-Za-z0-9._~%+-]+(:[A-Za-z0-9._~%+-]*)?@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/:@+-]*)?$/;
/** The `user:password@` of a URL, to keep out of logs, messages and world-readable files. */
export const URL_USERINFO = /(?<=^https?:\/\/)[^/@]+@/;
export const IMAGE_REPO = /^[a-z0-9.-]+(:[0-9]{1,5})?(\/[a-z0-9._-]+)*$/;
export const HOST_PORT = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;
export const DISK = /^((sd|vd|xvd|hd)[a-z]{1,3}|nvme[0-9]{1,2}n[0-9]{1,2}|\/dev\/disk\/by-(id|path|uuid|label)\/[A-Za-z0-9._:+-]{1,200})$/;
/** The shape of a tz database name; config also checks the name against the database (timezones.ts). */
export const TIMEZONE = /^[A-Za-z][A-Za-z0-9_+-]{0,30}(\/[A-Za-z0-9_+-]{1,30}){0,2}$/;
/** Go-style duration restricted to d/h/m/s units, or "0" for never. */
export const DURATION = /^(0|([0-9]{1,6}d)?([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?)$/;
/** glibc crypt SHA-512 ($6$) or SHA-256 ($5$) hash, optionally with rounds. */
export const CRYPT_HASH = /^\$(5|6)\$(rounds=[0-9]{4,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}$/;
/** An OpenSSH public key line; the comment may hold spaces but no quotes or shell characters. */
export const SSH_KEY = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]{16,16384}={0,3}( [A-Za-z0-9@._+:=,-][A-Za-z0-9@._+:=, -]{0,199})?$/;
/** A no-proxy entry: host, .domain suffix, IP or CIDR. */
export const NO_PROXY = /^(\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|[0-9.]+\/[0-9]{1,2})$/;
/** A bond device name (dracut, initscripts and anaconda all take bondN). */
export const BOND_NAME = /^bond[0-9]{1,4}$/;
/** A Kubernetes label key: an optional DNS subdomain prefix and /, then a name of at most 63 characters. */
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** A kubelet flag name as kubeadm's kubeletExtraArgs key (no leading dashes). */
export const KUBELET_FLAG = /^[a-z][a-z0-9-]{0,62}$/;
/** A kubelet flag value: one word kubeadm writes into kubeadm-flags.env in double quotes (no quotes, spaces, $ or backslashes). */
export const KUBELET_ARG_VALUE = /^[A-Za-z0-9._:/=,@+%-]{1,256}$/;
/** A resource quantity (100m, 1Gi, 500Mi, 10%) as KubeletConfiguration's reserved and eviction maps take it. */
export const QUANTITY = /^([0-9]{1,12}(\.[0-9]{1,6})?(m|k|Ki|M|Mi|G|Gi|T|Ti)?|[0-9]{1,2}(\.[0-9]{1,3})?%|100%)$/;
/** An RPM package name. */
export const RPM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;
/** An absolute path on the node that needs no quoting in a shell word, a kickstart heredoc line or YAML. */
export const NODE_FILE_PATH = /^(\/[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,127}){1,16}$/;
/** A file next to cluster.yaml: relative, plain characters, no component that is . or .. . */
export const SOURCE_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._+@-]+(\/[A-Za-z0-9._+@-]+){0,15}$/;
