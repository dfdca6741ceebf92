import type { Cluster, Node } from '../config/index.js';
// Leaf modules, not config's index: the plan needs no YAML parser or schema library loaded.
import * as net from '../config/net.js';
import { URL_USERINFO } from '../config/patterns.js';
import { UserError } from '../errors.js';
import type { Secrets } from '../secrets/index.js';
import { readAsset } from '../assets.js';
import { criSocket, dockerCompanions, kubernetesPackageVersion, minorFacts, IPVS_MODULES } from '../versions/index.js';
import { kubeadmConfig, endpointText } from './kubeadm.js';
import { cniManifest } from './cni.js';
import { BUNDLE_ISO_LABEL, BUNDLE_ISO_MOUNT, BUNDLE_REPO_ID, bundleBaseUrl, renderRepoFile, yumRepos, type YumRepo } from './repos.js';
import { isLocalProxyNode, lbFiles, lbFirewallProtocols, lbPackages, lbServices, localEndpointHosts, localProxy } from './lb.js';
import { bootEnv, bootPlan, kernelPackages, kernelRepo } from './kernel.js';
import { PATHS, type NodePlan, type PlanFile, type PlanNetDevice, type PlanRoute } from './types.js';
import { CATCH_UP_STAGGER_SECONDS, CERT_RENEW_ENV, CERT_RENEW_LOG, CERT_RENEW_SCRIPT, CERT_RENEW_SERVICE, CERT_RENEW_TIMER, MASTER_PACKAGES, RENEW_WITHIN_SECONDS, certRenewTimer, certsRenewCommand, renewSlot } from './certs.js';
import { REPORTER_PATH, REPORT_KEY_PATH, reportKey } from '../status/protocol.js';
import { firstbootScript } from './node-scripts.js';

export type { NodePlan, PlanFile, PlanNetDevice, PlanRoute } from './types.js';
export { PATHS, VOLUME_LABELS } from './types.js';
export { kubeadmConfig, goDuration, apiServerCertSANs, endpointText } from './kubeadm.js';
export { yumRepos, bundleSourceRepos, bundleKeyFiles, bundleBaseUrl, BUNDLE_ISO_LABEL, BUNDLE_ISO_MOUNT } from './repos.js';
export { cniManifest } from './cni.js';

/** From the install medium on every node (install.sh also ensures them on cloud images). */
const BASE_PACKAGES = ['chrony', 'curl'];
/** What kube-proxy (ipset, ipvsadm, conntrack) and kubeadm's preflight (socat) need on Kubernetes nodes. */
const KUBERNETES_NODE_PACKAGES = ['ipset', 'ipvsadm', 'conntrack-tools', 'socat'];

/** KEY=value lines sourced by bash; values are validated upstream, lists are quoted as one word. */
function envFile(header: string, vars: [string, string | number | string[]][]): string {
  const lines = vars.map(([k, v]) => (Array.isArray(v) ? `${k}="${v.join(' ')}"` : `${k}=${v}`));
  return `# ${header}\n${lines.join('\n')}\n`;
}

/** Which bootstrap a node runs: the first master listed inits, later masters join the control plane one by one. */
export function bootstrapOf(cluster: Cluster, node: Node): NodePlan['bootstrap'] {
  if (node.role === 'lb') return 'none';
  if (node.role === 'node') return 'join';
  return cluster.nodes.find((n) => n.role === 'master') === node ? 'init' : 'join-control-plane';
}

/** The previous master in list order: a joining master waits for its /healthz (joins race on etcd otherwise). */
function previousMaster(cluster: Cluster, node: Node): Node {
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  return masters[masters.indexOf(node) - 1]!;
}

function file(path: string, content: string, mode = 0o644, secret = false): PlanFile {
  return { path, content, mode, secret };
}

/** A node's devices in plan form: NICs, then bonds, then VLANs (each after what it sits on). */
function netDevices(node: Node): PlanNetDevice[] | undefined {
  const l = node.links;
  if (!l) return undefined;
  const addr = (a?: { ip: string; prefix: number }) => (a ? { ip: a.ip, prefix: a.prefix, netmask: net.prefixToNetmask(a.prefix) } : undefined);
  const routes = (name: string) =>
    l.routes.filter((r) => r.device === name).map((r) => {
      const [network, prefix] = r.to.split('/');
      return { network: network!, prefix: Number(prefix), netmask: net.prefixToNetmask(Number(prefix)), gateway: r.via, ...(r.metric !== undefined ? { metric: r.metric } : {}) };
    });
  const common = (name: string, mtu?: number, a?: { ip: string; prefix: number }) => ({
    name,
    ...(mtu !== undefined ? { mtu } : {}),
    kubernetes: name === node.interface,
    ...(a ? { address: addr(a) } : {}),
    routes: routes(name),
  });
  return [
    ...l.interfaces.map((i): PlanNetDevice => ({ kind: 'physical', ...(i.mac ? { mac: i.mac } : {}), ...common(i.name, i.mtu, i.address) })),
    ...l.bonds.map((b): PlanNetDevice => ({ kind: 'bond', members: b.interfaces, bondOptions: b.options, ...common(b.name, b.mtu, b.address) })),
    ...l.vlans.map((v): PlanNetDevice => ({ kind: 'vlan', vlanId: v.id, link: v.link, ...common(v.name, v.mtu, v.address) })),
  ];
}

/**
 * LINK_MTUS for install.sh: each VLAN parent with an MTU ("<device>=<mtu>", "=<mac>" for a NIC). The
 * kickstart's VLAN line cannot give the parent its MTU (anaconda 21.48 puts --mtu in the VLAN's ifcfg
 * only: test/reference/kickstart-rhel7-network.md); cloud-init's sysconfig has it already. One list for
 * both paths, so both end with MTU= in the parent's ifcfg.
 */
function linkMtuEnv(node: Node): [string, string[]][] {
  const l = node.links;
  if (!l) return [];
  const out: string[] = [];
  for (const name of [...new Set(l.vlans.map((v) => v.link))]) {
    const nic = l.interfaces.find((i) => i.name === name);
    const bond = l.bonds.find((b) => b.name === name);
    const mtu = nic?.mtu ?? bond?.mtu;
    if (mtu !== undefined) out.push(`${name}=${mtu}${nic?.mac ? `=${nic.mac}` : ''}`);
  }
  return out.length ? [['LINK_MTUS', out]] : [];
}

