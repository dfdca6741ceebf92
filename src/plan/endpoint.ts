import yaml from 'js-yaml';
import type { Cluster, Node } from '../config/index.js';
import type { Secrets } from '../secrets/index.js';
import { DNS1123_SUBDOMAIN } from '../config/endpoint.js';
import { IPV4 } from '../config/patterns.js';
import { apiServerCertSANs, endpointText, kubeadmConfig } from './kubeadm.js';
import { bootstrapOf } from './index.js';

/**
 * What `validate` prints about the control-plane endpoint: how each node reaches it, and which names
 * and addresses the API server certificate must hold (the endpoint host, the virtual IP, every master,
 * 127.0.0.1 where workers use their own proxy) next to the SANs k8s-image asks kubeadm for. This is a
 * description, not a check of the output: the SANs come from apiServerCertSANs, the same function the
 * kubeadm config is rendered from. The independent check is kubeadmConfigEndpointProblems below, on
 * the rendered configs, which `build` runs.
 */
export interface EndpointProof {
  endpoint: string;
  mode: 'single master' | 'lb nodes' | 'virtual IP' | 'local proxies' | 'external';
  /** How the nodes reach the endpoint, one line each. */
  route: string[];
  sans: string[];
  /** What must be in the certificate, and why. */
  required: { value: string; why: string }[];
  /** Required values the SANs lack, or SANs kubeadm would refuse (ValidateCertSANs). */
  problems: string[];
}

export function endpointProof(cluster: Cluster): EndpointProof {
  const ep = cluster.controlPlaneEndpoint;
  const lb = cluster.loadBalancer;
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  const lbs = cluster.nodes.filter((n) => n.role === 'lb');
  const sans = apiServerCertSANs(cluster);
  const required: EndpointProof['required'] = [{ value: ep.host, why: 'the endpoint' }];
  let mode: EndpointProof['mode'];
  const route: string[] = [];
  if (lb.mode === 'local') {
    mode = 'local proxies';
    required.push({ value: '127.0.0.1', why: "the workers' own proxy" });
    route.push(`masters: ${ep.host} is the master itself in /etc/hosts (then the other masters)`, `workers: ${ep.host} is 127.0.0.1 in /etc/hosts, where ${lb.kind} listens and forwards to ${masters.length} master(s)`,
      `outside the cluster (the kubeconfig \`k8s-image kubeconfig\` writes): ${ep.host} must resolve to a master, through your DNS or /etc/hosts`,
    );
  } else if (lb.virtualIP && ep.host === lb.virtualIP) {
    mode = 'virtual IP';
    route.push(`keepalived holds ${lb.virtualIP} on one of ${lbs.map((n) => n.name).join(', ')}; ${lb.kind} there forwards to ${masters.length} master(s)`);
  } else if (lbs.some((n) => n.ip === ep.host)) {
    mode = 'lb nodes';
    route.push(`${lb.kind} on ${lbs.find((n) => n.ip === ep.host)!.name} forwards to ${masters.length} master(s)`);
  } else if (masters.length === 1 && masters[0]!.ip === ep.host) {
    mode = 'single master';
    route.push(`every node reaches ${masters[0]!.name} directly`);
  } else {
    mode = 'external';
    route.push(`${ep.host} is outside the cluster description: it must ${IPV4.test(ep.host) ? 'be a load balancer' : 'resolve to a load balancer or virtual IP'} that forwards port ${ep.port} to every master's 6443`);
  }
  const need = (value: string, why: string) => {
    const seen = required.find((r) => r.value === value);
    if (seen) seen.why += `, ${why}`;
    else required.push({ value, why });
  };
  if (lb.virtualIP) need(lb.virtualIP, 'loadBalancer.virtualIP');
  for (const m of masters) need(m.ip, m.name);
  const problems: string[] = [];
  for (const r of required) if (!sans.includes(r.value)) problems.push(`${r.value} (${r.why}) is not in the API server certificate's SANs`);
  for (const s of sans) if (!IPV4.test(s) && !DNS1123_SUBDOMAIN.test(s)) problems.push(`kubeadm refuses certSAN "${s}": not an IP address or DNS-1123 name`);
  return { endpoint: endpointText(cluster), mode, route, sans, required, problems };
}

