import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import type { ZodIssue } from 'zod';
import { UserError } from '../errors.js';
import {
  DEFAULT_KERNEL_LT,
  FAIL_CGROUP_V1_MINOR,
  IPVS_OLD_KERNEL_FIXED,
  KERNEL_LT_LINE,
  KERNEL_PREFLIGHT_ERROR_MINOR,
  LAST_PATCH,
  MAX_KNOWN_MINOR,
  MAX_MINOR,
  MIN_MINOR,
  defaultRuntime,
  defaultRuntimeVersion,
  dockerSupported,
  ipvsBrokenOnCentos7,
  minorFacts,
  parseVersion,
  runtimeVersionProblem,
} from '../versions/index.js';
import { ClusterFileSchema, type ClusterFile } from './schema.js';
import { CRYPT_HASH, DNS_NAME, URL_USERINFO } from './patterns.js';
import { contains, formatCidr, ipToInt, isAligned, networkOf, overlaps, parseCidr, type Cidr } from './net.js';
import type { Cluster, Custom, LoadedCluster, Mirrors, Node } from './types.js';
import { defaultClusterYaml } from './defaults.js';
import { vendorManifestProblem } from './cni-manifest.js';
import { IMAGE_GC_DEFAULTS, resolveLinks, resolveNodeKubernetes } from './links.js';

/** The minor of a version text, or undefined when it is not one (refused elsewhere). */
const versionMinor = (v: string): number | undefined => (/^1\.([0-9]+)\.[0-9]+$/.test(v) ? Number(v.split('.')[1]) : undefined);
import { resolveStorage } from './storage.js';
import { resolveCustom } from './custom.js';
import { didYouMean, fieldsAt, foldWarnings, withLines } from './where.js';
import { checkEndpoint } from './endpoint.js';

/** What each preset fills in. Sources: the mirrors' own directory listings; vault.centos.org holds 7.9.2009 since EOL. */
export const PRESETS: Record<Mirrors['preset'], Omit<Mirrors, 'preset' | 'registryMirrors' | 'insecureRegistries' | 'bundle'> & { imageRepository: string; ntpServers: string[] }> = {
  aliyun: {
    centos: 'https://mirrors.aliyun.com/centos-vault/7.9.2009',
    epel: 'https://mirrors.aliyun.com/epel-archive/7',
    dockerCe: 'https://mirrors.aliyun.com/docker-ce/linux/centos',
    kubernetesEl7: 'https://mirrors.aliyun.com/kubernetes/yum',
    kubernetesPkgs: 'https://mirrors.aliyun.com/kubernetes-new/core/stable',
    imageRepository: 'registry.aliyuncs.com/google_containers',
    // The CNI images live on Docker Hub; DaoCloud's public-image-mirror serves docker.io/<path> as
    // docker.m.daocloud.io/<path> inside mainland China (a hand-built lab side-loads a tarball instead).
    cniImageRegistry: 'docker.m.daocloud.io',
    ntpServers: ['ntp.aliyun.com', 'ntp1.aliyun.com'],
  },
  upstream: {
    centos: 'https://vault.centos.org/7.9.2009',
    epel: 'https://archives.fedoraproject.org/pub/archive/epel/7',
    dockerCe: 'https://download.docker.com/linux/centos',
    // packages.cloud.google.com's el7 repository was shut down in 2024: no upstream legacy repo is left.
    kubernetesEl7: undefined,
    kubernetesPkgs: 'https://pkgs.k8s.io/core:/stable:',
    imageRepository: 'registry.k8s.io',
    cniImageRegistry: 'docker.io',
    ntpServers: ['0.centos.pool.ntp.org', '1.centos.pool.ntp.org', '2.centos.pool.ntp.org'],
  },
};

export const DEFAULTS = {
  clusterName: 'k8s-lab',
  kubernetesVersion: '1.17.4',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  tokenTTL: '24h',
  joinDeadline: '7d',
  prefix: 24,
  disk: 'sda',
  timezone: 'UTC',
  apiPort: 6443,
} as const;