/** route-<dev> in the ADDRESSn/NETMASKn/GATEWAYn form (initscripts ifup-routes; what cloud-init's sysconfig renderer writes). */
function routeFile(routes: PlanRoute[]): string {
  const lines = ['# Written by k8s-image: static routes of this device (nodes[].routes).'];
  routes.forEach((r, i) => {
    lines.push(`ADDRESS${i}=${r.network}`, `NETMASK${i}=${r.netmask}`, `GATEWAY${i}=${r.gateway}`);
    if (r.metric !== undefined) lines.push(`METRIC${i}=${r.metric}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * One's own additions as plan files: files as given; CA certificates as anchors (install.sh runs
 * update-ca-trust before yum, so a mirror behind a private CA works); hooks as scripts numbered in
 * the config's order under hooks/<point>/ (run by install.sh and first boot, never inlined).
 */
function customFiles(node: Node): PlanFile[] {
  const c = node.custom;
  if (!c) return [];
  const nn = (i: number) => String(i + 1).padStart(2, '0');
  return [
    ...c.files.map((f) => file(f.path, f.content, f.mode, f.secret)),
    ...c.caCertificates.map((pem, i) => file(`${PATHS.caAnchorsDir}/k8s-image-${nn(i)}.crt`, pem)),
    // lb nodes run no kubeadm: only their after-install hooks land.
    ...c.hooks.map((h, i) => ({ h, i })).filter(({ h }) => node.role !== 'lb' || h.point === 'after-install').map(({ h, i }) => file(`${PATHS.hooksDir}/${h.point}/${nn(i)}-${h.name}`, h.content, 0o755)),
  ];
}

/** Up to this many nodes every node lists every other in /etc/hosts, as seed 000 does by hand. */
export const HOSTS_ALL_NODES_MAX = 32;

/**
 * /etc/hosts: the node itself, and in a small cluster every node; in a larger one only what the node
 * needs (itself, the masters and lb nodes), so a node's files do not grow with the farm. Kubernetes
 * reaches nodes by address (kubelet --node-ip, InternalIP first); humans in a larger site use DNS.
 */
function hostsFile(cluster: Cluster, node: Node): string {
  const lines = [
    '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4',
    '::1         localhost localhost.localdomain localhost6 localhost6.localdomain6',
  ];
  const all = cluster.nodes.length <= HOSTS_ALL_NODES_MAX;
  lines.push(all ? '# cluster nodes (k8s-image)' : `# this node, the masters and lb nodes (k8s-image; the other ${cluster.nodes.length} nodes: use DNS)`);
  for (const n of cluster.nodes) {
    if (!all && n !== node && n.role === 'node') continue;
    lines.push(cluster.searchDomain ? `${n.ip} ${n.name}.${cluster.searchDomain} ${n.name}` : `${n.ip} ${n.name}`);
  }
  if (cluster.loadBalancer.mode === 'local' && node.role !== 'lb') {
    lines.push(`# the control-plane endpoint (loadBalancer.kind local: ${node.role === 'master' ? 'this master first, then the others' : 'the proxy on this node'})`, ...localEndpointHosts(cluster, node));
  }
  return `${lines.join('\n')}\n`;
}

function chronyConf(cluster: Cluster): string {
  return [
    '# Written by k8s-image (CentOS 7 cloud-init does not run the ntp module, so chrony is configured here).',
    ...cluster.os.ntpServers.map((s) => `server ${s} iburst`),
    'driftfile /var/lib/chrony/drift',
    '# Step the clock at boot however far off it is: certificates fail on a skewed clock.',
    'makestep 1.0 3',
    'rtcsync',
    'logdir /var/log/chrony',
    '',
  ].join('\n');
}

/** Ports firewalld keeps open when os.firewall is `open`. Source: kubernetes.io "Ports and Protocols". */
function firewallPorts(cluster: Cluster, node: Node): string[] {
  const ports = ['22/tcp'];
  if (node.role !== 'lb') ports.push('10250/tcp');
  if (node.role === 'master') ports.push('6443/tcp', '2379-2380/tcp', '10251/tcp', '10252/tcp', '10257/tcp', '10259/tcp');
  // NodePorts are served by kube-proxy on every node, masters included.
  if (node.role !== 'lb') ports.push('30000-32767/tcp');
  if (node.role === 'lb') ports.push(`${cluster.loadBalancer.port}/tcp`);
  if (node.role !== 'lb' && cluster.cni === 'flannel') ports.push('8472/udp');
  if (node.role !== 'lb' && cluster.cni === 'calico') ports.push('179/tcp', '4789/udp');
  return ports;
}

/** IP protocols (by /etc/protocols name) to accept: keepalived's VRRP on lb nodes, calico's IP-in-IP (4) elsewhere. */
function firewallProtocols(cluster: Cluster, node: Node): string[] {
  if (node.role === 'lb') return lbFirewallProtocols(cluster);
  return cluster.cni === 'calico' ? ['ipencap'] : [];
}

function firewalldZone(ports: string[], protocols: string[]): string {
  const lines = ['<?xml version="1.0" encoding="utf-8"?>', '<zone>', '  <short>Public</short>', '  <description>k8s-image: Kubernetes ports open</description>'];
  for (const p of ports) {
    const [port, proto] = p.split('/');
    lines.push(`  <port protocol="${proto}" port="${port}"/>`);
  }
  // keepalived's VRRP between lb nodes: without it both take the virtual IP.
  for (const p of protocols) lines.push(`  <protocol value="${p}"/>`);
  lines.push('  <masquerade/>', '</zone>', '');
  return lines.join('\n');
}

/**
 * The pod and service networks in firewalld's trusted zone: with IPVS, traffic to a ClusterIP is
 * delivered locally and passes INPUT, where the public zone would reject pod to 10.96.0.1:443 and to
 * DNS (kubernetes/kubeadm#1461). A source may sit in one zone only, so only here.
 */
function firewalldTrustedZone(cluster: Cluster): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<zone target="ACCEPT">',
    '  <short>Trusted</short>',
    '  <description>k8s-image: the pod and service networks (kube-proxy IPVS traffic passes INPUT)</description>',
    `  <source address="${cluster.podSubnet}"/>`,
    `  <source address="${cluster.serviceSubnet}"/>`,
    '</zone>',
    '',
  ].join('\n');
}

/**
 * NetworkManager (in @core) must leave calico's interfaces alone, or it fights calico over their
 * routes and addresses (Calico docs, "Configure NetworkManager").
 */
const NETWORKMANAGER_CALICO = `# Written by k8s-image: calico manages these interfaces itself.
[keyfile]
unmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali
`;

/** A value in a unit file: `%` starts a systemd specifier (`%7E` would be dropped), so it is doubled. */
const systemdValue = (v: string) => v.replaceAll('%', '%%');

function proxyDropIn(cluster: Cluster): string | undefined {
  const p = cluster.proxy;
  if (!p) return undefined;
  const lines = ['[Service]'];
  const env = (k: string, v: string) => `Environment=${k}=${systemdValue(v)}`;
  if (p.http) lines.push(env('HTTP_PROXY', p.http), env('http_proxy', p.http));
  if (p.https) lines.push(env('HTTPS_PROXY', p.https), env('https_proxy', p.https));
  lines.push(env('NO_PROXY', p.noProxy.join(',')), env('no_proxy', p.noProxy.join(',')));
  return `${lines.join('\n')}\n`;
}

function runtimeFiles(cluster: Cluster): PlanFile[] {
  const m = cluster.mirrors;
  if (cluster.runtime.kind === 'docker') {
    const daemon = {
      'exec-opts': ['native.cgroupdriver=systemd'],
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '100m', 'max-file': '3' },
      // No overlay2.override_kernel_check: docker >= 17.12 probes the kernel itself, and 24.0
      // refuses to start with the option (moby/moby#44278).
      'storage-driver': 'overlay2',
      'registry-mirrors': m.registryMirrors,
      'insecure-registries': m.insecureRegistries,
    };
    return [file('/etc/docker/daemon.json', `${JSON.stringify(daemon, null, 2)}\n`)];
  }
  const pause = `${cluster.imageRepository}/pause:${minorFacts(cluster.kubernetesVersion).pause}`;
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const toml = [
    '# Written by k8s-image: systemd cgroups to match the kubelet, pause image from the cluster repository.',
    'version = 2',
    '',
    `[${cri}]`,
    `  sandbox_image = "${pause}"`,
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = true',
  ];
  if (m.registryMirrors.length) {
    toml.push(`[${cri}.registry.mirrors."docker.io"]`, `  endpoint = [${[...m.registryMirrors, 'https://registry-1.docker.io'].map((u) => `"${u}"`).join(', ')}]`);
  }
  for (const r of m.insecureRegistries) {
    toml.push(`[${cri}.registry.mirrors."${r}"]`, `  endpoint = ["http://${r}"]`);
    toml.push(`[${cri}.registry.configs."${r}".tls]`, '  insecure_skip_verify = true');
  }
  return [
    file('/etc/containerd/config.toml', `${toml.join('\n')}\n`),
    file('/etc/crictl.yaml', `runtime-endpoint: ${criSocket('containerd', cluster.kubernetesVersion)}\nimage-endpoint: ${criSocket('containerd', cluster.kubernetesVersion)}\ntimeout: 10\n`),
  ];
}

