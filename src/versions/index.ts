/**
 * Every version-dependent fact in one table. Config validation and the node plan both read it;
 * nothing else may hard-code a version, URL layout, API version or module name.
 */

export type Runtime = 'docker' | 'containerd';
export type KubeadmApi = 'kubeadm.k8s.io/v1beta2' | 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export interface Minor { major: 1; minor: number; patch: number }

export function parseVersion(v: string): Minor {
  const [major, minor, patch] = v.split('.').map(Number);
  if (major !== 1 || minor === undefined || patch === undefined) throw new Error(`not a Kubernetes version: ${v}`);
  return { major: 1, minor, patch };
}

/** Supported window on CentOS 7. Source: kubeadm 1.32 makes kernels < 4.19 a preflight error (kubernetes#125689). */
export const MIN_MINOR = 15;
export const MAX_MINOR = 31;

export interface MinorFacts {
  /** kubeadm config API. Source: kubeadm release notes; v1beta3 in 1.22, v1beta4 in 1.31. */
  kubeadmApi: KubeadmApi;
  /** Where the packages come from: the legacy el7 repo (frozen 2024) or the per-minor pkgs.k8s.io layout (1.24+). */
  repo: 'el7' | 'pkgs';
  /** Companion packages kubeadm/kubelet require (version-release as in the repo). Source: repo primary.xml of each layout. */
  kubernetesCni: string;
  criTools: string;
  /** pause image kubeadm expects. Source: cmd/kubeadm/app/constants PauseVersion of each release. */
  pause: string;
  /** docker-ce versions validated for this minor (kubernetes CHANGELOG "validated docker versions"); the first is the default. */
  docker: string[];
  /** containerd.io versions known to work (CRI v1 from 1.26 needs containerd >= 1.6); the first is the default. */
  containerd: string[];
  flannel: string;
  calico: string;
}

const DOCKER_OLD = ['18.06.3.ce-3.el7', '18.09.9-3.el7'];
const DOCKER_MID = ['19.03.15-3.el7', '18.09.9-3.el7', '18.06.3.ce-3.el7'];
const DOCKER_NEW = ['20.10.24-3.el7', '19.03.15-3.el7'];
const CONTAINERD_16 = ['1.6.33-3.1.el7', '1.6.4-3.1.el7'];

