// No request, body, header or connection pattern crashes `k8s-image serve` or makes it answer 5xx:
// the real process under `ulimit -n 1024`, its open files counted in /proc/<pid>/fd, against
// oversized and endless bodies, slow headers and bodies, idle connections by the thousand, aborted
// downloads, 2,000 pipelined requests, too few file descriptors, and a port already taken.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.js';
import { cli, freePort, get, labTree, NODES, parseResponses, raw, secretsOf, startServe, type Serve } from './lab.js';

const exec = promisify(execFile);
const BIG = 8 << 20;
let base: string;
let tree: string;
let serve: Serve;
let baseline: number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  base = tempDir('k8s-image-serve-limits-');
  const port = await freePort();
  tree = await labTree(base, port);
  writeFileSync(join(tree, 'http/big.img'), Buffer.alloc(BIG, 7));
  serve = await startServe(tree, port, { ulimit: 1024 });
  assert.match(serve.log(), /at most 448 connections \(open-file limit 1024\)/);
  await get(serve.port, '/ks/master.cfg');
  baseline = serve.fds();
});

after(async () => {
  await serve?.stop();
});

/** Waits until the server's open files are back to within `slack` of the baseline; the count seen. */
async function settled(slack = 4, ms = 3000): Promise<number> {
  let n = serve.fds();
  for (let t = 0; t < ms && n > baseline + slack; t += 50) {
    await sleep(50);
    n = serve.fds();
  }
  return n;
}

async function healthy(): Promise<void> {
  assert.ok(serve.alive(), serve.log().slice(-2000));
  const t0 = Date.now();
  const r = await get(serve.port, '/ks/master.cfg');
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 < 2000, `a fresh client waited ${Date.now() - t0} ms`);
}

function open(from = '127.0.0.99'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: serve.port, localAddress: from }, () => resolve(s));
    s.on('error', reject);
  });
}

/** When the server closes `s` (ms from now), or -1 if it has not by `limit`. */
function closedWithin(s: Socket, limit: number): Promise<{ ms: number; data: string }> {
  const t0 = Date.now();
  let data = '';
  s.on('data', (d) => (data += d.toString('latin1')));
  s.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ms: -1, data }), limit);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - t0, data });
    });
  });
}

test('bodies: oversized, endless chunked, where none belongs, smuggling-shaped: 4xx, the connection closed, serve up', async () => {
  // The reviewer's crash: one report over 256 KiB.
  writeFileSync(join(base, 'big-report'), 'x'.repeat(300 << 10));
  const big = await exec('curl', ['-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', '--data-binary', `@${join(base, 'big-report')}`, `http://127.0.0.1:${serve.port}/report`]).catch((e: { stdout: string }) => e);
  assert.equal((big as { stdout: string }).stdout, '413');
  // Declared too large: answered at once, the body never read.
  const declared = await raw(serve.port, 'POST /report HTTP/1.1\r\nhost: x\r\ncontent-length: 300000\r\n\r\n', { ms: 3000 });
  assert.match(declared.data.toString('latin1'), /^HTTP\/1\.1 413 /);
  assert.ok(declared.closed, 'the connection is closed after a 413');
  // An endless chunked body: 413 once it passes the limit, then the connection goes.
  const s = await open();
  const end = closedWithin(s, 5000);
  s.write('POST /report HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
  const chunk = `4000\r\n${'a'.repeat(0x4000)}\r\n`;
  const pump = setInterval(() => s.writable && s.write(chunk), 2);
  const r = await end;
  clearInterval(pump);
  assert.ok(r.ms >= 0, 'closed');
  assert.match(r.data, /^HTTP\/1\.1 413 /);
  // A body on a GET is not read: answered, then closed.
  const g = await raw(serve.port, 'GET /ks/master.cfg HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\nxx', { ms: 3000 });
  assert.equal(parseResponses(g.data, ['GET'])[0]!.status, 200);
  assert.ok(g.closed);
  // Content-Length with Transfer-Encoding, two Content-Lengths, a header too large, a bad method.
  for (const req of [
    'POST /report HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /report HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!',
    `GET /ks/master.cfg HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20000)}\r\n\r\n`,
    'GET /ks/master.cfg HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'BREW /ks/master.cfg HTTP/1.1\r\nhost: x\r\n\r\n',
    'GET /ks/master.cfg HTTP/9.9\r\n\r\n',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
  ]) {
    const x = await raw(serve.port, req, { ms: 3000 });
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(x.data.toString('latin1'))?.[1] ?? 0);
    assert.ok(status >= 400 && status < 500, `${JSON.stringify(req.slice(0, 60))}: ${x.data.toString('latin1').slice(0, 80)}`);
  }
  assert.ok((await settled()) <= baseline + 4);
  await healthy();
});

