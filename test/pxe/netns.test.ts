/**
 * The PXE tree with real servers on a real (virtual) network, run as the README runs them: two
 * network namespaces joined by a veth pair, made here; the tree written by `k8s-image pxe -c ns.yaml
 * --server 10.77.0.1:8080` into ./outputs. In the server's namespace dnsmasq runs as the user its
 * Debian service drops to (-u dnsmasq), nginx as the package's service runs it (master root, workers
 * www-data), and `k8s-image serve`. In the client's, busybox udhcpc with the node's MAC gets its
 * reserved address and the boot file of its kind (BIOS, UEFI x64, iPXE), tftp-hpa fetches its
 * entries and pxelinux.0, curl its kickstart and its own secrets but not another node's, directly
 * from serve or through nginx; a PXE DISCOVER (_dhcp.ts) shows the proxy-DHCP variant answers the
 * farm's MACs and no other. Through nginx, the largest failure report report.py can build (50 long
 * lines of multibyte text, URL-encoded) reaches serve; the site (0600) names serve with the tree's
 * proxy token on every proxied location. Needs root (CI runs as root), iproute2, dnsmasq, nginx,
 * busybox, tftp-hpa, curl, /usr/bin/python3.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { MAX_REPORT_BYTES } from '../../src/status/protocol.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';
import type { DhcpAnswer } from './_dhcp.js';

const base = tempDir('k8s-image-netns-');
// mkdtemp makes it 0700, which dnsmasq and nginx's workers (other users) cannot traverse, like a tree
// under /root: the README tells users to keep the tree where those users can reach it; so does this test.
chmodSync(base, 0o755);
const cli = join(packageRoot, 'dist/src/cli.js');
const tree = join(base, 'outputs', 'ns-pxe');
const tag = `k8si${process.pid % 100000}`;
const SRV = `${tag}s`;
const CLI = `${tag}c`;
const MAC = '52:54:00:00:00:11';
const ip = (...args: string[]) => execFileSync(requireTool('ip'), args, { stdio: 'pipe' });
const inNs = (ns: string, cmd: string, args: string[], timeout = 15000) => spawnSync(requireTool('ip'), ['netns', 'exec', ns, requireTool(cmd), ...args], { encoding: 'utf8', timeout, cwd: base });
const daemons: ChildProcess[] = [];
const uidOf = (user: string) => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
const procUid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  writeFileSync(
    join(base, 'ns.yaml'),
    `cluster: { name: ns }\nnetwork: { prefix: 24, gateway: 10.77.0.254, dns: [10.77.0.254], interface: eth0 }\nnodes:\n  - { name: master, role: master, ip: 10.77.0.10, mac: "52:54:00:00:00:10" }\n  - { name: node01, role: node, ip: 10.77.0.11, mac: "${MAC}" }\n`,
  );
  // The README's command, as a user types it (the default ./outputs).
  execFileSync(process.execPath, [cli, 'pxe', '-c', 'ns.yaml', '--server', '10.77.0.1:8080'], { cwd: base, stdio: 'pipe' });
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

/** dnsmasq as Debian's service starts it (-u dnsmasq: it drops root after binding); resolves its pid. */
async function startDnsmasq(conf: string, log: string): Promise<number> {
  const d = spawn(requireTool('ip'), ['netns', 'exec', SRV, requireTool('dnsmasq'), '-k', '-u', 'dnsmasq', '-C', join('outputs/ns-pxe', conf), `--interface=${tag}a`, `--log-facility=${log}`, `--pid-file=${log}.pid`], { stdio: 'ignore', cwd: base });
  daemons.push(d);
  for (let i = 0; i < 60 && !(existsSync(log) && /TFTP root is/.test(readFileSync(log, 'utf8'))); i++) await sleep(50);
  await sleep(200);
  return d.pid!;
}

async function stopAll(): Promise<void> {
  await Promise.all(daemons.splice(0).map((d) => new Promise((r) => (d.exitCode !== null || d.signalCode !== null ? r(null) : (d.on('exit', r), d.kill('SIGTERM'))))));
}

