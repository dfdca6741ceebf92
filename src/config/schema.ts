import { z } from 'zod';
import * as P from './patterns.js';
import { TIMEZONES } from './timezones.js';

/**
 * The cluster.yaml schema: the shape users write. Every field is optional except nodes; defaults and
 * presets are applied in load.ts so the JSON Schema shows the user-facing shape. Objects are strict:
 * a misspelt key is an error here, not a silently ignored setting on the node.
 */
const str = (re: RegExp, what: string) => z.string({ invalid_type_error: `expected ${what}` }).regex(re, `expected ${what}`);

const ipv4 = str(P.IPV4, 'an IPv4 address like 192.168.108.100');
const ipWithPrefix = z
  .string({ invalid_type_error: 'expected an IPv4 address, optionally with /prefix' })
  .regex(/^[0-9.]+(\/[0-9]{1,2})?$/, 'expected an IPv4 address, optionally with /prefix (192.168.108.100 or 192.168.108.100/24)')
  .refine((s) => P.IPV4.test(s.split('/')[0]!) && (!s.includes('/') || Number(s.split('/')[1]) <= 32), 'expected an IPv4 address (each octet 0-255, no leading zeros), optionally with /0-32');
const cidr = z
  .string({ invalid_type_error: 'expected a CIDR like 10.244.0.0/16' })
  .regex(/^[0-9.]+\/[0-9]{1,2}$/, 'expected a CIDR like 10.244.0.0/16')
  .refine((s) => P.IPV4.test(s.split('/')[0]!) && Number(s.split('/')[1]) <= 32, 'expected a CIDR like 10.244.0.0/16 (octets 0-255, prefix 0-32)');
/** mirrors.bundle: where the nodes find the offline bundle. */
const BUNDLE_WHAT = 'the http(s) URL the bundle is served at, like http://10.0.0.1:8080/bundle (k8s-image serve --bundle), or iso: the ISO `k8s-image bundle --iso` wrote, attached to every node as a CD drive (label K8SBUNDLE)';
const url = str(P.HTTP_URL, 'an http(s) URL like https://mirrors.example.com/path or http://user:password@proxy:3128 (no spaces, quotes, query or $; other characters in a password as %XX)');
const host = z
  .string({ invalid_type_error: 'expected a host name (ntp.example.com) or an IPv4 address' })
  .refine((s) => P.IPV4.test(s) || (P.DNS_NAME.test(s) && !/^[0-9.]+$/.test(s)), 'expected a host name (ntp.example.com) or an IPv4 address');
const duration = z.union([z.literal(0), str(P.DURATION, 'a duration like 24h, 90m, 7d or 1d12h (0 = never)')], {
  errorMap: () => ({ message: 'expected a duration like 24h, 90m, 7d or 1d12h (0 = never)' }),
});

const mtu = z.number({ invalid_type_error: 'expected an MTU in bytes like 1500 or 9000' }).int().min(576, 'expected an MTU of at least 576 (the IPv4 minimum)').max(9216, 'expected an MTU of at most 9216 (the largest jumbo frame switches pass)');
const ifaceName = str(P.IFACE, 'an interface name like eno1, ens1f0 or bond0 (letters first, at most 15 chars)');

/** A NIC by its kernel name (what the installer and CentOS 7 call it) and MAC (what cloud-init matches). */
const InterfaceSchema = z
  .object({
    name: ifaceName,
    mac: str(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'a MAC address like 00:50:56:aa:bb:01').optional(),
    mtu: mtu.optional(),
    ip: ipWithPrefix.optional(),
  })
  .strict();

export const BOND_MODES = ['active-backup', '802.3ad', 'balance-rr', 'balance-xor', 'broadcast', 'balance-tlb', 'balance-alb'] as const;

const BondSchema = z
  .object({
    name: str(P.BOND_NAME, 'a bond name like bond0 (bond and a number)'),
    interfaces: z.array(ifaceName).min(1, 'list the NICs (by name, from interfaces) this bond joins'),
    mode: z.enum(BOND_MODES, { errorMap: () => ({ message: `expected one of ${BOND_MODES.join(', ')}` }) }),
    miimon: z.number().int().min(0).max(60000).optional(),
    lacpRate: z.enum(['slow', 'fast']).optional(),
    xmitHashPolicy: z.enum(['layer2', 'layer2+3', 'layer3+4', 'encap2+3', 'encap3+4']).optional(),
    primary: ifaceName.optional(),
    mtu: mtu.optional(),
    ip: ipWithPrefix.optional(),
  })
  .strict();

