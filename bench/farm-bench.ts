/**
 * Boot storm benchmark (issue 26), not a test: a 5,000-node farm powered on at once.
 *  1. DHCP: perfdhcp (Debian's kea-admin) drives the generated dnsmasq.conf, run as Debian's service
 *     runs it (-u dnsmasq), in two network namespaces made here: 5,000 DORA exchanges as PXE ROMs
 *     (vendor class PXEClient) then 5,000 as iPXE (user class iPXE), MACs from the farm's list; then
 *     the same with dnsmasq's defaults (lease file rewritten per exchange, dhcp-lease-max 1000,
 *     log-dhcp) for comparison. Refusals are counted in dnsmasq's own log.
 *  2. HTTP: 5,000 simulated nodes against the PXE tree, served (a) by `k8s-image serve` alone and
 *     (b) by the tree's nginx site with serve behind it (--trust-proxy), both with --max-installing:
 *     first the bulk (each node's iPXE entry, kernel, initrd and kickstart, 500 in flight: throughput,
 *     p99, peak memory), then the wave (every node powers on within 2 s, waits in iPXE while the farm
 *     is full, installs for INSTALL_MS once admitted, reports installed). Payloads are scaled down:
 *     the kernel is 64 KiB and the initrd 256 KiB (CentOS 7.9: 6.7 MB and 55 MB).
 *  3. The status page in Chromium at 5,000 nodes mid-wave: first paint, 1,000 live updates, a
 *     screenshot in test-output/farm-bench-midwave.png.
 * Needs root, iproute2, dnsmasq, kea-admin (perfdhcp), nginx, chromium.
 *   npm run bench:farm
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { packageRoot } from '../src/assets.js';
import { macFileName } from '../src/pxe/index.js';
import { startFarmServer } from '../src/serve/server.js';
import { reportKey, signedReportBody, type Stage } from '../src/status/protocol.js';

const N = Number(process.env.FARM_BENCH_NODES ?? 5000);
const MAX_INSTALLING = 500;
const INSTALL_MS = 2000;
/** serve --retry-after in the wave (FARM_BENCH_RETRY): scaled down from the default 30 s like the install time. */
const RETRY_S = Number(process.env.FARM_BENCH_RETRY ?? 1);
const KERNEL = 64 << 10;
const INITRD = 256 << 10;
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'k8s-image-farm-bench-'));
chmodSync(work, 0o755);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running: ChildProcess[] = [];
const namespaces: string[] = [];
const out: string[] = [];
const say = (l: string) => {
  out.push(l);
  console.log(l);
};

const mac = (i: number) => `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
const name = (i: number) => `n${String(i).padStart(4, '0')}`;
const ipOf = (i: number) => `10.40.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

function farm(): string {
  const lines = ['cluster: { name: farm, controlPlaneEndpoint: "10.40.0.5:6443" }', 'network: { prefix: 16, gateway: 10.40.0.1, dns: [10.40.0.1], interface: eth0 }', 'nodes:'];
  for (let i = 0; i < N; i++) lines.push(`  - { name: ${name(i)}, role: ${i < 3 ? 'master' : 'node'}, ip: ${ipOf(i)}, mac: "${mac(i)}" }`);
  return `${lines.join('\n')}\n`;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};
const peakKb = (pid: number) => Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const children = (pid: number) =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);

