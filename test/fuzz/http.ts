/**
 * A seeded HTTP request fuzzer for `k8s-image serve`: random methods, request targets built from a
 * grammar of the dangerous pieces (dot-segments raw and encoded, encoded and raw slashes and
 * backslashes, overlong UTF-8, NULs, doubled slashes, absolute form, prototype names, other nodes'
 * secret paths), random and hostile headers (Range, X-Real-IP, duplicated or huge ones), bodies with
 * Content-Length and chunked framing that match or do not, pipelined on one connection, from a
 * node's address or a stranger's. The invariant: never a 5xx, never a byte of a secret file to
 * anyone but its node, the process alive, its open files bounded. Used by http-fuzz.test.ts
 * (seconds) and bench/fuzz.ts (minutes). Not a test file itself.
 */
import { connect } from 'node:net';
import { rng } from './fuzzer.js';
import { NODES, parseResponses, STRANGER, type Serve } from '../serve/lab.js';

export { rng };

const PIECES = [
  'seed', 'nocloud', 'ks', 'status', 'status.json', 'events', 'log', 'report', 'ipxe', 'centos7', 'big.img', 'boot.ipxe',
  'master', 'node01', 'node02', 'nobody', 'constructor', '__proto__', 'toString', 'prototype',
  'k8s-image', 'etc', 'pki', 'ca.key', 'token', 'report.key', 'kubeadm.yaml', 'user-data', 'meta-data', 'master.cfg', 'node01.cfg',
  '..', '.', '...', '%2e%2e', '%2E%2e', '%2e%2E', '.%2e', '%2e.', '%2e', '%252e%252e', '%c0%ae%c0%ae', '%e0%80%ae',
  '%2f', '%2F', '%5c', '%5C', '\\', '%c0%af', '%e0%80%af', '%c1%9c', '%252f', '%00', '%0a', '%0d%0a', '%ff', '%fe%ff', '%',
  '%zz', '%4', ';', ';x=1', '?', '?a=../../', '#', '~', '*', ':', '@', '%20', ' ', 'ü', '%c3%bc', 'x'.repeat(300),
];
/** The secret paths themselves, so the fuzz often aims right at them. */
const SECRETS = [
  'seed/master/k8s-image/etc/k8s-image/pki/ca.key',
  'seed/master/k8s-image/etc/k8s-image/token',
  'seed/node01/k8s-image/etc/k8s-image/report.key',
  'seed/node02/k8s-image/etc/k8s-image/kubeadm.yaml',
  'nocloud/node01/user-data',
  'nocloud/master/user-data',
];
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'get', 'PRI', 'G\tET', 'X'.repeat(40), ''];
const VERSIONS = [...Array(12).fill('HTTP/1.1'), 'HTTP/1.0', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/0.9', '', 'http/1.1'];
const SEPS = [...Array(12).fill('/'), '//', '', '%2f', '\\', '/./', '/../'];
/** Real files and pages, asked for as they are, so plenty of answers are 200/206/403 and carry bytes. */
const REAL = [...SECRETS, 'ks/master.cfg', 'ks/node01.cfg', 'status.json', 'status', 'status/log/node01', 'boot.ipxe', 'big.img', 'ipxe/01-52-54-00-00-00-10.ipxe', 'seed/master/k8s-image/usr/local/lib/k8s-image/report.py', 'nocloud/node02/meta-data'];

export interface Case {
  bytes: Buffer;
  methods: string[];
  from: string;
  what: string;
}

function target(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let path: string;
  const k = r();
  if (k < 0.3) path = `/${pick(REAL)}`;
  else if (k < 0.6) {
    // A secret path with one to three pieces spliced in or swapped.
    const parts = pick(SECRETS).split('/');
    for (let m = 0; m < 1 + Math.floor(r() * 3); m++) {
      const i = Math.floor(r() * (parts.length + 1));
      if (r() < 0.6) parts.splice(i, 0, pick(PIECES));
      else parts[Math.min(i, parts.length - 1)] = pick(PIECES);
    }
    path = parts.map((p, i) => (i ? pick(SEPS) : '') + p).join('');
  } else if (k < 0.85) {
    path = Array.from({ length: 1 + Math.floor(r() * 8) }, () => pick(SEPS) + pick(PIECES)).join('');
  } else {
    path = Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => 0x20 + Math.floor(r() * 0x5f))).toString('latin1');
  }
  if (!path.startsWith('/') && r() < 0.9) path = `/${path}`;
  const form = r();
  if (form < 0.12) return `http://x${path}`;
  if (form < 0.16) return `HTTP://127.0.0.1:1${path}`;
  if (form < 0.18) return `https://[::1]${path}`;
  if (form < 0.19) return '*';
  return path;
}

