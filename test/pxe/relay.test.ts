/**
 * A farm of racks on their own subnets, as issue 26 builds it: the generated dnsmasq.conf serves a
 * rack behind a DHCP relay. Three network namespaces made here: the boot server (dnsmasq as Debian's
 * service runs it, `-u dnsmasq`, with the generated config), a rack switch (dnsmasq's own
 * dhcp-relay, which sets giaddr to the rack's gateway address), and a node on the rack's subnet
 * (busybox udhcpc with the node's MAC). The node gets its reserved address and its own rack's
 * router (not the first subnet's), the iPXE boot file by user class and by option 175, and no lease
 * file is written (leasefile-ro). --log-dhcp turns dnsmasq's per-exchange log on; it is off by
 * default. Needs root (CI runs as root), iproute2, dnsmasq, busybox.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const base = tempDir('k8s-image-relay-');
chmodSync(base, 0o755);
const cli = join(packageRoot, 'dist/src/cli.js');
const tree = join(base, 'outputs', 'rk-pxe');
const tag = `k8sr${process.pid % 100000}`;
const SRV = `${tag}s`;
const RLY = `${tag}r`;
const CLI = `${tag}c`;
const MAC = '52:54:00:00:01:21';
const ip = (...args: string[]) => execFileSync(requireTool('ip'), args, { stdio: 'pipe' });
const daemons: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(() => {
  writeFileSync(
    join(base, 'rk.yaml'),
    [
      'cluster: { name: rk }',
      'network: { prefix: 24, gateway: 10.79.0.254, dns: [10.79.0.53], interface: eth0 }',
      'nodes:',
      '  - { name: master, role: master, ip: 10.79.0.10, mac: "52:54:00:00:00:10" }',
      '  - { name: rack1-01, role: node, ip: 10.79.1.20, gateway: 10.79.1.1, mac: "52:54:00:00:01:20" }',
      `  - { name: rack1-02, role: node, ip: 10.79.1.21, gateway: 10.79.1.1, dns: [10.79.1.53], mac: "${MAC}" }`,
      '',
    ].join('\n'),
  );
  for (const [out, extra] of [['outputs', []], ['logged', ['--log-dhcp']]] as const) {
    execFileSync(process.execPath, [cli, 'pxe', '-c', 'rk.yaml', '-o', out, '--server', '10.79.0.1:8080', ...extra], { cwd: base, stdio: 'pipe' });
  }
  for (const ns of [SRV, RLY, CLI]) ip('netns', 'add', ns);
  ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`);
  ip('link', 'add', `${tag}c`, 'type', 'veth', 'peer', 'name', `${tag}d`);
  ip('link', 'set', `${tag}a`, 'netns', SRV);
  ip('link', 'set', `${tag}b`, 'netns', RLY);
  ip('link', 'set', `${tag}c`, 'netns', RLY);
  ip('link', 'set', `${tag}d`, 'netns', CLI);
  ip('-n', SRV, 'addr', 'add', '10.79.0.1/24', 'dev', `${tag}a`);
  ip('-n', RLY, 'addr', 'add', '10.79.0.2/24', 'dev', `${tag}b`);
  ip('-n', RLY, 'addr', 'add', '10.79.1.1/24', 'dev', `${tag}c`);
  for (const [ns, devs] of [[SRV, [`${tag}a`]], [RLY, [`${tag}b`, `${tag}c`]], [CLI, [`${tag}d`]]] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const d of devs) ip('-n', ns, 'link', 'set', d, 'up');
  }
  ip('-n', CLI, 'link', 'set', `${tag}d`, 'address', MAC);
  // The boot server answers the relay at giaddr (the rack's gateway address): its route to the rack.
  ip('-n', SRV, 'route', 'add', '10.79.1.0/24', 'via', '10.79.0.2');
  writeFileSync(join(base, 'lease.sh'), `#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip boot_file=$boot_file router=$router dns=$dns" >> "${base}/lease.txt"\nexit 0\n`);
  chmodSync(join(base, 'lease.sh'), 0o755);
});

after(() => {
  for (const d of daemons) d.kill('SIGTERM');
  for (const ns of [SRV, RLY, CLI]) spawnSync(requireTool('ip'), ['netns', 'del', ns]);
});

async function stopAll(): Promise<void> {
  await Promise.all(daemons.splice(0).map((d) => new Promise((r) => (d.exitCode !== null || d.signalCode !== null ? r(null) : (d.on('exit', r), d.kill('SIGTERM'))))));
}

/** dnsmasq in `ns` as Debian's service starts it (-u dnsmasq); waits for its log to say it started. */
async function dnsmasq(ns: string, args: string[], log: string, ready: RegExp): Promise<void> {
  writeFileSync(log, '');
  chownSync(log, Number(execFileSync('id', ['-u', 'dnsmasq'], { encoding: 'utf8' }).trim()), -1);
  const d = spawn(requireTool('ip'), ['netns', 'exec', ns, requireTool('dnsmasq'), '-k', '-u', 'dnsmasq', '--pid-file=', `--log-facility=${log}`, ...args], { stdio: 'ignore', cwd: base });
  daemons.push(d);
  for (let i = 0; i < 80 && !ready.test(readFileSync(log, 'utf8')); i++) await sleep(50);
  assert.match(readFileSync(log, 'utf8'), ready);
}

function lease(extra: string[]): string {
  writeFileSync(join(base, 'lease.txt'), '');
  spawnSync(requireTool('ip'), ['netns', 'exec', CLI, requireTool('busybox'), 'udhcpc', '-i', `${tag}d`, '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', join(base, 'lease.sh'), ...extra], { timeout: 15000 });
  return readFileSync(join(base, 'lease.txt'), 'utf8').trim();
}

