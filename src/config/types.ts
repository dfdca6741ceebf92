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
}

export interface Mirrors {
  preset: 'aliyun' | 'upstream';
  centos: string;
  epel: string;
  dockerCe: string;
  /** Legacy el7 Kubernetes repo root (…/yum); undefined when the preset has none left. */
  kubernetesEl7?: string;
  /** Per-minor pkgs.k8s.io layout root (…/core:/stable:); the plan appends /v1.NN/rpm/. */
  kubernetesPkgs: string;
  registryMirrors: string[];
  insecureRegistries: string[];
  /**
   * Where the nodes reach the offline bundle (`k8s-image bundle`, served by `serve --bundle` or any
   * web server): its repository becomes the only enabled one and first boot imports its images.
   */
  bundle?: string;
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
  loadBalancer: { kind: 'nginx' | 'haproxy'; virtualIP?: string; port: number };
  mirrors: Mirrors;
  proxy?: { http?: string; https?: string; noProxy: string[] };
  os: {
    name: 'centos7';
    timezone: string;
    selinux: 'disabled' | 'permissive';
    firewall: 'disabled' | 'open';
    ntpServers: string[];
    rootPasswordHash?: string;
    sshAuthorizedKeys: string[];
  };
  searchDomain?: string;
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
