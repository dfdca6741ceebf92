import type { ClusterFile } from './schema.js';
import type { LinkAddress, NodeKubernetes, NodeLinks } from './types.js';
import { contains, formatCidr, ipToInt, isAligned, networkOf, parseCidr, type Cidr } from './net.js';

type NodeIn = ClusterFile['nodes'][number];

/** The bonding driver's option names (modinfo bonding; what BONDING_OPTS, bond= and --bondopts take). */
const BOND_OPTION_NAMES = { miimon: 'miimon', lacpRate: 'lacp_rate', xmitHashPolicy: 'xmit_hash_policy', primary: 'primary' } as const;

function address(text: string | undefined, defaultPrefix: number): LinkAddress | undefined {
  if (text === undefined) return undefined;
  const [ip, slash] = text.split('/');
  return { ip: ip!, prefix: slash !== undefined ? Number(slash) : defaultPrefix };
}

const subnetOf = (a: LinkAddress): Cidr => ({ network: networkOf(ipToInt(a.ip), a.prefix), prefix: a.prefix });

/**
 * A node's NICs, bonds, VLANs and routes, checked as one graph: every name once, bond members are
 * NICs that carry nothing themselves, a VLAN sits on a NIC or a bond, and one device (named by
 * kubernetesInterface, or the only one left that could) holds the Kubernetes address `ip`.
 * Returns undefined when the node declares none of them (its one NIC, as before).
 */
