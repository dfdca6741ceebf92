import yaml from 'js-yaml';
import type { Artifact } from '../artifact.js';
import { sharedBytes, textArtifact } from '../artifact.js';
import type { NodePlan } from '../plan/index.js';
import { readAsset } from '../assets.js';
import { renderTemplate } from '../template.js';
import { VOLUME_LABELS } from '../plan/index.js';

/**
 * Why a cidata seed cannot work for this node, or undefined. cloud-init matches (and renames) a NIC
 * only by MAC; a v1 entry with a name alone works only when the image calls the NIC that, so the
 * name must come from the user, not from a guess (GenericCloud says eth0, VMware ens33 or ens192).
 */
export function cidataNicProblem(plan: Pick<NodePlan, 'network'>): string | undefined {
  if (plan.network.mac || plan.network.device) return undefined;
  return 'has neither a MAC address nor an interface name, so cloud-init cannot tell which NIC gets its static address (it matches NICs only by MAC)';
}

const dump = (doc: object) => yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });

/**
 * js-yaml's text of one write_files item, as it appears inside the full document. Most files are the
 * same on every node of a farm (scripts, units, repo files): each distinct one is dumped once per
 * process. test/cloudinit/userdata.test.ts checks the assembled text equals one dump of the whole.
 */
const itemCache = new Map<string, Map<string, string>>();
function writeFilesItem(item: WriteFilesItem): string {
  // Keyed by the content string first: a farm's shared scripts are the same string objects, whose
  // hash V8 keeps, where a key built by concatenation was a new 40 KB string to hash for every node.
  let byContent = itemCache.get(item.content);
  if (byContent === undefined) {
    if (itemCache.size >= 4096) itemCache.clear();
    itemCache.set(item.content, (byContent = new Map()));
  }
  const key = `${item.path}\0${item.owner}\0${item.permissions}`;
  let text = byContent.get(key);
  if (text === undefined) byContent.set(key, (text = dump({ write_files: [item] }).slice('write_files:\n'.length)));
  return text;
}

interface WriteFilesItem {
  path: string;
  owner: string;
  permissions: string;
  content: string;
}

/** The user-data document in pieces (one js-yaml dump of it, joined); big shared items come encoded. */
function userDataPieces(doc: Record<string, unknown>): (string | Uint8Array)[] {
  const keys = Object.keys(doc);
  const at = keys.indexOf('write_files');
  const items = doc.write_files as WriteFilesItem[] | undefined;
  if (at < 0 || !items || items.length === 0) return [dump(doc)];
  const part = (ks: string[]) => (ks.length ? dump(Object.fromEntries(ks.map((k) => [k, doc[k]]))) : '');
  const texts = items.map(writeFilesItem).map((t) => (t.length >= 4096 ? sharedBytes(t) : t));
  return [part(keys.slice(0, at)), 'write_files:\n', ...texts, part(keys.slice(at + 1))];
}