export function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(top level)';
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function show(v: unknown): string {
  // A refused URL may carry a password: never echo it.
  const s = JSON.stringify(typeof v === 'string' ? v.replace(URL_USERINFO, (u) => `${u.split(':')[0]!.replace(/@$/, '')}:***@`) : v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function describeIssue(issue: ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = fieldsAt(issue.path);
    const guesses = issue.keys.map((k) => [k, didYouMean(k, allowed)] as const).filter(([, g]) => g);
    const hint = guesses.length === 1 && issue.keys.length === 1
      ? `did you mean "${guesses[0]![1]}"?`
      : guesses.length
        ? `did you mean ${guesses.map(([k, g]) => `"${g}" for "${k}"`).join(', ')}?`
        : `allowed here: ${allowed.join(', ')}`;
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; ${hint}`;
  }
  const value = valueAt(input, issue.path);
  if (value === undefined) return `${where}: missing: ${issue.message}`;
  if (issue.code === 'invalid_enum_value') return `${where}: ${show(value)} is not allowed: expected one of ${issue.options.join(', ')}`;
  if (issue.code === 'invalid_union') return `${where}: ${show(value)} is not valid: ${issue.unionErrors.map((e) => e.issues[0]?.message).filter(Boolean).join(', or ')}`;
  return `${where}: ${show(value)} is not valid: ${issue.message}`;
}

/** Seconds in a duration like 1d12h30m (validated upstream). */
export function durationSeconds(text: string): number {
  if (text === '0') return 0;
  const units: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)([dhms])/g)) total += Number(m[1]) * units[m[2]!]!;
  return total;
}

function memoryMiB(m: number | string | undefined): number | undefined {
  if (m === undefined) return undefined;
  if (typeof m === 'number') return m;
  const n = Number(/^[0-9]+/.exec(m)![0]);
  return m.endsWith('Gi') ? n * 1024 : m.endsWith('G') ? Math.floor((n * 1e9) / 2 ** 20) : m.endsWith('M') ? Math.floor((n * 1e6) / 2 ** 20) : n;
}

/**
 * Parse and validate cluster.yaml (or the embedded default when text is undefined).
 * Throws one UserError listing every problem found; returns the filled-in Cluster and warnings.
 */
export interface LoadOptions {
  /** Reads a file named in the config (cluster.cniManifest), relative to the config; the command layer does the I/O. */
  readFile?: (relativePath: string) => string;
}

/** Bounds that keep a hostile file from taking minutes and gigabytes (a 1000-node farm is ~100 KB, ~15k values). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_EXPANDED_VALUES = 1_000_000;

/**
 * How many values the document has once aliases are expanded, counted without expanding them
 * (each shared object is sized once): an alias bomb is a few lines that expand to billions.
 */
function expandedSize(root: unknown, limit: number): number {
  const memo = new Map<object, number>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const hit = memo.get(v);
    if (hit !== undefined) return hit;
    memo.set(v, limit + 1); // a cycle counts as too big
    let n = 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      n += size(child);
      if (n > limit) break;
    }
    memo.set(v, n);
    return n;
  };
  return size(root);
}

export function loadCluster(text: string | undefined, source?: string, opts: LoadOptions = {}): LoadedCluster {
  const body = text ?? defaultClusterYaml();
  const label = source ?? 'the embedded default cluster';
  if (Buffer.byteLength(body) > MAX_CONFIG_BYTES) {
    throw new UserError(`${label}: ${Buffer.byteLength(body)} bytes is more than a cluster description needs (at most ${MAX_CONFIG_BYTES}); is this the right file?`);
  }
  let raw: unknown;
  try {
    raw = yaml.load(body, { filename: label });
  } catch (e) {
    const err = e as { mark?: { line: number; column: number }; reason?: string };
    const at = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    throw new UserError(`${label}: not valid YAML${at}: ${err.reason ?? String(e)}`);
  }
  if (expandedSize(raw, MAX_EXPANDED_VALUES) > MAX_EXPANDED_VALUES) {
    throw new UserError(`${label}: expands to more than ${MAX_EXPANDED_VALUES} values through YAML aliases (*name); write the values out, or use fewer nested aliases`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError(`${label}: expected a YAML mapping with at least a "nodes:" list (run \`k8s-image init\` for a starting file)`);
  }
  const parsed = ClusterFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    // An unknown field's line is its own, not its parent's.
    const paths = issues.map((i) => (i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]!] : i.path));
    throw new UserError(withLines(issues.map((i) => describeIssue(i, raw)), body, paths));
  }
  let resolved: { cluster: Cluster; warnings: string[]; fieldWarnings: string[] };
  // Every file the config names is an input too: a changed one changes the outputs (and the digest).
  const read = new Map<string, string>();
  const readFile = opts.readFile;
  const recording: LoadOptions = readFile ? { ...opts, readFile: (p) => { const t = readFile(p); read.set(p, t); return t; } } : opts;
  try {
    resolved = resolve(parsed.data, recording);
  } catch (e) {
    // Positions cost a second parse: only a refused file pays for it.
    if (e instanceof UserError) throw new UserError(withLines(e.problems, body));
    throw e;
  }
  const { cluster } = resolved;
  // The endpoint's warnings name a field: its line goes with them, as with errors.
  const warnings = [...foldWarnings(resolved.warnings), ...(resolved.fieldWarnings.length ? withLines(resolved.fieldWarnings, body) : [])];
  const digest = createHash('sha256').update(body);
  // A file the config names is an input too: a changed calico.yaml changes the outputs.
  if (cluster.cniManifest) digest.update('\0').update(cluster.cniManifest.text);
  // Others (custom files, certificates, hooks) only when there are any: digests of configs without them stay as they were.
  for (const p of [...read.keys()].sort()) if (p !== cluster.cniManifest?.path) digest.update('\0').update(p).update('\0').update(read.get(p)!);
  return { cluster, warnings, digest: digest.digest('hex'), source };
}

/** Problems found while resolving: every one is reported, errors refuse the config. */
interface Report {
  errors: string[];
  warnings: string[];
}

function resolve(f: ClusterFile, opts: LoadOptions): { cluster: Cluster; warnings: string[]; fieldWarnings: string[] } {
  const r: Report = { errors: [], warnings: [] };
  const c = f.cluster ?? {};
  const preset = f.mirrors?.preset ?? 'aliyun';
  const p = PRESETS[preset];
  const kernel = resolveKernel(f, r);
  const { kubernetesVersion, runtime, inTable } = resolveVersions(c, r, kernel);
  const mirrors = resolveMirrors(f, kubernetesVersion, inTable, r);
  const nodes = resolveNodes(f, runtime.kind, r, opts);
  const podSubnet = c.podSubnet ?? DEFAULTS.podSubnet;
  const serviceSubnet = c.serviceSubnet ?? DEFAULTS.serviceSubnet;
  const nodeNets = checkNetworks(podSubnet, serviceSubnet, nodes, r);
  const { endpoint, lbPort } = resolveEndpoint(f, nodes, r);
  const endpointReport = { errors: r.errors, warnings: [] as string[] };
  checkEndpoint(f, nodes, endpoint, endpointReport);
  // Login: refuse plain text passwords; otherwise the secrets stage mints one when nothing else would let anyone in.
  const hash = f.os?.rootPasswordHash;
  if (hash !== undefined && !CRYPT_HASH.test(hash)) {
    r.errors.push(
      `os.rootPasswordHash: this is not a SHA-512/SHA-256 crypt hash (plain text passwords are refused; they would be stored in every seed); make one with \`openssl passwd -6\` and paste the $6$... line`,
    );
  }
  const bootstrap = resolveBootstrap(f, r);
  const searchDomain = f.network?.searchDomain;
  const proxy = resolveProxy(f, [podSubnet, serviceSubnet, ...nodeNets, ...(endpoint ? [endpoint.host] : []), ...(searchDomain ? [`.${searchDomain}`] : [])], r);
  const cniManifest = resolveCniManifest(c, opts, kubernetesVersion, inTable, r);
  const kubelet = resolveKubelet(f, r);
  if (r.errors.length) throw new UserError(r.errors);

  const cluster: Cluster = {
    name: c.name ?? DEFAULTS.clusterName,
    kubernetesVersion,
    runtime,
    controlPlaneEndpoint: endpoint!,
    podSubnet,
    serviceSubnet,
    dnsDomain: c.dnsDomain ?? DEFAULTS.dnsDomain,
    cni: c.cni ?? 'flannel',
    cniManifest,
    kubeProxyMode: c.kubeProxyMode ?? 'ipvs',
    imageRepository: c.imageRepository ?? p.imageRepository,
    allowUnsupportedVersion: c.allowUnsupportedVersion ?? false,
    bootstrap,
    loadBalancer: lbOf(f, lbPort),
    mirrors,
    proxy,
    status: f.status?.url ? { url: f.status.url.replace(/\/+$/, '') } : undefined,
    os: {
      name: 'centos7',
      timezone: f.os?.timezone ?? DEFAULTS.timezone,
      selinux: f.os?.selinux ?? 'disabled',
      kernel,
      firewall: f.os?.firewall ?? 'disabled',
      ntpServers: f.os?.ntpServers ?? p.ntpServers,
      rootPasswordHash: hash,
      sshAuthorizedKeys: f.os?.sshAuthorizedKeys ?? [],
    },
    searchDomain,
    kubelet,
    nodes,
  };
  return { cluster, warnings: r.warnings, fieldWarnings: endpointReport.warnings };
}