function pinnedPackages(cluster: Cluster): string[] {
  const f = minorFacts(cluster.kubernetesVersion);
  const k = kubernetesPackageVersion(cluster.kubernetesVersion);
  const pkgs: string[] = [];
  if (cluster.runtime.kind === 'docker') {
    const v = cluster.runtime.version;
    const comp = dockerCompanions(v);
    pkgs.push(`docker-ce-${v}`);
    if (comp.cli) pkgs.push(`docker-ce-cli-${v}`);
    if (comp.containerd) pkgs.push(`containerd.io-${comp.containerd}`);
  } else {
    pkgs.push(`containerd.io-${cluster.runtime.version}`);
  }
  pkgs.push(`kubeadm-${k}`, `kubelet-${k}`, `kubectl-${k}`);
  // Unpinned companions (no verified version-release for that minor) resolve from the per-minor repository.
  pkgs.push(f.kubernetesCni ? `kubernetes-cni-${f.kubernetesCni}` : 'kubernetes-cni', f.criTools ? `cri-tools-${f.criTools}` : 'cri-tools');
  return pkgs;
}

function masterPki(secrets: Secrets): PlanFile[] {
  const d = PATHS.pkiBackup;
  return [
    file(`${d}/ca.crt`, secrets.ca.cert, 0o644, true),
    file(`${d}/ca.key`, secrets.ca.key, 0o600, true),
    file(`${d}/front-proxy-ca.crt`, secrets.frontProxyCa.cert, 0o644, true),
    file(`${d}/front-proxy-ca.key`, secrets.frontProxyCa.key, 0o600, true),
    file(`${d}/etcd/ca.crt`, secrets.etcdCa.cert, 0o644, true),
    file(`${d}/etcd/ca.key`, secrets.etcdCa.key, 0o600, true),
    file(`${d}/sa.key`, secrets.serviceAccount.key, 0o600, true),
    file(`${d}/sa.pub`, secrets.serviceAccount.pub, 0o644, true),
  ];
}

/** Every `user:password@` in the cluster's URLs (proxy, mirrors, registry mirrors). */
function clusterCredentials(cluster: Cluster): string[] {
  const m = cluster.mirrors;
  const urls = [cluster.proxy?.http, cluster.proxy?.https, m.centos, m.epel, m.dockerCe, m.elrepo, m.elrepoKey, m.kubernetesEl7, m.kubernetesPkgs, ...m.registryMirrors];
  return [...new Set(urls.flatMap((u) => (u ? (URL_USERINFO.exec(u)?.[0] ?? []) : [])))];
}

