/**
 * Every GRUB file the tool writes is one CentOS 7.9's signed grubx64.efi can run: tftp/grub.cfg,
 * each grub.cfg-01-<mac> (install entries), the local-boot entries (`pxe` for installed nodes and
 * unknown MACs, and what `serve` writes after a node's signed "installed" report) pass
 * grub-script-check and use only commands that image registers (test/reference/grub2-rhel7.9.json:
 * its module list, the commands those modules register on the rhel-7.9 branch). Needs grub-common.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { packageRoot } from '../../src/assets.js';
import { localEntries } from '../../src/pxe/index.js';
import { startFarmServer, type FarmServer } from '../../src/serve/server.js';
import { signedReportBody } from '../../src/status/protocol.js';
import { grubCommands, grubReference, unknownGrubCommands } from '../reference/grub2-rhel7.9.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const base = tempDir('k8s-image-grubcmd-');
const tree = join(base, 'out', 'g-pxe');
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const MACS = ['52:54:00:00:00:10', '52:54:00:00:00:11'];
let farm: FarmServer;
let port = 0;

before(async () => {
  writeFileSync(
    join(base, 'g.yaml'),
    `cluster: { name: g }\nnetwork: { prefix: 24, gateway: 127.0.0.1, dns: [127.0.0.1], interface: eth0 }\nnodes:\n  - { name: master, role: master, ip: 127.0.0.10, mac: "${MACS[0]}" }\n  - { name: node01, role: node, ip: 127.0.0.11, mac: "${MACS[1]}" }\n`,
  );
  // --server is only written into the entries (loopback is refused: nodes could not reach it); the test posts to the loopback server directly.
  execFileSync(process.execPath, [cli, 'pxe', '-c', 'g.yaml', '-o', 'out', '--server', '10.20.0.1:8080', '--kernel-arg', 'console=ttyS0,115200'], { cwd: base, stdio: 'pipe' });
  farm = await startFarmServer({ dir: tree, stateDir: `${tree}.state`, log: () => {} }, { host: '127.0.0.1', port: 0 });
  port = (farm.server.address() as { port: number }).port;
});
after(() => farm.close());

function check(name: string, text: string): void {
  const f = join(base, 'check.cfg');
  writeFileSync(f, text);
  const r = spawnSync(requireTool('grub-script-check'), [f], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${name}: grub-script-check: ${r.stderr}\n${text}`);
  assert.deepEqual(unknownGrubCommands(text), [], `${name} runs commands CentOS 7.9's signed grubx64.efi does not have:\n${text}`);
}

test('the reference: linux/initrd are not in CentOS 7.9\'s signed GRUB; linuxefi, chainloader, search are', () => {
  for (const c of ['linux', 'initrd', 'linux16', 'initrd16']) assert.ok(!grubReference.commands.includes(c), c);
  for (const c of ['linuxefi', 'initrdefi', 'chainloader', 'boot', 'search', 'exit', 'set', 'echo', 'menuentry', 'configfile']) assert.ok(grubReference.commands.includes(c), c);
  assert.ok(grubReference.image_modules.includes('linuxefi') && !grubReference.image_modules.includes('linux'));
});

test('the checker finds commands inside menuentry, if and function bodies, and catches the old linux/initrd entry', () => {
  const script = [
    '# a comment with linux in it',
    "set timeout=1; set default='0'",
    "menuentry 'x y' --class os {",
    '  linux /vmlinuz ip=1::2:3:h::none',
    '  initrd /initrd.img',
    '}',
    'if search --file --set=r /a; then chainloader ($r)/a; boot; elif test -e /b; then echo "b;c"; else exit 1; fi',
    'function f { insmod x && loopback l /y || halt; }',
    'for i in linux initrd; do echo $i; done',
    'v=1',
  ].join('\n');
  assert.deepEqual(grubCommands(script), ['set', 'set', 'menuentry', 'linux', 'initrd', 'search', 'chainloader', 'boot', 'test', 'echo', 'exit', 'insmod', 'loopback', 'halt', 'echo', 'v=1']);
  assert.deepEqual(unknownGrubCommands(script), ['linux', 'initrd']);
});

test('every GRUB file pxe writes passes grub-script-check and uses only commands CentOS 7.9\'s signed grubx64.efi registers', () => {
  const files = readdirSync(join(tree, 'tftp')).filter((n) => n.startsWith('grub.cfg'));
  assert.deepEqual(files.sort(), ['grub.cfg', 'grub.cfg-01-52-54-00-00-00-10', 'grub.cfg-01-52-54-00-00-00-11']);
  for (const f of files) check(f, readFileSync(join(tree, 'tftp', f), 'utf8'));
  const install = readFileSync(join(tree, 'tftp/grub.cfg-01-52-54-00-00-00-11'), 'utf8');
  assert.match(install, /^ {2}linuxefi \/centos7\/vmlinuz inst\.ks=http:\/\/10\.20\.0\.1:8080\/ks\/node01\.cfg .*ip=127\.0\.0\.11::127\.0\.0\.1:255\.255\.255\.0:node01::none .*BOOTIF=01-52-54-00-00-00-11 /m);
  assert.match(install, /^ {2}initrdefi \/centos7\/initrd\.img$/m);
  assert.deepEqual(grubCommands(readFileSync(join(tree, 'tftp/grub.cfg'), 'utf8')), ['set', 'search', 'echo', 'chainloader', 'boot', 'search', 'echo', 'chainloader', 'boot', 'echo', 'exit']);
});

test('the local entries (installed nodes, unknown MACs) pass the same check', () => {
  check('unknown MAC', localEntries('g').grub);
  for (const [i, mac] of MACS.entries()) check(`node ${i}`, localEntries('g', { name: `n${i}`, mac }).grub);
});

test('what serve writes after a node\'s signed "installed" report passes the same check', async () => {
  const key = (JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>).node01!;
  const body = signedReportBody(key, { node: 'node01', stage: 'installed', time: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('hex') });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/report', method: 'POST', localAddress: '127.0.0.11', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 200);
  const written = readFileSync(join(tree, 'tftp/grub.cfg-01-52-54-00-00-00-11'), 'utf8');
  assert.match(written, /installed: boot the local disk/);
  check('serve: grub.cfg-01-52-54-00-00-00-11 after installed', written);
  assert.match(written, /chainloader \(\$k8s_esp\)\/EFI\/centos\/shimx64\.efi/);
});
