/**
 * ds=nocloud-net: the PXE tree's nocloud/<node>/ served by the real farm server, fetched the way
 * CentOS 7's cloud-init 19.4 fetches a URL seed (util.read_seeded: `<seed>meta-data` and
 * `<seed>user-data`, nothing else; network-config is never fetched), and what it got fed to Debian's
 * cloud-init code along 19.4's DataSourceNoCloud path: meta-data (yaml) → `network-interfaces` →
 * eni.convert_eni_data → network_state → sysconfig renderer (rhel). The ifcfg must carry the node's
 * static address, and be the one the cidata seed's network-config gives. The cidata files stay as
 * they were. On CentOS 7 that network is rendered but not brought up (RHEL's renderer returns no
 * devices) and not rewritten at later boots, so a cloud image that netboots takes its network from
 * the kernel command line: cloud-image/<node>.cmdline's `network-config=` is decoded by Debian's
 * cloud-init (net/cmdline.py read_kernel_cmdline_config, the function 19.4 calls first) and rendered
 * to the node's ifcfg. Facts and sources: test/reference/cloud-init-centos7.md, section 3b.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import type { Cluster } from '../../src/config/index.js';
import type { Secrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { eniText, renderCloudInit } from '../../src/cloudinit/index.js';
import { CLOUD_IMAGE_ARGS_MAX, renderPxe } from '../../src/pxe/index.js';
import { startFarmServer } from '../../src/serve/server.js';
import { parseIfcfg, renderNetworkConfigToIfcfg } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { labAndHa } from '../render/fixtures.js';

let cluster: Cluster;
let secrets: Secrets;
before(async () => {
  const f = await labAndHa();
  // The HA farm with MACs (PXE needs them), a search domain, two DNS servers on one node and no
  // interface name on another (cloud-init then names the NIC with that MAC eth0).
  cluster = {
    ...f.ha,
    searchDomain: 'k8s.example.com',
    nodes: f.ha.nodes.map((n, i) => ({ ...n, mac: `52:54:00:00:01:${(16 + i).toString(16)}`, ...(i === 0 ? { dns: ['10.0.0.2', '10.0.0.3'] } : {}), ...(i === 3 ? { interface: undefined } : {}) })),
  };
  secrets = f.haSecrets;
});

/**
 * 19.4's fetch, in python: util.read_seeded(base) builds "%s%s%s" % (base, "meta-data", ext) and the
 * same for "user-data" (no "%s" in our base), reads both (read_file_or_url), loads meta-data with
 * load_yaml (yaml.safe_load). Then DataSourceNoCloud: _network_eni = metadata.get('network-interfaces'),
 * network_config = eni.convert_eni_data(_network_eni). The request comes from the node's address.
 */

/** Python: the network state `ns` rendered by cloud-init's sysconfig renderer (RHEL's settings) under req["target"]. */
const RENDER_SYSCONFIG = `try:
    from cloudinit.distros.rhel import Distro
    rcfg = dict(Distro.renderer_configs["sysconfig"])
except Exception:
    rcfg = {"control": "etc/sysconfig/network", "iface_templates": "%(base)s/network-scripts/ifcfg-%(name)s",
            "route_templates": {"ipv4": "%(base)s/network-scripts/route-%(name)s", "ipv6": "%(base)s/network-scripts/route6-%(name)s"}}
sysconfig.Renderer(config=rcfg).render_network_state(ns, target=req["target"])`;

const FETCH_AND_RENDER_PY = String.raw`
import sys, json, http.client, urllib.parse
import yaml
from cloudinit.net import eni, sysconfig
from cloudinit.net.network_state import parse_net_config_data
req = json.load(sys.stdin)
base = req["seed"]
def get(url):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5, source_address=(req["from"], 0))
    c.request("GET", u.path)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit("%s: %d %s" % (url, r.status, body))
    return body
md_url = "%s%s%s" % (base, "meta-data", "")
ud_url = "%s%s%s" % (base, "user-data", "")
md = yaml.safe_load(get(md_url).decode("utf-8"))
ud = get(ud_url)
netcfg = eni.convert_eni_data(md["network-interfaces"])
ns = parse_net_config_data(netcfg, skip_broken=False)
${RENDER_SYSCONFIG}
print(json.dumps({"netcfg": netcfg, "instance_id": md.get("instance-id"), "user_data_first_line": ud.decode("utf-8").split("\n")[0]}))
`;