/** The values first boot reads (node-files/README.md lists each). */
function firstbootEnv(cluster: Cluster, node: Node, bootstrap: NodePlan['bootstrap'], status: [string, string][], where: PlanOptions = {}): PlanFile {
  const header = 'k8s-image first-boot settings for this node (see node-files/README.md)';
  const install: [string, string][] = [
    ['INSTALL_SCRIPT', PATHS.installScript],
    ['INSTALL_MARKER', PATHS.installMarker],
    ['INSTALL_LOG', PATHS.installLog],
  ];
  const common: [string, string | number][] = [
    ['NODE_NAME', node.name],
    ['NODE_IP', node.ip],
    ['STATE_DIR', PATHS.stateDir],
    ['LOG_FILE', PATHS.logFile],
    ...install,
    ...status,
  ];
  // lb nodes: first boot only makes sure the install finished (their proxy runs from its unit).
  if (bootstrap === 'none') return file(PATHS.firstbootEnv, envFile(header, [['ROLE', 'none'], ...common]));
  const endpoint = endpointText(cluster);
  const endpointHealthz = `https://${endpoint}/healthz`;
  // loadBalancer.kind local: a master's endpoint name is the master itself, a worker's its own proxy.
  const local = cluster.loadBalancer.mode === 'local';
  const behindProxy = !local && cluster.controlPlaneEndpoint.host !== node.ip;
  // Workers wait for the endpoint; a joining master for the master before it (parallel joins race on etcd).
  const workerWait = local ? `https://127.0.0.1:${cluster.controlPlaneEndpoint.port}/healthz` : endpointHealthz;
  const waitFor = bootstrap === 'join' ? [workerWait] : bootstrap === 'join-control-plane' ? [`https://${previousMaster(cluster, node).ip}:6443/healthz`] : [];
  // The first master behind a load balancer (or VIP): the proxy must accept connections before init,
  // and the master is done only once the endpoint forwards to it.
  const waitTcp = bootstrap === 'init' && behindProxy ? [endpoint] : [];
  const confirm = bootstrap === 'init' && behindProxy ? [endpointHealthz] : [];
  // Only the init master's token keeper reads it; elsewhere it would grow every node with the farm.
  const expected = bootstrap === 'init' ? cluster.nodes.filter((n) => n.role !== 'lb' && n !== node).map((n) => n.name) : [];
  const deadline = cluster.bootstrap.joinDeadlineSeconds || 7 * 86400;
  return file(
    PATHS.firstbootEnv,
    envFile(header, [
      ['ROLE', bootstrap],
      ...common,
      ['ENDPOINT', endpoint],
      ['WAIT_FOR', waitFor],
      ['WAIT_TCP', waitTcp],
      ['CONFIRM_URLS', confirm],
      ['RUNTIME_SERVICE', cluster.runtime.kind === 'docker' ? 'docker' : 'containerd'],
      ['RETRIES', 5],
      ['WAIT_DEADLINE', deadline],
      ['TIME_SYNC_DEADLINE', 300],
      ['CA_CERT', PATHS.caCert],
      ['KUBEADM_CONFIG', PATHS.kubeadmConfig],
      ['CNI_MANIFEST', PATHS.cniManifest],
      ['PKI_BACKUP', PATHS.pkiBackup],
      ['KUBE_DIR', '/etc/kubernetes'],
      ['PKI_DIR', '/etc/kubernetes/pki'],
      ['ADMIN_KUBECONFIG', '/root/.kube/config'],
      ['MODULES_LOAD_DIR', '/etc/modules-load.d'],
      ['TOKEN_FILE', PATHS.tokenFile],
      ['TOKEN_TTL', cluster.bootstrap.tokenTTLSeconds],
      ['JOIN_DEADLINE', deadline],
      ['EXPECTED_NODES', expected],
      // mirrors.bundle: first boot imports the bundle's images (node-files/import-images.sh) before kubeadm.
      ...(cluster.mirrors.bundle
        ? ([
            ['IMPORT_IMAGES', PATHS.importImagesScript],
            ['BUNDLE_URL', bundleBaseUrl(cluster)!],
            ['KUBERNETES_VERSION', cluster.kubernetesVersion],
            ...bundleMountEnv(cluster, where),
            ['IMAGE_REPOSITORY', cluster.imageRepository],
          ] as [string, string][])
        : []),
    ]),
  );
}

/**
 * A master's certificate renewal: the script, its daily timer (enabled at install) and its settings.
 * The same on every delivery path; it waits for kubeadm's PKI by itself. Each master renews at its
 * own time of night (renewSlot, from its index among the masters), never two together.
 */
function certRenewFiles(cluster: Cluster, node: Node, status: [string, string][]): PlanFile[] {
  const masterIndex = cluster.nodes.filter((n) => n.role === 'master').indexOf(node);
  const env = envFile('k8s-image certificate renewal settings for this master (see node-files/README.md)', [
    ['NODE_NAME', node.name],
    ['KUBE_DIR', '/etc/kubernetes'],
    ['PKI_DIR', '/etc/kubernetes/pki'],
    ['ADMIN_KUBECONFIG', '/root/.kube/config'],
    ['KUBELET_PKI', '/var/lib/kubelet/pki'],
    ['STATE_DIR', PATHS.stateDir],
    ['CERT_LOG', CERT_RENEW_LOG],
    ['RENEW_COMMAND', certsRenewCommand(cluster.kubernetesVersion)],
    ['RENEW_WITHIN', RENEW_WITHIN_SECONDS],
    ['RUNTIME', cluster.runtime.kind],
    ['MASTER_INDEX', masterIndex],
    ['RENEW_SLOT', renewSlot(masterIndex)],
    ['CATCH_UP_STAGGER', CATCH_UP_STAGGER_SECONDS],
    ...status,
  ]);
  return [
    file(CERT_RENEW_ENV, env),
    file(CERT_RENEW_SCRIPT, readAsset('node-files/cert-renew.sh'), 0o755),
    file(`/etc/systemd/system/${CERT_RENEW_SERVICE}`, readAsset(`node-files/${CERT_RENEW_SERVICE}`)),
    file(`/etc/systemd/system/${CERT_RENEW_TIMER}`, certRenewTimer(readAsset(`node-files/${CERT_RENEW_TIMER}`), masterIndex)),
  ];
}