export function resolveLinks(
  n: NodeIn,
  i: number,
  ip: string,
  prefix: number,
  defaultPrefix: number,
  errors: string[],
): { links: NodeLinks; interface: string; mac?: string } | undefined {
  const at = `nodes[${i}]`;
  if (!n.interfaces && !n.bonds && !n.vlans && !n.routes && !n.kubernetesInterface) return undefined;
  if (!n.interfaces) {
    errors.push(`${at}.interfaces: missing: bonds, vlans, routes and kubernetesInterface need the node's NICs listed (name and mac of each) in ${at}.interfaces`);
    return undefined;
  }
  if (n.interface !== undefined) errors.push(`${at}.interface: with ${at}.interfaces, name the device that carries the node's address in ${at}.kubernetesInterface instead`);
  if (n.mtu !== undefined) errors.push(`${at}.mtu: with ${at}.interfaces, set mtu on the device itself (interfaces[], bonds[] or vlans[])`);
  const before = errors.length;
  const kinds = new Map<string, { kind: 'interface' | 'bond' | 'vlan'; field: string; mtu?: number; address?: LinkAddress }>();
  const claim = (name: string, kind: 'interface' | 'bond' | 'vlan', field: string, mtu?: number, addr?: LinkAddress) => {
    const first = kinds.get(name);
    if (first) errors.push(`${field}: "${name}" is already ${first.field}; each device needs its own name`);
    else kinds.set(name, { kind, field, mtu, address: addr });
  };
  const links: NodeLinks = { interfaces: [], bonds: [], vlans: [], routes: [] };
  const macs = new Map<string, number>();
  n.interfaces.forEach((nic, j) => {
    const field = `${at}.interfaces[${j}]`;
    const mac = nic.mac?.toLowerCase();
    if (mac !== undefined) {
      if (macs.has(mac)) errors.push(`${field}.mac: "${mac}" is already ${at}.interfaces[${macs.get(mac)}]'s; each NIC has its own MAC`);
      macs.set(mac, j);
    }
    const a = address(nic.ip, defaultPrefix);
    claim(nic.name, 'interface', `${field}.name`, nic.mtu, a);
    links.interfaces.push({ name: nic.name, mac, mtu: nic.mtu, address: a });
  });
  const members = new Map<string, string>();
  (n.bonds ?? []).forEach((b, j) => {
    const field = `${at}.bonds[${j}]`;
    const a = address(b.ip, defaultPrefix);
    claim(b.name, 'bond', `${field}.name`, b.mtu, a);
    b.interfaces.forEach((m, k) => {
      const dev = kinds.get(m);
      if (!dev || dev.kind !== 'interface') errors.push(`${field}.interfaces[${k}]: "${m}" is not one of ${at}.interfaces (a bond joins NICs: ${n.interfaces!.map((x) => x.name).join(', ')})`);
      else if (members.has(m)) errors.push(`${field}.interfaces[${k}]: "${m}" is already a member of ${members.get(m)}; a NIC joins one bond`);
      else if (dev.address) errors.push(`${field}.interfaces[${k}]: "${m}" has its own ip; a bond member carries no address (put it on ${b.name})`);
      else if (dev.mtu !== undefined) errors.push(`${field}.interfaces[${k}]: "${m}" sets its own mtu; the bond's members take ${b.name}'s (set ${field}.mtu)`);
      else members.set(m, b.name);
    });
    if (b.primary !== undefined && !b.interfaces.includes(b.primary)) errors.push(`${field}.primary: "${b.primary}" is not one of this bond's interfaces (${b.interfaces.join(', ')})`);
    if (b.primary !== undefined && b.mode !== 'active-backup' && b.mode !== 'balance-tlb' && b.mode !== 'balance-alb') {
      errors.push(`${field}.primary: the bonding driver takes a primary only in active-backup, balance-tlb and balance-alb modes, not ${b.mode}`);
    }
    if ((b.lacpRate !== undefined) && b.mode !== '802.3ad') errors.push(`${field}.lacpRate: only 802.3ad (LACP) bonds have a LACP rate; this one is ${b.mode}`);
    if (b.xmitHashPolicy !== undefined && !['802.3ad', 'balance-xor', 'balance-tlb'].includes(b.mode)) errors.push(`${field}.xmitHashPolicy: only 802.3ad, balance-xor and balance-tlb bonds hash their traffic; this one is ${b.mode}`);
    const options: [string, string][] = [['mode', b.mode], ['miimon', String(b.miimon ?? 100)]];
    for (const key of ['lacpRate', 'xmitHashPolicy', 'primary'] as const) if (b[key] !== undefined) options.push([BOND_OPTION_NAMES[key], String(b[key])]);
    links.bonds.push({ name: b.name, interfaces: b.interfaces, options, mtu: b.mtu, address: a });
  });
  const vlanKeys = new Set<string>();
  (n.vlans ?? []).forEach((v, j) => {
    const field = `${at}.vlans[${j}]`;
    const name = v.name ?? `${v.link}.${v.id}`;
    // dracut 033 (get_vid) and initscripts take the VLAN id from the name, and cloud-init 19.4's sysconfig
    // renderer its parent (PHYSDEV = the name up to its last '.'; test/reference/cloud-init-centos7.md §5):
    // only <link>.<id> gives both. vlan<id> would make PHYSDEV vlan10 of vlan100.
    if (name !== `${v.link}.${v.id}`) errors.push(`${field}.name: "${name}" must be ${v.link}.${v.id} (or leave name out): dracut and CentOS 7's network scripts read the VLAN id from the name, and cloud-init 19.4 its parent device (the part before the last "."), so vlan${v.id} and other names are refused`);
    else if (name.length > 15) errors.push(`${field}: the VLAN's name ${name} is longer than the kernel's 15 characters; give ${v.link} a shorter name (a bond's name is yours to choose)`);
    const a = address(v.ip, defaultPrefix);
    const link = kinds.get(v.link);
    if (!link || link.kind === 'vlan') errors.push(`${field}.link: "${v.link}" is not one of this node's NICs or bonds (${[...kinds].filter(([, d]) => d.kind !== 'vlan').map(([k]) => k).join(', ')})`);
    else if (members.has(v.link)) errors.push(`${field}.link: "${v.link}" is a member of ${members.get(v.link)}; put the VLAN on ${members.get(v.link)}`);
    else if (v.mtu !== undefined && link.mtu !== undefined && v.mtu > link.mtu) errors.push(`${field}.mtu: ${v.mtu} is more than its link ${v.link}'s ${link.mtu}; a VLAN's frames must fit its link's`);
    else if (v.mtu !== undefined && link.mtu === undefined && v.mtu > 1500) errors.push(`${field}.mtu: ${v.mtu} is more than its link ${v.link}'s (1500 unless set); raise the link's mtu too`);
    if (vlanKeys.has(`${v.link}.${v.id}`)) errors.push(`${field}.id: VLAN ${v.id} is already on ${v.link}`);
    vlanKeys.add(`${v.link}.${v.id}`);
    claim(name, 'vlan', `${field}.name`, v.mtu, a);
    links.vlans.push({ name, id: v.id, link: v.link, mtu: v.mtu, address: a });
  });
  if (errors.length > before) return undefined;
  for (const nic of links.interfaces) {
    if (!members.has(nic.name) && !nic.mac) errors.push(`${at}.interfaces[${links.interfaces.indexOf(nic)}].mac: missing: a NIC outside a bond is matched by its MAC (cloud-init matches NICs only by MAC); give its MAC`);
  }
  // Which device carries the Kubernetes address: named, or the one device left that carries nothing else.
  const carriers = [...kinds].filter(([name, d]) => !d.address && !members.has(name) && !links.vlans.some((v) => v.link === name)).map(([name]) => name);
  let k8s = n.kubernetesInterface;
  if (k8s === undefined) {
    if (carriers.length !== 1) {
      errors.push(
        `${at}.kubernetesInterface: missing: ${carriers.length ? `${carriers.join(', ')} could each` : 'no device is left to'} carry the node's address ${ip}; name the NIC, bond or VLAN that does`,
      );
      return undefined;
    }
    k8s = carriers[0]!;
  } else if (!kinds.has(k8s)) {
    errors.push(`${at}.kubernetesInterface: "${k8s}" is not one of this node's devices (${[...kinds.keys()].join(', ')})`);
    return undefined;
  } else if (kinds.get(k8s)!.address) {
    errors.push(`${at}.kubernetesInterface: "${k8s}" has its own ip; the Kubernetes address is the node's ip (${ip}): drop the device's ip`);
    return undefined;
  } else if (links.vlans.some((v) => v.link === k8s)) {
    errors.push(`${at}.kubernetesInterface: "${k8s}" carries a VLAN; name the VLAN (${links.vlans.find((v) => v.link === k8s)!.name}) or drop it`);
    return undefined;
  } else if (members.has(k8s)) {
    errors.push(`${at}.kubernetesInterface: "${k8s}" is a member of ${members.get(k8s)}; name ${members.get(k8s)} (or a VLAN on it)`);
    return undefined;
  }
  // CentOS 7's kickstart describes a VLAN on the line of its parent (--device=<parent> --vlanid): a
  // second line for the same --device is a duplicate to pykickstart (RHEL7 network parse warns "A
  // network device with the name ... has already been defined"), so a parent carries one VLAN and no address.
  const vlanParents = new Map<string, number>();
  links.vlans.forEach((v, j) => {
    if (vlanParents.has(v.link)) errors.push(`${at}.vlans[${j}].link: ${v.link} already carries VLAN ${links.vlans[vlanParents.get(v.link)!]!.id}; CentOS 7's kickstart describes a VLAN on its parent's one network line, so each NIC or bond carries one VLAN`);
    else vlanParents.set(v.link, j);
    const parent = kinds.get(v.link);
    if (parent?.address) errors.push(`${at}.vlans[${j}].link: ${v.link} has its own ip; a NIC or bond carrying a VLAN carries no address itself (CentOS 7's kickstart has one network line per parent): put the address on a VLAN`);
  });
  for (const [name, d] of kinds) {
    const used = name === k8s || d.address || members.has(name) || links.vlans.some((v) => v.link === name);
    if (!used) errors.push(`${d.field}: "${name}" carries nothing (no ip, no VLAN, not in a bond, not the kubernetesInterface); give it an ip or leave it out`);
  }
  // Each address on its own subnet, none the node's Kubernetes one: the kernel would pick either for a reply.
  const nets: { name: string; net: Cidr; addr: LinkAddress }[] = [{ name: k8s, net: subnetOf({ ip, prefix }), addr: { ip, prefix } }];
  for (const [name, d] of kinds) {
    if (!d.address) continue;
    const net = subnetOf(d.address);
    const clash = nets.find((o) => contains(o.net, ipToInt(d.address!.ip)) || contains(net, ipToInt(o.addr.ip)));
    if (clash) errors.push(`${d.field.replace(/\.name$/, '.ip')}: ${d.address.ip}/${d.address.prefix} is on the subnet of ${clash.name} (${formatCidr(clash.net)}); each device of a node needs its own subnet`);
    else if (d.address.ip === ip) errors.push(`${d.field.replace(/\.name$/, '.ip')}: ${d.address.ip} is the node's own Kubernetes address`);
    nets.push({ name, net, addr: d.address });
  }
  (n.routes ?? []).forEach((r, j) => {
    const field = `${at}.routes[${j}]`;
    const to = parseCidr(r.to)!;
    if (!isAligned(to)) errors.push(`${field}.to: "${r.to}" has host bits set; did you mean ${formatCidr(to)}?`);
    else if (to.prefix === 0) errors.push(`${field}.to: the default route goes through the node's gateway (nodes[].gateway or network.gateway), not routes`);
    const dev = nets.find((o) => contains(o.net, ipToInt(r.via)));
    if (!dev) errors.push(`${field}.via: ${r.via} is on none of this node's subnets (${nets.map((o) => `${o.name} ${formatCidr(o.net)}`).join(', ')}); a route's gateway must be directly reachable`);
    else links.routes.push({ to: formatCidr(to), via: r.via, metric: r.metric, device: dev.name });
  });
  // The PXE NIC: the node's mac, or the first NIC under the Kubernetes device.
  const stack = (name: string): string[] => {
    const v = links.vlans.find((x) => x.name === name);
    if (v) return stack(v.link);
    const b = links.bonds.find((x) => x.name === name);
    if (b) return b.interfaces;
    return [name];
  };
  const under = stack(k8s);
  let mac = n.mac?.toLowerCase();
  if (mac !== undefined) {
    const nic = links.interfaces.find((x) => x.mac === mac);
    if (!nic) errors.push(`${at}.mac: "${mac}" is none of ${at}.interfaces' MACs; it names the NIC the node network-boots from: one of ${under.join(', ')}`);
    else if (!under.includes(nic.name)) errors.push(`${at}.mac: "${mac}" is ${nic.name}'s, which does not carry the Kubernetes device ${k8s}; the node installs over ${under.join(' or ')}`);
  } else {
    mac = under.map((name) => links.interfaces.find((x) => x.name === name)?.mac).find((m) => m !== undefined);
  }
  return { links, interface: k8s, mac };
}

