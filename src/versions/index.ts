/**
 * Every version-dependent fact in one table. Config validation, the node plan and `k8s-image versions`
 * all read it; nothing else may hard-code a version, URL layout, API version or module name.
 * docs/versions.md explains the matrix for users; keep the two in step.
 */

export type Runtime = 'docker' | 'containerd';
export type KubeadmApi = 'kubeadm.k8s.io/v1beta2' | 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export interface Minor { major: 1; minor: number; patch: number }

export function parseVersion(v: string): Minor {
  const [major, minor, patch] = v.split('.').map(Number);
  if (major !== 1 || minor === undefined || patch === undefined || Number.isNaN(minor) || Number.isNaN(patch)) throw new Error(`not a Kubernetes version: ${v}`);
  return { major: 1, minor, patch };
}

/** Supported window on CentOS 7 (kernel 3.10, cgroup v1). */
export const MIN_MINOR = 15;
export const MAX_MINOR = 31;
/**
 * Highest minor the table has rows for. 1.32-1.35 are rendered only with cluster.allowUnsupportedVersion:
 * kubeadm 1.32 makes a kernel older than 4.19 a SystemVerification preflight *error* (the kernel list
 * comes from kubernetes/system-validators validators/types_unix.go; see kubernetes/kubeadm#3177,
 * kubernetes PR #129401 "the logic changed in v1.32", kubermatic/kubeone PR #3590), and the 1.35 kubelet
 * refuses to start on a cgroup v1 host unless KubeletConfiguration.failCgroupV1 is false (KEP-4569
 * cgroup v1 maintenance mode; the failCgroupV1 field exists since 1.31).
 */
export const MAX_KNOWN_MINOR = 37;

/**
 * The end-of-life kit: ELRepo's kernel-lt (a 5.4 long-term kernel built for EL7) passes kubeadm
 * 1.32+'s kernel check, so os.kernel: lt renders 1.32 to MAX_KNOWN_MINOR without
 * cluster.allowUnsupportedVersion. That check (kubernetes/system-validators validators/types_unix.go,
 * an error on a mismatch) takes ^4.19, ^4.[2-9][0-9] and 5+ up to v1.9.x (kubeadm 1.32), and only
 * ^5.4, ^5.10, ^5.15 and 6+ from v1.10.0; which one kubeadm 1.33 to 1.37 vendor is not verified here.
 * ELRepo built two kernel-lt lines for EL7, 4.4 (until 2020) and 5.4; only 5.4 passes both lists, so
 * from 1.32 os.kernelVersion must be a 5.4.x build (KERNEL_LT_LINE; test/reference/kubeadm-kernel.json). The default pin is the last kernel-lt ELRepo built for EL7 before
 * archiving it (5.4.278, June 2024); os.kernelVersion pins another.
 */
export const DEFAULT_KERNEL_LT = '5.4.278-1.el7.elrepo';
/** The kernel-lt line kubeadm 1.32+ accepts (see DEFAULT_KERNEL_LT). */
export const KERNEL_LT_LINE = '5.4';
/** The kernel-lt package's /boot/vmlinuz-<version>.x86_64, what grubby names a boot entry by. */
export function kernelImage(version: string): string {
  return `/boot/vmlinuz-${version}.x86_64`;
}

/**
 * The kubelet before 1.21 (its vendored libcontainer) and the runc of the docker/containerd.io
 * builds of that era turn on kernel-memory accounting for every container cgroup; RHEL 7's 3.10
 * kernel then leaks memory cgroups until "no space left on device" (opencontainers/runc#1725,
 * #1920; kubernetes/kubernetes#61937). `cgroup.memory=nokmem` on the kernel command line turns
 * kmem accounting off (Linux 4.6+, backported to the RHEL 7.x kernel). runc 1.0.0-rc94 and
 * Kubernetes 1.21 stopped setting kmem limits.
 */