/** The user-data document's text: one js-yaml dump, assembled from cached pieces (same bytes). */
export function dumpUserData(doc: Record<string, unknown>): string {
  return userDataPieces(doc)
    .map((p) => (typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8')))
    .join('');
}

export interface CloudInitOptions {
  /**
   * How the seed reaches cloud-init. `cidata` (default): a local seed (ISO, seed dir), whose
   * network-config cloud-init reads. `nocloud-net`: fetched from a URL (`ds=nocloud-net;s=URL/`),
   * where CentOS 7's cloud-init 19.4 fetches only meta-data and user-data (util.read_seeded), never
   * network-config: the static address then also travels in meta-data's `network-interfaces`
   * (ENI text, which DataSourceNoCloud converts with eni.convert_eni_data). On CentOS 7 that is
   * rendered but never brought up (RHEL's renderer returns no devices to ifup) and later boots write
   * the DHCP fallback: a netbooted image takes its network from the kernel command line instead
   * (`network-config=`, src/pxe cloudImageArgs). See test/reference/cloud-init-centos7.md, section 3b.
   */
  seed?: 'cidata' | 'nocloud-net';
}

/**
 * The node's static network as ENI (interfaces(5)) text, as 19.4's eni parser reads it: one option
 * per line, single spaces (it splits on ' '), `auto` (else the subnet is `control: manual`: ONBOOT=no),
 * `hwaddress ether` (cloud-init matches and renames the NIC by it). 19.4's conversion keeps address,
 * netmask, gateway, broadcast, dns-nameservers, dns-search and hwaddress only (no mtu, routes, bonds,
 * bridges or vlans: every interface becomes a physical one), which is all a node's plan has.
 */
export function eniText(plan: Pick<NodePlan, 'network'>): string {
  const n = plan.network;
  const name = n.device ?? 'eth0';
  const lines = [`auto ${name}`, `iface ${name} inet static`];
  if (n.mac) lines.push(`    hwaddress ether ${n.mac}`);
  lines.push(`    address ${n.ip}`, `    netmask ${n.netmask}`, `    gateway ${n.gateway}`);
  if (n.dns.length) lines.push(`    dns-nameservers ${n.dns.join(' ')}`);
  if (n.search) lines.push(`    dns-search ${n.search}`);
  return `${lines.join('\n')}\n`;
}

let skeleton: [string, unknown][] | undefined;

/** cloud-init/user-data.yaml: the document's keys in order; null where the node's plan fills it in. */
function userDataSkeleton(): [string, unknown][] {
  skeleton ??= Object.entries(yaml.load(readAsset('cloud-init/user-data.yaml')) as Record<string, unknown>);
  return skeleton;
}

/** The fixed values' one placeholder, `{{installScript}}`, in the strings of a (nested) value. */
function fillFixed(value: unknown, installScript: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{{installScript}}', installScript);
  if (Array.isArray(value)) return value.map((v) => fillFixed(v, installScript));
  return value;
}

/**
 * The user-data document: the skeleton's keys in its order, the node's values where it has `~`
 * (a key the plan has nothing for is left out), its own values elsewhere.
 */
function userDataDocument(node: Record<string, unknown>, installScript: string): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [key, fixed] of userDataSkeleton()) {
    if (fixed !== null) doc[key] = fillFixed(fixed, installScript);
    else if (!(key in node)) throw new Error(`cloud-init/user-data.yaml: the renderer has no value for ${key}`);
    else if (node[key] !== undefined) doc[key] = node[key];
  }
  const unplaced = Object.keys(node).filter((k) => !(k in doc) && node[k] !== undefined);
  if (unplaced.length) throw new Error(`cloud-init/user-data.yaml has no place (~) for ${unplaced.join(', ')}`);
  return doc;
}

/**
 * The network-config v1 items (cloud-init-centos7.md §4): one `physical` per NIC (matched and
 * renamed by MAC), `bond` (bond_interfaces, params as bond-* keys: BONDING_OPTS), `vlan`
 * (vlan_link, vlan_id: VLAN=yes, PHYSDEV). Static routes go under the subnet of the device whose
 * gateway they use: 19.4's sysconfig renderer writes route-<dev> only from subnets[].routes and
 * drops top-level `route` items.
 */
function networkConfigItems(plan: NodePlan, k8sSubnet: Record<string, unknown>): Record<string, unknown>[] {
  const n = plan.network;
  if (!n.devices) {
    // With only the MAC known, cloud-init names that NIC eth0 (GenericCloud's own name for it).
    const physical: Record<string, unknown> = { type: 'physical', name: n.device ?? 'eth0' };
    if (n.mac) physical.mac_address = n.mac;
    if (n.mtu !== undefined) physical.mtu = n.mtu;
    physical.subnets = [k8sSubnet];
    return [physical];
  }
  return n.devices.map((d) => {
    const item: Record<string, unknown> = { type: d.kind, name: d.name };
    if (d.mac) item.mac_address = d.mac;
    if (d.kind === 'bond') {
      item.bond_interfaces = d.members;
      item.params = Object.fromEntries(d.bondOptions!.map(([k, v]) => [`bond-${k.replaceAll('_', '-')}`, /^[0-9]+$/.test(v) ? Number(v) : v]));
    }
    if (d.kind === 'vlan') {
      item.vlan_link = d.link;
      item.vlan_id = d.vlanId;
    }
    if (d.mtu !== undefined) item.mtu = d.mtu;
    const routes = d.routes.map((r) => ({ network: r.network, netmask: r.netmask, gateway: r.gateway, ...(r.metric !== undefined ? { metric: r.metric } : {}) }));
    if (d.kubernetes) item.subnets = [{ ...k8sSubnet, ...(routes.length ? { routes } : {}) }];
    else if (d.address) item.subnets = [{ type: 'static', address: `${d.address.ip}/${d.address.prefix}`, ...(routes.length ? { routes } : {}) }];
    // A bond member or a VLAN's parent: no address, brought up by what sits on it.
    else item.subnets = [];
    return item;
  });
}