function lease(extra: string[]): string {
  writeFileSync(join(base, 'lease.txt'), '');
  inNs(CLI, 'busybox', ['udhcpc', '-i', `${tag}b`, '-n', '-q', '-f', '-t', '3', '-T', '1', '-s', join(base, 'lease.sh'), ...extra]);
  return readFileSync(join(base, 'lease.txt'), 'utf8').trim();
}

async function startServe(listen: string, extra: string[] = []): Promise<{ log: () => string; proc: ChildProcess }> {
  const serve = spawn(requireTool('ip'), ['netns', 'exec', SRV, process.execPath, cli, 'serve', '--dir', tree, '--listen', listen, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemons.push(serve);
  let log = '';
  serve.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await sleep(50);
  assert.match(log, /serving/, log);
  return { log: () => log, proc: serve };
}

/** curl from the node's address: status code, and the body in a file. */
function curl(url: string, opts: string[] = []): { code: string; body: Buffer } {
  const out = join(base, 'curl.out');
  writeFileSync(out, '');
  const r = inNs(CLI, 'curl', ['-s', '-o', out, '-w', '%{http_code}', ...opts, url]);
  return { code: r.stdout, body: readFileSync(out) };
}

test('as the dnsmasq user, DHCP gives the MAC its reserved address and the boot file of its firmware and TFTP serves its entries and pxelinux.0; serve gives it its kickstart and only its own secrets', async () => {
  const pid = await startDnsmasq('dnsmasq.conf', join(base, 'dnsmasq.log'));
  assert.equal(procUid(pid), uidOf('dnsmasq'), 'dnsmasq dropped root to its Debian user');
  assert.equal(lease([]), 'ip=10.77.0.11 boot_file=undionly.kpxe siaddr=10.77.0.1 router=10.77.0.254', 'BIOS: iPXE');
  assert.equal(lease(['-x', '0x5d:0007']), 'ip=10.77.0.11 boot_file=ipxe.efi siaddr=10.77.0.1 router=10.77.0.254', 'UEFI x64 (client arch 7), Secure Boot off: iPXE');
  assert.equal(lease(['-x', '0x4d:69505845']), 'ip=10.77.0.11 boot_file=http://10.77.0.1:8080/boot.ipxe siaddr=10.77.0.1 router=10.77.0.254', 'iPXE (user class "iPXE")');

  ip('-n', CLI, 'addr', 'add', '10.77.0.11/24', 'dev', `${tag}b`);
  // pxelinux.0 and ldlinux.c32: found on this host by pxe (Debian's pxelinux, syslinux-common).
  const files = ['undionly.kpxe', 'ipxe.efi', 'pxelinux.cfg/01-52-54-00-00-00-11', 'grub.cfg-01-52-54-00-00-00-11', 'pxelinux.cfg/default', ...['pxelinux.0', 'ldlinux.c32'].filter((f) => existsSync(join(tree, 'tftp', f)))];
  assert.ok(files.length === 7 || !existsSync('/usr/lib/PXELINUX/pxelinux.0'), 'pxe put the host\'s pxelinux.0 and ldlinux.c32 in tftp/');
  for (const remote of files) {
    const local = join(base, 'tftp.out');
    const r = inNs(CLI, 'tftp', ['-m', 'binary', '10.77.0.1', '-c', 'get', remote, local]);
    assert.equal(r.status, 0, `${remote}: ${r.stderr}`);
    assert.deepEqual(readFileSync(local), readFileSync(join(tree, 'tftp', remote)), remote);
  }

  const serve = await startServe('10.77.0.1:8080');
  assert.equal(curl('http://10.77.0.1:8080/ks/node01.cfg').code, '200');
  assert.equal(curl('http://10.77.0.1:8080/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml').code, '200', 'its own secrets');
  assert.equal(curl('http://10.77.0.1:8080/seed/master/k8s-image/etc/k8s-image/pki/ca.key').code, '403', "not the master's");
  // curl ran synchronously: the server's log lines arrive now.
  for (let i = 0; i < 40 && !/ca\.key 403/.test(serve.log()); i++) await sleep(50);
  assert.match(serve.log(), /10\.77\.0\.11 GET \/seed\/master\/k8s-image\/etc\/k8s-image\/pki\/ca\.key 403/);
  serve.proc.kill('SIGTERM');
  await new Promise((r) => serve.proc.on('exit', r));
  assert.match(serve.log(), /SIGTERM: stopping/);
  await stopAll();
});

test('nginx (master root, workers www-data) serves the bulk from the tree, cannot read a node\'s secrets (0600), and proxies seed/, /report and /status to serve on loopback', async () => {
  const site = readFileSync(join(tree, 'nginx-k8s-image.conf'), 'utf8');
  // The exact serve command the site's header gives.
  const command = /^#   k8s-image serve (.*)$/m.exec(site)![1]!.split(' ');
  assert.deepEqual(command, ['--dir', tree, '--listen', '127.0.0.1:8081', '--trust-proxy']);
  // The proxy token serve --trust-proxy checks: in the tree (0600) and on every location proxied to serve.
  const token = readFileSync(join(tree, 'proxy-token'), 'utf8');
  assert.match(token, /^[0-9a-f]{64}\n$/);
  assert.equal(statSync(join(tree, 'proxy-token')).mode & 0o777, 0o600);
  assert.equal(statSync(join(tree, 'nginx-k8s-image.conf')).mode & 0o777, 0o600, 'the site holds the token; nginx\'s master (root) reads it');
  const proxied = site.split(/\n(?=    location )/).filter((b) => /proxy_pass/.test(b));
  assert.deepEqual(proxied.map((b) => /location ([^{]*)\{/.exec(b)![1]!.trim()), ['/ipxe/', '/seed/', '/nocloud/', '= /report', '/status']);
  for (const b of proxied) assert.ok(b.split('\n').includes(`        proxy_set_header X-K8s-Image-Proxy ${token.trim()};`), b);
  assert.equal((site.match(/X-K8s-Image-Proxy [0-9a-f]{64};/g) ?? []).length, proxied.length, 'nowhere else');
  // What serve takes, not less: a failure's log URL-encoded.
  assert.match(proxied[3]!, new RegExp(`client_max_body_size ${MAX_REPORT_BYTES / 1024}k;`));
  const serve = await startServe('127.0.0.1:8081', command.slice(4));
  // serve --trust-proxy believes X-Real-IP from loopback only with the site's token: a local user
  // who names a node's address without it gets nothing.
  const direct = (headers: string[]) => {
    const out = join(base, 'direct.out');
    writeFileSync(out, '');
    const r = inNs(SRV, 'curl', ['-s', '-o', out, '-w', '%{http_code}', ...headers.flatMap((h) => ['-H', h]), 'http://127.0.0.1:8081/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml']);
    return { code: r.stdout, body: readFileSync(out) };
  };
  const mine = readFileSync(join(tree, 'http/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml'));
  for (const h of [['X-Real-IP: 10.77.0.11'], ['X-Real-IP: 10.77.0.11', `X-K8s-Image-Proxy: ${'0'.repeat(64)}`]]) {
    const r = direct(h);
    assert.notEqual(r.code, '200', `loopback with ${h.join(', ')}: no secret`);
    assert.ok(!r.body.includes(mine), 'no secret bytes');
  }
  assert.equal(direct(['X-Real-IP: 10.77.0.11', `X-K8s-Image-Proxy: ${token.trim()}`]).code, '200', "with the site's token: believed");
  mkdirSync(join(base, 'nginx-tmp'));
  const conf = join(base, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'user www-data;', // Debian's /etc/nginx/nginx.conf
      'worker_processes 1;',
      `pid ${base}/nginx.pid;`,
      `error_log ${base}/nginx-error.log;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${base}/nginx-access.log;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${base}/nginx-tmp/${t};`),
      `  include ${join(tree, 'nginx-k8s-image.conf')};`,
      '  # The whole tree as plain files, as a careless site would serve it: only the modes keep the secrets in.',
      `  server { listen 10.77.0.1:8090; root ${tree}; autoindex off; }`,
      '}',
      '',
    ].join('\n'),
  );
  const t = inNs(SRV, 'nginx', ['-t', '-c', conf, '-p', base]);
  assert.equal(t.status, 0, t.stderr);
  const nginx = spawn(requireTool('ip'), ['netns', 'exec', SRV, requireTool('nginx'), '-c', conf, '-p', base, '-g', 'daemon off;'], { stdio: 'ignore' });
  daemons.push(nginx);
  for (let i = 0; i < 100 && curl('http://10.77.0.1:8080/boot.ipxe').code !== '200'; i++) await sleep(50);
  const workers = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) === nginx.pid;
      } catch {
        return false;
      }
    });
  assert.equal(procUid(nginx.pid!), 0, 'the master runs as root');
  assert.ok(workers.length >= 1 && workers.every((w) => procUid(Number(w)) === uidOf('www-data')), `workers as www-data: ${workers}`);

  for (const [path, file] of [
    ['/ks/node01.cfg', 'http/ks/node01.cfg'],
    ['/boot.ipxe', 'http/boot.ipxe'],
    ['/ipxe/01-52-54-00-00-00-11.ipxe', 'http/ipxe/01-52-54-00-00-00-11.ipxe'],
  ]) {
    const r = curl(`http://10.77.0.1:8080${path}`);
    assert.equal(r.code, '200', path);
    assert.deepEqual(r.body, readFileSync(join(tree, file)), path);
  }
  assert.equal(curl('http://10.77.0.1:8080/pxe.json').code, '404');
  // Read straight from the files, a node's secrets are the pxe user's alone: www-data gets 403, never the bytes.
  assert.equal(curl('http://10.77.0.1:8090/http/ks/node01.cfg').code, '200', 'public files are www-data\'s to read');
  for (const secret of ['http/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml', 'http/seed/master/k8s-image/etc/k8s-image/pki/ca.key', 'http/nocloud/node01/user-data', 'report-keys.json']) {
    const r = curl(`http://10.77.0.1:8090/${secret}`);
    assert.equal(r.code, '403', secret);
    assert.ok(!r.body.includes(readFileSync(join(tree, secret))), `${secret}: no bytes`);
  }
  // Through the site, seed/, /report and /status reach serve (its access log names each request).
  const seed = curl('http://10.77.0.1:8080/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml');
  const report = curl('http://10.77.0.1:8080/report', ['-X', 'POST', '-H', 'content-type: application/x-www-form-urlencoded', '--data', 'node=node01&stage=installed&time=1&nonce=00&sig=00']);
  assert.equal(seed.code, '200', 'its own secrets through nginx: serve trusts X-Real-IP from loopback');
  assert.deepEqual(seed.body, readFileSync(join(tree, 'http/seed/node01/k8s-image/etc/k8s-image/kubeadm.yaml')));
  const other = curl('http://10.77.0.1:8080/seed/master/k8s-image/etc/k8s-image/pki/ca.key');
  assert.equal(other.code, '403', "not the master's");
  assert.ok(!other.body.includes(readFileSync(join(tree, 'http/seed/master/k8s-image/etc/k8s-image/pki/ca.key'))));
  const status = curl('http://10.77.0.1:8080/status.json');
  assert.equal(status.code, '200');
  assert.doesNotThrow(() => JSON.parse(status.body.toString()), 'the status data, from serve');
  for (let i = 0; i < 40 && !/\/status\.json/.test(serve.log()); i++) await sleep(50);
  assert.match(serve.log(), /10\.77\.0\.11 GET \/seed\/node01\/k8s-image\/etc\/k8s-image\/kubeadm\.yaml 200 /, `serve logs the node's own address, from X-Real-IP: ${serve.log()}`);
  assert.match(serve.log(), new RegExp(`\\S+ POST /report ${report.code} `, 'm'), serve.log());
  assert.notEqual(report.code, '200', 'a forged report');
  // The largest report report.py builds: a failure with its log's last 50 lines, cut to 48 KiB of
  // multibyte text, which URL-encoding makes three times as long. Queued on the node, then sent through nginx.
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  writeFileSync(join(base, 'node01.key'), `${keys.node01}\n`);
  writeFileSync(join(base, 'install.log'), Array.from({ length: 80 }, (_, i) => `line ${i}: ${'€✓𝄞ключ検証ü'.repeat(60)}`).join('\n'));
  const spool = join(base, 'spool');
  const reportPy = (args: string[]) =>
    spawnSync(requireTool('ip'), ['netns', 'exec', CLI, requireTool('/usr/bin/python3'), join(packageRoot, 'node-files/report.py'), ...args], {
      encoding: 'utf8',
      timeout: 30000,
      cwd: base,
      env: { ...process.env, K8S_IMAGE_REPORT_KEY: join(base, 'node01.key'), K8S_IMAGE_REPORT_SPOOL: spool, K8S_IMAGE_REPORT_TRIES: '1', K8S_IMAGE_REPORT_PAUSE: '0' },
    });
  const queued = reportPy(['--queue-only', '--log', join(base, 'install.log'), 'http://10.77.0.1:8080/report', 'node01', 'failed']);
  assert.equal(queued.status, 0, queued.stderr);
  const [body] = readdirSync(spool).filter((n) => n.endsWith('.report'));
  const size = statSync(join(spool, body!)).size;
  assert.ok(size > 140 * 1024 && size <= MAX_REPORT_BYTES, `${size} bytes: the worst case report.py can send, within serve's limit`);
  const sent = reportPy(['--sync', '10', 'http://10.77.0.1:8080/report', 'node01', 'runtime']);
  assert.equal(sent.status, 0, `sent, not refused: ${sent.stderr}`);
  assert.doesNotMatch(sent.stderr, /413|REFUSED/);
  assert.deepEqual(readdirSync(spool).filter((n) => n.endsWith('.report')), [], 'the queue is empty: both reports taken');
  for (let i = 0; i < 40 && (serve.log().match(/10\.77\.0\.11 POST \/report 200 /g) ?? []).length < 2; i++) await sleep(50);
  assert.equal((serve.log().match(/10\.77\.0\.11 POST \/report 200 /g) ?? []).length, 2, serve.log());
  const failed = curl('http://10.77.0.1:8080/status/log/node01').body.toString('utf8');
  assert.ok(failed.includes(`line 79: ${'€✓𝄞ключ検証ü'.repeat(60)}`), 'the log\'s last line, multibyte text intact');
  assert.match(serve.log(), /\S+ GET \/status\.json 200 /);
  await stopAll();
});