/** Run python with `input` on stdin, asynchronously: the farm server answering it lives in this process. */
function py(python: string, script: string, input: object, cwd?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(python, ['-I', '-c', script], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(JSON.stringify(input));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  return new Promise((resolve) => child.on('close', (status) => (clearTimeout(timer), resolve({ status, stdout, stderr }))));
}

test("19.4's URL fetch (meta-data and user-data only) gives each PXE node its static address through meta-data's network-interfaces", async (t) => {
  const python = requireTool('/usr/bin/python3');
  const base = tempDir('k8s-image-nocloud-net-');
  const tree = join(base, 'tree');
  const { artifacts } = renderPxe(cluster, secrets, { server: '10.0.1.1:8080', kernelArgs: [] }, tree);
  for (const a of artifacts) {
    mkdirSync(dirname(join(tree, a.path)), { recursive: true });
    writeFileSync(join(tree, a.path), a.bytes);
  }
  // The real farm server; each node's reserved address is a loopback one here, so the nocloud/<node>/
  // files (secrets: user-data holds the token) go only to the request from that address.
  const loop = (i: number) => `127.0.0.${20 + i}`;
  const index = JSON.parse(readFileSync(join(tree, 'pxe.json'), 'utf8')) as { cluster: string; nodes: { name: string; role: string; ip: string }[] };
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  const farm = await startFarmServer({ dir: tree, stateDir: join(base, 'state'), log: () => undefined, index: { cluster: index.cluster, nodes: index.nodes.map((n, i) => ({ ...n, ip: loop(i) })), keys } }, { host: '127.0.0.1', port: 0 });
  t.after(() => farm.close());
  const asked: string[] = [];
  farm.server.on('request', (req) => asked.push(req.url ?? ''));
  const port = (farm.server.address() as AddressInfo).port;

  for (const [i, node] of cluster.nodes.entries()) {
    const plan = planNode({ ...cluster, status: { url: 'http://10.0.1.1:8080' } }, secrets, node.name);
    const target = tempDir('k8s-image-nocloud-root-');
    asked.length = 0;
    const seed = `http://127.0.0.1:${port}/nocloud/${node.name}/`;
    const r = await py(python, FETCH_AND_RENDER_PY, { seed, from: loop(i), target }, target);
    assert.equal(r.status, 0, `${node.name}: ${r.stderr}`);
    assert.deepEqual(asked, [`/nocloud/${node.name}/meta-data`, `/nocloud/${node.name}/user-data`], 'what 19.4 fetches, in its order');
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { instance_id: string; user_data_first_line: string; netcfg: { config: { name: string; mac_address?: string }[] } };
    assert.equal(got.instance_id, plan.instanceId);
    assert.equal(got.user_data_first_line, '#cloud-config');

    const dir = join(target, 'etc/sysconfig/network-scripts');
    const name = node.interface ?? 'eth0';
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('ifcfg-')), [`ifcfg-${name}`]);
    const ifcfg = parseIfcfg(readFileSync(join(dir, `ifcfg-${name}`), 'utf8'));
    assert.equal(ifcfg.DEVICE, name);
    assert.equal(ifcfg.BOOTPROTO, 'none', 'static: not DHCP');
    assert.equal(ifcfg.ONBOOT, 'yes', '`auto` made it control: auto');
    assert.equal(ifcfg.IPADDR, node.ip);
    assert.ok(ifcfg.PREFIX === String(node.prefix) || ifcfg.NETMASK === plan.network.netmask, JSON.stringify(ifcfg));
    assert.equal(ifcfg.GATEWAY, node.gateway);
    assert.deepEqual([ifcfg.DNS1, ifcfg.DNS2, ifcfg.DNS3].filter(Boolean), node.dns);
    assert.equal(ifcfg.DOMAIN, 'k8s.example.com');
    // cloud-init matches (and renames) the NIC by this MAC.
    assert.equal(ifcfg.HWADDR?.toLowerCase(), node.mac);

    // The same ifcfg as the cidata seed's network-config gives (both through Debian's renderer).
    const cidata = await renderNetworkConfigToIfcfg(Buffer.from(renderCloudInit(plan).find((a) => a.path === 'cloud-init/network-config')!.bytes).toString('utf8'));
    assert.deepEqual(parseIfcfg(readFileSync(join(dir, `ifcfg-${name}`), 'utf8')), parseIfcfg(cidata[`etc/sysconfig/network-scripts/ifcfg-${name}`]!), `${node.name}: ENI and network-config agree`);
  }
  // Another machine's address gets none of it.
  const other = await py(python, FETCH_AND_RENDER_PY, { seed: `http://127.0.0.1:${port}/nocloud/${cluster.nodes[0]!.name}/`, from: loop(1), target: tempDir('k8s-image-nocloud-root-') });
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /403/);
});