/**
 * What every Kubernetes node has whatever its role and address (and so all a golden image holds of
 * Kubernetes): kernel settings, the runtime's configuration, the pinned packages and their units.
 */
function kubernetesCommon(cluster: Cluster): { files: PlanFile[]; packages: string[]; enableServices: string[]; reloadServices: string[] } {
  const runtimeService = cluster.runtime.kind === 'docker' ? 'docker' : 'containerd';
  const files = [
    file(
      '/etc/sysctl.d/k8s.conf',
      '# Bridged pod traffic must pass iptables, and the node must route (seed 000).\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.ip_forward = 1\n',
    ),
  ];
  const modules = ['br_netfilter', ...(cluster.runtime.kind === 'containerd' ? ['overlay'] : []), ...(cluster.kubeProxyMode === 'ipvs' ? IPVS_MODULES : [])];
  files.push(file('/etc/modules-load.d/k8s.conf', `# Loaded at every boot (the conntrack module is probed by first boot).\n${modules.join('\n')}\n`));
  files.push(...runtimeFiles(cluster));
  const proxyUnit = proxyDropIn(cluster);
  if (proxyUnit) {
    for (const unit of [runtimeService, 'kubelet', 'k8s-image-firstboot']) files.push(file(`/etc/systemd/system/${unit}.service.d/http-proxy.conf`, proxyUnit));
  }
  const reloadServices: string[] = [];
  if (cluster.cni === 'calico') {
    files.push(file('/etc/NetworkManager/conf.d/calico.conf', NETWORKMANAGER_CALICO));
    reloadServices.push('NetworkManager');
  }
  return { files, packages: pinnedPackages(cluster), enableServices: [runtimeService, 'kubelet'], reloadServices };
}

/**
 * The packages one node installs (its install.env PACKAGES): the base set, firewalld when open, and
 * on Kubernetes nodes the pinned set, kernel-lt and a local proxy; on lb nodes the proxy; then the
 * node's own custom.packages. planNode renders exactly this list, and clusterPackages is its union.
 */
export function nodePackages(cluster: Cluster, node: Node): string[] {
  const isK8s = node.role !== 'lb';
  const firewall = cluster.os.firewall === 'open' ? ['firewalld'] : [];
  const packages = [...BASE_PACKAGES, ...firewall, ...(isK8s ? KUBERNETES_NODE_PACKAGES : [])];
  if (isK8s) {
    packages.push(...pinnedPackages(cluster), ...kernelPackages(cluster));
    if (isLocalProxyNode(cluster, node)) packages.push(...lbPackages(cluster));
    if (node.role === 'master') packages.push(...MASTER_PACKAGES);
  } else packages.push(...lbPackages(cluster));
  // One's own packages, pinned, in the same yum transaction.
  packages.push(...(node.custom?.packages ?? []));
  return packages;
}

/** What a golden image adds for itself: cloud-init, which gives each clone its identity and role from its own seed. */
const GOLDEN_PACKAGES = ['cloud-init', 'cloud-utils-growpart'];

/** The packages a golden image installs (its install.env PACKAGES): every Kubernetes node's, and cloud-init. */
export function goldenPackages(cluster: Cluster): string[] {
  const firewall = cluster.os.firewall === 'open' ? ['firewalld'] : [];
  // Any clone may become a master: what masters need too.
  return [...BASE_PACKAGES, ...firewall, ...KUBERNETES_NODE_PACKAGES, ...GOLDEN_PACKAGES, ...pinnedPackages(cluster), ...kernelPackages(cluster), ...MASTER_PACKAGES];
}

/**
 * Every package any node of the cluster installs: the union of what planNode gives each node and
 * planGolden the golden image (one source of truth), what `k8s-image bundle` resolves as one transaction.
 */
export function clusterPackages(cluster: Cluster): string[] {
  const pkgs = new Set<string>(goldenPackages(cluster));
  for (const node of cluster.nodes) for (const p of nodePackages(cluster, node)) pkgs.add(p);
  return [...pkgs];
}

/** The repositories whose excludes (the version holds) install.sh lifts for its own pinned install. */
function disableExcludes(cluster: Cluster, kernel: boolean): string {
  return ['kubernetes', 'docker-ce-stable', ...(kernel ? ['elrepo-kernel'] : []), ...(cluster.mirrors.bundle ? [BUNDLE_REPO_ID] : [])].join(',');
}

/** With mirrors.bundle every repository but the bundle's is written off (kernel-lt comes from the bundle too). */
function offWithBundle(cluster: Cluster, repos: YumRepo[]): YumRepo[] {
  return cluster.mirrors.bundle ? repos.map((r) => ({ ...r, enabled: false })) : repos;
}

/** How the node is delivered, where it changes what lands on it. */
export interface PlanOptions {
  /**
   * `remaster --bundle`: the bundle is the folder /k8s-image-bundle/ of the node's install DVD, whose
   * volume label this is (mirrors.bundle: iso); the install copies it to the disk (the DVD is gone
   * at first boot) and both use that copy.
   */
  bundleOnDvd?: string;
}

/** The folder of the remastered DVD that holds the bundle (remaster --bundle). */
export const BUNDLE_DVD_DIR = 'k8s-image-bundle';

/**
 * mirrors.bundle: iso: the helper that mounts the bundle's disc (found by its label) read-only, and
 * where; install.sh and import-images.sh run it when BUNDLE_MOUNT is set. On a remastered DVD the
 * bundle is a folder of the install disc, copied to BUNDLE_COPY by the install and bound from there.
 */
function bundleMountEnv(cluster: Cluster, where: PlanOptions = {}): [string, string][] {
  if (cluster.mirrors.bundle !== 'iso') return [];
  return [
    ['BUNDLE_MOUNT', PATHS.bundleMountScript],
    ['BUNDLE_LABEL', where.bundleOnDvd !== undefined ? `"${where.bundleOnDvd}"` : BUNDLE_ISO_LABEL],
    ['BUNDLE_DIR', BUNDLE_ISO_MOUNT],
    ...(where.bundleOnDvd !== undefined
      ? ([
          ['BUNDLE_SUBDIR', BUNDLE_DVD_DIR],
          ['BUNDLE_COPY', `${PATHS.stateDir}/bundle`],
        ] as [string, string][])
      : []),
  ];
}