/**
 * Labels the kubelet may set on its own Node (kubelet 1.16+ refuses to start with any other
 * --node-labels key in the kubernetes.io or k8s.io namespaces; NodeRestriction likewise).
 * Source: kubernetes pkg/kubelet/apis/well_known_labels.go (KubeletLabels, KubeletLabelNamespaces).
 */
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region', 'kubernetes.io/arch', 'kubernetes.io/os', 'node.kubernetes.io/instance-type',
  'beta.kubernetes.io/instance-type', 'beta.kubernetes.io/os', 'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

/** The problem with a label the kubelet would set, or undefined. */
export function labelProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  const prefix = key.slice(0, slash);
  if (prefix.length > 253) return 'its prefix is longer than 253 characters';
  const k8sNs = prefix === 'kubernetes.io' || prefix.endsWith('.kubernetes.io') || prefix === 'k8s.io' || prefix.endsWith('.k8s.io');
  if (!k8sNs || KUBELET_LABELS.has(key) || KUBELET_LABEL_NAMESPACES.some((ns) => prefix === ns || prefix.endsWith(`.${ns}`))) return undefined;
  if (prefix === 'node-role.kubernetes.io') {
    return 'the kubelet (1.16+) refuses to set node-role.kubernetes.io/* labels on its own node (kubeadm sets node-role.kubernetes.io/control-plane on masters itself); use your own prefix, like example.com/role, or label the node with kubectl after it joined';
  }
  return `the kubelet (1.16+) refuses --node-labels in the ${prefix} namespace except ${[...KUBELET_LABELS].join(', ')} and *.kubelet.kubernetes.io/*, *.node.kubernetes.io/*; use your own prefix, like example.com/...`;
}