function chunked(r: () => number, body: Buffer): string {
  const out: string[] = [];
  for (let off = 0; off < body.length; ) {
    const n = 1 + Math.floor(r() * Math.max(1, body.length - off));
    out.push(`${n.toString(16)}\r\n${body.toString('latin1', off, off + n)}\r\n`);
    off += n;
  }
  return `${out.join('')}0\r\n\r\n`;
}

function request(r: () => number): { text: string; method: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const method = pick(METHODS);
  const t = r() < 0.1 && method === 'POST' ? '/report' : target(r);
  const headers: string[] = [];
  if (r() < 0.95) headers.push('Host: x');
  if (r() < 0.3) headers.push(`Range: ${pick(['bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=9999999999-', 'bytes=0-0,5-6', 'bytes=-', 'bits=1-2', 'bytes=18446744073709551615-', 'bytes=3-1'])}`);
  if (r() < 0.2) headers.push(`X-Real-IP: ${pick([...NODES.map((n) => n.ip), '127.0.0.1', '::1', 'junk', '', '1.2.3.4, 5.6.7.8'])}`);
  if (r() < 0.1) headers.push(`X-Junk-${Math.floor(r() * 100)}: ${'v'.repeat(Math.floor(r() * (r() < 0.1 ? 20000 : 200)))}`);
  if (r() < 0.05) headers.push('Expect: 100-continue');
  if (r() < 0.05) headers.push('Upgrade: websocket', 'Connection: Upgrade');
  let body = '';
  const kb = r();
  if (kb < 0.45) {
    const payload =
      r() < 0.5
        ? `node=${pick(['master', 'node01', 'constructor', '__proto__', 'x'])}&stage=${pick(['installed', 'done', 'bogus'])}&time=${Math.floor(r() * 4e9)}&nonce=${'0'.repeat(32)}&sig=${'a'.repeat(64)}${r() < 0.2 ? `&log=${'L'.repeat(Math.floor(r() * 300000))}` : ''}`
        : Buffer.from(Array.from({ length: Math.floor(r() * 2000) }, () => Math.floor(r() * 256))).toString('latin1');
    const frame = r();
    if (frame < 0.45) {
      headers.push(`Content-Length: ${Buffer.byteLength(payload, 'latin1')}`);
      body = payload;
    } else if (frame < 0.6) {
      headers.push(`Content-Length: ${Buffer.byteLength(payload, 'latin1') + pick([-3, 5, 1000, 1 << 30])}`);
      body = payload;
    } else if (frame < 0.8) {
      headers.push('Transfer-Encoding: chunked');
      body = r() < 0.8 ? chunked(r, Buffer.from(payload, 'latin1')) : `zz\r\n${payload}`;
    } else if (frame < 0.9) {
      headers.push('Transfer-Encoding: chunked', `Content-Length: ${payload.length}`);
      body = chunked(r, Buffer.from(payload, 'latin1'));
    } else {
      headers.push(`Content-Length: ${pick(['-1', '1e3', '0x10', ' 5', '5, 5', '99999999999999999999'])}`);
      body = payload.slice(0, 50);
    }
  }
  return { text: `${method} ${t} ${pick(VERSIONS)}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`, method };
}