type ClusterSection = NonNullable<ClusterFile['cluster']>;

/** Version and runtime: every fact comes from src/versions (docs/versions.md explains them). */
function resolveVersions(c: ClusterSection, r: Report, kernel: Cluster['os']['kernel']): { kubernetesVersion: string; runtime: Cluster['runtime']; inTable: boolean } {
  const { errors, warnings } = r;
  const kubernetesVersion = c.kubernetesVersion ?? DEFAULTS.kubernetesVersion;
  const { minor } = parseVersion(kubernetesVersion);
  const allowUnsupported = c.allowUnsupportedVersion ?? false;
  const inTable = minor >= MIN_MINOR && minor <= MAX_KNOWN_MINOR;
  const runtimeKind = c.runtime?.kind ?? (inTable ? defaultRuntime(kubernetesVersion) : 'docker');
  let versionOk = inTable;
  const { patch } = parseVersion(kubernetesVersion);
  const lastPatch = LAST_PATCH[minor];
  if (inTable && (lastPatch === undefined || patch > lastPatch)) {
    const known = lastPatch === undefined ? `k8s-image does not know the patch releases of 1.${minor}` : `the last 1.${minor} release is 1.${minor}.${lastPatch}`;
    if (c.allowUnknownPatchRelease) {
      warnings.push(`cluster.kubernetesVersion: "${kubernetesVersion}": ${known}; rendering it because cluster.allowUnknownPatchRelease is set: the install fails if the mirror has no kubeadm-${kubernetesVersion} package`);
    } else if (lastPatch !== undefined) {
      versionOk = false;
      errors.push(
        `cluster.kubernetesVersion: "${kubernetesVersion}" is not a Kubernetes release: ${known}, so yum would find no kubeadm-${kubernetesVersion} at install time; use 1.${minor}.${lastPatch} (or an earlier 1.${minor}.x), or set cluster.allowUnknownPatchRelease: true if your mirror carries it`,
      );
    } else {
      warnings.push(`cluster.kubernetesVersion: "${kubernetesVersion}": ${known}; make sure your mirror carries kubeadm-${kubernetesVersion}`);
    }
  }
  if (minor < MIN_MINOR || minor > MAX_KNOWN_MINOR) {
    errors.push(
      `cluster.kubernetesVersion: "${kubernetesVersion}" is not supported: k8s-image supports 1.${MIN_MINOR}.x to 1.${MAX_MINOR}.x on CentOS 7 (to 1.${MAX_KNOWN_MINOR}.x with os.kernel: lt)` +
        (minor > MAX_KNOWN_MINOR ? ` and knows no release after 1.${MAX_KNOWN_MINOR}` : '') +
        ' (run `k8s-image versions`)',
    );
  } else if (minor > MAX_MINOR && kernel.kind === 'lt') {
    // The end-of-life kit: a 5.4 kernel passes kubeadm's kernel check; cgroup v1 stays (systemd 219).
    if (!kernel.version.startsWith(`${KERNEL_LT_LINE}.`)) {
      versionOk = false;
      errors.push(
        `os.kernelVersion: "${kernel.version}" is not a ${KERNEL_LT_LINE}.x kernel-lt, and kubeadm ${kubernetesVersion} fails its SystemVerification preflight on it (kubeadm 1.32+ takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10; ELRepo's EL7 kernel-lt lines are 4.4 and 5.4)` +
          `; pin a ${KERNEL_LT_LINE}.x build like ${DEFAULT_KERNEL_LT}, or remove os.kernelVersion`,
      );
    }
    warnings.push(
      `cluster.kubernetesVersion: ${kubernetesVersion} runs on ELRepo's kernel-lt ${kernel.version} (os.kernel: lt), with cgroup v1 only: CentOS 7's systemd 219 cannot run cgroup v2` +
        (minor >= FAIL_CGROUP_V1_MINOR ? `; the kubelet is given failCgroupV1: false and kubeadm is told to ignore its SystemVerification preflight error (cgroup v1)` : '') +
        `; containerd stays on the 1.6 line (the last el7 RPMs), which reports no cgroup driver to the kubelet: a kubelet that requires one will not start`,
    );
  } else if (minor > MAX_MINOR) {
    const cgroup = minor >= FAIL_CGROUP_V1_MINOR;
    if (!allowUnsupported) {
      versionOk = false;
      errors.push(
        `cluster.kubernetesVersion: "${kubernetesVersion}" is not supported on CentOS 7's own kernel: kubeadm 1.32+ fails its SystemVerification preflight on CentOS 7's 3.10 kernel (it takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10)` +
          (cgroup ? ' and the 1.35+ kubelet refuses cgroup v1' : '') +
          `; set os.kernel: lt (ELRepo's kernel-lt, with mirrors.elrepo) to run 1.${KERNEL_PREFLIGHT_ERROR_MINOR}-1.${MAX_KNOWN_MINOR}, use 1.${MAX_MINOR}.x or older, or set cluster.allowUnsupportedVersion: true to render it anyway`,
      );
    } else {
      warnings.push(
        `cluster.kubernetesVersion: ${kubernetesVersion} is above 1.${MAX_MINOR}.x, the newest release supported on CentOS 7's own kernel; because cluster.allowUnsupportedVersion is set, kubeadm is told to ignore the SystemVerification preflight error (CentOS 7's kernel 3.10)` +
          (cgroup ? ' and the kubelet is given failCgroupV1: false' : '') +
          '; nobody tests this combination (os.kernel: lt is the supported way)',
      );
    }
  }
  if (versionOk && runtimeKind === 'docker' && !dockerSupported(kubernetesVersion)) {
    versionOk = false;
    errors.push(
      `cluster.runtime.kind: "docker" cannot run Kubernetes ${kubernetesVersion}: dockershim was removed in 1.24; set cluster.runtime.kind: containerd (or use Kubernetes 1.23.x or older)`,
    );
  }
  const runtimeVersion = c.runtime?.version ?? (versionOk ? defaultRuntimeVersion(runtimeKind, kubernetesVersion) : '');
  if (versionOk && c.runtime?.version) {
    const problem = runtimeVersionProblem(runtimeKind, kubernetesVersion, c.runtime.version);
    const fix = `set cluster.runtime.version: ${defaultRuntimeVersion(runtimeKind, kubernetesVersion)} (or leave it out for that default)`;
    if (problem?.hard) {
      errors.push(`cluster.runtime.version: ${runtimeKind} "${c.runtime.version}" cannot run Kubernetes ${kubernetesVersion}: ${problem.reason}; ${fix}`);
    } else if (problem && !c.runtime.allowUntestedVersion) {
      errors.push(
        `cluster.runtime.version: ${runtimeKind} "${c.runtime.version}" is not known to work with Kubernetes ${kubernetesVersion}: ${problem.reason}; ${fix}, or set cluster.runtime.allowUntestedVersion: true to install it anyway`,
      );
    } else if (problem) {
      warnings.push(`cluster.runtime.version: ${runtimeKind} "${c.runtime.version}" is not among the versions known to work with Kubernetes 1.${minor}; it will be installed as asked (cluster.runtime.allowUntestedVersion is set)`);
    }
  }
  if (versionOk && (c.kubeProxyMode ?? 'ipvs') === 'ipvs' && ipvsBrokenOnCentos7(kubernetesVersion)) {
    errors.push(
      `cluster.kubeProxyMode: "ipvs" does not work with Kubernetes ${kubernetesVersion} on CentOS 7: kube-proxy 1.18.0-1.18.2 cannot read IPVS destinations from the 3.10 kernel (kubernetes issue #89520); use Kubernetes ${IPVS_OLD_KERNEL_FIXED} or later, or set cluster.kubeProxyMode: iptables`,
    );
  }

  return { kubernetesVersion, runtime: { kind: runtimeKind, version: runtimeVersion }, inTable };
}

