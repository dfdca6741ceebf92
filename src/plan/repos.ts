import type { Cluster } from '../config/index.js';
import { minorFacts, parseVersion } from '../versions/index.js';
import { kernelRepo } from './kernel.js';
import { isLocalProxyNode } from './lb.js';

export interface YumRepo {
  id: string;
  name: string;
  baseurl: string;
  gpgkey: string[];
  enabled: boolean;
  exclude?: string[];
  /** The bundle: a rebuilt repository has no signed repomd.xml (repo_gpgcheck=0), and is reached directly (proxy=_none_). */
  local?: boolean;
}

/** The label of the bundle's ISO (`k8s-image bundle --iso`): how a node finds the disc (blkid -L). */
export const BUNDLE_ISO_LABEL = 'K8SBUNDLE';
/** Where node-files/bundle-mount.sh mounts it, read-only (a tmpfs: nothing of it outlives a boot). */
export const BUNDLE_ISO_MOUNT = '/run/k8s-image/bundle';

/**
 * Where a node reads the bundle: the URL it is served at, or with mirrors.bundle: iso the mount
 * point of its disc (file://; yum and import-images.sh read file:// as well as http).
 */
export function bundleBaseUrl(cluster: Cluster): string | undefined {
  const b = cluster.mirrors.bundle;
  return b === 'iso' ? `file://${BUNDLE_ISO_MOUNT}` : b;
}

/** The offline bundle's repository id (mirrors.bundle). */
export const BUNDLE_REPO_ID = 'k8s-image-bundle';

/** The DVD tree's repository id beside the bundle (mirrors.installer). */
export const INSTALLER_REPO_ID = 'k8s-image-installer';

/** Packages held back from `yum update`: installed only with --disableexcludes. */
export const KUBERNETES_HELD = ['kubelet', 'kubeadm', 'kubectl', 'kubernetes-cni', 'cri-tools'];
export const RUNTIME_HELD = ['docker-ce', 'docker-ce-cli', 'containerd.io'];

/**
 * The yum repositories of a node. CentOS 7's own repos point at mirrorlist.centos.org, which is gone
 * since EOL, so base/updates/extras are rewritten to the vault (extras carries container-selinux).
 */
export function yumRepos(cluster: Cluster): { file: string; repos: YumRepo[] }[] {
  const upstream = upstreamRepoFiles(cluster);
  const bundle = bundleBaseUrl(cluster);
  if (!bundle) return upstream;
  // mirrors.bundle: the offline bundle is the one enabled repository; the others stay written but
  // off, so `yum-config-manager --enable` brings a mirror back when the farm is connected again.
  const own: YumRepo = {
    id: BUNDLE_REPO_ID,
    name: `k8s-image offline bundle (Kubernetes ${cluster.kubernetesVersion})`,
    baseurl: `${bundle}/repo/`,
    gpgkey: ['file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7', ...bundleKeyFiles(cluster).map((k) => `${bundle}/${k.file}`)],
    enabled: true,
    // The same holds as the upstream repositories: `yum update` never moves a pinned package.
    exclude: bundleHeld(cluster),
    local: true,
  };
  // mirrors.installer: the DVD tree, for the packages a bundle made with --installer leaves out.
  const dvd: YumRepo[] = cluster.mirrors.installer
    ? [{ id: INSTALLER_REPO_ID, name: 'CentOS 7 DVD (the install medium, beside the offline bundle)', baseurl: `${cluster.mirrors.installer}/`, gpgkey: ['file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7'], enabled: true, local: true }]
    : [];
  return upstream.map((f) => ({ file: f.file, repos: [...(f.file === '/etc/yum.repos.d/CentOS-Base.repo' ? [own, ...dvd] : []), ...f.repos.map((r) => ({ ...r, enabled: false }))] }));
}

/** What the bundle repository holds back (installed with --disableexcludes=k8s-image-bundle): the upstream repos' excludes. */
function bundleHeld(cluster: Cluster): string[] {
  return [...new Set(bundleSourceRepos(cluster).flatMap((r) => r.exclude ?? []))];
}