test('slow headers, slow bodies and silent connections are closed within the timeouts while others are served', { timeout: 60000 }, async () => {
  const silent = await open();
  const slowHead = await open();
  const slowBody = await open();
  const t = [closedWithin(silent, 25000), closedWithin(slowHead, 25000), closedWithin(slowBody, 25000)];
  slowBody.write('POST /report HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n');
  const head = 'GET /ks/master.cfg HTTP/1.1\r\nhost: x\r\nx-slow: ' + 'y'.repeat(200);
  let i = 0;
  const drip = setInterval(() => {
    if (!slowHead.destroyed) slowHead.write(head[i++ % head.length]!);
    if (!slowBody.destroyed) slowBody.write('n');
  }, 300);
  // Meanwhile, a node asking for its kickstart is served.
  for (let k = 0; k < 5; k++) {
    await healthy();
    await sleep(500);
  }
  const [a, b, c] = await Promise.all(t);
  clearInterval(drip);
  assert.ok(a.ms > 0 && a.ms < 12000, `a silent connection closed after ${a.ms} ms`);
  assert.ok(b.ms > 0 && b.ms < 13000, `a slow header closed after ${b.ms} ms`);
  assert.match(b.data, /^HTTP\/1\.1 408 /);
  assert.ok(c.ms > 0 && c.ms < 18000, `a slow body closed after ${c.ms} ms`);
  assert.match(c.data, /^HTTP\/1\.1 408 /);
  assert.ok((await settled()) <= baseline + 4);
  await healthy();
});

test('aborted downloads close their files; 2,000 pipelined requests open at most one file at a time', { timeout: 60000 }, async () => {
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, serve.fds())), 5);
  // 300 clients that start an 8 MiB download and hang up after the first bytes.
  await Promise.all(
    Array.from({ length: 300 }, async () => {
      const s = await open();
      await new Promise<void>((resolve) => {
        s.once('data', () => {
          s.destroy();
          resolve();
        });
        s.on('error', () => resolve());
        s.write('GET /big.img HTTP/1.1\r\nhost: x\r\n\r\n');
      });
    }),
  );
  const afterAborts = await settled();
  assert.ok(afterAborts <= baseline + 4, `${afterAborts} open files after 300 aborted downloads (baseline ${baseline}, peak ${peak})`);
  // One connection, 2,000 requests for the big file written at once, never read: no file per request.
  peak = 0;
  const s = await open();
  s.on('error', () => undefined);
  s.write('GET /big.img HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(2000));
  await sleep(1500);
  const during = serve.fds();
  s.destroy();
  // And 2,000 pipelined probes for another node's key: answered 4xx, and not a byte of it.
  const probe = `GET /seed/master/k8s-image/etc/k8s-image/pki/ca.key HTTP/1.1\r\nhost: x\r\n\r\n`;
  const p = await raw(serve.port, probe.repeat(2000), { from: NODES[1]!.ip, ms: 5000 });
  const answers = parseResponses(p.data, []);
  clearInterval(watch);
  const codes = answers.map((a) => a.status);
  assert.ok(codes.length > 30 && codes.slice(0, -1).every((c) => c === 403) && codes.at(-1) === 429, `${codes.length} answers: ${[...new Set(codes)]}`);
  assert.equal(secretsOf(tree).leak(p.data), undefined);
  assert.ok(p.closed, 'a connection pipelining that deep is closed');
  process.stderr.write(`# 2,000 pipelined probes: ${answers.length - 1} answered 403, then 429 and closed\n`);
  assert.ok(during <= baseline + 4, `${during} open files with 2,000 pipelined downloads queued (baseline ${baseline})`);
  assert.ok(peak <= baseline + 8, `peak ${peak} open files (baseline ${baseline})`);
  assert.ok((await settled()) <= baseline + 4);
  await healthy();
  process.stderr.write(`# fds: baseline ${baseline}, after 300 aborted downloads ${afterAborts}, with 2,000 pipelined ${during}, peak ${peak}\n`);
});

