import type { Runtime } from '../versions/index.js';

/** A node after defaults: every field the plan needs is filled in. */
export interface Node {
  name: string;
  role: 'master' | 'node' | 'lb';
  ip: string;
  prefix: number;
  gateway: string;
  dns: string[];
  mac?: string;
  /**
   * Kernel name of the NIC when the config names one (node or network level); undefined means
   * "not known": the kickstart then takes the NIC with a link, and a cidata seed needs the MAC.
   */
  interface?: string;
  disk: string;
  generation: number;
  cpus?: number;
  memoryMiB?: number;
  /** The MTU of the node's one NIC (nodes[].mtu; with `links`, each device has its own). */
  mtu?: number;
  /**
   * Several NICs, bonds and VLANs (nodes[].interfaces/bonds/vlans/routes). `interface` is then the
   * name of the device that holds `ip` (the Kubernetes address), computed by config.
   */
  links?: NodeLinks;
  /** The installer's disk layout (storage / nodes[].storage); undefined: `disk` alone, / on all of it. */
  storage?: NodeStorage;
  /** One's own additions: the cluster's (custom), then the node's own (nodes[].custom). */
  custom: Custom;
  /** Labels, taints and kubelet flags: the role's, then the node's own, merged key by key. */
  kubernetes: NodeKubernetes;
}

export type HookPoint = 'after-install' | 'before-kubeadm' | 'after-ready';

export interface Custom {
  /** name-version, as yum takes them. */
  packages: string[];
  files: { path: string; mode: number; content: string; secret: boolean; field: string }[];
  /** PEM text of each certificate. */
  caCertificates: string[];
  hooks: { point: HookPoint; name: string; content: string }[];
}

export interface NodeStorage {
  /** The disks holding the OS: [disk], or the two mirrored ones. */
  osDisks: string[];
  raid1: boolean;
  lvm: boolean;
  /** / in MiB; undefined: it grows to fill the OS disk(s). */
  rootMiB?: number;
  /** Filesystems of their own: on a disk of their own (disk), or on the OS disk(s) (sizeMiB). */
  volumes: { use: 'containerData' | 'log'; mount: string; disk?: string; sizeMiB?: number }[];
}

export interface NodeKubernetes {
  labels: [string, string][];
  /** undefined: kubeadm's default (masters tainted NoSchedule, workers none). */
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  kubeletExtraArgs: [string, string][];
}

/** An address on a device other than the Kubernetes one (a storage or management network). */
export interface LinkAddress { ip: string; prefix: number }

export interface NodeLinks {
  interfaces: { name: string; mac?: string; mtu?: number; address?: LinkAddress }[];
  bonds: { name: string; interfaces: string[]; options: [string, string][]; mtu?: number; address?: LinkAddress }[];
  vlans: { name: string; id: number; link: string; mtu?: number; address?: LinkAddress }[];
  /** Static routes, each with the device whose subnet holds its gateway. */
  routes: { to: string; via: string; metric?: number; device: string }[];
}

export interface Mirrors {
  preset: 'aliyun' | 'upstream';
  centos: string;
  epel: string;
  dockerCe: string;
  /** ELRepo's EL7 kernel repository (the directory with repodata/); set with os.kernel lt only. */
  elrepo?: string;
  /** The ELRepo signing key yum fetches for it: mirrors.elrepoKey, or <elrepo>/RPM-GPG-KEY-elrepo.org on the mirror itself. */
  elrepoKey?: string;
  /** Legacy el7 Kubernetes repo root (…/yum); undefined when the preset has none left. */
  kubernetesEl7?: string;
  /** Per-minor pkgs.k8s.io layout root (…/core:/stable:); the plan appends /v1.NN/rpm/. */
  kubernetesPkgs: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  /**
   * Where the nodes reach the offline bundle (`k8s-image bundle`, served by `serve --bundle` or any
   * web server): its repository becomes the only enabled one and first boot imports its images.
   * `iso`: the bundle's ISO (`k8s-image bundle --iso`) is a CD drive of every node, found by its label
   * and mounted read-only at /run/k8s-image/bundle (node-files/bundle-mount.sh).
   */
  bundle?: string;
  /**
   * With mirrors.bundle: where the nodes reach the CentOS 7 DVD tree (serve --installer's /centos7),
   * written as their repository k8s-image-installer; a bundle made with --installer leaves the DVD's
   * packages out, so it needs this.
   */
  installer?: string;
  /** Registry (host[/path]) that serves the CNI's Docker Hub images (flannel, calico) in place of docker.io. */
  cniImageRegistry: string;
}

/** The validated cluster: the single input of the plan together with the secrets. */
export interface Cluster {
  name: string;
  kubernetesVersion: string;
  runtime: { kind: Runtime; version: string };
  controlPlaneEndpoint: { host: string; port: number };
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  cni: 'flannel' | 'calico';
  /** A vendor CNI manifest (calico.yaml) read from cluster.cniManifest; the plan patches it as data. */
  cniManifest?: { path: string; text: string };
  kubeProxyMode: 'ipvs' | 'iptables';
  imageRepository: string;
  allowUnsupportedVersion: boolean;
  bootstrap: { tokenTTLSeconds: number; joinDeadlineSeconds: number };
  /**
   * kind is the proxy software. mode `nodes`: it runs on the lb nodes (optionally keepalived holds
   * virtualIP); mode `local` (loadBalancer.kind: local): no lb nodes, it runs on 127.0.0.1 of every
   * non-master, and controlPlaneEndpoint.host is a name each node resolves locally (/etc/hosts).
   */
  loadBalancer: { kind: 'nginx' | 'haproxy'; mode: 'nodes' | 'local'; virtualIP?: string; port: number };
  mirrors: Mirrors;
  proxy?: { http?: string; https?: string; noProxy: string[] };
  os: {
    name: 'centos7';
    timezone: string;
    selinux: 'disabled' | 'permissive';
    /** stock: CentOS 7's 3.10; lt: ELRepo's kernel-lt at this version-release, the default boot entry. */
    kernel: { kind: 'stock' } | { kind: 'lt'; version: string };
    firewall: 'disabled' | 'open';
    ntpServers: string[];
    rootPasswordHash?: string;
    sshAuthorizedKeys: string[];
  };
  searchDomain?: string;
  /** KubeletConfiguration fields (kubernetes.kubelet), in the order written; empty: kubeadm's defaults. */
  kubelet: Record<string, unknown>;
  /** Where nodes report their progress (`k8s-image serve`); unset: they report nothing. */
  status?: { url: string };
  nodes: Node[];
}

export interface LoadedCluster {
  cluster: Cluster;
  warnings: string[];
  /** sha256 of the input text (or of the embedded default), recorded in manifests. */
  digest: string;
  /** Where the config came from: a file path, or undefined for the embedded default. */
  source?: string;
}