function resolveMirrors(f: ClusterFile, kubernetesVersion: string, inTable: boolean, r: Report): Mirrors {
  const preset = f.mirrors?.preset ?? 'aliyun';
  const p = PRESETS[preset];
  const mirrors: Mirrors = {
    preset,
    centos: f.mirrors?.centos ?? p.centos,
    epel: f.mirrors?.epel ?? p.epel,
    dockerCe: f.mirrors?.dockerCe ?? p.dockerCe,
    elrepo: f.mirrors?.elrepo,
    ...(f.mirrors?.elrepo ? { elrepoKey: f.mirrors.elrepoKey ?? elrepoDefaultKey(f.mirrors.elrepo) } : {}),
    kubernetesEl7: f.mirrors?.kubernetesEl7 ?? p.kubernetesEl7,
    kubernetesPkgs: f.mirrors?.kubernetesPkgs ?? p.kubernetesPkgs,
    registryMirrors: f.mirrors?.registryMirrors ?? [],
    insecureRegistries: f.mirrors?.insecureRegistries ?? [],
    cniImageRegistry: f.mirrors?.cniImageRegistry ?? p.cniImageRegistry,
    ...(f.mirrors?.bundle ? { bundle: f.mirrors.bundle === 'iso' ? 'iso' : f.mirrors.bundle.replace(/\/+$/, '') } : {}),
    ...(f.mirrors?.bundle && f.mirrors.installer ? { installer: f.mirrors.installer.replace(/\/+$/, '') } : {}),
  };
  if (f.mirrors?.installer && !f.mirrors.bundle) r.warnings.push('mirrors.installer: set without mirrors.bundle; it has no effect (without a bundle the nodes take every package from mirrors.centos)');
  if (inTable && minorFacts(kubernetesVersion).repo === 'el7' && !mirrors.kubernetesEl7) {
    r.errors.push(
      `mirrors.kubernetesEl7: Kubernetes ${kubernetesVersion} comes from the legacy el7 repository, which the Kubernetes project shut down in 2024; set mirrors.kubernetesEl7 to a mirror that still carries it (preset aliyun does: https://mirrors.aliyun.com/kubernetes/yum)`,
    );
  }

  return mirrors;
}

