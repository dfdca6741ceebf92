/**
 * The PXE tree with real servers on a real (virtual) network: two network namespaces joined by a
 * veth pair, made here. dnsmasq (DHCP + TFTP) from dnsmasq.conf and `k8s-image serve` run in the
 * server's; in the client's, busybox udhcpc with the node's MAC gets its reserved address and the
 * boot file of its kind (BIOS, UEFI x64, iPXE), tftp-hpa fetches its per-MAC entries, and curl gets
 * its kickstart and its own secrets but not another node's. The proxy-DHCP variant hands out no
 * address. Needs root (CI runs as root), iproute2, dnsmasq, busybox, tftp-hpa, curl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const base = tempDir('k8s-image-netns-');
const tree = join(base, 'out', 'ns-pxe');
const tag = `k8si${process.pid % 100000}`;
const SRV = `${tag}s`;
const CLI = `${tag}c`;
const MAC = '52:54:00:00:00:11';
const ip = (...args: string[]) => execFileSync(requireTool('ip'), args, { stdio: 'pipe' });
const inNs = (ns: string, cmd: string, args: string[], timeout = 15000) => spawnSync(requireTool('ip'), ['netns', 'exec', ns, requireTool(cmd), ...args], { encoding: 'utf8', timeout, cwd: base });
const daemons: ChildProcess[] = [];

before(async () => {
  writeFileSync(
    join(base, 'ns.yaml'),
    `cluster: { name: ns }\nnetwork: { prefix: 24, gateway: 10.77.0.254, dns: [10.77.0.254], interface: eth0 }\nnodes:\n  - { name: master, role: master, ip: 10.77.0.10, mac: "52:54:00:00:00:10" }\n  - { name: node01, role: node, ip: 10.77.0.11, mac: "${MAC}" }\n`,
  );
  execFileSync(process.execPath, [join(packageRoot, 'dist/src/cli.js'), 'pxe', '-c', 'ns.yaml', '-o', 'out', '--server', '10.77.0.1:8080'], { cwd: base, stdio: 'pipe' });
  ip('netns', 'add', SRV);
  ip('netns', 'add', CLI);
  ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`);
  ip('link', 'set', `${tag}a`, 'netns', SRV);
  ip('link', 'set', `${tag}b`, 'netns', CLI);
  ip('-n', SRV, 'addr', 'add', '10.77.0.1/24', 'dev', `${tag}a`);
  for (const [ns, dev] of [[SRV, `${tag}a`], [CLI, `${tag}b`]]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev!, 'up');
  }
  ip('-n', CLI, 'link', 'set', `${tag}b`, 'address', MAC);
  writeFileSync(join(base, 'lease.sh'), `#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip boot_file=$boot_file siaddr=$siaddr router=$router" >> "${base}/lease.txt"\nexit 0\n`);
  chmodSync(join(base, 'lease.sh'), 0o755);
});

after(() => {
  for (const d of daemons) d.kill('SIGTERM');
  for (const ns of [SRV, CLI]) spawnSync(requireTool('ip'), ['netns', 'del', ns]);
});

function startDnsmasq(conf: string, log: string): Promise<void> {
  const d = spawn(requireTool('ip'), ['netns', 'exec', SRV, requireTool('dnsmasq'), '-k', '-C', join(tree, conf), `--interface=${tag}a`, '--user=root', `--log-facility=${log}`, `--pid-file=${log}.pid`], { stdio: 'ignore' });
  daemons.push(d);
  return new Promise((r) => setTimeout(r, 700));
}

function lease(extra: string[]): string {
  writeFileSync(join(base, 'lease.txt'), '');
  inNs(CLI, 'busybox', ['udhcpc', '-i', `${tag}b`, '-n', '-q', '-f', '-t', '3', '-T', '1', '-s', join(base, 'lease.sh'), ...extra]);
  return readFileSync(join(base, 'lease.txt'), 'utf8').trim();
}

test('DHCP gives the MAC its reserved address and the boot file of its firmware; TFTP serves its entries; serve gives it its kickstart and only its own secrets', async () => {
  await startDnsmasq('dnsmasq.conf', join(base, 'dnsmasq.log'));
  assert.equal(lease([]), 'ip=10.77.0.11 boot_file=pxelinux.0 siaddr=10.77.0.1 router=10.77.0.254', 'BIOS');
  assert.equal(lease(['-x', '0x5d:0007']), 'ip=10.77.0.11 boot_file=grubx64.efi siaddr=10.77.0.1 router=10.77.0.254', 'UEFI x64 (client arch 7)');
  assert.equal(lease(['-x', '0x4d:69505845']), 'ip=10.77.0.11 boot_file=http://10.77.0.1:8080/boot.ipxe siaddr=10.77.0.1 router=10.77.0.254', 'iPXE (user class "iPXE")');

  ip('-n', CLI, 'addr', 'add', '10.77.0.11/24', 'dev', `${tag}b`);
  for (const [remote, local] of [['pxelinux.cfg/01-52-54-00-00-00-11', 'px.cfg'], ['grub.cfg-01-52-54-00-00-00-11', 'grub.cfg'], ['pxelinux.cfg/default', 'default']]) {
    const r = inNs(CLI, 'tftp', ['10.77.0.1', '-c', 'get', remote, join(base, local)]);
    assert.equal(r.status, 0, `${remote}: ${r.stderr}`);
    assert.deepEqual(readFileSync(join(base, local)), readFileSync(join(tree, 'tftp', remote)), remote);
  }

  const serve = spawn(requireTool('ip'), ['netns', 'exec', SRV, process.execPath, join(packageRoot, 'dist/src/cli.js'), 'serve', '--dir', tree, '--listen', '10.77.0.1:8080'], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemons.push(serve);
  let log = '';
  serve.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  const curl = (path: string) => inNs(CLI, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://10.77.0.1:8080${path}`]).stdout;
  assert.equal(curl('/ks/node01.cfg'), '200');
  assert.equal(curl('/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml'), '200', 'its own secrets');
  assert.equal(curl('/seed/master/k8s-image/etc/k8s-image/pki/ca.key'), '403', "not the master's");
  // curl ran synchronously: the server's log lines arrive now.
  for (let i = 0; i < 40 && !/ca\.key 403/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(log, /10\.77\.0\.11 GET \/seed\/master\/k8s-image\/etc\/k8s-image\/pki\/ca\.key 403/);
  serve.kill('SIGTERM');
  await new Promise((r) => serve.on('exit', r));
  assert.match(log, /SIGTERM: stopping/);
  await Promise.all(daemons.splice(0).map((d) => new Promise((r) => (d.exitCode !== null ? r(null) : (d.on('exit', r), d.kill('SIGTERM'))))));
  ip('-n', CLI, 'addr', 'flush', 'dev', `${tag}b`);
});

test('the proxy-DHCP variant hands out no address (the office DHCP server does) but answers PXE clients', async () => {
  const log = join(base, 'proxy.log');
  await startDnsmasq('dnsmasq-proxy.conf', log);
  assert.equal(lease(['-V', 'PXEClient:Arch:00000:UNDI:002001']), '', 'no lease from a proxy');
  await new Promise((r) => setTimeout(r, 300));
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  assert.match(text, /proxy/i, text);
  assert.doesNotMatch(text, /DHCPACK.*10\.77\.0\.11/);
});
