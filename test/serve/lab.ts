/**
 * The lab's PXE tree and `k8s-image serve` as users run it (a child process), for the adversarial
 * tests and the HTTP fuzzer: raw sockets from chosen loopback addresses (a node is its address),
 * the secret files of the tree as byte windows to look for in any answer, the server's open files.
 * Not a test file itself.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { defaultClusterYaml } from '../../src/config/index.js';

export const run = promisify(execFile);
export const cli = join(packageRoot, 'dist', 'src', 'cli.js');

/** The lab's three nodes on loopback addresses (so a test can be any of them) and each with a MAC. */
export const NODES = [
  { name: 'master', ip: '127.0.0.10' },
  { name: 'node01', ip: '127.0.0.11' },
  { name: 'node02', ip: '127.0.0.12' },
];
export const STRANGER = '127.0.0.99';

export const MACS = NODES.map((_, i) => `52:54:00:00:00:${(16 + i).toString(16)}`);

export function labYaml(ips = NODES.map((n) => n.ip), macs = MACS): string {
  const d = yaml.load(defaultClusterYaml()) as any;
  d.network = { ...(d.network ?? {}), prefix: 24, gateway: ips[0]!.replace(/\.\d+$/, '.1'), dns: [ips[0]!.replace(/\.\d+$/, '.1')], interface: 'eth0' };
  d.nodes = d.nodes.map((n: any, i: number) => ({ ...n, ip: ips[i], mac: macs[i] }));
  return yaml.dump(d);
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** `k8s-image pxe` of the lab into base/out; returns the tree. */
export async function labTree(base: string, port: number, ips?: string[], opts: { macs?: string[]; args?: string[] } = {}): Promise<string> {
  writeFileSync(join(base, 'lab.yaml'), labYaml(ips, opts.macs));
  // --server is only written into the tree (pxe refuses loopback, which no node could reach); the tests talk to the loopback server directly.
  await run(process.execPath, [cli, 'pxe', '-c', 'lab.yaml', '-o', 'out', '--server', `10.20.0.1:${port}`, ...(opts.args ?? [])], { cwd: base });
  return join(base, 'out', 'k8s-lab-pxe');
}

/**
 * The tree's proxy token (`<tree>/proxy-token`, 0600, 64 lowercase hex digits and a newline), the
 * one k8s-image pxe writes for its nginx site to send in X-K8s-Image-Proxy; written here when the
 * pxe that made the tree did not.
 */
export function proxyToken(tree: string): string {
  const path = join(tree, 'proxy-token');
  if (!existsSync(path)) writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const text = readFileSync(path, 'utf8');
  assert.match(text, /^[0-9a-f]{64}\n$/);
  return text.trim();
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const W = 16;

/**
 * Every 0600 file under http/ (a node's secrets), and a finder for any 16-byte sequence of them in
 * an answer. Sequences that also occur in a public file of the tree (which anyone may read) are not
 * counted: they are not secret.
 */
export function secretsOf(tree: string): { files: Map<string, Buffer>; leak: (body: Buffer, mayRead?: (file: string) => boolean) => string | undefined } {
  const files = new Map<string, Buffer>();
  const pub = new Set<string>();
  for (const f of walk(join(tree, 'http'))) {
    const b = readFileSync(f);
    if ((statSync(f).mode & 0o777) === 0o600) files.set(f.slice(tree.length + 6), b);
    else for (let i = 0; i + W <= b.length; i++) pub.add(b.toString('latin1', i, i + W));
  }
  // Each window with every file it occurs in (nodes' files share text).
  const windows = new Map<string, string[]>();
  for (const [name, b] of files) for (let i = 0; i + W <= b.length; i++) {
    const w = b.toString('latin1', i, i + W);
    if (pub.has(w)) continue;
    const list = windows.get(w);
    if (!list) windows.set(w, [name]);
    else if (!list.includes(name)) list.push(name);
  }
  assert.ok(files.size >= 10 && windows.size > 1000, `the lab has secrets to look for (${files.size} files, ${windows.size} windows)`);
  return {
    files,
    /** The secret file some 16 bytes of `body` come from, unless the asker may read one they could come from. */
    leak: (body, mayRead = () => false) => {
      for (let i = 0; i + W <= body.length; i++) {
        const hit = windows.get(body.toString('latin1', i, i + W));
        if (hit && !hit.some(mayRead)) return hit[0];
      }
      return undefined;
    },
  };
}

export interface Serve {
  proc: ChildProcess;
  pid: number;
  port: number;
  log: () => string;
  fds: () => number;
  alive: () => boolean;
  stop: () => Promise<void>;
}

/** `k8s-image serve --dir tree` as a user starts it, under `ulimit -n` when asked. */
export async function startServe(tree: string, port: number, opts: { ulimit?: number; umask?: string; args?: string[] } = {}): Promise<Serve> {
  const args = [cli, 'serve', '--dir', tree, '--listen', `127.0.0.1:${port}`, ...(opts.args ?? [])];
  const proc = opts.ulimit || opts.umask
    ? spawn('bash', ['-c', `${opts.ulimit ? `ulimit -n ${opts.ulimit}; ` : ''}${opts.umask ? `umask ${opts.umask}; ` : ''}exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let exited = false;
  proc.once('exit', () => (exited = true));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    // Keep the head (startup) and the tail; a fuzz run logs a lot.
    log = log.length > 4 << 20 ? log.slice(0, 1 << 20) + log.slice(-(1 << 20)) + d : log + d;
  });
  for (let i = 0; i < 400 && !log.includes('live status at') && !exited; i++) await new Promise((r) => setTimeout(r, 25));
  assert.match(log, /live status at/, log);
  return {
    proc,
    pid: proc.pid!,
    port,
    log: () => log,
    fds: () => readdirSync(`/proc/${proc.pid}/fd`).length,
    alive: () => !exited,
    stop: async () => {
      if (exited) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

/** Bytes sent raw from `from`; everything that comes back until the server closes (or `ms` passes). */
export function raw(port: number, bytes: string | Buffer, opts: { from?: string; ms?: number } = {}): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port, localAddress: opts.from ?? STRANGER });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed: false });
    }, opts.ms ?? 5000);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed: true });
    });
    s.write(bytes);
  });
}

/** One GET (or other method) with Connection: close; the status and body. */
export async function get(port: number, target: string, opts: { from?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: Buffer; head: string }> {
  const h = Object.entries({ host: 'x', connection: 'close', ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}), ...(opts.headers ?? {}) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const { data } = await raw(port, `${opts.method ?? 'GET'} ${target} HTTP/1.1\r\n${h}\r\n${opts.body ?? ''}`, { from: opts.from });
  const r = parseResponses(data, [opts.method ?? 'GET'])[0];
  return r ?? { status: 0, body: data, head: '' };
}

/** The responses in a byte stream, in order (HEAD answers have no body). */
export function parseResponses(data: Buffer, methods: string[]): { status: number; body: Buffer; head: string }[] {
  const out: { status: number; body: Buffer; head: string }[] = [];
  let off = 0;
  while (off < data.length) {
    const end = data.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = data.toString('latin1', off, end);
    const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
    if (!m) break;
    let p = end + 4;
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    const method = methods[out.length] ?? 'GET';
    let body: Buffer = Buffer.alloc(0);
    if (method !== 'HEAD' && cl) {
      body = data.subarray(p, p + Number(cl[1]));
      p += Number(cl[1]);
    } else if (method !== 'HEAD' && /\r\ntransfer-encoding: *chunked/i.test(head)) {
      body = data.subarray(p);
      p = data.length;
    }
    out.push({ status: Number(m[1]), body, head });
    off = p;
  }
  return out;
}