/** One PXE DISCOVER from the client's namespace with chaddr `mac` (arch 0 BIOS, 7 UEFI x64). */
function probe(mac: string, arch: number): DhcpAnswer[] {
  const r = spawnSync(requireTool('ip'), ['netns', 'exec', CLI, process.execPath, join(packageRoot, 'dist/test/pxe/_dhcp.js'), mac, String(arch), '800'], { encoding: 'utf8', env: { ...process.env, K8S_IMAGE_DHCP_PROBE: '1' }, timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as DhcpAnswer[];
}

test('proxy DHCP hands out no address (the office DHCP server does), answers the farm\'s MACs and ignores every other PXE client', async () => {
  const log = join(base, 'proxy.log');
  await startDnsmasq('dnsmasq-proxy.conf', log);
  assert.equal(lease(['-V', 'PXEClient:Arch:00000:UNDI:002001']), '', 'no lease from a proxy');
  // The probe sends from the address the office DHCP server would have given; the broadcast needs a route.
  spawnSync(requireTool('ip'), ['-n', CLI, 'route', 'add', 'default', 'dev', `${tag}b`]);
  const farm = probe(MAC, 0);
  assert.equal(farm.length, 1, JSON.stringify(farm));
  assert.equal(farm[0]!.from, '10.77.0.1');
  assert.equal(farm[0]!.yiaddr, '0.0.0.0', 'no address: a proxy offer');
  assert.equal(farm[0]!.vendorClass, 'PXEClient');
  assert.match(farm[0]!.pxe, /k8s-image BIOS/, 'the boot menu of the farm');
  assert.equal(probe('52:54:00:00:00:10', 7).length, 1, 'the master, UEFI');
  for (const arch of [0, 7]) assert.deepEqual(probe('52:54:00:00:00:99', arch), [], `a MAC outside the farm, arch ${arch}: no answer at all`);
  const text = readFileSync(log, 'utf8');
  assert.match(text, /52:54:00:00:00:99 proxy-ignored/, text);
  assert.doesNotMatch(text, /DHCPACK.*10\.77\.0\.11/);
  await stopAll();
});