export const KMEM_FIXED_MINOR = 21;
export function needsNokmem(kubernetesVersion: string): boolean {
  return parseVersion(kubernetesVersion).minor < KMEM_FIXED_MINOR;
}
/**
 * The last patch release of each minor, so a version yum cannot find (1.28.99) is refused at build
 * time instead of failing the install. Source: kubernetes/website data/releases/eol.yaml
 * (finalPatchRelease) for 1.22-1.32, the CHANGELOG-1.NN.md files for 1.15-1.21, and
 * kubernetes.io/releases/1.35 (latest patch 1.35.9, 2026-09-15). 1.33 and 1.34 are not recorded:
 * any patch is accepted there with a warning (they need cluster.allowUnsupportedVersion anyway).
 */
export const LAST_PATCH: Readonly<Record<number, number>> = {
  15: 12, 16: 15, 17: 17, 18: 20, 19: 16, 20: 15, 21: 14, 22: 17, 23: 17, 24: 17, 25: 16, 26: 15, 27: 16, 28: 15, 29: 14, 30: 14, 31: 14, 32: 13, 35: 9,
};

/** First minor whose kubeadm fails preflight on CentOS 7's 3.10 kernel (see MAX_KNOWN_MINOR). */
export const KERNEL_PREFLIGHT_ERROR_MINOR = 32;
/** First minor whose kubelet refuses cgroup v1 by default (failCgroupV1 defaults to true). */
export const FAIL_CGROUP_V1_MINOR = 35;

export interface MinorFacts {
  minor: number;
  /**
   * kubeadm config API. Source: kubeadm release notes and cmd/kubeadm/app/apis/kubeadm/<v>/doc.go:
   * v1beta2 since 1.15 (served until 1.25), v1beta3 since 1.22 (deprecated in 1.31), v1beta4 since 1.31.
   */
  kubeadmApi: KubeadmApi;
  /**
   * Where the packages come from: 'el7' = the legacy packages.cloud.google.com layout
   * (repos/kubernetes-el7-x86_64, frozen 2023-09-13 and shut down 2024-03-04; mirrors such as aliyun still
   * carry it, up to 1.28), 'pkgs' = the per-minor pkgs.k8s.io layout (core:/stable:/v1.NN/rpm/), which
   * starts at v1.24.0. Source: kubernetes.io blog 2023-08-15 "pkgs.k8s.io: Introducing Kubernetes
   * Community-Owned Package Repositories".
   */
  repo: 'el7' | 'pkgs';
  /**
   * RPM release of kubeadm/kubelet/kubectl: `-0` in the el7 repo, `-150500.1.1` on pkgs.k8s.io (OBS
   * builds; seen as e.g. kubeadm-1.28.2-150500.1.1, kubeadm-1.31.1-150500.1.1 in package listings).
   */
  packageRelease: string;
  /**
   * Companion packages kubelet/kubeadm require, as version-release. Source: the repos' package
   * listings: el7 kubernetes-cni-0.7.5-0 / 0.8.7-0 and cri-tools-1.13.0-0 / 1.19.0-0; pkgs.k8s.io
   * v1.28 kubernetes-cni-1.2.0-150500.2.1 + cri-tools-1.28.0-150500.1.1 (kubernetes/release PR #3192
   * made 1.28+ require exactly those), v1.29 1.3.0 + 1.29.0, v1.30 1.4.0 + 1.30.0, v1.31 1.5.1 + 1.31.1
   * (all -150500.1.1). Undefined = not pinned: yum picks the one the per-minor repository carries
   * (the release suffixes of 1.24-1.27 and 1.32+ could not be confirmed from a listing).
   */
  kubernetesCni?: string;
  criTools?: string;
  /**
   * pause image kubeadm expects (its PauseVersion constant, cmd/kubeadm/app/constants/constants.go),
   * as listed per release by kubernetes/minikube pkg/minikube/constants/constants_kubeadm_images.go:
   * 3.1 (1.15-1.17), 3.2 (1.18-1.20), 3.4.1 (1.21), 3.5 (1.22), 3.6 (1.23), 3.7 (1.24), 3.8 (1.25),
   * 3.9 (1.26-1.30), 3.10 (1.31-1.33), 3.10.1 (1.34+).
   */
  pause: string;
  /**
   * docker-ce versions (download.docker.com/linux/centos/7 RPM version-release) that work with this
   * minor; the first is the default. kubeadm's SystemVerification check knows 18.09 as "latest
   * validated" up to 1.17 and 19.03 from 1.18 on; 20.10 draws only a warning. Empty from 1.24:
   * dockershim was removed (KEP-2221), docker cannot be the runtime.
   */
  docker: string[];
  /**
   * containerd.io versions (download.docker.com el7 builds) that work; the first is the default.
   * containerd 1.2 is left out on purpose: it predates config `version = 2` and the runc.v2 shim that
   * SystemdCgroup needs (both containerd 1.3). containerd 1.4 supports Kubernetes 1.19+, 1.5 1.20+,
   * 1.6 1.23+ (containerd RELEASES.md "Kubernetes support"); the kubelet 1.26+ speaks only CRI v1,
   * which needs 1.6+. 1.6.33-3.1.el7 is the last containerd.io built for el7.
   */
  containerd: string[];
  /**
   * Flannel images of the kube-flannel.yml of the release used (flannel-io/flannel
   * Documentation/kube-flannel.yml at that tag): v0.22.3 ships flannel-cni-plugin v1.2.0, v0.26.1 ships
   * v1.5.1-flannel2.
   */
  flannel: { version: string; image: string; cniPluginImage: string };
  /** Calico release whose manifest fits this minor (projectcalico "Kubernetes requirements" per release). */
  calico: string;
}

