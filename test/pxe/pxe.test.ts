/**
 * The PXE tree read by the real programs (dnsmasq --test, grub-script-check, nginx -t, the kickstart
 * grammar, shellcheck, python), and the farm server driven over loopback: HEAD, Range, content
 * types, no traversal or listing, a node's secrets to its address only, signed install reports that
 * switch the node to local boot (forged, replayed and other-node reports refused), --reinstall.
 * Node addresses are on 127.0.0.0/24 so the client can speak from "their" address; --server names
 * 10.0.0.1 (only the rendered URLs carry it: pxe refuses a loopback server, which no node can reach).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { defaultClusterYaml } from '../../src/config/index.js';
import { signedReportBody } from '../../src/status/protocol.js';
import { randomBytes } from 'node:crypto';
import { startFarmServer, type FarmServer } from '../../src/serve/server.js';
import { checkKickstart, shellcheck } from '../helpers/readers.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';
import { postSections } from '../render/fixtures.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const base = tempDir('k8s-image-pxe-');
const tree = join(base, 'out', 'loop-pxe');

function config(): string {
  const d = yaml.load(defaultClusterYaml()) as any;
  d.cluster.name = 'loop';
  d.network = { prefix: 24, gateway: '127.0.0.1', dns: ['127.0.0.1'], interface: 'eth0' };
  d.nodes = [
    { name: 'master', role: 'master', ip: '127.0.0.10', mac: '52:54:00:00:00:10' },
    { name: 'node01', role: 'node', ip: '127.0.0.11', mac: '52:54:00:00:00:11' },
    { name: 'nomac', role: 'node', ip: '127.0.0.12' },
  ];
  return yaml.dump(d);
}

let farm: FarmServer;
let port = 0;
const logs: string[] = [];
before(async () => {
  writeFileSync(join(base, 'loop.yaml'), config());
  const r = await run(process.execPath, [cli, 'pxe', '-c', 'loop.yaml', '-o', 'out', '--server', '10.0.0.1:8080', '--kernel-arg', 'console=ttyS0,115200'], { cwd: base });
  assert.match(r.stderr, /nomac: not in the PXE tree: nodes\[2\]\.mac is not set/);
  farm = await startFarmServer({ dir: tree, stateDir: `${tree}.state`, log: (l) => logs.push(l) }, { host: '127.0.0.1', port: 0 });
  port = (farm.server.address() as { port: number }).port;
});
after(() => farm.close());

function get(path: string, opts: { from?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', localAddress: opts.from ?? '127.0.0.99', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (opts.body) req.end(opts.body);
    else req.end();
  });
}

test('dnsmasq accepts both configs; each node has its reservation and the boot file per client type', () => {
  for (const f of ['dnsmasq.conf', 'dnsmasq-proxy.conf']) {
    const r = spawnSync(requireTool('dnsmasq'), ['--test', '-C', join(tree, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    assert.match(r.stderr, /syntax check OK/);
  }
  const conf = readFileSync(join(tree, 'dnsmasq.conf'), 'utf8');
  assert.match(conf, /^dhcp-host=52:54:00:00:00:10,set:net1,127\.0\.0\.10,master$/m);
  // Only the loader over TFTP (issue 26): BIOS and UEFI chain to iPXE; Secure Boot nodes (tag sb, pxe --secure-boot) keep shim.
  assert.match(conf, /^dhcp-boot=tag:!efi64,tag:!ipxe,undionly\.kpxe$/m);
  assert.match(conf, /^dhcp-boot=tag:efi64,tag:!sb,tag:!ipxe,ipxe\.efi$/m);
  assert.match(conf, /^dhcp-boot=tag:efi64,tag:sb,tag:!ipxe,shimx64\.efi$/m);
  assert.match(conf, /^dhcp-match=set:ipxe,175$/m, "iPXE's own request is known by its option 175 too");
  // Sized for the farm: no lease file rewrite per exchange, no per-exchange log, more leases and TFTP transfers than the defaults.
  for (const l of ['leasefile-ro', 'dhcp-authoritative', 'dhcp-lease-max=1000', 'tftp-max=50']) assert.ok(conf.split('\n').includes(l), l);
  assert.doesNotMatch(conf, /^log-dhcp$/m, 'log-dhcp is off unless pxe --log-dhcp');
  assert.match(conf, /^dhcp-option=tag:net1,option:router,127\.0\.0\.1$/m);
  assert.match(conf, /^dhcp-boot=tag:ipxe,http:\/\/10\.0\.0\.1:8080\/boot\.ipxe$/m);
  assert.doesNotMatch(conf, /127\.0\.0\.12/, 'the node without a MAC has no reservation');
  const proxy = readFileSync(join(tree, 'dnsmasq-proxy.conf'), 'utf8');
  assert.match(proxy, /^dhcp-range=127\.0\.0\.0,proxy$/m, 'proxy DHCP hands out no addresses');
  assert.doesNotMatch(proxy, /^dhcp-host=.*127\.0\.0/m);
  // A proxy shares the segment with machines that are not the farm's: every boot line needs the farm's tag.
  const bootLines = proxy.split('\n').filter((l) => /^(pxe-service|pxe-prompt|dhcp-boot)=/.test(l));
  assert.ok(bootLines.length >= 4, proxy);
  for (const l of bootLines) assert.match(l, /^[a-z-]+=tag:k8s-image,/, l);
  assert.match(proxy, /^dhcp-host=52:54:00:00:00:10,set:k8s-image$/m);
  assert.match(proxy, /^dhcp-ignore=tag:!k8s-image$/m);
  assert.match(proxy, /^# .*Secure Boot on \(pxe --secure-boot\) cannot boot from it/m, 'what proxy DHCP cannot do, where the user reads it');
});

test('GRUB configs pass grub-script-check; pxelinux and iPXE entries carry the node\'s kickstart, static ip= and extra arguments', () => {
  for (const f of readdirSync(join(tree, 'tftp')).filter((n) => n.startsWith('grub.cfg'))) {
    const r = spawnSync(requireTool('grub-script-check'), [join(tree, 'tftp', f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
  const px = readFileSync(join(tree, 'tftp/pxelinux.cfg/01-52-54-00-00-00-10'), 'utf8');
  assert.match(px, /^  APPEND inst\.ks=http:\/\/10\.0\.0\.1:8080\/ks\/master\.cfg inst\.repo=http:\/\/10\.0\.0\.1:8080\/centos7 ip=127\.0\.0\.10::127\.0\.0\.1:255\.255\.255\.0:master::none nameserver=127\.0\.0\.1 BOOTIF=01-52-54-00-00-00-10 inst\.text console=ttyS0,115200$/m);
  assert.match(readFileSync(join(tree, 'tftp/pxelinux.cfg/default'), 'utf8'), /LOCALBOOT 0/, 'an unknown MAC boots the local disk');
  const localGrub = readFileSync(join(tree, 'tftp/grub.cfg'), 'utf8');
  assert.match(localGrub, /^ {2}chainloader \(\$k8s_esp\)\/EFI\/centos\/shimx64\.efi$/m, 'an unknown UEFI machine chainloads its disk loader');
  assert.match(localGrub, /^exit 1$/m, 'and with no loader goes back to the firmware with an error status');
  assert.match(readFileSync(join(tree, 'http/boot.ipxe'), 'utf8'), /^chain --autofree http:\/\/10\.0\.0\.1:8080\/ipxe\/01-\$\{netX\/mac:hexhyp\}\.ipxe \|\| exit 1$/m);
  assert.match(readFileSync(join(tree, 'http/ipxe/01-52-54-00-00-00-11.ipxe'), 'utf8'), /^kernel http:\/\/10\.0\.0\.1:8080\/centos7\/images\/pxeboot\/vmlinuz initrd=initrd\.img inst\.ks=http:\/\/10\.0\.0\.1:8080\/ks\/node01\.cfg /m);
});

test('the nginx site passes nginx -t; the kickstarts pass the grammar, fetch their secrets over HTTP and report the install', async () => {
  const conf = join(base, 'nginx.conf');
  writeFileSync(conf, `pid ${base}/nginx.pid;\nerror_log ${base}/nginx-error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${base};\n  include ${join(tree, 'nginx-k8s-image.conf')};\n}\n`);
  const r = spawnSync(requireTool('nginx'), ['-t', '-c', conf, '-p', base], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const site = readFileSync(join(tree, 'nginx-k8s-image.conf'), 'utf8');
  assert.match(site, new RegExp(`^#   k8s-image serve --dir ${tree.replaceAll('.', '\\.')} --listen 127\\.0\\.0\\.1:8081 --trust-proxy$`, 'm'), 'the exact serve command (server port + 1)');
  for (const loc of ['/seed/ {', '/nocloud/ {', '= /report {', '/status {']) {
    const block = site.slice(site.indexOf(`location ${loc}`), site.indexOf('}', site.indexOf(`location ${loc}`)));
    assert.match(block, /proxy_pass http:\/\/127\.0\.0\.1:8081;/, loc);
    assert.match(block, /proxy_set_header X-Real-IP \$remote_addr;/, loc);
  }
  assert.match(site, /location \/status \{[^}]*proxy_buffering off;/);
  for (const name of ['master', 'node01']) {
    const ks = readFileSync(join(tree, 'http/ks', `${name}.cfg`), 'utf8');
    assert.deepEqual(checkKickstart(ks), [], name);
    assert.match(ks, /^url --url=http:\/\/10\.0\.0\.1:8080\/centos7$/m);
    assert.doesNotMatch(ks, /PRIVATE KEY|report\.key.*[0-9a-f]{64}/, 'no secret in the kickstart');
    assert.match(ks, /curl -fsS --retry 5 --retry-delay 5 -o "\$seed\/\$f" "http:\/\/10\.0\.0\.1:8080\/seed\/[a-z0-9]+\/\$f"/);
    // %pre reports "installing" with the sender and key from the node's seed URL; install.sh reports "installed".
    assert.match(ks, /^%pre --log=\/tmp\/k8s-image-pre\.log$/m);
    assert.match(ks, /curl -fsS -m 10 -o "\$pre\/report\.key" "http:\/\/10\.0\.0\.1:8080\/seed\/[a-z0-9]+\/k8s-image\/etc\/k8s-image\/report\.key"/);
    assert.match(ks, /python "\$pre\/report\.py" http:\/\/10\.0\.0\.1:8080\/report [a-z0-9]+ installing <\/dev\/null >>\/tmp\/k8s-image-pre\.log 2>&1 &$/m);
    assert.ok(existsSync(join(tree, `http/seed/${name}/k8s-image/usr/local/lib/k8s-image/report.py`)), 'the sender is on the seed for %pre');
    assert.match(ks, /^STATUS_URL=http:\/\/10\.0\.0\.1:8080\/report$/m);
    const sections = postSections(ks);
    assert.ok(sections.some((s) => s.header.startsWith('%pre')));
    for (const s of sections) assert.deepEqual(await shellcheck(`#!/bin/bash\n${s.body}`, `${name} ${s.header}`), [], s.header);
  }
  const py = spawnSync(requireTool('/usr/bin/python3'), ['-c', `import ast,sys; ast.parse(open(sys.argv[1]).read())`, join(packageRoot, 'node-files/report.py')], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
});

test('serve: content types, HEAD, Range, no listing, no traversal', async () => {
  const ks = await get('/ks/master.cfg');
  assert.equal(ks.status, 200);
  assert.equal(ks.headers['content-type'], 'text/plain; charset=utf-8');
  const full = readFileSync(join(tree, 'http/ks/master.cfg'));
  assert.deepEqual(ks.body, full);
  const head = await get('/ks/master.cfg', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), full.length);
  assert.equal(head.body.length, 0);
  const part = await get('/ks/master.cfg', { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${full.length}`);
  assert.deepEqual(part.body, full.subarray(10, 20));
  const tail = await get('/ks/master.cfg', { headers: { range: 'bytes=-5' } });
  assert.deepEqual(tail.body, full.subarray(full.length - 5));
  assert.equal((await get('/ks/master.cfg', { headers: { range: `bytes=${full.length + 5}-` } })).status, 416);
  for (const p of ['/ks/', '/', '/../pxe.json', '/%2e%2e/report-keys.json', '/ks/..%2f..%2freport-keys.json', '/seed/../../report-keys.json']) {
    const r = await get(p);
    assert.ok(r.status === 404 || r.status === 403 || r.status === 400, `${p}: ${r.status}`);
    assert.ok(!r.body.toString().includes('"master"'), `${p} leaked a file`);
  }
  assert.equal((await get('/ks/master.cfg', { method: 'DELETE' })).status, 405);
  assert.ok(logs.some((l) => /^127\.0\.0\.99 GET \/ks\/master\.cfg 206 10 \d+ms$/.test(l)), 'an access log line per request');
});

test("serve: a node's secret files go to its own address only", async () => {
  const path = '/seed/master/k8s-image/etc/k8s-image/pki/ca.key';
  assert.equal((await get(path, { from: '127.0.0.11' })).status, 403, "node01 may not read the master's CA key");
  assert.equal((await get(path, { from: '127.0.0.99' })).status, 403);
  const own = await get(path, { from: '127.0.0.10' });
  assert.equal(own.status, 200);
  assert.match(own.body.toString(), /PRIVATE KEY/);
  assert.equal((await get('/nocloud/node01/user-data', { from: '127.0.0.10' })).status, 403);
  assert.equal((await get('/nocloud/node01/user-data', { from: '127.0.0.11' })).status, 200);
});

test('install once: a signed report switches the MAC to local boot; forged, other-node and replayed reports are refused; --reinstall puts it back', async () => {
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  const now = String(Math.floor(Date.now() / 1000));
  const form = (node: string, key: string, time = now, nonce = randomBytes(16).toString('hex')) => signedReportBody(key, { node, stage: 'installed', time: Number(time), nonce });
  const post = (body: string) => get('/report', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const entry = join(tree, 'tftp/pxelinux.cfg/01-52-54-00-00-00-11');
  assert.match(readFileSync(entry, 'utf8'), /DEFAULT install/);
  assert.equal((await post(form('node01', '0'.repeat(64)))).status, 403, 'forged');
  assert.equal((await post(form('node01', keys.master!))).status, 403, "the master's key cannot flip node01");
  // A report's time is not checked (a node's clock may be days off; test/serve/secrets.test.ts): its nonce is what stops a replay.
  // The node's own report, sent by the script its kickstart runs.
  const keyFile = join(base, 'node01.key');
  writeFileSync(keyFile, `${keys.node01}\n`);
  // Async: the server answering it runs in this process.
  await run(requireTool('/usr/bin/python3'), [join(packageRoot, 'node-files/report.py'), '--sync', '10', `http://127.0.0.1:${port}/report`, 'node01', 'installed'], {
    env: { ...process.env, K8S_IMAGE_REPORT_KEY: keyFile, K8S_IMAGE_REPORT_SPOOL: join(base, 'spool'), K8S_IMAGE_REPORT_TRIES: '1' },
  });
  for (const f of [entry, join(tree, 'tftp/grub.cfg-01-52-54-00-00-00-11'), join(tree, 'http/ipxe/01-52-54-00-00-00-11.ipxe')]) assert.match(readFileSync(f, 'utf8'), /installed: boot the local disk/, f);
  assert.ok(existsSync(`${tree}.state/installed/node01`));
  assert.match(readFileSync(join(tree, 'tftp/pxelinux.cfg/01-52-54-00-00-00-10'), 'utf8'), /DEFAULT install/, 'the other nodes are untouched');
  const once = form('node01', keys.node01!);
  assert.equal((await post(once)).status, 200);
  assert.equal((await post(once)).status, 409, 'the same report again (replayed)');
  // A restart keeps both the switch and the replay protection.
  await farm.close();
  farm = await startFarmServer({ dir: tree, stateDir: `${tree}.state`, log: (l) => logs.push(l) }, { host: '127.0.0.1', port });
  assert.equal((await post(once)).status, 409);
  // A rebuilt tree keeps the node on local boot; --reinstall puts the install entries back.
  await run(process.execPath, [cli, 'pxe', '-c', 'loop.yaml', '-o', 'out', '--server', '10.0.0.1:8080', '--kernel-arg', 'console=ttyS0,115200'], { cwd: base });
  assert.match(readFileSync(entry, 'utf8'), /LOCALBOOT 0/);
  await run(process.execPath, [cli, 'pxe', '-c', 'loop.yaml', '-o', 'out', '--server', '10.0.0.1:8080', '--kernel-arg', 'console=ttyS0,115200', '--reinstall', 'node01'], { cwd: base });
  assert.match(readFileSync(entry, 'utf8'), /DEFAULT install/);
  assert.ok(!existsSync(`${tree}.state/installed/node01`));
});

test('--installer takes the boot files straight out of a DVD image, and serve --installer serves the DVD image as the install repository', async () => {
  const dvd = tempDir('k8s-image-dvd-');
  const files: Record<string, string> = {
    'images/pxeboot/vmlinuz': 'KERNEL'.repeat(5000),
    'images/pxeboot/initrd.img': 'INITRD'.repeat(9000),
    'EFI/BOOT/grubx64.efi': 'GRUB',
    'repodata/repomd.xml': '<repomd/>\n',
  };
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dvd, p, '..'), { recursive: true });
    writeFileSync(join(dvd, p), text);
  }
  const iso = join(base, 'CentOS-7-x86_64-DVD-test.iso');
  await run(requireTool('xorriso'), ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'CentOS 7 x86_64', '-o', iso, dvd]);
  const out2 = join(base, 'out2');
  await run(process.execPath, [cli, 'pxe', '-c', 'loop.yaml', '-o', out2, '--server', '10.0.0.1:8080', '--installer', iso], { cwd: base });
  const t2 = join(out2, 'loop-pxe');
  assert.equal(readFileSync(join(t2, 'tftp/centos7/vmlinuz'), 'utf8'), files['images/pxeboot/vmlinuz']);
  assert.equal(readFileSync(join(t2, 'http/centos7/images/pxeboot/initrd.img'), 'utf8'), files['images/pxeboot/initrd.img']);
  assert.equal(readFileSync(join(t2, 'tftp/grubx64.efi'), 'utf8'), 'GRUB');
  const s = await startFarmServer({ dir: t2, stateDir: `${t2}.state`, installer: iso, log: () => undefined }, { host: '127.0.0.1', port: 0 });
  const p2 = (s.server.address() as { port: number }).port;
  try {
    const fetch2 = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        request({ host: '127.0.0.1', port: p2, path, headers, agent: false }, (res) => {
          let b = '';
          res.setEncoding('latin1').on('data', (c) => (b += c)).on('end', () => resolve({ status: res.statusCode!, body: b }));
        }).on('error', reject).end();
      });
    assert.deepEqual(await fetch2('/centos7/repodata/repomd.xml'), { status: 200, body: '<repomd/>\n' });
    const part = await fetch2('/centos7/images/pxeboot/vmlinuz', { range: 'bytes=6-11' });
    assert.deepEqual(part, { status: 206, body: 'KERNEL' });
    assert.equal((await fetch2('/centos7/../pxe.json')).status, 400, 'a dot-segment is refused before any lookup');
    for (const bad of ['/centos7/images/', '/centos7/nope']) assert.equal((await fetch2(bad)).status, 404, bad);
  } finally {
    await s.close();
  }
});