/** The single source of truth of what lands on one node. Pure: same inputs, same plan. */
export function planNode(cluster: Cluster, secrets: Secrets, nodeName: string, where: PlanOptions = {}): NodePlan {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UserError(`--node ${nodeName}: no such node in cluster ${cluster.name} (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`);
  if (secrets.cluster !== cluster.name) throw new Error(`secrets for cluster ${secrets.cluster} used with cluster ${cluster.name}`);
  const bootstrap = bootstrapOf(cluster, node);
  const isK8s = bootstrap !== 'none';
  const yumProxy = cluster.proxy?.https ?? cluster.proxy?.http;
  const files: PlanFile[] = [];

  files.push(file('/etc/hosts', hostsFile(cluster, node)));
  // Static routes as CentOS 7's network scripts (and NetworkManager's ifcfg-rh) read them, one file a
  // device: the kickstart's `network` has no route option; cloud-init writes the same file itself.
  for (const d of netDevices(node) ?? []) if (d.routes.length) files.push(file(`/etc/sysconfig/network-scripts/route-${d.name}`, routeFile(d.routes)));
  files.push(file('/etc/chrony.conf', chronyConf(cluster)));
  for (const { file: path, repos } of yumRepos(cluster)) {
    if (!isK8s && path !== '/etc/yum.repos.d/CentOS-Base.repo' && path !== '/etc/yum.repos.d/epel.repo') continue;
    // nginx for the lb role (or a local proxy) comes from EPEL, so only there is EPEL enabled
    // (with mirrors.bundle the bundle carries nginx: EPEL stays off).
    const needEpel = (!isK8s || isLocalProxyNode(cluster, node)) && cluster.loadBalancer.kind === 'nginx' && !cluster.mirrors.bundle;
    files.push(file(path, renderRepoFile(repos.map((r) => (r.id === 'epel' && needEpel ? { ...r, enabled: true } : r)), yumProxy)));
  }
  const kernel = isK8s ? kernelRepo(cluster) : undefined;
  if (kernel) files.push(file(kernel.file, renderRepoFile(offWithBundle(cluster, kernel.repos), yumProxy)));
  const boot = isK8s ? bootPlan(cluster) : { args: [] };
  const firewallOpen = cluster.os.firewall === 'open';
  if (firewallOpen) {
    files.push(file('/etc/firewalld/zones/public.xml', firewalldZone(firewallPorts(cluster, node), firewallProtocols(cluster, node))));
    if (isK8s) files.push(file('/etc/firewalld/zones/trusted.xml', firewalldTrustedZone(cluster)));
  }

  const enableServices = ['chronyd'];
  // On a running system (cloud-init), restarted at install: chronyd already runs with the image's
  // config, and disabled units are stopped there too (install.sh --live).
  const startServices = ['chronyd'];
  const reloadServices: string[] = [];
  const disableServices = firewallOpen ? ['iptables', 'ip6tables'] : ['firewalld', 'iptables', 'ip6tables'];
  if (firewallOpen) {
    enableServices.push('firewalld');
    startServices.push('firewalld');
  }
  // firewalld is in @core but not on every cloud image; enabling a unit that is not there fails the install.
  const basePackages = [...BASE_PACKAGES, ...(firewallOpen ? ['firewalld'] : []), ...(isK8s ? KUBERNETES_NODE_PACKAGES : [])];
  const packages = nodePackages(cluster, node);
  if (isK8s) {
    const common = kubernetesCommon(cluster);
    files.push(...common.files);
    files.push(file('/etc/sysconfig/kubelet', `# The node's own address: VMware VMs often have two NICs.\nKUBELET_EXTRA_ARGS=--node-ip=${node.ip}\n`));
    reloadServices.push(...common.reloadServices);
    files.push(file(PATHS.kubeadmConfig, kubeadmConfig(cluster, secrets, node, bootstrap as 'init' | 'join' | 'join-control-plane'), 0o600, true));
    files.push(file(PATHS.caCert, secrets.ca.cert));
    if (node.role === 'master') files.push(...masterPki(secrets));
    if (cluster.mirrors.bundle) files.push(file(PATHS.importImagesScript, readAsset('node-files/import-images.sh'), 0o755));

    if (bootstrap === 'init') {
      files.push(file(PATHS.cniManifest, cniManifest(cluster)));
      files.push(file(PATHS.tokenFile, `${secrets.bootstrapToken}\n`, 0o600, true));
      files.push(file(PATHS.tokenKeeperScript, readAsset('node-files/token-keeper.sh'), 0o755));
      files.push(file('/etc/systemd/system/k8s-image-token-keeper.service', readAsset('node-files/k8s-image-token-keeper.service')));
      files.push(file('/etc/systemd/system/k8s-image-token-keeper.timer', readAsset('node-files/k8s-image-token-keeper.timer')));
    }
    enableServices.push(...common.enableServices);
    // The runtime's data on a disk of its own: the runtime starts only once it is mounted. On a clone
    // (cloud-init path) the runtime may already be installed and enabled, and cc_mounts only adds the
    // fstab line during boot: without this it could start on the empty directory of the root disk.
    const data = node.storage?.volumes.find((v) => v.use === 'containerData' && v.disk);
    if (data) {
      const unit = cluster.runtime.kind === 'docker' ? 'docker' : 'containerd';
      files.push(file(`/etc/systemd/system/${unit}.service.d/k8s-image-data.conf`, `# Written by k8s-image: ${data.mount} is on a disk of its own (storage.containerData.disk).\n[Unit]\nRequiresMountsFor=${data.mount}\n`));
    }
    if (isLocalProxyNode(cluster, node)) {
      // loadBalancer.kind local: this node's own proxy to every master, listening before the join.
      const proxy = localProxy(cluster);
      files.push(...proxy.files);
      enableServices.push(...proxy.services);
      startServices.push(...proxy.services);
    }
  } else {
    files.push(...lbFiles(cluster, node));
    enableServices.push(...lbServices(cluster));
    // The proxy must listen as soon as cloud-init is done: the first master's init goes through it.
    startServices.push(...lbServices(cluster));
  }
  const hookPoints = new Set((node.custom?.hooks ?? []).filter((h) => node.role !== 'lb' || h.point === 'after-install').map((h) => h.point));
  // Progress reports: the node's own key (derived from the CA key; only this node and the server hold it) and the sender.
  const reportUrl = cluster.status ? `${cluster.status.url}/report` : undefined;
  const statusEnv: [string, string][] = reportUrl ? [['STATUS_URL', reportUrl], ['REPORTER', REPORTER_PATH]] : [];
  if (reportUrl) {
    files.push(file(REPORT_KEY_PATH, `${reportKey(secrets.ca.key, node.name)}\n`, 0o600, true));
    files.push(file(REPORTER_PATH, readAsset('node-files/report.py'), 0o755));
  }
  if (node.role === 'master') {
    files.push(...certRenewFiles(cluster, node, statusEnv));
    enableServices.push(CERT_RENEW_TIMER);
    // A cloud-init node does not reboot after its install: the timer must run from this boot on.
    startServices.push(CERT_RENEW_TIMER);
  }
  // Every node has the first-boot unit: it reruns an unfinished install, and on Kubernetes nodes inits or joins.
  files.push(firstbootEnv(cluster, node, bootstrap, [...statusEnv, ...(hookPoints.has('before-kubeadm') || hookPoints.has('after-ready') ? [['HOOKS_DIR', PATHS.hooksDir] as [string, string]] : [])], where));
  files.push(file(PATHS.firstbootScript, firstbootScript(), 0o755));
  files.push(file(`/etc/systemd/system/${PATHS.firstbootUnit}`, readAsset(`node-files/${PATHS.firstbootUnit}`)));

  files.push(
    file(
      PATHS.installEnv,
      envFile('k8s-image install settings for this node (see node-files/README.md)', [
        ['PACKAGES', packages],
        ['DISABLE_EXCLUDES', isK8s ? disableExcludes(cluster, !!kernel) : 'main'],
        ['ENABLE_SERVICES', enableServices],
        ['DISABLE_SERVICES', disableServices],
        ['START_SERVICES', startServices],
        ['RELOAD_SERVICES', reloadServices],
        ['FIRSTBOOT_UNIT', PATHS.firstbootUnit],
        ['INSTALL_MARKER', PATHS.installMarker],
        ['INSTALL_LOG', PATHS.installLog],
        ['NODE_ADDRESS', node.ip],
        ['NIC', node.mac ?? node.interface ?? 'link'],
        ['SELINUX', cluster.os.selinux],
        ...linkMtuEnv(node),
        ...bootEnv(boot),
        ...(node.custom?.caCertificates.length ? [['UPDATE_CA_TRUST', 1] as [string, number]] : []),
        ...bundleMountEnv(cluster, where),
        ...(hookPoints.has('after-install') ? [['HOOKS_DIR', PATHS.hooksDir] as [string, string]] : []),
        ...(reportUrl ? [['NODE_NAME', node.name] as [string, string], ...statusEnv] : []),
      ]),
    ),
  );
  files.push(file(PATHS.installScript, readAsset('node-files/install.sh'), 0o755));
  // mirrors.bundle: iso: install.sh (before yum) and import-images.sh (at first boot) mount the disc with it.
  if (cluster.mirrors.bundle === 'iso') files.push(file(PATHS.bundleMountScript, readAsset('node-files/bundle-mount.sh'), 0o755));

  // One's own files last: a path k8s-image writes itself is refused, naming the field.
  for (const f of customFiles(node)) {
    if (files.some((x) => x.path === f.path)) {
      const field = node.custom.files.find((x) => x.path === f.path)?.field ?? 'custom';
      throw new UserError(`${field}.path: "${f.path}" is written by k8s-image itself on ${node.name}; change it through its own setting, or pick another path`);
    }
    files.push(f);
  }
  // A file that carries a proxy's or mirror's password is root's only, and travels like the other
  // secrets (the OEMDRV seed, never ks.cfg text).
  const credentials = clusterCredentials(cluster);
  for (const [i, f] of files.entries()) {
    if (!f.secret && credentials.some((c) => f.content.includes(c))) files[i] = { ...f, secret: true, mode: 0o600 };
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    cluster: cluster.name,
    instanceId: `${cluster.name}-${node.name}-${node.generation}`,
    role: node.role,
    bootstrap,
    hostname: node.name,
    fqdn: cluster.searchDomain ? `${node.name}.${cluster.searchDomain}` : undefined,
    network: {
      device: node.interface,
      mac: node.mac,
      ip: node.ip,
      prefix: node.prefix,
      netmask: net.prefixToNetmask(node.prefix),
      gateway: node.gateway,
      dns: node.dns,
      search: cluster.searchDomain,
      ...(node.mtu !== undefined ? { mtu: node.mtu } : {}),
      ...(node.links ? { devices: netDevices(node) } : {}),
    },
    timezone: cluster.os.timezone,
    ntpServers: cluster.os.ntpServers,
    selinux: cluster.os.selinux,
    firewall: cluster.os.firewall,
    rootPasswordHash: cluster.os.rootPasswordHash ?? secrets.rootPasswordHash,
    sshAuthorizedKeys: cluster.os.sshAuthorizedKeys,
    disk: node.disk,
    ...(node.storage ? { storage: node.storage } : {}),
    basePackages,
    enableServices,
    disableServices,
    installScript: PATHS.installScript,
    firstbootUnit: PATHS.firstbootUnit,
    boot,
    status: reportUrl ? { reportUrl, reporter: REPORTER_PATH, key: REPORT_KEY_PATH } : undefined,
    files,
  };
}