// ---- 1. DHCP ----
async function dhcp(tree: string): Promise<void> {
  const tag = `kfb${process.pid % 100000}`;
  const [S, C] = [`${tag}s`, `${tag}c`];
  ip('netns', 'add', S);
  namespaces.push(S);
  ip('netns', 'add', C);
  namespaces.push(C);
  ip('link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`);
  ip('link', 'set', `${tag}a`, 'netns', S);
  ip('link', 'set', `${tag}b`, 'netns', C);
  ip('-n', S, 'addr', 'add', '10.40.0.1/16', 'dev', `${tag}a`);
  ip('-n', C, 'addr', 'add', '10.40.0.2/16', 'dev', `${tag}b`);
  for (const [ns, dev] of [[S, `${tag}a`], [C, `${tag}b`]] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  writeFileSync(join(work, 'macs.txt'), `${Array.from({ length: N }, (_, i) => mac(i)).join('\n')}\n`);
  const generated = readFileSync(join(tree, 'dnsmasq.conf'), 'utf8');
  // dnsmasq's defaults, as the config was before issue 26: lease file, 1,000 leases, log-dhcp.
  const defaults = generated.replace(/^(leasefile-ro|dhcp-authoritative|dhcp-lease-max=.*|tftp-max=.*)$/gm, '').replace(/^# log-dhcp is off.*$/m, 'log-dhcp');
  writeFileSync(join(work, 'dnsmasq-defaults.conf'), defaults);
  const hex = (s: string) => Buffer.from(s).toString('hex');
  say('\n### DHCP: perfdhcp against dnsmasq (5,000 MACs, 10,000 DORA: 5,000 as PXE ROMs, then 5,000 as iPXE)\n');
  say('| dnsmasq.conf | rate asked (DORA/s) | DORA completed | completed/s | dropped (DISCOVER, REQUEST) | refused (dnsmasq log) | lease file |');
  say('|---|---|---|---|---|---|---|');
  for (const [label, conf, rate] of [
    ['generated (issue 26)', join(tree, 'dnsmasq.conf'), 500],
    ['generated (issue 26)', join(tree, 'dnsmasq.conf'), 1000],
    ["dnsmasq's defaults (before)", join(work, 'dnsmasq-defaults.conf'), 500],
  ] as const) {
    const log = join(work, 'dnsmasq.log');
    const leases = join(work, 'dnsmasq.leases');
    writeFileSync(log, '');
    rmSync(leases, { force: true });
    chownSync(log, Number(execFileSync('id', ['-u', 'dnsmasq'], { encoding: 'utf8' }).trim()), -1);
    const d = spawn('ip', ['netns', 'exec', S, 'dnsmasq', '-k', '-u', 'dnsmasq', '-C', conf, `--interface=${tag}a`, '--pid-file=', `--log-facility=${log}`, `--dhcp-leasefile=${leases}`], { stdio: 'ignore' });
    running.push(d);
    for (let i = 0; i < 100 && !/TFTP root is/.test(readFileSync(log, 'utf8')); i++) await sleep(50);
    let acks = 0;
    let drops = '';
    const t0 = Date.now();
    for (const opt of [`60,${hex('PXEClient:Arch:00000:UNDI:002001')}`, `77,${hex('iPXE')}`]) {
      const r = spawnSync('ip', ['netns', 'exec', C, 'perfdhcp', '-4', '-l', '10.40.0.2', '-M', join(work, 'macs.txt'), '-r', String(rate), '-n', String(N), '-o', opt, '-W', '2000000', '10.40.0.1'], { encoding: 'utf8', timeout: 120000 });
      const got = [...r.stdout.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
      const dropped = [...r.stdout.matchAll(/^drops: (\d+)/gm)].map((m) => m[1]);
      acks += got[1] ?? 0;
      drops += `${drops ? ' + ' : ''}${dropped.join(', ')}`;
    }
    const secs = (Date.now() - t0) / 1000;
    await stop(d);
    const text = readFileSync(log, 'utf8');
    const refused = (text.match(/no address available|DHCPNAK|lease-max/g) ?? []).length;
    const leaseBytes = existsSync(leases) ? readFileSync(leases).length : 0;
    say(`| ${label} | ${rate} | ${acks} / ${2 * N} | ${Math.round(acks / secs)} | ${drops} | ${refused} | ${leaseBytes ? `${leaseBytes} bytes, rewritten per exchange` : 'none (leasefile-ro)'} |`);
  }
}

let stopping = false;
async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')));
}

// ---- 2. HTTP ----
const agent = new Agent({ keepAlive: false, maxSockets: 4096 });
/** Connections reset or refused, each tried again after 200 ms (as a node's firmware would boot again): counted, reported. */
let resets = 0;
async function http(port: number, path: string, body?: string): Promise<{ status: number; body: Buffer; ms: number }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await http1(port, path, body);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (attempt >= 5 || !['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code)) throw e;
      resets++;
      await sleep(200);
    }
  }
}
function http1(port: number, path: string, body?: string): Promise<{ status: number; body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent, headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const res: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      res[i] = await fn(i);
    }
  }));
  return res;
}

interface Target {
  label: string;
  port: number;
  /** pids whose peak memory counts. */
  pids: () => number[];
  stop: () => Promise<void>;
}