test('thousands of idle connections under ulimit -n 1024: serve stays under its limit and answers a fresh client at once', { timeout: 60000 }, async () => {
  const idle: Socket[] = [];
  let refused = 0;
  let peak = 0;
  for (let i = 0; i < 3000; i++) {
    try {
      const s = await open(`127.0.1.${1 + (i % 250)}`);
      s.on('error', () => undefined);
      idle.push(s);
    } catch {
      refused++;
    }
    if (i % 100 === 0) peak = Math.max(peak, serve.fds());
    if (i % 500 === 499) await healthy();
  }
  peak = Math.max(peak, serve.fds());
  const t0 = Date.now();
  await healthy();
  const fresh = Date.now() - t0;
  assert.ok(peak < 1024 - 64, `peak ${peak} open files under a limit of 1024`);
  assert.ok(peak > 400, `the connections were really open (${peak})`);
  for (const s of idle) s.destroy();
  assert.ok((await settled(4, 5000)) <= baseline + 4);
  process.stderr.write(`# 3000 idle connections: peak ${peak} open files (limit 1024), ${refused} refused at connect, a fresh client answered in ${fresh} ms\n`);
});

test('live-page subscribers are capped (56 under ulimit -n 1024): the next one gets 429, a freed place is taken again', async () => {
  const subs: Socket[] = [];
  const heads: Promise<string>[] = [];
  for (let i = 0; i < 56; i++) {
    const s = await open();
    subs.push(s);
    heads.push(new Promise((resolve) => s.once('data', (d) => resolve(d.toString('latin1')))));
    s.write('GET /status/events HTTP/1.1\r\nhost: x\r\n\r\n');
  }
  for (const h of await Promise.all(heads)) assert.match(h, /^HTTP\/1\.1 200 .*text\/event-stream/s);
  const over = await get(serve.port, '/status/events');
  assert.equal(over.status, 429);
  assert.match(over.head, /retry-after: 10/i);
  subs.pop()!.destroy();
  await sleep(200);
  const again = await raw(serve.port, 'GET /status/events HTTP/1.1\r\nhost: x\r\n\r\n', { ms: 500 });
  assert.match(again.data.toString('latin1'), /^HTTP\/1\.1 200 /);
  for (const s of subs) s.destroy();
  assert.ok((await settled()) <= baseline + 4);
  await healthy();
});

test('too few file descriptors: 503 or a closed connection, never a crash', { timeout: 60000 }, async () => {
  const port = await freePort();
  // 40: node's own start needs about 30 (the ESM loader opens a level's modules at once), which leaves
  // too few for 40 held downloads (a socket and a file each).
  const tight = await startServe(tree, port, { ulimit: 40 });
  try {
    const statuses = new Map<number, number>();
    // Downloads that are started and then not read: each holds its file open while it waits.
    const held: Socket[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const st = await new Promise<number>((resolve) => {
          const c = connect({ host: '127.0.0.1', port }, () => c.write('GET /big.img HTTP/1.1\r\nhost: x\r\n\r\n'));
          held.push(c);
          c.on('error', () => resolve(0));
          c.once('close', () => resolve(0));
          c.once('data', (d) => {
            c.pause();
            resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0));
          });
          setTimeout(() => resolve(0), 3000);
        });
        statuses.set(st, (statuses.get(st) ?? 0) + 1);
      }),
    );
    for (const c of held) c.destroy();
    assert.ok(tight.alive(), tight.log().slice(-2000));
    for (const st of statuses.keys()) assert.ok(st === 200 || st === 503 || st === 0, `status ${st}`);
    assert.ok((statuses.get(200) ?? 0) < 40, 'the limit was reached: some downloads were refused or closed');
    assert.equal((await get(port, '/ks/master.cfg')).status, 200);
    assert.doesNotMatch(tight.log(), /internal error|TypeError|    at /);
    process.stderr.write(`# ulimit -n 40, 40 downloads held open: ${[...statuses].map(([k, v]) => `${v}x ${k || 'closed'}`).join(', ')}; EMFILE in the log ${(tight.log().match(/EMFILE/g) ?? []).length} times\n`);
  } finally {
    await tight.stop();
  }
});

test('a port in use, an address this host lacks: exit 2 with one line naming the fix', async () => {
  const taken = createServer();
  const port = await freePort();
  await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
  try {
    for (const [listen, re] of [
      [`127.0.0.1:${port}`, /^error: --listen 127\.0\.0\.1:\d+: port \d+ is already in use on 127\.0\.0\.1 .*; stop it, or choose another port$/],
      ['10.255.255.254:8080', /^error: --listen 10\.255\.255\.254:8080: this host has no address 10\.255\.255\.254; use one of its addresses/],
    ] as const) {
      const r = await exec(process.execPath, [cli, 'serve', '--dir', tree, '--listen', listen]).catch((e: { code: number; stderr: string }) => e);
      assert.equal((r as { code: number }).code, 2, listen);
      const lines = (r as { stderr: string }).stderr.trim().split('\n');
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, re);
    }
  } finally {
    taken.close();
  }
});