const DOCKER_1815 = ['18.06.3.ce-3.el7', '18.09.9-3.el7'];
const DOCKER_1818 = ['19.03.15-3.el7', '18.09.9-3.el7', '18.06.3.ce-3.el7'];
const DOCKER_1821 = ['20.10.24-3.el7', '19.03.15-3.el7'];
const CONTAINERD_13 = ['1.3.9-3.1.el7'];
const CONTAINERD_14 = ['1.4.13-3.1.el7'];
const CONTAINERD_15 = ['1.5.11-3.1.el7'];
const CONTAINERD_16 = ['1.6.33-3.1.el7', '1.6.4-3.1.el7'];

const FLANNEL_OLD = { version: 'v0.22.3', image: 'docker.io/flannel/flannel:v0.22.3', cniPluginImage: 'docker.io/flannel/flannel-cni-plugin:v1.2.0' };
const FLANNEL_NEW = { version: 'v0.26.1', image: 'docker.io/flannel/flannel:v0.26.1', cniPluginImage: 'docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel2' };

type Row = Omit<MinorFacts, 'minor' | 'kubeadmApi' | 'repo' | 'packageRelease' | 'flannel'>;
const EL7_CNI_OLD = { kubernetesCni: '0.7.5-0', criTools: '1.13.0-0' };
const EL7_CNI_MID = { kubernetesCni: '0.8.7-0', criTools: '1.13.0-0' };
const EL7_CNI_NEW = { kubernetesCni: '0.8.7-0', criTools: '1.19.0-0' };
const PKGS = '150500.1.1';