test('a node on a rack subnet gets, through the rack\'s DHCP relay, its reserved address, its rack\'s router and DNS, and iPXE\'s boot file; no lease file is written; log-dhcp is off unless asked for', async () => {
  const conf = readFileSync(join(tree, 'dnsmasq.conf'), 'utf8');
  assert.match(conf, /^dhcp-range=10\.79\.1\.0,static,255\.255\.255\.0,12h$/m, "the rack's range: the relay's giaddr selects it");
  assert.match(conf, /^dhcp-host=52:54:00:00:01:21,set:net3,10\.79\.1\.21,rack1-02$/m);
  const leases = join(base, 'dnsmasq.leases');
  const serverLog = join(base, 'server.log');
  await dnsmasq(SRV, ['-C', join(tree, 'dnsmasq.conf'), `--interface=${tag}a`, `--dhcp-leasefile=${leases}`], serverLog, /TFTP root is/);
  // The rack switch: dnsmasq's relay (RFC 1542), from the rack's gateway address to the boot server.
  await dnsmasq(RLY, ['--port=0', '--dhcp-relay=10.79.1.1,10.79.0.1', `--interface=${tag}c`, '--bind-interfaces'], join(base, 'relay.log'), /DHCP relay from 10\.79\.1\.1 to 10\.79\.0\.1/);

  assert.equal(lease([]), 'ip=10.79.1.21 boot_file=undionly.kpxe router=10.79.1.1 dns=10.79.1.53', 'BIOS PXE ROM, relayed: its rack\'s router and its own DNS');
  assert.equal(lease(['-x', '0x5d:0007']), 'ip=10.79.1.21 boot_file=ipxe.efi router=10.79.1.1 dns=10.79.1.53', 'UEFI, Secure Boot off');
  assert.equal(lease(['-x', '0x4d:69505845']), 'ip=10.79.1.21 boot_file=http://10.79.0.1:8080/boot.ipxe router=10.79.1.1 dns=10.79.1.53', 'iPXE by its user class');
  assert.equal(lease(['-x', '0xaf:b10101']), 'ip=10.79.1.21 boot_file=http://10.79.0.1:8080/boot.ipxe router=10.79.1.1 dns=10.79.1.53', 'iPXE by its option 175');
  assert.ok(!existsSync(leases) || readFileSync(leases, 'utf8') === '', 'leasefile-ro: no lease file written');
  const quiet = readFileSync(serverLog, 'utf8');
  assert.match(quiet, /DHCPACK\(.*\) 10\.79\.1\.21 52:54:00:00:01:21 rack1-02/, quiet);
  assert.doesNotMatch(quiet, /vendor class|user class|requested options/, 'no per-exchange detail without --log-dhcp');
  await stopAll();

  const loud = join(base, 'logged.log');
  await dnsmasq(SRV, ['-C', join(base, 'logged', 'rk-pxe', 'dnsmasq.conf'), `--interface=${tag}a`, `--dhcp-leasefile=${leases}`], loud, /TFTP root is/);
  await dnsmasq(RLY, ['--port=0', '--dhcp-relay=10.79.1.1,10.79.0.1', `--interface=${tag}c`, '--bind-interfaces'], join(base, 'relay2.log'), /DHCP relay/);
  assert.equal(lease([]), 'ip=10.79.1.21 boot_file=undionly.kpxe router=10.79.1.1 dns=10.79.1.53');
  assert.match(readFileSync(loud, 'utf8'), /requested options/, 'pxe --log-dhcp: the per-exchange detail');
  await stopAll();
});

test('--secure-boot NODE: that node\'s UEFI firmware keeps the signed shim + GRUB chain; --secure-boot alone: every UEFI node; dnsmasq accepts all of them', () => {
  const one = execFileSync(process.execPath, [cli, 'pxe', '-c', 'rk.yaml', '-o', 'sb1', '--server', '10.79.0.1:8080', '--secure-boot', 'rack1-02'], { cwd: base, encoding: 'utf8', stdio: 'pipe' });
  assert.ok(one.length > 0);
  const c1 = readFileSync(join(base, 'sb1/rk-pxe/dnsmasq.conf'), 'utf8');
  assert.match(c1, /^dhcp-host=52:54:00:00:01:21,set:net3,set:sb,10\.79\.1\.21,rack1-02$/m);
  assert.match(c1, /^dhcp-host=52:54:00:00:01:20,set:net2,10\.79\.1\.20,rack1-01$/m);
  execFileSync(process.execPath, [cli, 'pxe', '-c', 'rk.yaml', '-o', 'sball', '--server', '10.79.0.1:8080', '--secure-boot'], { cwd: base, stdio: 'pipe' });
  const all = readFileSync(join(base, 'sball/rk-pxe/dnsmasq.conf'), 'utf8');
  assert.equal((all.match(/^dhcp-host=.*,set:sb,/gm) ?? []).length, 3);
  for (const f of ['sb1/rk-pxe/dnsmasq.conf', 'sb1/rk-pxe/dnsmasq-proxy.conf', 'sball/rk-pxe/dnsmasq.conf']) {
    const r = spawnSync(requireTool('dnsmasq'), ['--test', '-C', join(base, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
  const bad = spawnSync(process.execPath, [cli, 'pxe', '-c', 'rk.yaml', '-o', 'sbx', '--server', '10.79.0.1:8080', '--secure-boot', 'nosuch'], { cwd: base, encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--secure-boot nosuch: no node nosuch with a mac in cluster rk/);
});