/** Flags k8s-image sets itself (or that have their own field): a kubeletExtraArgs entry may not override them. */
const MANAGED_KUBELET_FLAGS: Record<string, string> = {
  'node-ip': 'the node ip comes from nodes[].ip',
  'node-labels': 'use labels',
  'register-with-taints': 'use taints',
  'hostname-override': 'the node name is nodes[].name',
  'cgroup-driver': 'k8s-image sets systemd to match the runtime',
  'container-runtime-endpoint': 'k8s-image sets it for cluster.runtime',
  'container-runtime': 'k8s-image sets it for cluster.runtime',
  // Written by kubeadm into /var/lib/kubelet/kubeadm-flags.env for the runtime k8s-image installs.
  'network-plugin': 'kubeadm sets it (cni) on 1.15-1.23; the kubelet has no such flag from 1.24',
  'pod-infra-container-image': 'kubeadm sets it from the cluster\'s pause image (the bundle and mirrors carry that one)',
  'cni-bin-dir': 'the CNI plugins are where kubernetes-cni installs them; the kubelet has no such flag from 1.24',
  'cni-conf-dir': 'the CNI manifest k8s-image applies writes /etc/cni/net.d; the kubelet has no such flag from 1.24',
  kubeconfig: 'kubeadm writes the kubelet\'s kubeconfig',
  'bootstrap-kubeconfig': 'kubeadm join writes it',
  config: 'kubeadm writes /var/lib/kubelet/config.yaml; use kubernetes.kubelet',
};