export function httpCase(r: () => number): Case {
  const n = r() < 0.8 ? 1 : 2 + Math.floor(r() * 4);
  const reqs = Array.from({ length: n }, () => request(r));
  const from = [STRANGER, ...NODES.map((x) => x.ip)][Math.floor(r() * (NODES.length + 1))]!;
  const text = reqs.map((q) => q.text).join('');
  return { bytes: Buffer.from(text, 'latin1'), methods: reqs.map((q) => q.method), from, what: JSON.stringify(text.slice(0, 300)) };
}

/**
 * One case on one connection: everything the server sends back until it closes, goes quiet for
 * 200 ms after answering, or 2 s pass. (No half-close: node's server drops answers still pending
 * when the client sends FIN, which would hide most file answers from the fuzz.)
 */
function exchange(port: number, c: Case, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let quiet: NodeJS.Timeout | undefined;
    const s = connect({ host: '127.0.0.1', port, localAddress: c.from }, () => s.write(c.bytes));
    const done = () => {
      clearTimeout(timer);
      clearTimeout(quiet);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => {
      // A live feed or a big file: the head is enough to judge.
      if (size < 1 << 20) chunks.push(d);
      size += d.length;
      clearTimeout(quiet);
      quiet = setTimeout(done, 200);
    });
    s.on('error', done);
    s.on('close', done);
  });
}

export interface FuzzOutcome {
  cases: number;
  statuses: Map<number, number>;
  violations: string[];
  maxFds: number;
}

/**
 * Runs cases against a running serve until `deadline` (ms since epoch) or `maxCases`; `leak` says
 * which secret file a body shows bytes of that the asker may not read.
 */
export async function fuzzServe(serve: Serve, opts: { seed: number; deadline: number; maxCases?: number; baselineFds: number; leak: (body: Buffer, mayRead: (f: string) => boolean) => string | undefined; concurrency?: number }): Promise<FuzzOutcome> {
  const r = rng(opts.seed);
  const statuses = new Map<number, number>();
  const violations: string[] = [];
  let cases = 0;
  let maxFds = 0;
  const nameOf = new Map([[STRANGER, ''], ...NODES.map((n) => [n.ip, n.name] as [string, string])]);
  const worker = async () => {
    while (Date.now() < opts.deadline && cases < (opts.maxCases ?? Infinity) && violations.length < 5) {
      const i = cases++;
      const c = httpCase(r);
      const data = await exchange(serve.port, c, 2000);
      const answers = parseResponses(data, c.methods);
      for (const res of answers) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) violations.push(`#${i} from ${c.from}: ${res.status} for ${c.what}`);
      }
      const node = nameOf.get(c.from);
      const mayRead = (f: string) => !!node && (f.startsWith(`seed/${node}/`) || f.startsWith(`nocloud/${node}/`));
      // Each body on its own (a window across head and body is no secret), and whatever did not parse as a whole.
      const parsed = answers.reduce((n, a) => n + a.head.length + 4 + a.body.length, 0);
      const leak = answers.map((a) => opts.leak(a.body, mayRead)).find(Boolean) ?? (parsed < data.length ? opts.leak(data.subarray(parsed), mayRead) : undefined);
      if (leak) violations.push(`#${i} from ${c.from}: bytes of ${leak} for ${c.what}; answered ${JSON.stringify(data.toString('latin1').slice(0, 1500))}`);
      if (i % 200 === 0) {
        if (!serve.alive()) violations.push(`#${i}: serve died after ${c.what}: ${serve.log().slice(-1500)}`);
        else maxFds = Math.max(maxFds, serve.fds());
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  if (!serve.alive()) violations.push(`serve died: ${serve.log().slice(-1500)}`);
  if (maxFds > opts.baselineFds + 64) violations.push(`open files grew from ${opts.baselineFds} to ${maxFds}`);
  return { cases, statuses, violations, maxFds };
}
