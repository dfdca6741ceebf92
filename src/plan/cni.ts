import yaml from 'js-yaml';
import type { Cluster } from '../config/index.js';
import { calicoNodeContainer, manifestDocs } from '../config/cni-manifest.js';
import { minorFacts, parseVersion } from '../versions/index.js';

/**
 * Flannel images: the kube-flannel namespace layout whose init container installs the flannel CNI
 * binary into /opt/cni/bin (seed 002 hit "flannel" missing there with the old layout). The versions
 * come from the version table (src/versions), which names their source.
 */
export function flannelImages(kubernetesVersion: string): { flannel: string; cniPlugin: string } {
  const f = minorFacts(kubernetesVersion).flannel;
  return { flannel: f.image, cniPlugin: f.cniPluginImage };
}

/**
 * A Docker Hub image reference served from `registry` instead (the same path below it, as registry
 * mirrors and pull-through caches lay them out); images of other registries are left as they are.
 */
export function fromRegistry(image: string, registry: string): string {
  const first = image.split('/')[0]!;
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry && first !== 'docker.io' && first !== 'index.docker.io') return image;
  let path = hasRegistry ? image.slice(first.length + 1) : image;
  if (!path.includes('/')) path = `library/${path}`;
  return `${registry}/${path}`;
}

/**
 * The CNI manifest the init master applies, shipped in the seed so first boot fetches no manifest.
 * Its images come from mirrors.cniImageRegistry.
 */
export function cniManifest(cluster: Cluster): string {
  if (cluster.cni === 'calico') return calicoManifest(cluster);
  const upstream = flannelImages(cluster.kubernetesVersion);
  const registry = cluster.mirrors.cniImageRegistry;
  const images = { flannel: fromRegistry(upstream.flannel, registry), cniPlugin: fromRegistry(upstream.cniPlugin, registry) };
  const ns = 'kube-flannel';
  const labels = { app: 'flannel', 'k8s-app': 'flannel', tier: 'node' };
  // The NIC is found on each node at run time (the route to the endpoint), so a node added later,
  // whatever its address or NIC name, picks the right one.
  const ifaces = [`--iface-can-reach=${flannelReachTarget(cluster)}`];
  const docs: Record<string, unknown>[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'k8s-app': 'flannel', 'pod-security.kubernetes.io/enforce': 'privileged' } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'flannel', namespace: ns, labels: { 'k8s-app': 'flannel' } } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'flannel', labels: { 'k8s-app': 'flannel' } },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'flannel', labels: { 'k8s-app': 'flannel' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-flannel-cfg', namespace: ns, labels },
      data: {
        'cni-conf.json': `${JSON.stringify(
          {
            name: 'cbr0',
            cniVersion: '0.3.1',
            plugins: [
              { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
              { type: 'portmap', capabilities: { portMappings: true } },
            ],
          },
          null,
          2,
        )}\n`,
        'net-conf.json': `${JSON.stringify({ Network: cluster.podSubnet, Backend: { Type: 'vxlan' } }, null, 2)}\n`,
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-flannel-ds', namespace: ns, labels },
      spec: {
        selector: { matchLabels: { app: 'flannel' } },
        template: {
          metadata: { labels },
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }],
                },
              },
            },
            hostNetwork: true,
            // Before 1.17 system-node-critical pods were admitted in kube-system only.
            ...(parseVersion(cluster.kubernetesVersion).minor >= 17 ? { priorityClassName: 'system-node-critical' } : {}),
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            serviceAccountName: 'flannel',
            initContainers: [
              {
                name: 'install-cni-plugin',
                image: images.cniPlugin,
                command: ['cp'],
                args: ['-f', '/flannel', '/opt/cni/bin/flannel'],
                volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
              },
              {
                name: 'install-cni',
                image: images.flannel,
                command: ['cp'],
                args: ['-f', '/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
                volumeMounts: [
                  { name: 'cni', mountPath: '/etc/cni/net.d' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                ],
              },
            ],
            containers: [
              {
                name: 'kube-flannel',
                image: images.flannel,
                command: ['/opt/bin/flanneld'],
                args: ['--ip-masq', '--kube-subnet-mgr', ...ifaces],
                resources: { requests: { cpu: '100m', memory: '50Mi' } },
                securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
                ],
                volumeMounts: [
                  { name: 'run', mountPath: '/run/flannel' },
                  { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                  { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
                ],
              },
            ],
            volumes: [
              { name: 'run', hostPath: { path: '/run/flannel' } },
              { name: 'cni-plugin', hostPath: { path: '/opt/cni/bin' } },
              { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
              { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
              { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
            ],
          },
        },
      },
    },
  ];
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true })).join('---\n');
}

/**
 * Where flannel's `ip route get` points. Not a Kubernetes node's own address: on that node the
 * route is `local ... dev lo`, so the endpoint of a single master is replaced by that master's
 * gateway, which is on the cluster subnet and is never a node.
 */
function flannelReachTarget(cluster: Cluster): string {
  const host = cluster.controlPlaneEndpoint.host;
  const isNode = cluster.nodes.some((n) => n.role !== 'lb' && n.ip === host);
  if (/^[0-9.]+$/.test(host) && !isNode) return host;
  return cluster.nodes.find((n) => n.role === 'master')!.gateway;
}

/** Every `image:` of a workload's containers and init containers, from the CNI registry. */
function rewriteImages(doc: unknown, registry: string): void {
  const spec = (doc as { spec?: { template?: { spec?: Record<string, unknown> } } })?.spec?.template?.spec;
  if (!spec) return;
  for (const key of ['containers', 'initContainers']) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list as { image?: unknown }[]) if (typeof c.image === 'string') c.image = fromRegistry(c.image, registry);
  }
}

/** The address calico-node's autodetection reaches: the interface that routes there is the cluster one. */
function reachTarget(cluster: Cluster): string {
  const host = cluster.controlPlaneEndpoint.host;
  return /^[0-9.]+$/.test(host) ? host : cluster.nodes.find((n) => n.role === 'master')!.ip;
}

/**
 * The user's calico.yaml (validated by config), with the pool CIDR set to the cluster's podSubnet
 * and the node address autodetected by reachability (the right NIC on two-NIC VMware VMs).
 */
function calicoManifest(cluster: Cluster): string {
  if (!cluster.cniManifest) throw new Error('calico without a manifest passed validation');
  const docs = manifestDocs(cluster.cniManifest.text);
  const container = calicoNodeContainer(docs)!;
  const set = (name: string, value: string) => {
    const env = (container.env ??= []);
    const hit = env.find((e) => e.name === name);
    if (hit) hit.value = value;
    else env.push({ name, value });
  };
  set('CALICO_IPV4POOL_CIDR', cluster.podSubnet);
  for (const doc of docs) rewriteImages(doc, cluster.mirrors.cniImageRegistry);
  set('IP_AUTODETECTION_METHOD', `can-reach=${reachTarget(cluster)}`);
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true })).join('---\n');
}
