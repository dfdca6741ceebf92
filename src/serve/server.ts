/**
 * The farm's HTTP server: the PXE tree's http/ (and the DVD tree as centos7/), with HEAD, Range,
 * content types and an access log, streaming every file (memory does not grow with the file or the
 * number of clients). A node's secret files (seed/<node>/, nocloud/<node>/) go to that node's
 * reserved address only; nothing is ever listed. POST /report takes a node's signed stage report;
 * "installed" switches its PXE entries to the local disk (install once).
 */
import { createReadStream, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { entryPaths, localEntries, reportSignature } from '../pxe/index.js';
import { openIso, type IsoImage } from '../iso/reader.js';

const TYPES: Record<string, string> = {
  cfg: 'text/plain; charset=utf-8',
  ipxe: 'text/plain; charset=utf-8',
  json: 'application/json',
  yaml: 'text/yaml; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  img: 'application/octet-stream',
  iso: 'application/octet-stream',
  rpm: 'application/x-rpm',
  xml: 'application/xml',
  gz: 'application/gzip',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  sqlite: 'application/octet-stream',
  efi: 'application/efi',
};

interface PxeIndex {
  cluster: string;
  nodes: { name: string; ip: string; mac: string; role: string }[];
}

export interface ServeOptions {
  /** The PXE tree (`k8s-image pxe` output). */
  dir: string;
  /** Where reported installs are kept (`<tree>.state`). */
  stateDir: string;
  /** A CentOS 7 DVD, its ISO image (read in place) or extracted tree, served as /centos7/. */
  installer?: string;
  log: (line: string) => void;
  /** Seconds a report's time may be off (clocks in installers drift). */
  clockSkew?: number;
  now?: () => number;
}

export interface FarmServer {
  server: Server;
  close(): Promise<void>;
}

/** The real path of `rel` under `root`, or undefined when it leaves root (.., symlinks) or is not a file. */
function safeFile(root: string, rel: string): string | undefined {
  const joined = normalize(join(root, rel));
  if (joined !== root && !joined.startsWith(root + sep)) return undefined;
  try {
    const real = realpathSync(joined);
    if (real !== root && !real.startsWith(root + sep)) return undefined;
    return statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, text: string): number {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return Buffer.byteLength(text);
}

function clientIp(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export function startFarmServer(opts: ServeOptions, listen: { host: string; port: number }): Promise<FarmServer> {
  const httpRoot = realpathSync(join(opts.dir, 'http'));
  const installerIso: IsoImage | undefined = opts.installer && statSync(opts.installer).isFile() ? openIso(opts.installer) : undefined;
  const installerRoot = opts.installer && !installerIso ? realpathSync(opts.installer) : undefined;
  const index = JSON.parse(readFileSync(join(opts.dir, 'pxe.json'), 'utf8')) as PxeIndex;
  const keys = JSON.parse(readFileSync(join(opts.dir, 'report-keys.json'), 'utf8')) as Record<string, string>;
  const byName = new Map(index.nodes.map((n) => [n.name, n]));
  // The newest report time per node, kept on disk so a restart does not reopen replays.
  const lastReport = new Map<string, number>();
  for (const n of index.nodes) {
    try {
      lastReport.set(n.name, Number(readFileSync(join(opts.stateDir, 'last-report', n.name), 'utf8')));
    } catch {
      /* never reported */
    }
  }
  const skew = opts.clockSkew ?? 12 * 3600;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));

  async function report(req: IncomingMessage, res: ServerResponse): Promise<number> {
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 4096) return send(res, 413, 'report too large\n');
    }
    const f = new URLSearchParams(body);
    const node = f.get('node') ?? '';
    const stage = f.get('stage') ?? '';
    const time = f.get('time') ?? '';
    const sig = f.get('sig') ?? '';
    const key = keys[node];
    if (!key || !/^[a-z]{1,32}$/.test(stage) || !/^[0-9]{1,12}$/.test(time) || !/^[0-9a-f]{64}$/.test(sig)) return send(res, 400, 'bad report\n');
    const want = Buffer.from(reportSignature(key, node, stage, time), 'hex');
    if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) return send(res, 403, 'signature does not match this node\n');
    const t = Number(time);
    if (Math.abs(now() - t) > skew) return send(res, 403, 'report too old or from the future\n');
    // Replay protection: each node's reports only move forward in time.
    if (t <= (lastReport.get(node) ?? 0)) return send(res, 409, 'replayed or out-of-order report\n');
    lastReport.set(node, t);
    await mkdir(join(opts.stateDir, 'last-report'), { recursive: true });
    await writeFile(join(opts.stateDir, 'last-report', node), `${t}\n`);
    opts.log(`report: ${node} ${stage} at ${new Date(t * 1000).toISOString()} from ${clientIp(req)}`);
    if (stage === 'installed') {
      const n = byName.get(node)!;
      await mkdir(join(opts.stateDir, 'installed'), { recursive: true });
      await writeFile(join(opts.stateDir, 'installed', node), `${new Date(t * 1000).toISOString()} ${clientIp(req)}\n`);
      // The next PXE boot of this MAC goes to the local disk: a machine left on PXE-first does not reinstall in a loop.
      const e = localEntries(index.cluster, n);
      const p = entryPaths(n);
      for (const [path, text] of [[p.pxelinux, e.pxelinux], [p.grub, e.grub], [p.ipxe, e.ipxe]] as const) {
        const target = join(opts.dir, path);
        await writeFile(`${target}.tmp`, text);
        await rename(`${target}.tmp`, target);
      }
      opts.log(`${node} (${n.mac}): installed; its PXE entries now boot the local disk`);
    }
    return send(res, 200, 'ok\n');
  }

  function file(req: IncomingMessage, res: ServerResponse, path: string): number {
    const ip = clientIp(req);
    let root = httpRoot;
    let rel = path;
    if (installerIso && path.startsWith('/centos7/')) {
      const e = installerIso.lookup(path.slice('/centos7/'.length));
      if (!e || e.isDir) return send(res, 404, 'not found\n');
      return window(req, res, e.size, e.name, (start, end) => createReadStream('', { fd: installerIso.fd, start: e.start + start, end: e.start + end, autoClose: false }));
    }
    if (installerRoot && (path === '/centos7' || path.startsWith('/centos7/'))) {
      root = installerRoot;
      rel = path.slice('/centos7'.length) || '/';
    }
    // A node's secrets: its seed files and its cloud-init data, to its own address only.
    const m = /^\/(seed|nocloud)\/([^/]+)\//.exec(path);
    if (m && root === httpRoot) {
      const owner = byName.get(m[2]!);
      if (!owner || owner.ip !== ip) return send(res, 403, 'these files belong to another machine\n');
    }
    const real = safeFile(root, rel);
    if (!real) return send(res, 404, 'not found\n');
    return window(req, res, statSync(real).size, real, (start, end) => createReadStream(real, { start, end }));
  }

  /** A file's bytes, whole or the asked range, streamed (never held in memory). */
  function window(req: IncomingMessage, res: ServerResponse, size: number, name: string, open: (start: number, end: number) => NodeJS.ReadableStream): number {
    const ext = name.split('.').pop()!.toLowerCase();
    const headers: Record<string, string | number> = { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'accept-ranges': 'bytes' };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!r || (r[1] === '' && r[2] === '')) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return 0;
      }
      if (r[1] === '') start = Math.max(0, size - Number(r[2]));
      else {
        start = Number(r[1]);
        end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
      }
      if (start > end || start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return 0;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return 0;
    }
    open(start, end).pipe(res);
    return end - start + 1;
  }

  const server = createServer((req, res) => {
    const t0 = Date.now();
    const done = (status: number, bytes: number) => opts.log(`${clientIp(req)} ${req.method} ${req.url} ${status} ${bytes} ${Date.now() - t0}ms`);
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return done(400, send(res, 400, 'bad path\n'));
    }
    if (path.includes('\0')) return done(400, send(res, 400, 'bad path\n'));
    if (req.method === 'POST' && path === '/report') {
      report(req, res).then(
        (bytes) => done(res.statusCode, bytes),
        (e: unknown) => done(500, send(res, 500, `${String(e)}\n`)),
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD, POST');
      return done(405, send(res, 405, 'method not allowed\n'));
    }
    const bytes = file(req, res, path);
    res.on('finish', () => done(res.statusCode, bytes));
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => {
              installerIso?.close();
              r();
            });
          }),
      });
    });
  });
}

/** Reported installs live beside the tree (`<tree>.state`), so rewriting the tree keeps them. */
export function stateDirFor(dir: string): string {
  return `${dir.replace(/\/+$/, '')}.state`;
}
