/**
 * The farm's HTTP server. Two jobs, either or both:
 *  - the PXE tree's http/ (and the DVD as centos7/), with HEAD, Range, content types and an access
 *    log, streaming every file (memory does not grow with the file or the number of clients). A
 *    node's secret files (seed/<node>/, nocloud/<node>/) go to that node's reserved address only;
 *    nothing is ever listed.
 *  - the farm's status: POST /report takes a node's signed stage report (kept durably, see
 *    status/store.ts); /status is the live page, /status.json the data, /status/events the live
 *    feed, /status/log/<node> a failure's log. "installed" switches a PXE node to the local disk.
 */
import { createReadStream, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, normalize, sep } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { entryPaths, localEntries } from '../pxe/index.js';
import { openIso, type IsoImage } from '../iso/reader.js';
import { MAX_REPORT_BYTES, parseReport, reportSignature } from '../status/protocol.js';
import { StatusStore } from '../status/store.js';
import { rowOf, statusDocument, type FarmNode } from '../status/view.js';
import { statusPage } from '../status/page.js';

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

/** The nodes the server knows and the key each signs its reports with. */
export interface FarmIndex {
  cluster: string;
  nodes: FarmNode[];
  keys: Record<string, string>;
}

/** The index of a PXE tree: its pxe.json and report-keys.json. */
export function pxeTreeIndex(dir: string): FarmIndex {
  const index = JSON.parse(readFileSync(join(dir, 'pxe.json'), 'utf8')) as { cluster: string; nodes: FarmNode[] };
  const keys = JSON.parse(readFileSync(join(dir, 'report-keys.json'), 'utf8')) as Record<string, string>;
  return { cluster: index.cluster, nodes: index.nodes, keys };
}

export interface ServeOptions {
  /** The PXE tree (`k8s-image pxe` output); without it only the status is served. */
  dir?: string;
  /** The nodes and their report keys: from the config and secrets; default: the PXE tree's. */
  index?: FarmIndex;
  /** Where the status log and reported installs are kept (`<tree>.state`). */
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
  const httpRoot = opts.dir ? realpathSync(join(opts.dir, 'http')) : undefined;
  const installerIso: IsoImage | undefined = opts.installer && statSync(opts.installer).isFile() ? openIso(opts.installer) : undefined;
  const installerRoot = opts.installer && !installerIso ? realpathSync(opts.installer) : undefined;
  if (!opts.dir && !opts.index) throw new Error('startFarmServer: neither a PXE tree nor an index');
  const index = opts.index ?? pxeTreeIndex(opts.dir!);
  const byName = new Map(index.nodes.map((n) => [n.name, n]));
  const store = new StatusStore(opts.stateDir);
  for (const note of store.notes) opts.log(note);
  const skew = opts.clockSkew ?? 12 * 3600;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const events = new Set<ServerResponse>();
  const doc = () => statusDocument(index.cluster, index.nodes, (n) => store.get(n), Date.now());
  store.subscribe((s) => {
    const n = byName.get(s.node);
    if (!n || !events.size) return;
    const d = doc();
    const data = `event: node\ndata: ${JSON.stringify({ row: rowOf(n, s), counts: d.counts })}\n\n`;
    for (const res of events) res.write(data);
  });

  async function report(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REPORT_BYTES) return send(res, 413, `report too large (at most ${MAX_REPORT_BYTES} bytes)\n`);
      chunks.push(chunk);
    }
    const parsed = parseReport(Buffer.concat(chunks).toString('utf8'));
    if ('problem' in parsed) return send(res, 400, `bad report: ${parsed.problem}\n`);
    const { report: r, sig } = parsed;
    const key = index.keys[r.node];
    if (!key) return send(res, 403, `no node ${r.node} in cluster ${index.cluster}\n`);
    const want = Buffer.from(reportSignature(key, { ...r, time: String(r.time) }), 'hex');
    if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) return send(res, 403, 'signature does not match this node\n');
    if (Math.abs(now() - r.time) > skew) return send(res, 403, `report time ${new Date(r.time * 1000).toISOString()} is more than ${skew}s off this server's clock\n`);
    // Replay protection: a nonce is taken once, and only within the time window above.
    if (store.seen(r.node, r.nonce)) return send(res, 409, 'replayed report (this nonce was taken already)\n');
    const ip = clientIp(req);
    await store.append({ node: r.node, stage: r.stage, time: r.time, nonce: r.nonce, received: Date.now(), ip, ...(r.stage === 'failed' ? { log: r.log } : {}) });
    opts.log(`report: ${r.node} ${r.stage} (node clock ${new Date(r.time * 1000).toISOString()}) from ${ip}`);
    const n = byName.get(r.node)!;
    if (r.stage === 'installed' && opts.dir && n.mac) {
      await mkdir(join(opts.stateDir, 'installed'), { recursive: true });
      await writeFile(join(opts.stateDir, 'installed', r.node), `${new Date(r.time * 1000).toISOString()} ${ip}\n`);
      // The next PXE boot of this MAC goes to the local disk: a machine left on PXE-first does not reinstall in a loop.
      const e = localEntries(index.cluster, n);
      const p = entryPaths(n);
      for (const [path, text] of [[p.pxelinux, e.pxelinux], [p.grub, e.grub], [p.ipxe, e.ipxe]] as const) {
        const target = join(opts.dir, path);
        await writeFile(`${target}.tmp`, text);
        await rename(`${target}.tmp`, target);
      }
      opts.log(`${r.node} (${n.mac}): installed; its PXE entries now boot the local disk`);
    }
    return send(res, 200, 'ok\n');
  }

  /** /status, /status.json, /status/events, /status/log/<node>; undefined when the path is none of them. */
  function status(req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
    const head = req.method === 'HEAD';
    const reply = (type: string, text: string) => {
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(head ? undefined : text);
      return Buffer.byteLength(text);
    };
    if (path === '/' && !opts.dir) {
      res.writeHead(302, { location: '/status' });
      res.end();
      return 0;
    }
    if (path === '/status' || path === '/status/') return reply('text/html; charset=utf-8', statusPage(doc()));
    if (path === '/status.json') return reply('application/json', `${JSON.stringify(doc(), null, 1)}\n`);
    if (path === '/status/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 2000\n: k8s-image status of cluster ${index.cluster}\n\n`);
      events.add(res);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
      res.on('close', () => {
        clearInterval(beat);
        events.delete(res);
      });
      return 0;
    }
    const m = /^\/status\/log\/([a-z0-9-]{1,63})$/.exec(path);
    if (m) {
      const s = store.get(m[1]!);
      if (s?.failureLog === undefined) return send(res, 404, `no failure reported by ${m[1]}\n`);
      const when = new Date(s.failedAt!).toISOString();
      return reply('text/plain; charset=utf-8', `# ${s.node}: failed at ${when} (server clock), from ${s.lastIp}; its last log lines, secrets masked on the node\n${s.failureLog}\n`);
    }
    return undefined;
  }

  function file(req: IncomingMessage, res: ServerResponse, path: string): number {
    const ip = clientIp(req);
    if (!httpRoot) return send(res, 404, 'not found (this server has no PXE tree: only /status and /report)\n');
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
    const bytes = status(req, res, path) ?? file(req, res, path);
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
            for (const res of events) res.end();
            server.closeAllConnections();
            server.close(() => {
              installerIso?.close();
              store.close();
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
