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
const url = str(P.HTTP_URL, 'an http(s) URL like https://mirrors.example.com/path or http://user:password@proxy:3128 (no spaces, quotes, query or $; other characters in a password as %XX)');
const host = z
  .string({ invalid_type_error: 'expected a host name (ntp.example.com) or an IPv4 address' })
  .refine((s) => P.IPV4.test(s) || (P.DNS_NAME.test(s) && !/^[0-9.]+$/.test(s)), 'expected a host name (ntp.example.com) or an IPv4 address');
const duration = z.union([z.literal(0), str(P.DURATION, 'a duration like 24h, 90m, 7d or 1d12h (0 = never)')], {
  errorMap: () => ({ message: 'expected a duration like 24h, 90m, 7d or 1d12h (0 = never)' }),
});

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
    bootstrap: z.object({ tokenTTL: duration.optional(), joinDeadline: duration.optional() }).strict().optional(),
    loadBalancer: z
      .object({ kind: z.enum(['nginx', 'haproxy']).optional(), virtualIP: ipv4.optional(), port: z.number().int().min(1).max(65535).optional() })
      .strict()
      .optional(),
    mirrors: z
      .object({
        preset: z.enum(['aliyun', 'upstream']).optional(),
        centos: url.optional(),
        epel: url.optional(),
        dockerCe: url.optional(),
        kubernetesEl7: url.optional(),
        kubernetesPkgs: url.optional(),
        registryMirrors: z.array(url).optional(),
        insecureRegistries: z.array(str(P.HOST_PORT, 'host[:port] like registry.local:5000')).optional(),
        bundle: url.optional(),
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
