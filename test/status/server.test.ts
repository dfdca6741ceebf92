// The farm status end to end through the real CLI: the seed-000 lab built with --status, the full
// stage sequence posted with each node's own key from its seed, a failure with its log, restarts
// (one after SIGKILL in the middle of a burst of writes), and refused forgeries and replays.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/assets.js';
import { defaultClusterYaml } from '../../src/config/index.js';
import { signedReportBody, type Stage } from '../../src/status/protocol.js';
import type { StatusDocument } from '../../src/status/view.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist/src/cli.js');
let base: string;
let port: number;
let server: ChildProcess | undefined;
let serverLog = '';
const keys: Record<string, string> = {};
const LAB = ['master', 'node01', 'node02'];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

async function startServer(): Promise<void> {
  serverLog = '';
  server = spawn(process.execPath, [cli, 'serve', '-c', 'lab.yaml', '-o', 'out', '--listen', `127.0.0.1:${port}`], { cwd: base, stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
  for (let i = 0; i < 200 && !serverLog.includes('live status at'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.match(serverLog, /live status at http:\/\/127\.0\.0\.1:\d+\/status/);
}

async function stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const s = server!;
  server = undefined;
  const gone = new Promise((r) => s.once('exit', r));
  s.kill(signal);
  await gone;
}

const url = (path: string) => `http://127.0.0.1:${port}${path}`;
const nonce = () => randomBytes(16).toString('hex');

async function post(body: string): Promise<number> {
  const res = await fetch(url('/report'), { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  await res.text();
  return res.status;
}

function report(node: string, stage: Stage, extra: { time?: number; log?: string; key?: string; nonce?: string } = {}): string {
  return signedReportBody(extra.key ?? keys[node]!, { node, stage, time: extra.time ?? Math.floor(Date.now() / 1000), nonce: extra.nonce ?? nonce(), log: extra.log });
}

const statusJson = async (): Promise<StatusDocument> => (await fetch(url('/status.json'))).json() as Promise<StatusDocument>;

before(async () => {
  base = tempDir('k8s-image-status-');
  port = await freePort();
  writeFileSync(join(base, 'lab.yaml'), defaultClusterYaml());
  await run(process.execPath, [cli, 'render', '-c', 'lab.yaml', '-o', 'out', '--status', `http://127.0.0.1:${port}`], { cwd: base });
  for (const n of LAB) {
    const key = join(base, 'out/k8s-lab', n, 'oemdrv/k8s-image/etc/k8s-image/report.key');
    assert.equal(statSync(key).mode & 0o777, 0o600, `${n}: its report key is a 0600 secret`);
    keys[n] = readFileSync(key, 'utf8').trim();
  }
  assert.notEqual(keys.master, keys.node01, 'one key per node');
  await startServer();
});

after(async () => {
  if (server) await stopServer();
});

test('the whole bootstrap of the lab and a failure are kept across a restart', async () => {
  const sequence: Record<string, Stage[]> = {
    master: ['installing', 'installed', 'firstboot', 'runtime', 'init', 'ready', 'done'],
    node01: ['installing', 'installed', 'firstboot', 'runtime', 'join', 'ready', 'done'],
    node02: ['installing', 'installed', 'firstboot', 'runtime', 'join', 'failed'],
  };
  const failureLog = '2026-12-01T10:00:00+00:00 firstboot[join]: + kubeadm join --config /etc/k8s-image/kubeadm.yaml\nerror execution phase preflight: couldn\'t validate the identity of the API Server';
  for (const [node, stages] of Object.entries(sequence)) {
    for (const stage of stages) assert.equal(await post(report(node, stage, stage === 'failed' ? { log: failureLog } : {})), 200, `${node} ${stage}`);
  }
  const check = async () => {
    const doc = await statusJson();
    assert.equal(doc.cluster, 'k8s-lab');
    assert.deepEqual(doc.nodes.map((n) => [n.name, n.role, n.ip, n.stage]), [
      ['master', 'master', '192.168.108.100', 'done'],
      ['node01', 'node', '192.168.108.101', 'done'],
      ['node02', 'node', '192.168.108.102', 'failed'],
    ]);
    assert.deepEqual(doc.counts, { done: 2, failed: 1 });
    const n2 = doc.nodes[2]!;
    assert.equal(n2.hasFailureLog, true);
    assert.equal(n2.lastIp, '127.0.0.1');
    const log = await (await fetch(url('/status/log/node02'))).text();
    assert.ok(log.includes(failureLog), log);
    assert.equal((await fetch(url('/status/log/master'))).status, 404, 'no failure, no log');
  };
  await check();
  await stopServer();
  await startServer();
  await check();
  // The terminal table says the same.
  const r = await run(process.execPath, [cli, 'status', '--server', url('')], { cwd: base });
  assert.match(r.stdout, /^cluster k8s-lab: 3 nodes \(done 2, failed 1\)$/m);
  assert.match(r.stdout, /^node02 +node +192\.168\.108\.102 +- +failed +\d+s +\d+s ago +-$/m, "a worker has no certificates column value");
  const failed = await run(process.execPath, [cli, 'status', '--server', url(''), '--failed'], { cwd: base });
  assert.ok(failed.stdout.includes("couldn't validate the identity of the API Server"));
  const json = JSON.parse((await run(process.execPath, [cli, 'status', '--server', url(''), '--json'], { cwd: base })).stdout) as StatusDocument;
  assert.equal(json.nodes.length, 3);
  // --watch redraws when a report arrives, and Ctrl-C ends it cleanly.
  const watch = spawn(process.execPath, [cli, 'status', '--server', url(''), '--watch'], { cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  watch.stdout!.setEncoding('utf8').on('data', (d: string) => (seen += d));
  for (let i = 0; i < 100 && !seen.includes('node02'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await post(report('node02', 'join')), 200);
  for (let i = 0; i < 150 && !/node02 +node +\S+ +- +kubeadm join started/.test(seen); i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(seen, /node02 +node +\S+ +- +kubeadm join started/);
  const code = new Promise((r) => watch.once('exit', r));
  watch.kill('SIGINT');
  assert.equal(await code, 0);
  assert.equal(await post(report('node02', 'failed', { log: failureLog })), 200);
});

test('serve -c refuses a cluster whose secrets file does not exist (it would know no node\'s key)', async () => {
  writeFileSync(join(base, 'other.yaml'), defaultClusterYaml().replace('name: k8s-lab', 'name: other-lab'));
  const r = await run(process.execPath, [cli, 'serve', '-c', 'other.yaml', '--listen', '127.0.0.1:0'], { cwd: base }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((r as { code: number }).code, 2);
  assert.match((r as { stderr: string }).stderr, /no secrets file at .*other-lab\.secrets\.yaml/);
});

test('forged, other-node and replayed reports are refused, before and after a restart; a node clock days off is accepted and shown', async () => {
  const before = readFileSync(join(base, 'out/k8s-lab-status/status.log'), 'utf8');
  assert.equal(await post(report('node01', 'done', { key: 'f'.repeat(64) })), 403, 'forged');
  assert.equal(await post(report('node01', 'failed', { key: keys.node02 })), 403, "node02's key cannot speak for node01");
  assert.equal(await post(report('intruder', 'done', { key: keys.node01 })), 403, 'not a node of the cluster');
  // A board with a dead RTC: its reports are accepted (the nonce, not the clock, stops replays).
  const stale = report('node01', 'done', { time: Math.floor(Date.now() / 1000) - 3 * 86400 });
  assert.equal(await post(stale), 200, 'three days behind');
  assert.equal((await statusJson()).nodes[1]!.clockOffset! < -3 * 86400 + 60, true);
  assert.match(serverLog, /report: node01 done \(node clock \S+, 3d00h behind\)/);
  assert.match(await (await fetch(url('/status'))).text(), /<td class="clock">3d00h behind<\/td>/);
  assert.equal(await post(stale), 409, 'and its replay is refused');
  assert.equal(await post(report('node01', 'done', { time: Math.floor(Date.now() / 1000) + 86400 })), 200, 'a day ahead');
  const body = report('node01', 'ready');
  assert.equal(await post(body), 200);
  assert.equal(await post(body), 409, 'replayed');
  // The signature covers the log: a failure log swapped in transit is refused.
  const tampered = new URLSearchParams(report('node01', 'failed', { log: 'real' }));
  tampered.set('log', 'forged');
  assert.equal(await post(tampered.toString()), 403);
  assert.equal(await post('node=node01&stage=bogus'), 400);
  assert.equal(await post(`node=node01&stage=done&log=${'x'.repeat(300000)}`), 413);
  await stopServer();
  await startServer();
  assert.equal(await post(body), 409, 'still replayed after a restart');
  assert.equal(await post(stale), 409, 'the clock-off one too');
  const added = readFileSync(join(base, 'out/k8s-lab-status/status.log'), 'utf8').slice(before.length).trim().split('\n');
  assert.equal(added.length, 3, 'only the three good reports were kept');
  assert.equal(statSync(join(base, 'out/k8s-lab-status/status.log')).mode & 0o777, 0o600);
});

test('SIGKILL in the middle of a burst of reports loses no acknowledged one; a torn line is cut off', async () => {
  const acked: string[] = [];
  const sent = Array.from({ length: 400 }, (_, i) => ({ n: nonce(), node: LAB[i % 3]!, stage: (['firstboot', 'runtime', 'join'] as Stage[])[i % 3]! }));
  let i = 0;
  const worker = async () => {
    while (i < sent.length) {
      const s = sent[i++]!;
      try {
        if ((await post(report(s.node, s.stage, { nonce: s.n }))) === 200) acked.push(s.n);
      } catch {
        /* the server is gone */
      }
    }
  };
  const burst = Promise.all(Array.from({ length: 16 }, worker));
  while (acked.length < 60) await new Promise((r) => setTimeout(r, 2));
  await stopServer('SIGKILL');
  await burst;
  assert.ok(acked.length < sent.length, 'killed before the burst ended');
  // And a crash in the middle of a line, as a power cut would leave it.
  const logPath = join(base, 'out/k8s-lab-status/status.log');
  appendFileSync(logPath, '{"node":"node01","stage":"do');
  await startServer();
  assert.match(serverLog, /torn by a crash mid-write .*cut off/);
  const kept = new Set(readFileSync(logPath, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { nonce: string }).nonce));
  for (const n of acked) assert.ok(kept.has(n), `acknowledged report ${n} is on disk`);
  // The log goes on cleanly after the cut.
  assert.equal(await post(report('node01', 'done')), 200);
  for (const l of readFileSync(logPath, 'utf8').trim().split('\n')) JSON.parse(l);
  assert.equal((await statusJson()).nodes[1]!.stage, 'done');
});

/** Every readable private mapping of a process (its heaps), read through /proc/<pid>/mem (we are its parent). */
function memoryOf(pid: number): Buffer[] {
  const out: Buffer[] = [];
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r..p \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (!m || m[3]!.startsWith('/') || m[3] === '[vvar]' || m[3] === '[vsyscall]') continue;
      const start = parseInt(m[1]!, 16);
      const len = parseInt(m[2]!, 16) - start;
      if (len > 512 << 20) continue;
      const buf = Buffer.alloc(len);
      try {
        readSync(fd, buf, 0, len, start);
        out.push(buf);
      } catch {
        /* a guard page */
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

test('serve -c never holds the CA key: the report keys come from a child process, and its memory has no line of the key', async () => {
  const secrets = yaml.load(readFileSync(join(base, 'k8s-lab.secrets.yaml'), 'utf8')) as { ca: { key: string } };
  const lines = secrets.ca.key.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
  assert.ok(lines.length > 10);
  // Something it must hold, to show the search works: the node's report key.
  const mem = memoryOf(server!.pid!);
  const has = (text: string) => mem.some((b) => b.includes(text, 0, 'latin1') || b.includes(text, 0, 'utf16le'));
  assert.ok(has(keys.node01!), 'the search finds what serve does hold');
  for (const l of lines.slice(1, -1)) assert.ok(!has(l), `a line of the CA key is in serve's memory: ${l.slice(0, 8)}...`);
});