test('the cidata seed is unchanged (no network-interfaces); the URL seed adds only that key, the rest byte-identical', () => {
  for (const node of cluster.nodes) {
    const plan = planNode(cluster, secrets, node.name);
    const cidata = renderCloudInit(plan);
    const net = renderCloudInit(plan, { seed: 'nocloud-net' });
    assert.deepEqual(net.map((a) => a.path), cidata.map((a) => a.path));
    for (const [i, a] of cidata.entries()) {
      if (a.path === 'cloud-init/meta-data') continue;
      assert.deepEqual(Buffer.from(net[i]!.bytes), Buffer.from(a.bytes), a.path);
    }
    const md = (p: typeof cidata) => yaml.load(Buffer.from(p.find((a) => a.path === 'cloud-init/meta-data')!.bytes).toString('utf8')) as Record<string, string>;
    assert.deepEqual(md(cidata), { 'instance-id': plan.instanceId, 'local-hostname': node.name });
    assert.deepEqual(md(net), { ...md(cidata), 'network-interfaces': eniText(plan) });
    // 19.4's parser splits each line on single spaces: no doubled ones in an option line.
    for (const line of eniText(plan).split('\n')) assert.doesNotMatch(line.trim(), / {2}/);
  }
});

/**
 * The kernel command line as a netbooted cloud image gets it, read by Debian's cloud-init: its
 * read_kernel_cmdline_config (19.4's: split on whitespace, the last `network-config=` token,
 * base64-decoded, gunzipped when gzip, load_yaml), then network_state and the sysconfig renderer.
 */
const CMDLINE_RENDER_PY = String.raw`
import sys, json, base64, gzip
from cloudinit.net import cmdline, sysconfig
from cloudinit.net.network_state import parse_net_config_data
req = json.load(sys.stdin)
cfg = cmdline.read_kernel_cmdline_config(cmdline=req["cmdline"])
ns = parse_net_config_data(cfg, skip_broken=False)
${RENDER_SYSCONFIG}
tok = [t for t in req["cmdline"].split() if t.startswith("network-config=")][-1].split("=", 1)[1]
blob = base64.b64decode(tok)
print(json.dumps({"cfg": cfg, "header": list(blob[:10]), "yaml": gzip.decompress(blob).decode("utf-8")}))
`;