/**
 * Kubelet flags removed in a minor (the kubelet exits on an unknown flag): test/reference/kubelet-flags.md.
 * Only removals cited there; the kubelet's other flags are checked by name pattern only.
 */
const REMOVED_KUBELET_FLAGS: { minor: number; flags: string[]; why: string }[] = [
  {
    minor: 24,
    flags: ['experimental-dockershim-root-directory', 'docker-endpoint', 'image-pull-progress-deadline', 'network-plugin', 'cni-conf-dir', 'cni-bin-dir', 'cni-cache-dir', 'network-plugin-mtu'],
    why: 'removed with dockershim in 1.24 (kubernetes PR 106907)',
  },
];

type K8sIn = NonNullable<NodeIn['kubernetes']>;

/** The kubelet's image GC defaults (pkg/kubelet/apis/config/v1beta1 defaults: 85 and 80). */
export const IMAGE_GC_DEFAULTS = { high: 85, low: 80 } as const;
const GC_FLAGS = { high: 'image-gc-high-threshold', low: 'image-gc-low-threshold' } as const;

/**
 * The image GC thresholds a node's kubelet ends up with: kubernetes.kubelet (KubeletConfiguration), then
 * its flags, which override the file, then the defaults. The kubelet exits when low >= high
 * (pkg/kubelet/apis/config/validation/validation.go), so that is refused here, naming where each value came from.
 */