/** Nodes: per-node network filled from the cluster defaults, then checked one by one and against each other. */
function resolveNodes(f: ClusterFile, runtimeKind: Cluster['runtime']['kind'], r: Report, opts: LoadOptions): Node[] {
  const { errors, warnings } = r;
  const net = f.network ?? {};
  const nodes: Node[] = [];
  // The cluster's own additions are read and checked once, whatever the number of nodes.
  const shared = resolveCustom([{ c: f.custom, field: 'custom' }], opts.readFile, errors);
  f.nodes.forEach((n, i) => {
    const [ip, slash] = n.ip.split('/');
    const prefix = slash !== undefined ? Number(slash) : net.prefix ?? DEFAULTS.prefix;
    const gateway = n.gateway ?? net.gateway;
    if (!gateway) errors.push(`nodes[${i}].gateway: missing: set network.gateway for every node or nodes[${i}].gateway for this one`);
    const dns = n.dns ?? net.dns ?? (gateway ? [gateway] : []);
    const linked = resolveLinks(n, i, ip!, prefix, net.prefix ?? DEFAULTS.prefix, errors);
    const roleK8s = n.role === 'lb' ? undefined : f.kubernetes?.roles?.[n.role];
    if (n.role === 'lb' && n.kubernetes) errors.push(`nodes[${i}].kubernetes: an lb node runs no kubelet; labels, taints and kubelet flags are for masters and workers`);
    nodes.push({
      name: n.name,
      role: n.role,
      ip: ip!,
      prefix,
      gateway: gateway ?? '',
      dns,
      mac: linked ? linked.mac : n.mac?.toLowerCase(),
      interface: linked ? linked.interface : n.interface ?? net.interface,
      // Mirrored: the RAID's first disk is the boot drive.
      disk: (n.storage ?? f.storage)?.raid1?.[0] ?? n.disk ?? DEFAULTS.disk,
      generation: n.generation ?? 1,
      cpus: n.cpus,
      memoryMiB: memoryMiB(n.memory),
      mtu: n.mtu,
      links: linked?.links,
      storage: resolveStorage(n.storage ?? f.storage, n.storage ? `nodes[${i}].storage` : 'storage', n.disk ?? DEFAULTS.disk, n.disk !== undefined, runtimeKind, errors, warnings),
      custom: n.custom ? mergeCustom(shared, resolveCustom([{ c: n.custom, field: `nodes[${i}].custom` }], opts.readFile, errors), i, errors) : shared,
      kubernetes: resolveNodeKubernetes(roleK8s, n.kubernetes, i, `kubernetes.roles.${n.role}`, errors, f.kubernetes?.kubelet, versionMinor(f.cluster?.kubernetesVersion ?? DEFAULTS.kubernetesVersion)),
    });
  });

  // A network.gateway that fits no node is the wrong gateway; one that fits some points at the odd node's address.
  const sharedGateway = net.gateway;
  const subnetOf = (n: Node): Cidr => ({ network: networkOf(ipToInt(n.ip), n.prefix), prefix: n.prefix });
  const sharedGatewayFitsSome = sharedGateway !== undefined && nodes.some((n, i) => f.nodes[i]!.gateway === undefined && contains(subnetOf(n), ipToInt(sharedGateway)));
  let sharedGatewayReported = false;
  const seen = { name: new Map<string, number>(), ip: new Map<string, number>(), mac: new Map<string, number>() };
  // Every NIC's MAC once in the farm (DHCP reservations and cloud-init match by it), beside the nodes' own.
  const nicMacs = new Map<string, number>();
  nodes.forEach((n, i) => {
    n.links?.interfaces.forEach((nic, j) => {
      if (!nic.mac) return;
      const first = nicMacs.get(nic.mac);
      if (first !== undefined && first !== i) errors.push(`nodes[${i}].interfaces[${j}].mac: "${nic.mac}" is already a NIC of nodes[${first}] (${nodes[first]!.name}); each NIC has its own MAC`);
      else nicMacs.set(nic.mac, i);
    });
  });
  nodes.forEach((n, i) => {
    for (const key of ['name', 'ip', 'mac'] as const) {
      const v = n[key];
      if (v === undefined) continue;
      const first = seen[key].get(v);
      if (first !== undefined) errors.push(`nodes[${i}].${key}: "${v}" is already used by nodes[${first}] (${nodes[first]!.name}); each node needs its own ${key}`);
      else seen[key].set(v, i);
    }
    if (n.mac !== undefined) {
      // DHCP reserves addresses and PXE names entries by a NIC's own address: never a group's or none.
      if (/^(00:){5}00$/.test(n.mac)) errors.push(`nodes[${i}].mac: "${n.mac}" is all zero, which no NIC has; give the node's NIC address (ip link, or the VM's settings), like 52:54:00:12:34:56`);
      else if (parseInt(n.mac.slice(0, 2), 16) & 1) errors.push(`nodes[${i}].mac: "${n.mac}" is a ${n.mac === 'ff:ff:ff:ff:ff:ff' ? 'broadcast' : 'multicast'} address (the low bit of its first octet is set); give the node's own unicast NIC address, like 52:54:00:12:34:56`);
    }
    const subnet: Cidr = { network: networkOf(ipToInt(n.ip), n.prefix), prefix: n.prefix };
    const size = 2 ** (32 - n.prefix);
    const host = ipToInt(n.ip) - subnet.network;
    if (n.prefix < 31 && (host === 0 || host === size - 1)) {
      errors.push(`nodes[${i}].ip: "${n.ip}/${n.prefix}" is the ${host === 0 ? 'network' : 'broadcast'} address of ${formatCidr(subnet)}; pick a host address inside it`);
    }
    if (n.gateway) {
      const own = f.nodes[i]!.gateway !== undefined;
      if (!contains(subnet, ipToInt(n.gateway)) && !own && !sharedGatewayFitsSome) {
        if (!sharedGatewayReported) {
          sharedGatewayReported = true;
          errors.push(`network.gateway: "${n.gateway}" is on the subnet of none of the nodes that use it (${nodes[i]!.name}: ${formatCidr(subnet)}); set the router's address on the nodes' subnet`);
        }
      } else if (!contains(subnet, ipToInt(n.gateway)) && !own) {
        // The gateway is the cluster's (network.gateway): the node's address is the odd one out.
        errors.push(
          `nodes[${i}].ip: "${n.ip}/${n.prefix}" is not on the subnet of network.gateway ${n.gateway}; give ${n.name} an address on that subnet, or its own nodes[${i}].gateway (and /prefix) if it lives on another one`,
        );
      } else if (!contains(subnet, ipToInt(n.gateway))) {
        errors.push(`nodes[${i}].gateway: "${n.gateway}" is outside the node's subnet ${formatCidr(subnet)} (from ip ${n.ip}/${n.prefix}); the gateway must be reachable on that subnet`);
      } else if (n.gateway === n.ip) {
        errors.push(`nodes[${i}].gateway: "${n.gateway}" is the node's own address; set the router's address`);
      }
    }
    if (n.role !== 'lb') {
      if (n.cpus !== undefined && n.cpus < 2) warnings.push(`nodes[${i}].cpus: ${n.cpus} is below kubeadm's minimum of 2; preflight fails on masters (NumCPU) and the node runs starved`);
      if (n.memoryMiB !== undefined && n.memoryMiB < 1700) {
        warnings.push(`nodes[${i}].memory: ${n.memoryMiB} MiB is below kubeadm's 2 GiB; a 1 GiB master runs into TLS handshake timeouts from its API server (one needed 3 GiB to come up)`);
      }
    }
  });

  return nodes;
}

