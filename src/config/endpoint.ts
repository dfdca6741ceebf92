import type { ClusterFile } from './schema.js';
import type { Node } from './types.js';
import { IPV4 } from './patterns.js';
import { contains, formatCidr, ipToInt, networkOf } from './net.js';

/**
 * What `validate` (and every command that loads the config) proves about the control-plane endpoint
 * beyond its shape: a host kubeadm accepts as a certificate SAN, VRRP peers that can hand a virtual IP
 * to each other, a virtual IP nobody else uses, and no single master's address standing in for the
 * endpoint. Problems name the field (load.ts adds its line).
 */
export interface EndpointReport {
  errors: string[];
  /** Warnings that name a field: load.ts adds the line. */
  warnings: string[];
}

/**
 * kubeadm's ValidateCertSANs (cmd/kubeadm/app/apis/kubeadm/validation/validation.go): a SAN must be
 * an IP address or a DNS-1123 subdomain (test/reference/kubeadm-endpoint.json).
 */
export const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkEndpoint(f: ClusterFile, nodes: Node[], endpoint: { host: string; port: number } | undefined, r: EndpointReport): void {
  const given = f.cluster?.controlPlaneEndpoint;
  const masters = nodes.filter((n) => n.role === 'master');
  const lbs = nodes.map((n, i) => [n, i] as const).filter(([n]) => n.role === 'lb');
  if (endpoint && given && !IPV4.test(endpoint.host) && !DNS1123_SUBDOMAIN.test(endpoint.host)) {
    r.errors.push(
      `cluster.controlPlaneEndpoint: "${given}": kubeadm puts the host into the API server certificate, and "${endpoint.host}" is neither an IPv4 address nor a DNS name kubeadm accepts there (lowercase labels of a-z, 0-9 and -, not starting or ending with -, joined by dots); like k8s-api.example.com:6443`,
    );
  }
  if (endpoint && given && masters.length === 1 && endpoint.host === masters[0]!.ip) {
    const i = nodes.indexOf(masters[0]!);
    r.warnings.push(
      `cluster.controlPlaneEndpoint: "${given}" is the address of the only master (nodes[${i}], ${masters[0]!.name}); every kubeconfig and the API server certificate are tied to it, so a second master later means new certificates and kubeconfigs on every node; a DNS name (or loadBalancer.kind: local) avoids that`,
    );
  }
  const vip = f.loadBalancer?.virtualIP;
  if (vip && f.loadBalancer?.kind !== 'local') {
    // The address keepalived moves must be free: not a gateway, DNS server, the subnet's network or broadcast address.
    for (const [n, i] of lbs) {
      const net = networkOf(ipToInt(n.ip), n.prefix);
      const size = 2 ** (32 - n.prefix);
      if (n.prefix < 31 && contains({ network: net, prefix: n.prefix }, ipToInt(vip)) && (ipToInt(vip) === net || ipToInt(vip) === net + size - 1)) {
        r.errors.push(`loadBalancer.virtualIP: "${vip}" is the ${ipToInt(vip) === net ? 'network' : 'broadcast'} address of ${formatCidr({ network: net, prefix: n.prefix })}, the subnet of nodes[${i}] (${n.name}); pick a free host address in it`);
        break;
      }
    }
    const roles = new Set<string>();
    nodes.forEach((n, i) => {
      if (n.gateway === vip && !roles.has('gateway')) {
        roles.add('gateway');
        r.errors.push(`loadBalancer.virtualIP: "${vip}" is the gateway of nodes[${i}] (${n.name}); a virtual IP must be an address no machine holds`);
      }
      if (n.dns.includes(vip) && !roles.has('dns')) {
        roles.add('dns');
        r.errors.push(`loadBalancer.virtualIP: "${vip}" is a DNS server of nodes[${i}] (${n.name}); a virtual IP must be an address no machine holds`);
      }
    });
    // VRRP: the peers hand the address to each other on one link; on different subnets each would hold it.
    const [first] = lbs;
    if (first) {
      const firstNet = formatCidr({ network: networkOf(ipToInt(first[0].ip), first[0].prefix), prefix: first[0].prefix });
      for (const [n, i] of lbs.slice(1)) {
        const net = formatCidr({ network: networkOf(ipToInt(n.ip), n.prefix), prefix: n.prefix });
        if (net !== firstNet) {
          r.errors.push(
            `nodes[${i}].ip: "${n.ip}/${n.prefix}" puts lb node ${n.name} on ${net}, but ${first[0].name} (nodes[${first[1]}]) is on ${firstNet}; keepalived's VRRP peers must share one subnet to move loadBalancer.virtualIP ${vip} between them`,
          );
        }
      }
    }
    if (given && endpoint && IPV4.test(endpoint.host) && endpoint.host !== vip) {
      const lb = lbs.find(([n]) => n.ip === endpoint.host);
      if (lb) {
        r.warnings.push(
          `cluster.controlPlaneEndpoint: "${given}" is lb node ${lb[0].name}'s own address, not loadBalancer.virtualIP ${vip}: when ${lb[0].name} is down the cluster loses its endpoint although keepalived moved the virtual IP; use ${vip}:${endpoint.port}`,
        );
      }
    }
  }
}