const VlanSchema = z
  .object({
    id: z.number({ invalid_type_error: 'expected a VLAN id 1-4094' }).int().min(1, 'expected a VLAN id 1-4094').max(4094, 'expected a VLAN id 1-4094'),
    link: ifaceName,
    name: ifaceName.optional(),
    mtu: mtu.optional(),
    ip: ipWithPrefix.optional(),
  })
  .strict();

const RouteSchema = z.object({ to: cidr, via: ipv4, metric: z.number().int().min(0).max(65535).optional() }).strict();

const labelKey = str(P.LABEL_KEY, 'a label key like example.com/rack or rack (an optional DNS prefix and /, then 1-63 of A-Z a-z 0-9 - _ .)');
const labelValue = z.union([str(P.LABEL_VALUE, 'a label value: at most 63 of A-Z a-z 0-9 - _ ., starting and ending alphanumeric, or empty'), z.number().transform(String), z.boolean().transform(String)]);
const TaintSchema = z
  .object({
    key: labelKey,
    value: labelValue.optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], { errorMap: () => ({ message: 'expected one of NoSchedule, PreferNoSchedule, NoExecute' }) }),
  })
  .strict();
const kubeletArgs = z.record(str(P.KUBELET_FLAG, 'a kubelet flag name without dashes, like max-pods or image-gc-high-threshold'), z.union([str(P.KUBELET_ARG_VALUE, 'a flag value without spaces, quotes or shell characters'), z.number().transform(String), z.boolean().transform(String)]));

/** Labels, taints and kubelet flags: per role (kubernetes.roles.<role>) and per node (which wins key by key). */
const NodeKubernetesSchema = z
  .object({
    labels: z.record(labelKey, labelValue).optional(),
    taints: z.array(TaintSchema).optional(),
    kubeletExtraArgs: kubeletArgs.optional(),
  })
  .strict();

const quantity = z.union([str(P.QUANTITY, 'a resource quantity like 500m, 1Gi or 10%'), z.number().int().min(0).transform(String)]);
/** The KubeletConfiguration fields one may set (kubelet.config.k8s.io/v1beta1; the same for 1.15-1.31). */
const KubeletConfigSchema = z
  .object({
    maxPods: z.number().int().min(10).max(2500).optional(),
    podPidsLimit: z.number().int().min(-1).max(4194304).optional(),
    systemReserved: z.record(z.enum(['cpu', 'memory', 'ephemeral-storage', 'pid']), quantity).optional(),
    kubeReserved: z.record(z.enum(['cpu', 'memory', 'ephemeral-storage', 'pid']), quantity).optional(),
    evictionHard: z.record(z.enum(['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available']), quantity).optional(),
    imageGCHighThresholdPercent: z.number().int().min(1).max(100).optional(),
    imageGCLowThresholdPercent: z.number().int().min(0).max(100).optional(),
    serializeImagePulls: z.boolean().optional(),
    containerLogMaxSize: str(/^[0-9]{1,6}(Ki|Mi|Gi)$/, 'a size like 10Mi').optional(),
    containerLogMaxFiles: z.number().int().min(2).max(100).optional(),
  })
  .strict();

const diskSize = z.union([z.number().int().min(1), str(/^[0-9]{1,7}(Mi|Gi|Ti)$/, 'a size as MiB (51200) or 50Gi / 512Mi / 2Ti')]);
const disk = str(P.DISK, 'a disk like sda, vda, nvme0n1 or /dev/disk/by-id/<id>');
/** A filesystem of its own: on a disk of its own (all of it), or a partition (LV with lvm) of the OS disk(s) of a size. */
const VolumeSchema = z.object({ disk: disk.optional(), size: diskSize.optional() }).strict();
/** The installer's disk layout (kickstart); a cloud-init clone gets only the volumes on disks of their own. */
const StorageSchema = z
  .object({
    rootSize: diskSize.optional(),
    lvm: z.boolean().optional(),
    raid1: z.array(disk).length(2, 'list exactly two disks to mirror the OS on (software RAID1)').optional(),
    containerData: VolumeSchema.optional(),
    log: VolumeSchema.optional(),
  })
  .strict();