test("a netbooted cloud image's kernel arguments (cloud-image/<node>.cmdline, pxe.json) carry its static network: Debian's cloud-init decodes network-config= to the node's ifcfg", async () => {
  const python = requireTool('/usr/bin/python3');
  const server = '10.0.1.1:8080';
  const render = () => renderPxe(cluster, secrets, { server, kernelArgs: [] }, '/srv/tree');
  const { artifacts, tooLong } = render();
  assert.deepEqual(tooLong, []);
  const again = render().artifacts;
  const index = JSON.parse(Buffer.from(artifacts.find((a) => a.path === 'pxe.json')!.bytes).toString('utf8')) as { nodes: { name: string; cloudImageCmdline: string }[] };
  for (const node of cluster.nodes) {
    const plan = planNode({ ...cluster, status: { url: `http://${server}` } }, secrets, node.name);
    const file = artifacts.find((a) => a.path === `cloud-image/${node.name}.cmdline`);
    assert.ok(file, `cloud-image/${node.name}.cmdline`);
    assert.equal(file.mode, 0o644, 'no secret: the daemons and the user read it');
    assert.ok(!file.secret);
    assert.deepEqual(Buffer.from(again.find((a) => a.path === file.path)!.bytes), Buffer.from(file.bytes), 'byte-identical across runs (deterministic gzip)');
    const text = Buffer.from(file.bytes).toString('utf8');
    assert.match(text, /^[^\n]+\n$/, 'one line');
    const line = text.trim();
    assert.equal(index.nodes.find((n) => n.name === node.name)!.cloudImageCmdline, line, 'pxe.json says the same');
    const words = line.split(' ');
    assert.equal(words[0], `ds=nocloud-net;s=http://${server}/nocloud/${node.name}/`, 'the NoCloud URL seed');
    assert.match(words[1]!, /^network-config=[A-Za-z0-9+/]+=*$/);
    assert.ok(Buffer.byteLength(line) <= CLOUD_IMAGE_ARGS_MAX, `${Buffer.byteLength(line)} bytes`);

    const target = tempDir('k8s-image-cmdline-root-');
    const r = await py(python, CMDLINE_RENDER_PY, { cmdline: `BOOT_IMAGE=/vmlinuz root=LABEL=root ro console=ttyS0 ${line}`, target }, target);
    assert.equal(r.status, 0, `${node.name}: ${r.stderr}`);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { header: number[]; yaml: string };
    // gzip (1f 8b, deflate), no name or other flags, mtime 0, OS byte 3: nothing that changes between runs.
    assert.deepEqual(got.header.slice(0, 8), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    assert.equal(got.header[9], 3);
    const networkConfig = Buffer.from(renderCloudInit(plan, { seed: 'nocloud-net' }).find((a) => a.path === 'cloud-init/network-config')!.bytes).toString('utf8');
    assert.equal(got.yaml, networkConfig, "the node's v1 network-config, exactly");

    const dir = join(target, 'etc/sysconfig/network-scripts');
    const name = node.interface ?? 'eth0';
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('ifcfg-')), [`ifcfg-${name}`]);
    const ifcfg = parseIfcfg(readFileSync(join(dir, `ifcfg-${name}`), 'utf8'));
    assert.equal(ifcfg.BOOTPROTO, 'none', 'static: not DHCP');
    assert.equal(ifcfg.ONBOOT, 'yes');
    assert.equal(ifcfg.IPADDR, node.ip);
    assert.ok(ifcfg.PREFIX === String(node.prefix) || ifcfg.NETMASK === plan.network.netmask, JSON.stringify(ifcfg));
    assert.equal(ifcfg.GATEWAY, node.gateway);
    assert.deepEqual([ifcfg.DNS1, ifcfg.DNS2, ifcfg.DNS3].filter(Boolean), node.dns);
    assert.equal(ifcfg.DOMAIN, 'k8s.example.com');
    assert.equal(ifcfg.HWADDR?.toLowerCase(), node.mac);
  }
});

test('kernel arguments longer than a safe share of the 2048-byte command line are reported per node, not written silently', () => {
  // A search domain no gzip can shrink much: random labels.
  const label = () => `a${Math.random().toString(36).slice(2, 12)}${Math.random().toString(36).slice(2, 12)}`;
  const search = Array.from({ length: 80 }, label).join('.');
  const big = { ...cluster, searchDomain: search };
  const { tooLong } = renderPxe(big, secrets, { server: '10.0.1.1:8080', kernelArgs: [] }, '/srv/tree');
  assert.equal(tooLong.length, cluster.nodes.length);
  assert.match(tooLong[0]!.reason, new RegExp(`kernel arguments .* are \\d+ bytes, more than ${CLOUD_IMAGE_ARGS_MAX} \\(half of the x86 kernel's 2048-byte command line`));
});