async function startServe(tree: string, port: number, extra: string[]): Promise<ChildProcess> {
  const p = spawn('bash', ['-c', `ulimit -n 65536; exec "$0" "$@"`, process.execPath, cli, 'serve', '--dir', tree, '--listen', `127.0.0.1:${port}`, '--max-installing', String(MAX_INSTALLING), '--retry-after', String(RETRY_S), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(p);
  let log = '';
  p.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  p.once('exit', (code, sig) => {
    if (!stopping) console.error(`serve on ${port} exited (${code ?? sig}): ${log.slice(-2000)}`);
  });
  for (let i = 0; i < 200 && !log.includes('live status at'); i++) await sleep(50);
  if (!log.includes('live status at')) throw new Error(`serve did not start: ${log}`);
  return p;
}

async function targets(tree: string): Promise<[Target, Target]> {
  const a = join(work, 'serve-tree', 'farm-pxe');
  const b = join(work, 'nginx-tree', 'farm-pxe');
  for (const d of [a, b]) {
    rmSync(join(d, '..'), { recursive: true, force: true });
    rmSync(`${d}.state`, { recursive: true, force: true });
    mkdirSync(join(d, '..'), { recursive: true });
    chmodSync(join(d, '..'), 0o755);
    cpSync(tree, d, { recursive: true });
  }
  const serve = await startServe(a, 28482, []);
  // The tree's nginx site (listen 28480) with serve behind it on 127.0.0.1:28481, as its header says.
  await startServe(b, 28481, ['--trust-proxy']);
  const behind = running[running.length - 1]!;
  mkdirSync(join(work, 'nginx-tmp'), { recursive: true });
  const conf = join(work, 'nginx.conf');
  writeFileSync(conf, ['user www-data;', 'worker_processes 2;', `pid ${work}/nginx.pid;`, `error_log ${work}/nginx-error.log;`, 'worker_rlimit_nofile 65536;', 'events { worker_connections 16384; }', 'http {', '  access_log off;', '  sendfile on;', ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${work}/nginx-tmp/${t};`), `  include ${join(b, 'nginx-k8s-image.conf')};`, '}', ''].join('\n'));
  execFileSync('nginx', ['-t', '-c', conf, '-p', work], { stdio: 'pipe' });
  const nginx = spawn('nginx', ['-c', conf, '-p', work, '-g', 'daemon off;'], { stdio: 'ignore' });
  running.push(nginx);
  await sleep(500);
  return [
    { label: 'k8s-image serve', port: 28482, pids: () => [serve.pid!], stop: () => stop(serve) },
    { label: 'nginx (sendfile) + serve behind it', port: 28480, pids: () => [nginx.pid!, ...children(nginx.pid!), ...children(behind.pid!), behind.pid!], stop: async () => (await stop(nginx), await stop(behind)) },
  ];
}

function placePayloads(tree: string): void {
  const d = join(tree, 'http/centos7/images/pxeboot');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'vmlinuz'), Buffer.alloc(KERNEL, 1), { mode: 0o644 });
  writeFileSync(join(d, 'initrd.img'), Buffer.alloc(INITRD, 2), { mode: 0o644 });
  for (const p of ['http/centos7', 'http/centos7/images', d]) chmodSync(p.startsWith('/') ? p : join(tree, p), 0o755);
}

async function bulk(t: Target): Promise<string> {
  resets = 0;
  const lat: number[] = [];
  let bytes = 0;
  let bad = 0;
  const t0 = performance.now();
  await pool(N, MAX_INSTALLING, async (i) => {
    for (const p of [`/ipxe/${macFileName(mac(i))}.ipxe`, '/centos7/images/pxeboot/vmlinuz', '/centos7/images/pxeboot/initrd.img', `/ks/${name(i)}.cfg`]) {
      const r = await http(t.port, p);
      lat.push(r.ms);
      bytes += r.body.length;
      if (r.status !== 200) bad++;
    }
  });
  const secs = (performance.now() - t0) / 1000;
  const mem = t.pids().reduce((s, p) => s + peakKb(p), 0);
  return `| ${t.label} | ${N * 4} (${resets} reset and tried again) | ${Math.round((N * 4) / secs)} | ${(bytes / secs / 1e6).toFixed(0)} | ${pct(lat, 50).toFixed(1)} | ${pct(lat, 99).toFixed(1)} | ${(mem / 1024).toFixed(0)} | ${bad} |`;
}

async function wave(t: Target, keys: Record<string, string>): Promise<{ row: string; mbps: number }> {
  resets = 0;
  const lat: number[] = [];
  /** The iPXE entry's answers: what a node waiting its turn waits on. */
  const entryLat: number[] = [];
  const waits: number[] = [];
  let retries = 0;
  let bytes = 0;
  let installing = 0;
  let peak = 0;
  let bad = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      await sleep((i * 2000) / N); // every node powers on within 2 s
      const get = async (p: string, body?: string) => {
        const r = await http(t.port, p, body);
        lat.push(r.ms);
        bytes += r.body.length;
        if (r.status !== 200) bad++;
        return r;
      };
      await get('/boot.ipxe');
      const first = performance.now();
      for (;;) {
        const r = await get(`/ipxe/${macFileName(mac(i))}.ipxe`);
        entryLat.push(r.ms);
        const e = r.body.toString();
        // A failed answer (nginx's 502/504 when serve is slow): iPXE's chain fails and the machine boots
        // again, here after the retry time.
        if (r.status !== 200) {
          await sleep(RETRY_S * 1000);
          continue;
        }
        const s = /^sleep (\d+)$/m.exec(e);
        if (!s) break;
        retries++;
        await sleep(Number(s[1]) * 1000);
      }
      waits.push((performance.now() - first) / 1000);
      installing++;
      peak = Math.max(peak, installing);
      await get('/centos7/images/pxeboot/vmlinuz');
      await get('/centos7/images/pxeboot/initrd.img');
      await get(`/ks/${name(i)}.cfg`);
      await sleep(INSTALL_MS);
      installing--;
      const body = signedReportBody(keys[name(i)]!, { node: name(i), stage: 'installed', time: Math.floor(Date.now() / 1000), nonce: (i + 1).toString(16).padStart(32, '0') });
      await get('/report', body);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const mem = t.pids().reduce((s, p) => s + peakKb(p), 0);
  const window = RETRY_S * 2;
  const slowest = Math.max(...entryLat) / 1000;
  return {
    mbps: bytes / secs / 1e6,
    row: `| ${t.label} | ${secs.toFixed(1)} | ${peak} | ${retries} | ${pct(waits, 50).toFixed(1)} / ${Math.max(...waits).toFixed(1)} | ${pct(lat, 99).toFixed(1)} | ${slowest.toFixed(2)} s ${slowest < window ? '<' : '>='} ${window} s | ${(mem / 1024).toFixed(0)} | ${bad} (${resets} connections reset, tried again) |`,
  };
}

// ---- 3. The page ----
async function page(): Promise<void> {
  const CA = 'farm bench CA';
  const keys = Object.fromEntries(Array.from({ length: N }, (_, i) => [name(i), reportKey(CA, name(i))]));
  const rack = (i: number) => `10.40.${Math.floor(i / 200)}.${10 + (i % 200)}`;
  const state = join(work, 'page-state');
  mkdirSync(state);
  const now = Date.now();
  const stageOf = (i: number): Stage | undefined => (i < 1500 ? 'done' : i < 2500 ? 'join' : i < 3000 ? 'firstboot' : i < 3400 ? 'installing' : i < 3430 ? 'failed' : undefined);
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const s = stageOf(i);
    if (!s) continue;
    // 80 installs running for 2 h: stuck.
    const received = s === 'installing' && i < 3080 ? now - 2 * 3600_000 : now - 120_000;
    lines.push(JSON.stringify({ node: name(i), stage: s, time: Math.floor(received / 1000), nonce: `seed${i}`, received, ip: rack(i), ...(s === 'failed' ? { log: 'anaconda: package download timed out' } : {}) }));
  }
  writeFileSync(join(state, 'status.log'), `${lines.join('\n')}\n`);
  const server = await startFarmServer({ index: { cluster: 'farm', nodes: Array.from({ length: N }, (_, i) => ({ name: name(i), role: i < 3 ? 'master' : 'node', ip: rack(i) })), keys }, stateDir: state, log: () => undefined, admission: { max: MAX_INSTALLING } }, { host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  for (let i = 3000; i < 3400; i++) server.admission!.touch(name(i));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const p = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const t0 = Date.now();
    await p.goto(`http://127.0.0.1:${port}/status`);
    const fcp = await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    await p.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
    const live = Date.now() - t0;
    const html = (await http(port, '/status')).body.length;
    let nonce = 0;
    const t1 = Date.now();
    await pool(1000, 50, async (k) => {
      const i = 3430 + k;
      const body = signedReportBody(keys[name(i)]!, { node: name(i), stage: 'installing', time: Math.floor(Date.now() / 1000), nonce: (nonce++).toString(16).padStart(32, '0') });
      await http(port, '/report', body);
    });
    const sent = Date.now() - t1;
    await p.waitForFunction(() => document.querySelectorAll('#grid i.installing').length === 1400, undefined, { timeout: 120000 });
    const updates = Date.now() - t1;
    mkdirSync(join(packageRoot, 'test-output'), { recursive: true });
    await p.screenshot({ path: join(packageRoot, 'test-output', 'farm-bench-midwave.png') });
    say('\n### Status page, 5,000 nodes, Chromium (headless)\n');
    say('| first contentful paint | page live (SSE open, /status.json applied) | page HTML | 1,000 reports taken by serve (50 at a time, each fsynced) | the 1,000 updates shown on the page |');
    say('|---|---|---|---|---|');
    say(`| ${fcp.toFixed(0)} ms | ${live} ms | ${(html / 1024).toFixed(0)} KiB | ${sent} ms | ${updates} ms |`);
    say('\nScreenshot: test-output/farm-bench-midwave.png (1,500 done, 1,000 joining, 500 in first boot, 400 installing of which 80 stuck for 2 h, 30 failed, the rest not reported).');
  } finally {
    await browser.close();
    await server.close();
  }
}

// Interrupted: the same cleanup as at the end (daemons, namespaces, the work directory).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  say(`# k8s-image boot storm benchmark: ${N} nodes (${new Date().toISOString().slice(0, 10)}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} at start)`);
  writeFileSync(join(work, 'farm.yaml'), farm());
  const t0 = Date.now();
  execFileSync(process.execPath, [cli, 'pxe', '-c', 'farm.yaml', '-o', 'out', '--server', '10.40.0.1:28480'], { cwd: work, stdio: 'ignore' });
  say(`\nk8s-image pxe for the 5,000 nodes: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const tree = join(work, 'out', 'farm-pxe');
  // FARM_BENCH_SKIP=dhcp,http,page leaves those parts out.
  const skip = (process.env.FARM_BENCH_SKIP ?? '').split(',');
  if (!skip.includes('dhcp')) await dhcp(tree);
  placePayloads(tree);
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  if (!skip.includes('http')) await httpParts(tree, keys);
  if (!skip.includes('page')) await page();
  writeFileSync(join(packageRoot, 'test-output', 'farm-bench.md'), `${out.join('\n')}\n`);
} finally {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  await sleep(300);
  rmSync(work, { recursive: true, force: true });
}

async function httpParts(tree: string, keys: Record<string, string>): Promise<void> {
  let [serve, nginx] = await targets(tree);
  const skip = (process.env.FARM_BENCH_SKIP ?? '').split(',');
  if (!skip.includes('bulk')) {
  say(`\n### HTTP bulk: each node's iPXE entry, kernel (${KERNEL >> 10} KiB), initrd (${INITRD >> 10} KiB) and kickstart, ${MAX_INSTALLING} nodes in flight (scaled payloads)\n`);
  say('| server | requests | requests/s | MB/s | p50 ms | p99 ms | peak memory MiB | errors |');
  say('|---|---|---|---|---|---|---|---|');
  const rows: string[] = [];
  for (const t of [serve, nginx]) {
    rows.push(await bulk(t));
    say(rows[rows.length - 1]!);
  }
  const mb = rows.map((r) => Number(r.split('|')[4]));
  say(`\nserve's throughput is ${((100 * mb[0]!) / mb[1]!).toFixed(0)}% of nginx's on the same tree.`);
  }
  stopping = true;
  await serve.stop();
  await nginx.stop();
  stopping = false;
  // Fresh servers and trees for the wave: the bulk left every node admitted (its kickstart fetched).
  [serve, nginx] = await targets(tree);
  say(`\n### The wave: ${N} nodes power on within 2 s; --max-installing ${MAX_INSTALLING}, --retry-after ${RETRY_S}; an install takes ${INSTALL_MS / 1000} s once admitted, then reports installed\n`);
  say('| server | wave s | most installing at once | wait scripts served | wait p50 / max s | p99 response ms (all) | slowest entry answer vs retry window | peak memory MiB | errors |');
  say('|---|---|---|---|---|---|---|---|---|');
  for (const t of [serve, nginx]) say((await wave(t, keys)).row);
  say('\n"slowest entry answer vs retry window": the longest any node waited for its iPXE entry (or the wait script) to come back, against the longest it sleeps between two asks.');
  stopping = true;
  await serve.stop();
  await nginx.stop();
}
