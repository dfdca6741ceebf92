/**
 * Benchmark of `k8s-image serve` (not a test): the CLI as a whole process on loopback, driven by wrk
 * (Debian package wrk) with 500 concurrent connections, fetching (1) a node's kickstart and (2) 1 MiB
 * Range windows of a 64 MiB installer image read in place from a DVD ISO, as hundreds of machines
 * installing at once do; then (3) signed status reports, 200 in flight, each fsynced before the
 * answer (the farm's nodes reporting their stages). Prints requests/s, latency, throughput and the
 * server's peak RSS; then (4) the abuse it must shrug off under `ulimit -n 1024`: 5000 idle
 * connections held open while a node fetches its kickstart 200 times (latency, open files).
 * Without wrk, (1) and (2) are skipped.
 *   npm run build && node dist/bench/serve-bench.js [seconds]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/assets.js';
import { farmYaml } from '../test/helpers/farm.js';
import { signedReportBody, type Stage } from '../src/status/protocol.js';

const seconds = Number(process.argv[2] ?? 10);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'k8s-image-serve-bench-'));
try {
  writeFileSync(join(work, 'farm.yaml'), farmYaml(20));
  const dvd = join(work, 'dvd');
  mkdirSync(join(dvd, 'images', 'pxeboot'), { recursive: true });
  writeFileSync(join(dvd, 'images/pxeboot/vmlinuz'), Buffer.alloc(8 << 20, 1));
  writeFileSync(join(dvd, 'images/pxeboot/initrd.img'), Buffer.alloc(64 << 20, 2));
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', join(work, 'dvd.iso'), dvd]);
  execFileSync(process.execPath, [cli, 'pxe', '-c', 'farm.yaml', '-o', 'out', '--server', '10.20.0.1:18080'], { cwd: work, stdio: 'ignore' });
  const server = spawn(process.execPath, [cli, 'serve', '--dir', join(work, 'out', 'farm-pxe'), '--listen', '127.0.0.1:18080', '--installer', join(work, 'dvd.iso')], { stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 800));
  const lua = join(work, 'range.lua');
  writeFileSync(lua, 'local n = 0\nrequest = function()\n  n = (n + 1) % 64\n  return wrk.format("GET", "/centos7/images/pxeboot/initrd.img", { ["Range"] = "bytes=" .. (n * 1048576) .. "-" .. (n * 1048576 + 1048575) })\nend\n');
  const wrk = (args: string[]) => execFileSync('wrk', ['-t', '2', '-c', '500', '-d', `${seconds}s`, '--latency', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const pick = (out: string, re: RegExp) => re.exec(out)?.[1] ?? '?';
  const rows: string[] = [];
  const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
  if (!hasWrk) rows.push('| (wrk not installed: the kickstart and installer-image rows are skipped) | | | | | |');
  for (const [what, args] of hasWrk ? [
    ['kickstart (GET /ks/node0001.cfg)', ['http://127.0.0.1:18080/ks/node0001.cfg']],
    ['installer image, 1 MiB Range windows from the ISO', ['-s', lua, 'http://127.0.0.1:18080/']],
  ] as const : []) {
    const out = wrk([...args]);
    rows.push(`| ${what} | ${pick(out, /Requests\/sec:\s+([\d.]+)/)} | ${pick(out, /^\s+50%\s+(\S+)/m)} | ${pick(out, /^\s+99%\s+(\S+)/m)} | ${pick(out, /Transfer\/sec:\s+(\S+)/)} | ${/Non-2xx/.test(out) ? pick(out, /Non-2xx or 3xx responses: (\d+)/) : '0'} |`);
  }
  // (3) Status reports: every node's stages, each one a unique signed report, 200 in flight.
  const keys = JSON.parse(readFileSync(join(work, 'out', 'farm-pxe', 'report-keys.json'), 'utf8')) as Record<string, string>;
  const names = Object.keys(keys);
  const stages: Stage[] = ['firstboot', 'runtime', 'join', 'ready', 'done'];
  const total = 10000;
  const lat: number[] = [];
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (sent < total) {
        const i = sent++;
        const node = names[i % names.length]!;
        const body = signedReportBody(keys[node]!, { node, stage: stages[i % stages.length]!, time: Math.floor(Date.now() / 1000), nonce: i.toString(16).padStart(32, '0') });
        const s = performance.now();
        const res = await fetch('http://127.0.0.1:18080/report', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        await res.text();
        if (res.status !== 200) failed++;
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const ms = (q: number) => `${lat[Math.floor(q * (lat.length - 1))]!.toFixed(1)}ms`;
  rows.push(`| status reports (POST /report, signed, fsynced before the answer; 200 in flight) | ${(total / secs).toFixed(0)} | ${ms(0.5)} | ${ms(0.99)} | - | ${failed} |`);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1];
  server.kill('SIGTERM');
  // (4) Abuse under ulimit -n 1024: 5000 idle connections, and a node fetching its kickstart meanwhile.
  const tight = spawn('bash', ['-c', 'ulimit -n 1024; exec "$0" "$@"', process.execPath, cli, 'serve', '--dir', join(work, 'out', 'farm-pxe'), '--listen', '127.0.0.1:18081'], { stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 1000));
  const fds = () => readdirSync(`/proc/${tight.pid}/fd`).length;
  const idle: Socket[] = [];
  let peakFds = 0;
  for (let i = 0; i < 5000; i++) {
    await new Promise<void>((resolve) => {
      const c = connect({ host: '127.0.0.1', port: 18081, localAddress: `127.0.2.${1 + (i % 250)}` }, () => resolve());
      c.on('error', () => resolve());
      idle.push(c);
    });
    if (i % 250 === 0) peakFds = Math.max(peakFds, fds());
  }
  const fresh: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    const res = await fetch('http://127.0.0.1:18081/ks/node0001.cfg');
    await res.arrayBuffer();
    if (res.status === 200) fresh.push(performance.now() - s);
    peakFds = Math.max(peakFds, fds());
  }
  for (const c of idle) c.destroy();
  tight.kill('SIGTERM');
  fresh.sort((a, b) => a - b);
  rows.push(`| a kickstart while 5000 idle connections are held (ulimit -n 1024; peak ${peakFds} open files) | ${fresh.length}/200 answered | ${fresh[Math.floor(fresh.length / 2)]?.toFixed(1)}ms | ${fresh[Math.floor(fresh.length * 0.99)]?.toFixed(1)}ms | - | ${200 - fresh.length} |`);
  process.stdout.write(
    [
      `k8s-image serve, 500 connections (wrk -t2 -c500 -d${seconds}s), loopback; server peak RSS ${hwm ? `${(Number(hwm) / 1024).toFixed(0)} MiB` : '?'}`,
      '',
      '| what | requests/s | p50 | p99 | throughput | errors |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
