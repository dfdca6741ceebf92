import type { Cluster } from '../config/index.js';
import { DNS1123_SUBDOMAIN } from '../config/endpoint.js';
import { IPV4 } from '../config/patterns.js';
import { apiServerCertSANs, endpointText } from './kubeadm.js';

/**
 * The proof `validate` prints for the control-plane endpoint: how each node reaches it, and that the
 * API server certificate kubeadm will issue (apiServer.certSANs plus kubeadm's own) covers every name
 * and address a client uses: the endpoint host, the virtual IP, every master (a joining master and
 * the proxies dial them directly), and 127.0.0.1 where workers use their own proxy. Pure: the same
 * function the kubeadm config is rendered from gives the SANs.
 */
export interface EndpointProof {
  endpoint: string;
  mode: 'single master' | 'lb nodes' | 'virtual IP' | 'local proxies' | 'external';
  /** How the nodes reach the endpoint, one line each. */
  route: string[];
  sans: string[];
  /** What must be in the certificate, and why. */
  required: { value: string; why: string }[];
  /** Required values the SANs lack, or SANs kubeadm would refuse (ValidateCertSANs): empty when proven. */
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