/**
 * cc_disk_setup's fs_setup and cc_mounts' mounts for the volumes on disks of their own
 * (cloud-init-centos7.md §2: 19.4's keys). A volume on the OS disk is the installer's alone: an
 * installed clone keeps its image's layout (config warns). No partition table: the filesystem takes
 * the whole disk (`partition: none`), and an existing one is kept (`overwrite: false`).
 */
function volumeSetup(plan: NodePlan): { fs_setup?: unknown; mounts?: unknown } {
  const own = (plan.storage?.volumes ?? []).filter((v) => v.disk);
  if (!own.length) return { fs_setup: undefined, mounts: undefined };
  const dev = (d: string) => (d.startsWith('/dev/') ? d : `/dev/${d}`);
  return {
    fs_setup: own.map((v) => ({ label: VOLUME_LABELS[v.use], filesystem: 'xfs', device: dev(v.disk!), partition: 'none', overwrite: false })),
    mounts: own.map((v) => [`LABEL=${VOLUME_LABELS[v.use]}`, v.mount, 'xfs', 'defaults,nofail', '0', '2']),
  };
}

/**
 * NoCloud seed files for the node: user-data (#cloud-config, its fixed text in cloud-init/),
 * meta-data, network-config (v1). A `nocloud-net` seed also carries the network in meta-data (see
 * CloudInitOptions).
 */
export function renderCloudInit(plan: NodePlan, opts: CloudInitOptions = {}): Artifact[] {
  const hasSecret = plan.files.some((f) => f.secret);
  const root: Record<string, unknown> = { name: 'root', lock_passwd: !plan.rootPasswordHash };
  if (plan.rootPasswordHash) root.hashed_passwd = plan.rootPasswordHash;
  if (plan.sshAuthorizedKeys.length) root.ssh_authorized_keys = plan.sshAuthorizedKeys;
  const userData = userDataDocument(
    {
      hostname: plan.hostname,
      fqdn: plan.fqdn || undefined,
      timezone: plan.timezone,
      ssh_pwauth: plan.sshAuthorizedKeys.length === 0,
      users: [root],
      ...volumeSetup(plan),
      write_files: plan.files.map((f) => ({
        path: f.path,
        owner: 'root:root',
        permissions: `0${f.mode.toString(8)}`,
        content: f.content,
      })),
    },
    plan.installScript,
  );
  const header = renderTemplate('cloud-init/header.mustache', { hostname: plan.hostname, role: plan.role, cluster: plan.cluster, secret: hasSecret });
  const userDataText = [header, ...userDataPieces(userData)];
  const n = plan.network;
  const subnet: Record<string, unknown> = { type: 'static', address: `${n.ip}/${n.prefix}`, gateway: n.gateway, dns_nameservers: n.dns };
  if (n.search) subnet.dns_search = [n.search];
  const problem = cidataNicProblem(plan);
  if (problem) throw new Error(`${plan.hostname} ${problem}: the command layer must not render its cloud-init files`);
  const networkConfig = dump({ version: 1, config: networkConfigItems(plan, subnet) });
  const metaData = dump({
    'instance-id': plan.instanceId,
    'local-hostname': plan.hostname,
    // Used by 19.4 only when no network-config was read (a URL seed); the same network as network-config.
    // ENI cannot carry bonds or VLANs through 19.4's conversion (every interface becomes physical):
    // a node with devices has its network only from network-config (a netbooted image: network-config=).
    ...(opts.seed === 'nocloud-net' && !plan.network.devices ? { 'network-interfaces': eniText(plan) } : {}),
  });
  return [
    textArtifact('cloud-init/user-data', userDataText, hasSecret),
    textArtifact('cloud-init/meta-data', metaData),
    textArtifact('cloud-init/network-config', networkConfig),
  ];
}