/**
 * The golden image of a cluster: everything every Kubernetes node of it needs (the same files and
 * packages as planNode, from kubernetesCommon) but no identity, no role and no secret (no CA key, no
 * token: one image serves every node). Its first boot pulls the control-plane images, seals the
 * machine (node-files/seal.sh) and powers off; each clone then takes its name, address and role
 * from its own cidata seed, and its install finds the packages already there.
 */
export function planGolden(cluster: Cluster, secrets: Secrets): NodePlan {
  if (secrets.cluster !== cluster.name) throw new Error(`secrets for cluster ${secrets.cluster} used with cluster ${cluster.name}`);
  const yumProxy = cluster.proxy?.https ?? cluster.proxy?.http;
  const firewallOpen = cluster.os.firewall === 'open';
  const common = kubernetesCommon(cluster);
  const files: PlanFile[] = [file('/etc/chrony.conf', chronyConf(cluster))];
  for (const { file: path, repos } of yumRepos(cluster)) files.push(file(path, renderRepoFile(repos, yumProxy)));
  const kernel = kernelRepo(cluster);
  if (kernel) files.push(file(kernel.file, renderRepoFile(offWithBundle(cluster, kernel.repos), yumProxy)));
  const boot = bootPlan(cluster);
  files.push(...common.files);
  const basePackages = [...BASE_PACKAGES, ...(firewallOpen ? ['firewalld'] : []), ...KUBERNETES_NODE_PACKAGES, ...GOLDEN_PACKAGES];
  const packages = goldenPackages(cluster);
  const enableServices = ['chronyd', ...(firewallOpen ? ['firewalld'] : []), ...common.enableServices];
  const disableServices = firewallOpen ? ['iptables', 'ip6tables'] : ['firewalld', 'iptables', 'ip6tables'];
  const runtimeService = cluster.runtime.kind === 'docker' ? 'docker' : 'containerd';
  // The clones' first boot (their seed's env file enables and starts it); the golden VM has no role.
  files.push(file(PATHS.firstbootScript, firstbootScript(), 0o755));
  files.push(file(`/etc/systemd/system/${PATHS.firstbootUnit}`, readAsset(`node-files/${PATHS.firstbootUnit}`)));
  files.push(file(PATHS.installScript, readAsset('node-files/install.sh'), 0o755));
  files.push(file(PATHS.goldenScript, readAsset('node-files/golden.sh'), 0o755));
  files.push(file(PATHS.sealScript, readAsset('node-files/seal.sh'), 0o755));
  files.push(file(`/etc/systemd/system/${PATHS.goldenUnit}`, readAsset(`node-files/${PATHS.goldenUnit}`)));
  // cloud-init has no seed on the golden VM's own boot; the seal removes this, so clones run it.
  files.push(file(PATHS.cloudInitDisabled, '# k8s-image: off for the golden VM\'s own boot; seal.sh removes this file\n'));
  files.push(
    file(
      PATHS.goldenEnv,
      envFile('k8s-image golden image settings (see node-files/README.md)', [
        ['CLUSTER', cluster.name],
        ['KUBERNETES_VERSION', cluster.kubernetesVersion],
        ['IMAGE_REPOSITORY', cluster.imageRepository],
        ['RUNTIME', `${cluster.runtime.kind}-${cluster.runtime.version}`],
        ['RUNTIME_SERVICE', runtimeService],
        ['CRI_SOCKET', cluster.runtime.kind === 'containerd' ? criSocket('containerd', cluster.kubernetesVersion) : ''],
        ['PACKAGES', packages],
        ['INSTALL_MARKER', PATHS.installMarker],
        ['SEAL_SCRIPT', PATHS.sealScript],
        ['GOLDEN_UNIT', PATHS.goldenUnit],
        ['MARKER', PATHS.goldenMarker],
        // mirrors.bundle: the bundle's images are imported (import-images.sh), not pulled from a registry.
        ...(cluster.mirrors.bundle
          ? ([
              ['IMPORT_IMAGES', PATHS.importImagesScript],
              ['BUNDLE_URL', bundleBaseUrl(cluster)!],
              ['STATE_DIR', PATHS.stateDir],
              ...bundleMountEnv(cluster),
            ] as [string, string][])
          : []),
      ]),
    ),
  );
  files.push(
    file(
      PATHS.installEnv,
      envFile('k8s-image install settings of the golden image (see node-files/README.md)', [
        ['PACKAGES', packages],
        ['DISABLE_EXCLUDES', disableExcludes(cluster, !!kernel)],
        ['ENABLE_SERVICES', enableServices],
        ['DISABLE_SERVICES', disableServices],
        ['START_SERVICES', []],
        ['RELOAD_SERVICES', []],
        ['FIRSTBOOT_UNIT', PATHS.goldenUnit],
        ['INSTALL_MARKER', PATHS.installMarker],
        ['INSTALL_LOG', PATHS.installLog],
        ['SELINUX', cluster.os.selinux],
        ...bootEnv(boot),
        ...bundleMountEnv(cluster),
      ]),
    ),
  );
  if (cluster.mirrors.bundle) files.push(file(PATHS.importImagesScript, readAsset('node-files/import-images.sh'), 0o755));
  if (cluster.mirrors.bundle === 'iso') files.push(file(PATHS.bundleMountScript, readAsset('node-files/bundle-mount.sh'), 0o755));
  const credentials = clusterCredentials(cluster);
  for (const [i, f] of files.entries()) {
    if (credentials.some((c) => f.content.includes(c))) files[i] = { ...f, secret: true, mode: 0o600 };
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const first = cluster.nodes[0]!;
  return {
    cluster: cluster.name,
    instanceId: `${cluster.name}-golden`,
    role: 'golden',
    bootstrap: 'none',
    hostname: `${cluster.name}-golden`.slice(0, 63),
    // The golden VM's NIC is whatever the hypervisor gives it: the first with a link.
    network: { dhcp: true, ip: '', prefix: 0, netmask: '', gateway: '', dns: [] },
    timezone: cluster.os.timezone,
    ntpServers: cluster.os.ntpServers,
    selinux: cluster.os.selinux,
    firewall: cluster.os.firewall,
    rootPasswordHash: cluster.os.rootPasswordHash ?? secrets.rootPasswordHash,
    sshAuthorizedKeys: cluster.os.sshAuthorizedKeys,
    disk: first.disk,
    basePackages,
    enableServices,
    disableServices,
    installScript: PATHS.installScript,
    firstbootUnit: PATHS.goldenUnit,
    boot,
    files,
  };
}