/** The cluster's additions, then the node's own; a file path once. */
function mergeCustom(shared: Custom, own: Custom, i: number, errors: string[]): Custom {
  for (const f of own.files) {
    const clash = shared.files.find((x) => x.path === f.path);
    if (clash) errors.push(`${f.field}.path: "${f.path}" is already ${clash.field}; a node's own file needs a path of its own`);
  }
  void i;
  return {
    packages: [...shared.packages, ...own.packages],
    files: [...shared.files, ...own.files],
    caCertificates: [...shared.caCertificates, ...own.caCertificates],
    hooks: [...shared.hooks, ...own.hooks],
  };
}

/** Pod and service CIDRs aligned, and pairwise disjoint with every node subnet; returns the node subnets. */
function checkNetworks(podSubnet: string, serviceSubnet: string, nodes: Node[], r: Report): string[] {
  const { errors } = r;
  const nets: { field: string; cidr: Cidr }[] = [];
  for (const [field, text] of [['cluster.podSubnet', podSubnet], ['cluster.serviceSubnet', serviceSubnet]] as const) {
    const cidr = parseCidr(text)!;
    if (!isAligned(cidr)) errors.push(`${field}: "${text}" has host bits set; did you mean ${formatCidr(cidr)}?`);
    nets.push({ field, cidr });
  }
  const nodeNets = new Map<string, number>();
  nodes.forEach((n, i) => {
    const key = formatCidr({ network: ipToInt(n.ip), prefix: n.prefix });
    if (!nodeNets.has(key)) nodeNets.set(key, i);
  });
  for (const [key, i] of nodeNets) nets.push({ field: `nodes[${i}].ip (node subnet ${key})`, cidr: parseCidr(key)! });
  for (let a = 0; a < nets.length; a++) {
    for (let b = a + 1; b < nets.length; b++) {
      if (a >= 2 && b >= 2) continue; // node subnets may share address space with each other
      if (overlaps(nets[a]!.cidr, nets[b]!.cidr)) {
        errors.push(`${nets[a]!.field}: ${formatCidr(nets[a]!.cidr)} overlaps ${nets[b]!.field} ${formatCidr(nets[b]!.cidr)}; pod, service and node networks must be disjoint`);
      }
    }
  }

  return [...nodeNets.keys()];
}

/** Roles, the control-plane endpoint (given, or the single master, VIP or lb node) and the virtual IP. */
function resolveEndpoint(f: ClusterFile, nodes: Node[], r: Report): { endpoint?: { host: string; port: number }; lbPort: number } {
  const { errors, warnings } = r;
  const c = f.cluster ?? {};
  const masters = nodes.filter((n) => n.role === 'master');
  const lbs = nodes.filter((n) => n.role === 'lb');
  if (masters.length === 0) errors.push('nodes: no node has role master; list at least one (the first master runs kubeadm init)');
  const lbPort = f.loadBalancer?.port ?? DEFAULTS.apiPort;
  if (f.loadBalancer?.kind === 'local') return { endpoint: resolveLocalEndpoint(f, nodes, r), lbPort: DEFAULTS.apiPort };
  if (f.loadBalancer?.proxy) r.errors.push(`loadBalancer.proxy: "${f.loadBalancer.proxy}" is only for loadBalancer.kind: local; on lb nodes loadBalancer.kind itself names the proxy (nginx or haproxy)`);
  let endpoint: { host: string; port: number } | undefined;
  if (c.controlPlaneEndpoint) {
    const [host, port] = c.controlPlaneEndpoint.split(':');
    const portNum = port === undefined ? DEFAULTS.apiPort : Number(port);
    if (!(portNum >= 1 && portNum <= 65535)) errors.push(`cluster.controlPlaneEndpoint: port "${port}" is out of range 1-65535`);
    endpoint = { host: host!.toLowerCase(), port: portNum };
    if (masters.length > 1 && masters.some((m) => m.ip === endpoint!.host)) {
      errors.push(
        `cluster.controlPlaneEndpoint: "${c.controlPlaneEndpoint}" is a master's own address; with ${masters.length} masters it must be a load balancer, virtual IP or DNS name in front of all of them`,
      );
    }
  } else if (masters.length === 1) {
    endpoint = { host: masters[0]!.ip, port: DEFAULTS.apiPort };
  } else if (masters.length > 1) {
    if (f.loadBalancer?.virtualIP) endpoint = { host: f.loadBalancer.virtualIP, port: lbPort };
    else if (lbs.length === 1) endpoint = { host: lbs[0]!.ip, port: lbPort };
    else {
      errors.push(
        `cluster.controlPlaneEndpoint: missing: with ${masters.length} masters, set it to a load balancer, virtual IP or DNS name (host:6443), or add one node with role lb`,
      );
    }
  }
  if (lbs.length > 0 && masters.length === 1) warnings.push(`nodes: an lb node with a single master adds a hop but no redundancy`);
  const vip = f.loadBalancer?.virtualIP;
  if (vip) {
    const owner = nodes.findIndex((n) => n.ip === vip);
    if (owner >= 0) errors.push(`loadBalancer.virtualIP: "${vip}" is nodes[${owner}] (${nodes[owner]!.name})'s own address; a virtual IP must be free for keepalived to move between lb nodes`);
    for (const [i, n] of nodes.entries()) {
      if (n.role === 'lb' && !contains({ network: ipToInt(n.ip), prefix: n.prefix }, ipToInt(vip))) {
        errors.push(`loadBalancer.virtualIP: "${vip}" is outside the subnet of nodes[${i}] (${n.name}, ${n.ip}/${n.prefix}); keepalived can only hold an address on the lb nodes' own subnet`);
      }
    }
  }
  if (vip) {
    for (const [i, n] of nodes.entries()) {
      if (n.role === 'lb' && !n.interface) {
        errors.push(`nodes[${i}].interface: missing: keepalived on ${n.name} needs the name of the NIC that holds loadBalancer.virtualIP ${vip}; set nodes[${i}].interface or network.interface (e.g. eth0 or ens192)`);
      }
    }
  }
  if (vip && lbs.length === 0) {
    errors.push(`loadBalancer.virtualIP: "${vip}" needs nodes with role lb to hold it (keepalived runs on them)`);
  }

  return { endpoint, lbPort };
}