const ROWS: Record<number, Row> = {
  15: { ...EL7_CNI_OLD, pause: '3.1', docker: DOCKER_1815, containerd: CONTAINERD_13, calico: 'v3.8' },
  16: { ...EL7_CNI_OLD, pause: '3.1', docker: DOCKER_1815, containerd: CONTAINERD_13, calico: 'v3.10' },
  17: { ...EL7_CNI_OLD, pause: '3.1', docker: DOCKER_1815, containerd: CONTAINERD_13, calico: 'v3.13' },
  18: { ...EL7_CNI_MID, pause: '3.2', docker: DOCKER_1818, containerd: CONTAINERD_13, calico: 'v3.15' },
  19: { ...EL7_CNI_MID, pause: '3.2', docker: DOCKER_1818, containerd: CONTAINERD_14, calico: 'v3.17' },
  20: { ...EL7_CNI_MID, pause: '3.2', docker: DOCKER_1818, containerd: CONTAINERD_14, calico: 'v3.18' },
  21: { ...EL7_CNI_MID, pause: '3.4.1', docker: DOCKER_1821, containerd: CONTAINERD_14, calico: 'v3.20' },
  22: { ...EL7_CNI_NEW, pause: '3.5', docker: DOCKER_1821, containerd: [...CONTAINERD_15, ...CONTAINERD_14], calico: 'v3.21' },
  23: { ...EL7_CNI_NEW, pause: '3.6', docker: DOCKER_1821, containerd: [...CONTAINERD_16, ...CONTAINERD_15], calico: 'v3.22' },
  24: { pause: '3.7', docker: [], containerd: CONTAINERD_16, calico: 'v3.24' },
  25: { pause: '3.8', docker: [], containerd: CONTAINERD_16, calico: 'v3.25' },
  26: { pause: '3.9', docker: [], containerd: CONTAINERD_16, calico: 'v3.25' },
  27: { pause: '3.9', docker: [], containerd: CONTAINERD_16, calico: 'v3.26' },
  28: { kubernetesCni: '1.2.0-150500.2.1', criTools: `1.28.0-${PKGS}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, calico: 'v3.26' },
  29: { kubernetesCni: `1.3.0-${PKGS}`, criTools: `1.29.0-${PKGS}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, calico: 'v3.27' },
  30: { kubernetesCni: `1.4.0-${PKGS}`, criTools: `1.30.0-${PKGS}`, pause: '3.9', docker: [], containerd: CONTAINERD_16, calico: 'v3.28' },
  31: { kubernetesCni: `1.5.1-${PKGS}`, criTools: `1.31.1-${PKGS}`, pause: '3.10', docker: [], containerd: CONTAINERD_16, calico: 'v3.28' },
  // Need os.kernel: lt (or cluster.allowUnsupportedVersion) on CentOS 7 (see MAX_KNOWN_MINOR).
  32: { pause: '3.10', docker: [], containerd: CONTAINERD_16, calico: 'v3.29' },
  33: { pause: '3.10', docker: [], containerd: CONTAINERD_16, calico: 'v3.29' },
  34: { pause: '3.10.1', docker: [], containerd: CONTAINERD_16, calico: 'v3.30' },
  35: { pause: '3.10.1', docker: [], containerd: CONTAINERD_16, calico: 'v3.30' },
  36: { pause: '3.10.1', docker: [], containerd: CONTAINERD_16, calico: 'v3.31' },
  37: { pause: '3.10.1', docker: [], containerd: CONTAINERD_16, calico: 'v3.31' },
};

export function hasFacts(version: string): boolean {
  return ROWS[parseVersion(version).minor] !== undefined;
}

function facts(minor: number): MinorFacts {
  const row = ROWS[minor];
  if (!row) throw new Error(`no version facts for 1.${minor}`);
  const kubeadmApi: KubeadmApi = minor <= 21 ? 'kubeadm.k8s.io/v1beta2' : minor <= 30 ? 'kubeadm.k8s.io/v1beta3' : 'kubeadm.k8s.io/v1beta4';
  const repo = minor >= 24 ? 'pkgs' : 'el7';
  return {
    minor,
    kubeadmApi,
    repo,
    packageRelease: repo === 'el7' ? '0' : PKGS,
    flannel: minor <= 23 ? FLANNEL_OLD : FLANNEL_NEW,
    ...row,
  };
}

export function minorFacts(version: string): MinorFacts {
  return facts(parseVersion(version).minor);
}

/** Every row of the table, lowest minor first (for `k8s-image versions`). */
export function allMinorFacts(): MinorFacts[] {
  return Object.keys(ROWS).map(Number).sort((a, b) => a - b).map(facts);
}

/** Docker's in-tree shim (dockershim) was removed in 1.24 (KEP-2221). */
export function dockerSupported(version: string): boolean {
  return parseVersion(version).minor <= 23;
}

export function runtimesFor(version: string): Runtime[] {
  return dockerSupported(version) ? ['docker', 'containerd'] : ['containerd'];
}

/** docker up to 1.23 (the seeds' choice), containerd from 1.24. */
export function defaultRuntime(version: string): Runtime {
  return dockerSupported(version) ? 'docker' : 'containerd';
}

export function defaultRuntimeVersion(runtime: Runtime, version: string): string {
  const f = minorFacts(version);
  // Seed 000 pins 18.06.3.ce-3.el7 with 1.17, which is why it heads the list for the old minors.
  return (runtime === 'docker' ? f.docker : f.containerd)[0] ?? '';
}

/** The package version string yum installs for kubeadm/kubelet/kubectl (`1.17.4-0`, `1.28.2-150500.1.1`). */
export function kubernetesPackageVersion(version: string): string {
  return `${version}-${minorFacts(version).packageRelease}`;
}