function facts(minor: number): MinorFacts {
  const kubeadmApi: KubeadmApi = minor <= 21 ? 'kubeadm.k8s.io/v1beta2' : minor <= 30 ? 'kubeadm.k8s.io/v1beta3' : 'kubeadm.k8s.io/v1beta4';
  // The legacy repo carried 1.15-1.28; the aliyun mirror still does. pkgs.k8s.io starts at 1.24, so 1.24+ use it.
  const repo = minor >= 24 ? 'pkgs' : 'el7';
  const pkgRel = '150500.1.1';
  const table: Record<number, Omit<MinorFacts, 'kubeadmApi' | 'repo'>> = {
    15: { kubernetesCni: '0.7.5-0', criTools: '1.13.0-0', pause: '3.1', docker: DOCKER_OLD, containerd: ['1.2.13-3.2.el7'], flannel: 'v0.11.0', calico: 'v3.8' },
    16: { kubernetesCni: '0.7.5-0', criTools: '1.13.0-0', pause: '3.1', docker: DOCKER_OLD, containerd: ['1.2.13-3.2.el7'], flannel: 'v0.11.0', calico: 'v3.10' },
    17: { kubernetesCni: '0.7.5-0', criTools: '1.13.0-0', pause: '3.1', docker: DOCKER_OLD, containerd: ['1.2.13-3.2.el7'], flannel: 'v0.12.0', calico: 'v3.13' },
    18: { kubernetesCni: '0.8.7-0', criTools: '1.13.0-0', pause: '3.2', docker: DOCKER_MID, containerd: ['1.3.9-3.1.el7'], flannel: 'v0.13.0', calico: 'v3.15' },
    19: { kubernetesCni: '0.8.7-0', criTools: '1.13.0-0', pause: '3.2', docker: DOCKER_MID, containerd: ['1.4.13-3.1.el7'], flannel: 'v0.14.0', calico: 'v3.17' },
    20: { kubernetesCni: '0.8.7-0', criTools: '1.13.0-0', pause: '3.2', docker: DOCKER_MID, containerd: ['1.4.13-3.1.el7'], flannel: 'v0.14.0', calico: 'v3.18' },
    21: { kubernetesCni: '0.8.7-0', criTools: '1.13.0-0', pause: '3.4.1', docker: DOCKER_NEW, containerd: ['1.4.13-3.1.el7'], flannel: 'v0.15.1', calico: 'v3.20' },
    22: { kubernetesCni: '0.8.7-0', criTools: '1.19.0-0', pause: '3.5', docker: DOCKER_NEW, containerd: ['1.5.11-3.1.el7', ...CONTAINERD_16], flannel: 'v0.17.0', calico: 'v3.21' },
    23: { kubernetesCni: '0.8.7-0', criTools: '1.19.0-0', pause: '3.6', docker: DOCKER_NEW, containerd: ['1.5.11-3.1.el7', ...CONTAINERD_16], flannel: 'v0.17.0', calico: 'v3.22' },
    24: { kubernetesCni: `1.2.0-${pkgRel}`, criTools: `1.24.2-${pkgRel}`, pause: '3.7', docker: [], containerd: CONTAINERD_16, flannel: 'v0.19.2', calico: 'v3.24' },
    25: { kubernetesCni: `1.2.0-${pkgRel}`, criTools: `1.25.0-${pkgRel}`, pause: '3.8', docker: [], containerd: CONTAINERD_16, flannel: 'v0.20.2', calico: 'v3.25' },
    26: { kubernetesCni: `1.2.0-${pkgRel}`, criTools: `1.26.0-${pkgRel}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, flannel: 'v0.21.5', calico: 'v3.25' },
    27: { kubernetesCni: `1.2.0-${pkgRel}`, criTools: `1.27.1-${pkgRel}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, flannel: 'v0.22.3', calico: 'v3.26' },
    28: { kubernetesCni: `1.2.0-${pkgRel}`, criTools: `1.28.0-${pkgRel}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, flannel: 'v0.24.4', calico: 'v3.26' },
    29: { kubernetesCni: `1.3.0-${pkgRel}`, criTools: `1.29.0-${pkgRel}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, flannel: 'v0.25.7', calico: 'v3.27' },
    30: { kubernetesCni: `1.4.0-${pkgRel}`, criTools: `1.30.1-${pkgRel}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, flannel: 'v0.26.1', calico: 'v3.28' },
    31: { kubernetesCni: `1.5.1-${pkgRel}`, criTools: `1.31.1-${pkgRel}`, pause: '3.10', docker: [], containerd: CONTAINERD_16, flannel: 'v0.26.1', calico: 'v3.28' },
  };
  const row = table[minor];
  if (!row) throw new Error(`no version facts for 1.${minor}`);
  return { kubeadmApi, repo, ...row };
}

export function minorFacts(version: string): MinorFacts {
  return facts(parseVersion(version).minor);
}

export function isSupportedVersion(version: string): boolean {
  const { minor } = parseVersion(version);
  return minor >= MIN_MINOR && minor <= MAX_MINOR;
}

/** Docker's in-tree shim (dockershim) was removed in 1.24 (KEP-2221). */
export function dockerSupported(version: string): boolean {
  return parseVersion(version).minor <= 23;
}

export function defaultRuntimeVersion(runtime: Runtime, version: string): string {
  const f = minorFacts(version);
  // Seed 000 pins 18.06.3.ce-3.el7 with 1.17, which is why it heads the list for the old minors.
  return (runtime === 'docker' ? f.docker : f.containerd)[0] ?? '';
}

/** The package version string yum installs for kubeadm/kubelet/kubectl. */
export function kubernetesPackageVersion(version: string): string {
  return minorFacts(version).repo === 'el7' ? `${version}-0` : `${version}-150500.1.1`;
}

/** CRI socket kubeadm is told to use. Source: kubeadm constants (dockershim / containerd default sockets). */
export function criSocket(runtime: Runtime, version: string): string {
  if (runtime === 'docker') return '/var/run/dockershim.sock';
  // From 1.24 kubeadm wants the URL scheme; before that a bare path was the documented form.
  return parseVersion(version).minor >= 24 ? 'unix:///run/containerd/containerd.sock' : '/run/containerd/containerd.sock';
}

/** Conntrack module name: nf_conntrack_ipv4 merged into nf_conntrack in Linux 4.19. The node script probes both. */
export const CONNTRACK_MODULES = ['nf_conntrack_ipv4', 'nf_conntrack'] as const;
export const IPVS_MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh'] as const;

/**
 * What docker-ce needs beside it. 18.06 bundles containerd and has no separate CLI package; from 18.09
 * docker-ce-cli and containerd.io are separate and must be pinned too, or yum pulls the newest.
 * Source: download.docker.com/linux/centos/7/x86_64/stable/Packages listing.
 */
export function dockerCompanions(dockerVersion: string): { cli: boolean; containerd?: string } {
  const [major, minor] = dockerVersion.replace(/^[0-9]+:/, '').split('.').map(Number);
  if (major === 18 && minor === 6) return { cli: false };
  if (major === 18) return { cli: true, containerd: '1.2.13-3.2.el7' };
  if (major === 19) return { cli: true, containerd: '1.4.13-3.1.el7' };
  return { cli: true, containerd: '1.6.33-3.1.el7' };
}