/**
 * Where yum fetches ELRepo's signing key when mirrors.elrepoKey is not set: the mirror itself, file
 * RPM-GPG-KEY-elrepo.org in the mirrors.elrepo directory (next to repodata/). Never www.elrepo.org:
 * mirrors.elrepo exists because only a mirror is reachable, and a key yum cannot fetch fails the install
 * ("GPG key retrieval failed").
 */
export function elrepoDefaultKey(elrepo: string): string {
  return `${elrepo.replace(/\/+$/, '')}/RPM-GPG-KEY-elrepo.org`;
}

/** os.kernel: the stock 3.10, or ELRepo's kernel-lt from mirrors.elrepo at a pinned version. */
function resolveKernel(f: ClusterFile, r: Report): Cluster['os']['kernel'] {
  const kind = f.os?.kernel ?? 'stock';
  if (kind === 'stock') {
    if (f.os?.kernelVersion) r.errors.push(`os.kernelVersion: "${f.os.kernelVersion}" is set but os.kernel is not lt; set os.kernel: lt to install ELRepo's kernel-lt, or remove os.kernelVersion`);
    if (f.mirrors?.elrepo) r.warnings.push('mirrors.elrepo: set without os.kernel: lt; it has no effect');
    if (f.mirrors?.elrepoKey) r.warnings.push('mirrors.elrepoKey: set without os.kernel: lt; it has no effect');
    return { kind: 'stock' };
  }
  if (!f.mirrors?.elrepo) {
    r.errors.push(
      'mirrors.elrepo: missing: os.kernel: lt installs kernel-lt from ELRepo, which archived EL7 in 2024, so no preset knows a mirror; set it to the directory of your ELRepo EL7 kernel mirror that holds repodata/ and kernel-lt-*.rpm (like https://mirror.example.com/elrepo/kernel/el7/x86_64); yum takes ELRepo\'s key from RPM-GPG-KEY-elrepo.org in that directory unless mirrors.elrepoKey says where it is',
    );
  }
  const version = f.os?.kernelVersion ?? DEFAULT_KERNEL_LT;
  return { kind: 'lt', version };
}

function lbOf(f: ClusterFile, port: number): Cluster['loadBalancer'] {
  const kind = f.loadBalancer?.kind ?? 'nginx';
  if (kind === 'local') return { kind: f.loadBalancer?.proxy ?? 'haproxy', mode: 'local', port };
  return { kind, mode: 'nodes', virtualIP: f.loadBalancer?.virtualIP, port };
}

/** The name loadBalancer.kind local gives the endpoint when cluster.controlPlaneEndpoint does not: a reserved private TLD (ICANN, 2024). */
export function localEndpointName(clusterName: string): string {
  return `api.${clusterName}.internal`;
}

/** loadBalancer.kind local: no lb nodes; the endpoint is a name (every node's /etc/hosts), port 6443. */
function resolveLocalEndpoint(f: ClusterFile, nodes: Node[], r: Report): { host: string; port: number } {
  const { errors } = r;
  const lb = f.loadBalancer ?? {};
  const lbs = nodes.map((n, i) => [n, i] as const).filter(([n]) => n.role === 'lb');
  for (const [n, i] of lbs) errors.push(`nodes[${i}].role: "lb" (${n.name}) with loadBalancer.kind: local, where every worker runs its own proxy; remove the lb node, or set loadBalancer.kind to nginx or haproxy to proxy through it`);
  if (lb.virtualIP) errors.push(`loadBalancer.virtualIP: "${lb.virtualIP}" with loadBalancer.kind: local: no keepalived runs without lb nodes; remove it, or use lb nodes (kind nginx or haproxy)`);
  if (lb.port !== undefined && lb.port !== DEFAULTS.apiPort) {
    errors.push(`loadBalancer.port: ${lb.port} with loadBalancer.kind: local: the name resolves to the masters themselves, whose API servers listen on ${DEFAULTS.apiPort}, so the local proxies listen there too; remove loadBalancer.port`);
  }
  const text = f.cluster?.controlPlaneEndpoint;
  // Every node's /etc/hosts lists each node as "<ip> <name>.<network.searchDomain> <name>": an endpoint
  // name equal to a node's FQDN resolves to that node's own address first, past the local proxy.
  const domain = f.network?.searchDomain?.toLowerCase();
  const fqdnOwner = (name: string) => (domain ? nodes.findIndex((n) => `${n.name}.${domain}` === name) : -1);
  if (!text) {
    const host = localEndpointName(f.cluster?.name ?? DEFAULTS.clusterName);
    const i = fqdnOwner(host);
    if (i >= 0) {
      errors.push(
        `network.searchDomain: "${domain}" makes nodes[${i}] (${nodes[i]!.name}) ${host}, the name loadBalancer.kind: local gives the endpoint; every node's /etc/hosts would send it to ${nodes[i]!.name} instead of ${nodes[i]!.role === 'master' ? 'the local proxy' : 'a master'}; set cluster.controlPlaneEndpoint to a name of its own, or rename the node`,
      );
    }
    return { host, port: DEFAULTS.apiPort };
  }
  const [host, port] = text.toLowerCase().split(':');
  if (/^[0-9.]+$/.test(host!)) {
    errors.push(
      `cluster.controlPlaneEndpoint: "${text}" is an address; with loadBalancer.kind: local it must be a name that each node resolves itself (workers to 127.0.0.1, masters to themselves), like ${localEndpointName(f.cluster?.name ?? DEFAULTS.clusterName)}:6443, or leave it out for that default`,
    );
  } else if (!DNS_NAME.test(host!) || host === 'localhost') {
    errors.push(`cluster.controlPlaneEndpoint: "${text}": with loadBalancer.kind: local the host must be a DNS name of its own like api.example.internal (not localhost)`);
  } else if (nodes.some((n) => n.name === host)) {
    errors.push(`cluster.controlPlaneEndpoint: "${text}" is a node's name; with loadBalancer.kind: local the endpoint needs a name of its own, like ${localEndpointName(f.cluster?.name ?? DEFAULTS.clusterName)}`);
  } else if (fqdnOwner(host!) >= 0) {
    const n = nodes[fqdnOwner(host!)]!;
    errors.push(
      `cluster.controlPlaneEndpoint: "${text}" is ${n.name}'s FQDN (${n.name}.${domain}, network.searchDomain), which every node's /etc/hosts maps to ${n.ip}: workers would reach ${n.name} directly, past their local proxy; with loadBalancer.kind: local the endpoint needs a name of its own, like ${localEndpointName(f.cluster?.name ?? DEFAULTS.clusterName)}`,
    );
  }
  if (port !== undefined && Number(port) !== DEFAULTS.apiPort) {
    errors.push(`cluster.controlPlaneEndpoint: port ${port} with loadBalancer.kind: local: the name reaches the masters' API servers (or the local proxy) on ${DEFAULTS.apiPort}; use ${host}:${DEFAULTS.apiPort}`);
  }
  return { host: host!, port: DEFAULTS.apiPort };
}

