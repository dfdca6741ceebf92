import yaml from 'js-yaml';
import type { Cluster, Node } from '../config/index.js';
import type { Secrets } from '../secrets/index.js';
// The leaf module, not the stage's index: the plan needs no X.509 library loaded.
import { discoveryHash } from '../secrets/discovery.js';
import { FAIL_CGROUP_V1_MINOR, KERNEL_PREFLIGHT_ERROR_MINOR, criSocket, minorFacts } from '../versions/index.js';

/** Go duration text kubeadm parses (it has no `d` unit). */
/**
 * The kubelet's own evictionHard on Linux (kubernetes pkg/kubelet/apis/config/v1beta1/defaults_linux.go,
 * DefaultEvictionHard; the same 1.15-1.31), used only when KubeletConfiguration has no evictionHard.
 */
export const KUBELET_EVICTION_HARD_DEFAULTS: Record<string, string> = {
  'memory.available': '100Mi',
  'nodefs.available': '10%',
  'nodefs.inodesFree': '5%',
  'imagefs.available': '15%',
};

export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}h${m}m${s}s`;
}

export function endpointText(cluster: Cluster): string {
  return `${cluster.controlPlaneEndpoint.host}:${cluster.controlPlaneEndpoint.port}`;
}

/** Names and addresses the API server certificate must cover: the endpoint, every master, the LB and VIP. */
export function apiServerCertSANs(cluster: Cluster): string[] {
  const sans = [cluster.controlPlaneEndpoint.host];
  for (const n of cluster.nodes) if (n.role === 'master' || n.role === 'lb') sans.push(n.ip, n.name);
  if (cluster.loadBalancer.virtualIP) sans.push(cluster.loadBalancer.virtualIP);
  // loadBalancer.kind local: workers reach the API servers through their own proxy on 127.0.0.1, by the
  // name (already first above) or, in first boot's /healthz wait, by the address.
  if (cluster.loadBalancer.mode === 'local') sans.push('127.0.0.1');
  return [...new Set(sans)];
}

/**
 * Whether kubeadm is told to ignore its SystemVerification preflight error: with the stock 3.10 kernel
 * from 1.32 (CentOS 7's kernel 3.10); with os.kernel lt only from 1.35, where the host is still cgroup v1
 * (systemd 219 cannot run v2). config/load.ts warns about both, so nothing is skipped silently.
 */
export function ignoresSystemVerification(cluster: Cluster): boolean {
  const { minor } = minorFacts(cluster.kubernetesVersion);
  return cluster.os.kernel.kind === 'lt' ? minor >= FAIL_CGROUP_V1_MINOR : minor >= KERNEL_PREFLIGHT_ERROR_MINOR;
}

function nodeRegistration(cluster: Cluster, node: Node, taintMaster: boolean): Record<string, unknown> {
  const reg: Record<string, unknown> = {
    name: node.name,
    criSocket: criSocket(cluster.runtime.kind, cluster.kubernetesVersion),
  };
  // Workers must not inherit a taint; masters keep kubeadm's default NoSchedule (seed 002 notes it),
  // unless the config lists taints for the node (its own or its role's): then exactly those.
  const k = node.kubernetes;
  if (k?.taints) reg.taints = k.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect }));
  else if (!taintMaster) reg.taints = [];
  // Labels go through the kubelet's --node-labels (config refuses the namespaces the kubelet refuses).
  const args: [string, string][] = [...(k?.kubeletExtraArgs ?? [])];
  if (k?.labels.length) args.push(['node-labels', k.labels.map(([key, v]) => `${key}=${v}`).join(',')]);
  // v1beta4 takes a [{name, value}] list; v1beta2/3 a map (reference: kubeadm-api.json).
  if (args.length) {
    reg.kubeletExtraArgs = minorFacts(cluster.kubernetesVersion).kubeadmApi.endsWith('v1beta4')
      ? args.map(([name, value]) => ({ name, value }))
      : Object.fromEntries(args);
  }
  // Only reachable with cluster.allowUnsupportedVersion: kubeadm 1.32+ fails SystemVerification on the 3.10
  // kernel (and on cgroup v1). A list of check names in every apiVersion, so nothing differs for v1beta4.
  if (ignoresSystemVerification(cluster)) reg.ignorePreflightErrors = ['SystemVerification'];
  // The node IP goes through /etc/sysconfig/kubelet (KUBELET_EXTRA_ARGS), which every path writes.
  return reg;
}

/**
 * The kubeadm configuration file of a node, as data then YAML. Only keys listed for the apiVersion in
 * test/reference/kubeadm-api.json: kubeadm before 1.26 ignores unknown keys silently.
 */
export function kubeadmConfig(cluster: Cluster, secrets: Secrets, node: Node, mode: 'init' | 'join-control-plane' | 'join'): string {
  const api = minorFacts(cluster.kubernetesVersion).kubeadmApi;
  const docs: Record<string, unknown>[] = [];
  if (mode === 'init') {
    docs.push({
      apiVersion: api,
      kind: 'InitConfiguration',
      bootstrapTokens: [
        {
          token: secrets.bootstrapToken,
          description: 'k8s-image shared join token; the token keeper refreshes it until every node joined',
          ttl: goDuration(cluster.bootstrap.tokenTTLSeconds),
          usages: ['signing', 'authentication'],
          groups: ['system:bootstrappers:kubeadm:default-node-token'],
        },
      ],
      localAPIEndpoint: { advertiseAddress: node.ip, bindPort: 6443 },
      nodeRegistration: nodeRegistration(cluster, node, true),
    });
    docs.push({
      apiVersion: api,
      kind: 'ClusterConfiguration',
      clusterName: cluster.name,
      kubernetesVersion: `v${cluster.kubernetesVersion}`,
      imageRepository: cluster.imageRepository,
      controlPlaneEndpoint: endpointText(cluster),
      networking: { podSubnet: cluster.podSubnet, serviceSubnet: cluster.serviceSubnet, dnsDomain: cluster.dnsDomain },
      apiServer: { certSANs: apiServerCertSANs(cluster) },
    });
    const kubelet: Record<string, unknown> = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd' };
    // The 1.35+ kubelet refuses cgroup v1 (CentOS 7) unless told otherwise; joins read this from the cluster.
    if (minorFacts(cluster.kubernetesVersion).minor >= FAIL_CGROUP_V1_MINOR) kubelet.failCgroupV1 = false;
    // kubernetes.kubelet: cluster-wide (kubeadm init uploads it; joining nodes read it from the cluster).
    Object.assign(kubelet, cluster.kubelet ?? {});
    // The kubelet applies its evictionHard defaults only when the field is absent: one key set would drop
    // the others (no imagefs/nodefs eviction at all). The defaults fill in the keys not set.
    const given = cluster.kubelet?.evictionHard as Record<string, string> | undefined;
    if (given) kubelet.evictionHard = { ...given, ...Object.fromEntries(Object.entries(KUBELET_EVICTION_HARD_DEFAULTS).filter(([k]) => given[k] === undefined)) };
    docs.push(kubelet);
    // This, not KUBE_PROXY_MODE in /etc/sysconfig/kubelet (seed 000), is what switches kube-proxy to IPVS.
    docs.push({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: cluster.kubeProxyMode });
  } else {
    const join: Record<string, unknown> = {
      apiVersion: api,
      kind: 'JoinConfiguration',
      discovery: {
        bootstrapToken: {
          apiServerEndpoint: endpointText(cluster),
          token: secrets.bootstrapToken,
          caCertHashes: [discoveryHash(secrets.ca.cert)],
        },
      },
      nodeRegistration: nodeRegistration(cluster, node, mode === 'join-control-plane'),
    };
    // The shared CA material is pre-placed on every master, so no certificateKey / upload-certs is needed.
    if (mode === 'join-control-plane') join.controlPlane = { localAPIEndpoint: { advertiseAddress: node.ip, bindPort: 6443 } };
    docs.push(join);
    // kubeadm join reads the kubelet config from the cluster, but 1.15-1.21 join needs the systemd driver locally too.
  }
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true, sortKeys: false })).join('---\n');
}