/** A file of one's own next to cluster.yaml (relative, no ..). */
const sourcePath = str(P.SOURCE_PATH, 'a path relative to cluster.yaml like files/motd or hooks/after-install.sh (no .., no spaces)');
/** One's own additions: pinned packages, files, trusted CA certificates and hook scripts at named points. */
const CustomSchema = z
  .object({
    packages: z
      .array(z.object({ name: str(P.RPM_NAME, 'an RPM package name like nfs-utils'), version: str(P.RPM_VERSION, 'the exact RPM version-release like 1.3.0-0.68.el7.2 (pinned: every node gets the same)') }).strict())
      .optional(),
    files: z
      .array(
        z
          .object({
            path: str(P.NODE_FILE_PATH, 'an absolute path like /etc/motd (letters, digits, . _ - + @ and /; no .., spaces or quotes)'),
            mode: str(/^0?[0-7]{3}$/, "a quoted octal mode like '0644' or '0755' (no setuid/setgid bits)").optional(),
            content: z.string().optional(),
            source: sourcePath.optional(),
            secret: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    caCertificates: z.array(z.object({ content: z.string().optional(), source: sourcePath.optional() }).strict()).optional(),
    hooks: z
      .object({ afterInstall: z.array(sourcePath).optional(), beforeKubeadm: z.array(sourcePath).optional(), afterReady: z.array(sourcePath).optional() })
      .strict()
      .optional(),
  })
  .strict();

export const NodeSchema = z
  .object({
    name: str(P.LABEL, 'a lowercase RFC 1123 label: a-z, 0-9 and -, 1-63 chars, not starting or ending with -'),
    role: z.enum(['master', 'node', 'lb'], { errorMap: () => ({ message: 'expected one of master, node, lb' }) }),
    ip: ipWithPrefix,
    mac: str(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'a MAC address like 00:50:56:aa:bb:01').optional(),
    interface: str(P.IFACE, 'an interface name like eth0 or ens192 (letters first, at most 15 chars)').optional(),
    gateway: ipv4.optional(),
    dns: z.array(ipv4).max(3, 'at most 3 DNS servers (CentOS 7 writes DNS1..DNS3 only)').optional(),
    disk: str(P.DISK, 'a disk like sda, vda, nvme0n1 or /dev/disk/by-id/<id>').optional(),
    generation: z.number().int().min(0).max(999999).optional(),
    cpus: z.number().int().min(1).max(1024).optional(),
    memory: z.union([z.number().int().min(1), str(/^[0-9]{1,7}(Mi|Gi|M|G)$/, 'memory as MiB (2048) or 2Gi / 2048Mi')]).optional(),
    mtu: mtu.optional(),
    interfaces: z.array(InterfaceSchema).min(1).optional(),
    bonds: z.array(BondSchema).optional(),
    vlans: z.array(VlanSchema).optional(),
    routes: z.array(RouteSchema).optional(),
    kubernetesInterface: ifaceName.optional(),
    kubernetes: NodeKubernetesSchema.optional(),
    storage: StorageSchema.optional(),
    custom: CustomSchema.optional(),
  })
  .strict();

export const ClusterFileSchema = z
  .object({
    cluster: z
      .object({
        name: str(P.LABEL, 'a lowercase RFC 1123 label (a-z, 0-9, -)').optional(),
        kubernetesVersion: str(P.K8S_VERSION, 'a Kubernetes release like 1.17.4').optional(),
        runtime: z
          .object({
            kind: z.enum(['docker', 'containerd']).optional(),
            version: str(P.RPM_VERSION, 'an RPM version like 18.06.3.ce-3.el7 or 1.6.33-3.1.el7').optional(),
            // Install a runtime version the version table does not list for this release (a warning instead of an error).
            allowUntestedVersion: z.boolean().optional(),
          })
          .strict()
          .optional(),
        controlPlaneEndpoint: str(P.HOST_PORT, 'host:port like 10.0.1.157:6443 or k8s-api.example.com:6443').optional(),
        podSubnet: cidr.optional(),
        serviceSubnet: cidr.optional(),
        dnsDomain: str(P.DNS_NAME, 'a DNS domain like cluster.local').optional(),
        cni: z.enum(['flannel', 'calico']).optional(),
        cniManifest: str(/^[A-Za-z0-9._\/-]{1,255}$/, 'a path (relative to this file) of a CNI manifest like calico.yaml').optional(),
        kubeProxyMode: z.enum(['ipvs', 'iptables']).optional(),
        imageRepository: str(P.IMAGE_REPO, 'an image repository like registry.aliyuncs.com/google_containers').optional(),
        allowUnsupportedVersion: z.boolean().optional(),
        allowUnknownPatchRelease: z.boolean().optional(),
      })
      .strict()
      .optional(),
    storage: StorageSchema.optional(),
    custom: CustomSchema.optional(),
    kubernetes: z
      .object({
        roles: z.object({ master: NodeKubernetesSchema.optional(), node: NodeKubernetesSchema.optional() }).strict().optional(),
        kubelet: KubeletConfigSchema.optional(),
      })
      .strict()
      .optional(),
    bootstrap: z.object({ tokenTTL: duration.optional(), joinDeadline: duration.optional() }).strict().optional(),
    loadBalancer: z
      .object({
        kind: z.enum(['nginx', 'haproxy', 'local']).optional(),
        // With kind local: the proxy each non-master runs on 127.0.0.1 (haproxy from CentOS 7 base, nginx from EPEL).
        proxy: z.enum(['haproxy', 'nginx']).optional(),
        virtualIP: ipv4.optional(),
        port: z.number().int().min(1).max(65535).optional(),
      })
      .strict()
      .optional(),
    mirrors: z
      .object({
        preset: z.enum(['aliyun', 'upstream']).optional(),
        centos: url.optional(),
        epel: url.optional(),
        elrepo: url.optional(),
        elrepoKey: url.optional(),
        dockerCe: url.optional(),
        kubernetesEl7: url.optional(),
        kubernetesPkgs: url.optional(),
        registryMirrors: z.array(url).optional(),
        insecureRegistries: z.array(str(P.HOST_PORT, 'host[:port] like registry.local:5000')).optional(),
        bundle: str(new RegExp(`^iso$|${P.HTTP_URL.source}`), BUNDLE_WHAT).optional(),
        installer: url.optional(),
        cniImageRegistry: str(P.IMAGE_REPO, 'a registry host[/path] serving the Docker Hub CNI images, like docker.m.daocloud.io or harbor.example.com/dockerhub').optional(),
      })
      .strict()
      .optional(),
    proxy: z
      .object({ http: url.optional(), https: url.optional(), noProxy: z.array(str(P.NO_PROXY, 'a host, .domain, IP or CIDR')).optional() })
      .strict()
      .optional(),
    os: z
      .object({
        name: z.enum(['centos7']).optional(),
        timezone: str(P.TIMEZONE, 'a tz database name like UTC, CET or Asia/Shanghai')
          .refine((t) => TIMEZONES.has(t), 'not in the tz database: expected a name like UTC, CET, Europe/Berlin or Asia/Shanghai (`timedatectl list-timezones` lists them)')
          .optional(),
        selinux: z.enum(['disabled', 'permissive']).optional(),
        kernel: z.enum(['stock', 'lt']).optional(),
        kernelVersion: str(P.ELREPO_KERNEL_VERSION, 'an ELRepo EL7 kernel-lt version-release like 5.4.278-1.el7.elrepo (ending in .el7.elrepo; no epoch "1:", no kernel-lt- prefix, no .x86_64: it names /boot/vmlinuz-<version>.x86_64)').optional(),
        firewall: z.enum(['disabled', 'open']).optional(),
        ntpServers: z.array(host).min(1).optional(),
        rootPasswordHash: z.string().optional(),
        sshAuthorizedKeys: z.array(str(P.SSH_KEY, 'an OpenSSH public key line like "ssh-ed25519 AAAA... user@host"')).optional(),
      })
      .strict()
      .optional(),
    network: z
      .object({
        prefix: z.number().int().min(8).max(30).optional(),
        gateway: ipv4.optional(),
        dns: z.array(ipv4).min(1).max(3, 'at most 3 DNS servers (CentOS 7 writes DNS1..DNS3 only)').optional(),
        searchDomain: str(P.DNS_NAME, 'a DNS domain like lab.example.com').optional(),
        interface: str(P.IFACE, 'an interface name like eth0 or ens192').optional(),
      })
      .strict()
      .optional(),
    status: z
      .object({ url: str(P.STATUS_URL, 'an http URL of k8s-image serve as the nodes reach it, like http://192.168.108.1:8080 (no credentials: reports are signed)').optional() })
      .strict()
      .optional(),
    nodes: z.array(NodeSchema).min(1, 'list at least one node'),
  })
  .strict();

export type ClusterFile = z.infer<typeof ClusterFileSchema>;