/**
 * CRI socket kubeadm is told to use. Sources: kubeadm constants DefaultDockerCRISocket
 * (/var/run/dockershim.sock, 1.15-1.23) and the containerd default socket; kubeadm 1.24+ wants the
 * unix:// scheme (it warns and prepends it otherwise), older kubeadm documents the bare path.
 */
export function criSocket(runtime: Runtime, version: string): string {
  if (runtime === 'docker') return '/var/run/dockershim.sock';
  return parseVersion(version).minor >= 24 ? 'unix:///run/containerd/containerd.sock' : '/run/containerd/containerd.sock';
}

/** IPVS modules kube-proxy needs. The conntrack one is probed by first boot: nf_conntrack_ipv4 merged into nf_conntrack in Linux 4.19. */
export const IPVS_MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh'] as const;

/**
 * kube-proxy IPVS mode on kernels older than 3.18 (CentOS 7's 3.10) fails in 1.18.0-1.18.2: the vendored
 * moby/ipvs read IPVS_DEST_ATTR_ADDR_FAMILY, which those kernels lack ("parseIP Error", services dead).
 * Source: kubernetes issue #89520; fixed on release-1.18 by PR #90678 (moby/ipvs v1.0.1), released in v1.18.3.
 */
export const IPVS_OLD_KERNEL_FIXED = '1.18.3';
export function ipvsBrokenOnCentos7(version: string): boolean {
  const { minor, patch } = parseVersion(version);
  return minor === 18 && patch < 3;
}

/** `major.minor` of an RPM version like 1.6.33-3.1.el7, 18.06.3.ce-3.el7 or 3:20.10.24-3.el7. */
export function rpmMajorMinor(rpmVersion: string): [number, number] {
  const [major, minor] = rpmVersion.replace(/^[0-9]+:/, '').split(/[.-]/).map(Number);
  return [major ?? NaN, minor ?? NaN];
}

/**
 * Why a runtime version cannot work with a Kubernetes release, or undefined when it is in the table's
 * list. `hard` = it cannot work at all (no opt-out); otherwise it is merely untested.
 */
export function runtimeVersionProblem(runtime: Runtime, kubernetesVersion: string, runtimeVersion: string): { hard: boolean; reason: string } | undefined {
  const f = minorFacts(kubernetesVersion);
  const known = runtime === 'docker' ? f.docker : f.containerd;
  if (known.includes(runtimeVersion)) return undefined;
  const [maj, min] = rpmMajorMinor(runtimeVersion);
  if (runtime === 'containerd') {
    if (maj === 1 && min < 3) {
      return { hard: true, reason: `containerd ${maj}.${min} predates config version 2 and the runc v2 shim that SystemdCgroup needs (both arrived in containerd 1.3)` };
    }
    if (f.minor >= 26 && maj === 1 && min < 6) {
      return { hard: true, reason: `the Kubernetes 1.${f.minor} kubelet speaks only CRI v1, which needs containerd 1.6 or newer` };
    }
    if (maj >= 2) return { hard: true, reason: 'containerd 2.x is not built for el7 (the last containerd.io for CentOS 7 is 1.6.33-3.1.el7) and drops config version 2 fields this tool writes' };
  }
  return { hard: false, reason: `it is not among the versions known to work with Kubernetes 1.${f.minor} (${known.join(', ')})` };
}

/**
 * What docker-ce needs beside it. 18.06 bundles containerd and has no separate CLI package; from 18.09
 * docker-ce-cli and containerd.io are separate and must be pinned too, or yum pulls the newest.
 * Source: download.docker.com/linux/centos/7/x86_64/stable/Packages listing (docker-ce 18.09/19.03 were
 * shipped next to containerd.io 1.2.x, 20.10 next to 1.4-1.6).
 */
export function dockerCompanions(dockerVersion: string): { cli: boolean; containerd?: string } {
  const [major, minor] = rpmMajorMinor(dockerVersion);
  if (major === 18 && minor === 6) return { cli: false };
  if (major === 18) return { cli: true, containerd: '1.2.13-3.2.el7' };
  if (major === 19) return { cli: true, containerd: '1.4.13-3.1.el7' };
  return { cli: true, containerd: '1.6.33-3.1.el7' };
}