function checkImageGc(kubelet: { imageGCHighThresholdPercent?: number; imageGCLowThresholdPercent?: number }, args: Map<string, string>, argField: Map<string, string>, errors: string[]): void {
  if (!args.has(GC_FLAGS.high) && !args.has(GC_FLAGS.low)) return; // kubernetes.kubelet alone is checked once, for the cluster
  const eff = { high: 0, low: 0 };
  const from = { high: '', low: '' };
  for (const k of ['high', 'low'] as const) {
    const flag = args.get(GC_FLAGS[k]);
    const conf = k === 'high' ? kubelet.imageGCHighThresholdPercent : kubelet.imageGCLowThresholdPercent;
    if (flag !== undefined) {
      if (!/^[0-9]{1,3}$/.test(flag) || Number(flag) > 100) {
        errors.push(`${argField.get(GC_FLAGS[k])}.kubeletExtraArgs: "${GC_FLAGS[k]}" is "${flag}"; the kubelet takes a whole percentage 0-100 (better: kubernetes.kubelet.imageGC${k === 'high' ? 'High' : 'Low'}ThresholdPercent)`);
        return;
      }
      eff[k] = Number(flag);
      from[k] = `${GC_FLAGS[k]} ${flag} (${argField.get(GC_FLAGS[k])}.kubeletExtraArgs)`;
    } else if (conf !== undefined) {
      eff[k] = conf;
      from[k] = `imageGC${k === 'high' ? 'High' : 'Low'}ThresholdPercent ${conf} (kubernetes.kubelet)`;
    } else {
      eff[k] = IMAGE_GC_DEFAULTS[k];
      from[k] = `the kubelet's default ${k} threshold ${IMAGE_GC_DEFAULTS[k]}`;
    }
  }
  if (eff.low >= eff.high) {
    const field = argField.get(GC_FLAGS.high) ?? argField.get(GC_FLAGS.low);
    errors.push(
      `${field}.kubeletExtraArgs: the image GC thresholds end up low ${eff.low} >= high ${eff.high} (low: ${from.low}; high: ${from.high}); the kubelet refuses to start unless low is below high: set both, like imageGCHighThresholdPercent: 90 and imageGCLowThresholdPercent: 85 in kubernetes.kubelet`,
    );
  }
}

/** A node's labels, taints and kubelet flags: its role's (kubernetes.roles.<role>), then its own key by key. */
export function resolveNodeKubernetes(
  role: K8sIn | undefined,
  own: K8sIn | undefined,
  i: number,
  roleField: string,
  errors: string[],
  kubelet: { imageGCHighThresholdPercent?: number; imageGCLowThresholdPercent?: number } = {},
  minor?: number,
): NodeKubernetes {
  const labels = new Map<string, string>();
  const args = new Map<string, string>();
  const argField = new Map<string, string>();
  for (const [src, field] of [[role, roleField], [own, `nodes[${i}].kubernetes`]] as const) {
    for (const [k, v] of Object.entries(src?.labels ?? {})) {
      const p = labelProblem(k);
      if (p) errors.push(`${field}.labels: "${k}": ${p}`);
      labels.set(k, v as string);
    }
    for (const [k, v] of Object.entries(src?.kubeletExtraArgs ?? {})) {
      const removed = minor === undefined ? undefined : REMOVED_KUBELET_FLAGS.find((r) => minor >= r.minor && r.flags.includes(k));
      if (removed) errors.push(`${field}.kubeletExtraArgs: "${k}" is not a flag of the 1.${minor} kubelet (${removed.why}); the kubelet exits on an unknown flag: leave it out`);
      else if (Object.hasOwn(MANAGED_KUBELET_FLAGS, k)) errors.push(`${field}.kubeletExtraArgs: "${k}" is set by k8s-image (${MANAGED_KUBELET_FLAGS[k]})`);
      args.set(k, v as string);
      argField.set(k, field);
    }
  }
  checkImageGc(kubelet, args, argField, errors);
  const taints = own?.taints ?? role?.taints;
  const seen = new Set<string>();
  for (const t of taints ?? []) {
    if (seen.has(`${t.key}:${t.effect}`)) errors.push(`${own?.taints ? `nodes[${i}].kubernetes` : roleField}.taints: ${t.key}:${t.effect} is listed twice`);
    seen.add(`${t.key}:${t.effect}`);
  }
  return {
    labels: [...labels],
    taints: taints?.map((t) => ({ key: t.key, ...(t.value !== undefined && t.value !== '' ? { value: t.value } : {}), effect: t.effect })),
    kubeletExtraArgs: [...args],
  };
}
