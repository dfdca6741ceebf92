// VMware guestinfo, read back by cloud-init's own VMware datasource (Debian's cloud-init 22.4, which
// has it; CentOS 7's 19.4 does not): its env-var transport takes the same keys and encodings as
// guestinfo, so the real decoding code turns our values back into the seed files.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/assets.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { defaultClusterYaml, loadCluster } from '../../src/config/index.js';
import { planNode } from '../../src/plan/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { guestinfoKeys, renderGuestinfo } from '../../src/vmware/index.js';
import { shellcheck } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const exec = promisify(execFile);
const { cluster } = loadCluster(undefined);
let secrets: Secrets;
before(async () => {
  secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: true });
});

const READ = `
import json, os, sys
from cloudinit import helpers
from cloudinit.sources.DataSourceVMware import DataSourceVMware
tmp = sys.argv[1]
paths = helpers.Paths({'cloud_dir': tmp, 'run_dir': tmp})
ds = DataSourceVMware({}, None, paths)
assert ds._get_data(), 'the VMware datasource found no data'
json.dump({'method': ds.data_access_method, 'userdata': ds.userdata_raw, 'metadata': ds.metadata}, sys.stdout)
`;

function seedOf(node: string) {
  const files = renderCloudInit(planNode(cluster, secrets, node));
  const get = (f: string) => files.find((a) => a.path === `cloud-init/${f}`)!.bytes;
  return { userData: get('user-data'), metaData: get('meta-data'), networkConfig: get('network-config') };
}

test("cloud-init's VMware datasource decodes the values back to the node's seed, byte for byte", () => {
  for (const node of ['master', 'node01']) {
    const seed = seedOf(node);
    const keys = guestinfoKeys(seed);
    // guestinfo.userdata -> VMX_GUESTINFO_USERDATA, the datasource's env transport.
    const env: Record<string, string> = { ...process.env, VMX_GUESTINFO: '1' } as Record<string, string>;
    for (const [k, v] of Object.entries(keys)) env[`VMX_${k.toUpperCase().replaceAll('.', '_')}`] = v;
    const r = spawnSync(requireTool('/usr/bin/python3'), ['-c', READ, tempDir('k8s-image-vmware-ds-')], { cwd: '/', env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { method: string; userdata: string; metadata: Record<string, any> };
    assert.equal(got.method, 'envvar');
    assert.equal(got.userdata, Buffer.from(seed.userData).toString('utf8'), `${node}: user-data byte for byte`);
    const meta = /^instance-id: (.*)$/m.exec(Buffer.from(seed.metaData).toString('utf8'))![1];
    assert.equal(got.metadata['instance-id'], meta);
    assert.equal(got.metadata['local-hostname'], node);
    // The network configuration arrives as the datasource hands it on (metadata.network.config).
    const py = spawnSync(requireTool('/usr/bin/python3'), ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { cwd: '/', input: Buffer.from(seed.networkConfig), encoding: 'utf8' });
    assert.deepEqual(got.metadata.network.config, JSON.parse(py.stdout));
    // And the raw values too: metadata is meta-data's own bytes plus the network key.
    assert.ok(Buffer.from(keys['guestinfo.metadata'], 'base64').toString('utf8').startsWith(Buffer.from(seed.metaData).toString('utf8')));
    assert.equal(Buffer.from(Buffer.from(keys['guestinfo.metadata'], 'base64').toString('utf8').match(/^network: (.*)$/m)![1]!, 'base64').toString('utf8'), Buffer.from(seed.networkConfig).toString('utf8'));
  }
});

test('the .vmx lines and the govc script carry the same values; the script is sh- and shellcheck-clean; both 0600', async () => {
  const seed = seedOf('node01');
  const keys = guestinfoKeys(seed);
  const [vmx, govc] = renderGuestinfo('node01', seed);
  const vmxText = Buffer.from(vmx!.bytes).toString('utf8');
  for (const [k, v] of Object.entries(keys)) assert.ok(vmxText.includes(`\n${k} = "${v}"`), k);
  const sh = Buffer.from(govc!.bytes).toString('utf8');
  for (const [k, v] of Object.entries(keys)) assert.ok(sh.includes(`-e "${k}=${v}"`), k);
  assert.deepEqual([vmx!.mode, govc!.mode, vmx!.secret, govc!.secret], [0o600, 0o600, true, true]);
  const dir = tempDir('k8s-image-govc-');
  const script = join(dir, 'node01.govc.sh');
  writeFileSync(script, sh);
  // A fake govc on PATH records what the script asks of it.
  writeFileSync(join(dir, 'govc'), '#!/bin/sh\nprintf "%s\\n" "$@" > "$GOVC_ARGS"\n', { mode: 0o755 });
  const args = join(dir, 'args');
  const r = await exec('sh', [script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, GOVC_ARGS: args, VM: '/dc1/vm/k8s/node01' } });
  assert.match(r.stdout, /guestinfo set on \/dc1\/vm\/k8s\/node01/);
  const argv = readFileSync(args, 'utf8').trim().split('\n');
  assert.deepEqual(argv.slice(0, 3), ['vm.change', '-vm', '/dc1/vm/k8s/node01']);
  assert.deepEqual(argv.slice(3).filter((_, i) => i % 2 === 1), Object.entries(keys).map(([k, v]) => `${k}=${v}`));
  assert.deepEqual(await shellcheck(sh, 'node01.govc.sh'), []);
});

test('k8s-image guestinfo writes every node; a node without MAC or NIC name is refused by name', async () => {
  const base = tempDir('k8s-image-guestinfo-');
  const cli = join(packageRoot, 'dist/src/cli.js');
  await exec(process.execPath, [cli, 'guestinfo', '-o', 'out'], { cwd: base });
  for (const n of ['master', 'node01', 'node02']) {
    assert.equal(statSync(join(base, 'out/k8s-lab-guestinfo', `${n}.vmx`)).mode & 0o777, 0o600);
  }
  const yaml = defaultClusterYaml().replace(/^\s*interface: ens33\b.*\n/m, '');
  assert.ok(!/^\s*interface:/m.test(yaml));
  writeFileSync(join(base, 'nonic.yaml'), yaml);
  const r = await exec(process.execPath, [cli, 'guestinfo', '-c', 'nonic.yaml', '-o', 'out2'], { cwd: base }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((r as { code: number }).code, 2);
  assert.match((r as { stderr: string }).stderr, /nodes\[0\]\.mac: node master has neither a MAC address nor an interface name/);
});