function resolveBootstrap(f: ClusterFile, r: Report): Cluster['bootstrap'] {
  const { errors, warnings } = r;
  // A bare 0 (a YAML number) means "never", as the comment in the example offers.
  const tokenTTL = String(f.bootstrap?.tokenTTL ?? DEFAULTS.tokenTTL);
  const joinDeadline = String(f.bootstrap?.joinDeadline ?? DEFAULTS.joinDeadline);
  const tokenTTLSeconds = durationSeconds(tokenTTL);
  const joinDeadlineSeconds = durationSeconds(joinDeadline);
  if (tokenTTLSeconds === 0) {
    warnings.push('bootstrap.tokenTTL: 0 means the bootstrap token never expires and is never deleted: anyone who reads a seed can join a node to this cluster for ever');
  } else if (tokenTTLSeconds < 600) {
    errors.push(`bootstrap.tokenTTL: "${tokenTTL}" is too short for the keeper to refresh it safely; use 10m or more (default 24h)`);
  }
  if (joinDeadlineSeconds === 0 && tokenTTLSeconds !== 0) {
    errors.push(`bootstrap.joinDeadline: "0" would delete the token at once; give nodes time to join (default 7d)`);
  }

  return { tokenTTLSeconds, joinDeadlineSeconds };
}

/** The proxy, with the cluster's own networks and names added to noProxy. */
function resolveProxy(f: ClusterFile, clusterNoProxy: string[], r: Report): Cluster['proxy'] {
  if (f.proxy && (f.proxy.http || f.proxy.https)) {
    const auto = ['127.0.0.1', 'localhost', ...clusterNoProxy, '.svc', `.${f.cluster?.dnsDomain ?? DEFAULTS.dnsDomain}`];
    return { http: f.proxy.http, https: f.proxy.https, noProxy: [...new Set([...(f.proxy.noProxy ?? []), ...auto])] };
  }
  if (f.proxy?.noProxy) r.warnings.push('proxy.noProxy: set without proxy.http or proxy.https; it has no effect');
  return undefined;
}

/** Read and checked here, not at render time, so `validate` tells the truth about what `build` will do. */
function resolveCniManifest(c: ClusterSection, opts: LoadOptions, kubernetesVersion: string, inTable: boolean, r: Report): Cluster['cniManifest'] {
  const { errors } = r;
  let cniManifest: Cluster['cniManifest'];
  if (c.cniManifest) {
    if (!opts.readFile) {
      errors.push(`cluster.cniManifest: "${c.cniManifest}" cannot be read: the embedded default has no directory to read it from; use --config`);
    } else {
      try {
        const text = opts.readFile(c.cniManifest);
        const problem = vendorManifestProblem(c.cni ?? 'flannel', text);
        if (problem) errors.push(`cluster.cniManifest: "${c.cniManifest}" ${problem}`);
        else cniManifest = { path: c.cniManifest, text };
      } catch (e) {
        errors.push(`cluster.cniManifest: "${c.cniManifest}" cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); the path is relative to the config file`);
      }
    }
  } else if (c.cni === 'calico') {
    const version = inTable ? minorFacts(kubernetesVersion).calico : 'a release that supports your Kubernetes version';
    errors.push(
      `cluster.cni: "calico" needs cluster.cniManifest: k8s-image ships the seed with the manifest (first boot fetches none) but does not bundle Calico's; save the calico.yaml manifest of Calico ${version} (from its release or documentation) beside the config and set cluster.cniManifest: calico.yaml`,
    );
  }
  return cniManifest;
}

/** KubeletConfiguration fields (kubernetes.kubelet), cross-checked. */
function resolveKubelet(f: ClusterFile, r: Report): Cluster['kubelet'] {
  const k = f.kubernetes?.kubelet ?? {};
  // The kubelet's defaults fill in the one not set (a flag of a node's may still override; checked per node).
  const high = k.imageGCHighThresholdPercent ?? IMAGE_GC_DEFAULTS.high;
  const low = k.imageGCLowThresholdPercent ?? IMAGE_GC_DEFAULTS.low;
  if ((k.imageGCHighThresholdPercent !== undefined || k.imageGCLowThresholdPercent !== undefined) && low >= high) {
    const field = k.imageGCLowThresholdPercent !== undefined ? 'imageGCLowThresholdPercent' : 'imageGCHighThresholdPercent';
    r.errors.push(
      `kubernetes.kubelet.${field}: ${low} must be below imageGCHighThresholdPercent (${high}${k.imageGCHighThresholdPercent === undefined ? ', the kubelet\'s default' : ''})${k.imageGCLowThresholdPercent === undefined ? ` (imageGCLowThresholdPercent is the kubelet's default ${low})` : ''}; the kubelet refuses to start otherwise`,
    );
  }
  return { ...k };
}

/** True when nobody could log in to the machines without a generated root password. */
export function needsGeneratedRootPassword(cluster: Cluster): boolean {
  return !cluster.os.rootPasswordHash && cluster.os.sshAuthorizedKeys.length === 0;
}