/**
 * The kubeadm configs as rendered (the plan's /etc/k8s-image/kubeadm.yaml of each master and worker),
 * read back as YAML and checked on their own, not from the inputs apiServerCertSANs takes: the init
 * master's ClusterConfiguration names the endpoint and its certSANs hold the endpoint host, 127.0.0.1
 * (loadBalancer.kind local), the virtual IP and every master's address; every join dials the endpoint.
 * Joining masters' certificates come from that ClusterConfiguration (kubeadm stores it at init).
 * `build` refuses to write a tree when this finds anything.
 */
export function kubeadmConfigEndpointProblems(cluster: Cluster, configs: { node: Node; text: string }[]): string[] {
  const ep = endpointText(cluster);
  const problems: string[] = [];
  const masters = cluster.nodes.filter((n) => n.role === 'master');
  for (const n of cluster.nodes.filter((x) => x.role !== 'lb')) {
    if (!configs.some((c) => c.node === n)) problems.push(`${n.name}: no kubeadm config rendered`);
  }
  let inits = 0;
  for (const { node, text } of configs) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(text);
    } catch (e) {
      problems.push(`${node.name}: its kubeadm config is not YAML (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const kinds = docs.filter((d): d is Record<string, any> => typeof d === 'object' && d !== null);
    const cc = kinds.find((d) => d.kind === 'ClusterConfiguration');
    const join = kinds.find((d) => d.kind === 'JoinConfiguration');
    if (cc) {
      inits++;
      if (cc.controlPlaneEndpoint !== ep) problems.push(`${node.name}: ClusterConfiguration.controlPlaneEndpoint is ${JSON.stringify(cc.controlPlaneEndpoint)}, not ${ep}`);
      const sans: unknown = cc.apiServer?.certSANs;
      const list = Array.isArray(sans) ? sans.map(String) : [];
      const need: [string, string][] = [[cluster.controlPlaneEndpoint.host, 'the endpoint']];
      if (cluster.loadBalancer.mode === 'local') need.push(['127.0.0.1', "the workers' own proxy"]);
      if (cluster.loadBalancer.virtualIP) need.push([cluster.loadBalancer.virtualIP, 'loadBalancer.virtualIP']);
      for (const m of masters) need.push([m.ip, m.name]);
      for (const [value, why] of need) if (!list.includes(value)) problems.push(`${node.name}: ${value} (${why}) is not in the certSANs of the kubeadm config it runs (apiServer.certSANs: ${JSON.stringify(sans ?? null)})`);
      for (const s of list) if (!IPV4.test(s) && !DNS1123_SUBDOMAIN.test(s)) problems.push(`${node.name}: kubeadm refuses certSAN "${s}": not an IP address or DNS-1123 name`);
    } else if (join) {
      const got = join.discovery?.bootstrapToken?.apiServerEndpoint;
      if (got !== ep) problems.push(`${node.name}: JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint is ${JSON.stringify(got)}, not ${ep}`);
    } else {
      problems.push(`${node.name}: its kubeadm config has neither a ClusterConfiguration nor a JoinConfiguration`);
    }
  }
  if (masters.length && inits !== 1) problems.push(`${inits} nodes run kubeadm init with a ClusterConfiguration; exactly one master must`);
  return problems;
}

/** kubeadmConfigEndpointProblems on the configs the plan renders for every master and worker. */
export function renderedEndpointProblems(cluster: Cluster, secrets: Secrets): string[] {
  const configs = cluster.nodes
    .filter((n) => n.role !== 'lb')
    .map((node) => ({ node, text: kubeadmConfig(cluster, secrets, node, bootstrapOf(cluster, node) as 'init' | 'join' | 'join-control-plane') }));
  return kubeadmConfigEndpointProblems(cluster, configs);
}