/** The upstream repositories (mirrors.*): what nodes use without a bundle, and what the bundle is made from. */
function upstreamRepoFiles(cluster: Cluster): { file: string; repos: YumRepo[] }[] {
  const m = cluster.mirrors;
  const centosKey = ['file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7'];
  const centos = (id: string, dir: string): YumRepo => ({
    id,
    name: `CentOS-7.9.2009 - ${dir}`,
    baseurl: `${m.centos}/${dir}/$basearch/`,
    gpgkey: centosKey,
    enabled: true,
  });
  const epelRoot = m.epel.replace(/\/7\/?$/, '');
  const facts = minorFacts(cluster.kubernetesVersion);
  const { minor } = parseVersion(cluster.kubernetesVersion);
  const kubernetes: YumRepo =
    facts.repo === 'el7'
      ? {
          id: 'kubernetes',
          name: 'Kubernetes (legacy el7 repository)',
          baseurl: `${m.kubernetesEl7}/repos/kubernetes-el7-x86_64/`,
          gpgkey: [`${m.kubernetesEl7}/doc/yum-key.gpg`, `${m.kubernetesEl7}/doc/rpm-package-key.gpg`],
          enabled: true,
          exclude: KUBERNETES_HELD,
        }
      : {
          id: 'kubernetes',
          name: `Kubernetes v1.${minor} (pkgs.k8s.io layout)`,
          baseurl: `${m.kubernetesPkgs}/v1.${minor}/rpm/`,
          gpgkey: [`${m.kubernetesPkgs}/v1.${minor}/rpm/repodata/repomd.xml.key`],
          enabled: true,
          exclude: KUBERNETES_HELD,
        };
  return [
    { file: '/etc/yum.repos.d/CentOS-Base.repo', repos: [centos('base', 'os'), centos('updates', 'updates'), centos('extras', 'extras')] },
    // EPEL is written but disabled: nothing here needs it, and enabling it lets newer packages in.
    {
      file: '/etc/yum.repos.d/epel.repo',
      repos: [{ id: 'epel', name: 'EPEL 7 (archive)', baseurl: `${m.epel}/$basearch/`, gpgkey: [`${epelRoot}/RPM-GPG-KEY-EPEL-7`], enabled: false }],
    },
    {
      file: '/etc/yum.repos.d/docker-ce.repo',
      repos: [{ id: 'docker-ce-stable', name: 'Docker CE Stable', baseurl: `${m.dockerCe}/7/$basearch/stable/`, gpgkey: [`${m.dockerCe}/gpg`], enabled: true, exclude: RUNTIME_HELD }],
    },
    { file: '/etc/yum.repos.d/kubernetes.repo', repos: [kubernetes] },
  ];
}

export function renderRepoFile(repos: YumRepo[], proxy?: string): string {
  const out: string[] = ['# Written by k8s-image: CentOS 7 is end-of-life, so every repository points at a fixed mirror.'];
  for (const r of repos) {
    out.push('', `[${r.id}]`, `name=${r.name}`, `baseurl=${r.baseurl}`, `enabled=${r.enabled ? 1 : 0}`, 'gpgcheck=1', `gpgkey=${r.gpgkey.join('\n       ')}`);
    if (r.exclude) out.push(`exclude=${r.exclude.join(' ')}`);
    if (r.local) out.push('repo_gpgcheck=0', 'proxy=_none_');
    else if (proxy) out.push(`proxy=${proxy}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The repositories `k8s-image bundle` resolves against: the enabled upstream ones, EPEL when a node
 * takes nginx from it (an lb node, or a worker's local proxy), and ELRepo's kernel repository with
 * os.kernel lt; $basearch left for the solver (it is x86_64 there).
 */
export function bundleSourceRepos(cluster: Cluster): YumRepo[] {
  const needEpel = cluster.loadBalancer.kind === 'nginx' && cluster.nodes.some((n) => n.role === 'lb' || isLocalProxyNode(cluster, n));
  return [
    ...upstreamRepoFiles(cluster)
      .flatMap((f) => f.repos)
      .filter((r) => r.enabled || (r.id === 'epel' && needEpel)),
    ...(kernelRepo(cluster)?.repos ?? []),
  ];
}

/**
 * The upstream signing keys that travel in the bundle (keys/<repo>-<n>.gpg): every http(s) gpgkey of
 * the source repositories. The CentOS key is on every node already (file:///etc/pki/rpm-gpg/...).
 */
export function bundleKeyFiles(cluster: Cluster): { url: string; file: string }[] {
  return bundleSourceRepos(cluster).flatMap((r) => r.gpgkey.filter((u) => /^https?:/.test(u)).map((url, i) => ({ url, file: `keys/${r.id}-${i + 1}.gpg` })));
}
