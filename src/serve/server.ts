/**
 * The farm's HTTP server. Two jobs, either or both:
 *  - the PXE tree's http/ (and the DVD as centos7/), with HEAD, Range, content types and an access
 *    log, streaming every file (memory does not grow with the file or the number of clients). A
 *    node's secret files (seed/<node>/, nocloud/<node>/) go to that node's reserved address only,
 *    decided on the resolved file (after decoding and realpath), and only until its install is
 *    reported; nothing is ever listed.
 *  - the farm's status: POST /report takes a node's signed stage report (kept durably, see
 *    status/store.ts); /status is the live page, /status.json the data, /status/events the live
 *    feed, /status/log/<node> a failure's log. "installed" switches a PXE node to the local disk.
 * No request, body, header or connection pattern may crash it or make it answer 5xx (other than
 * 503 when out of file descriptors, or an `installed` report while `pxe` rewrites the tree):
 * bounded bodies and headers, timeouts at every stage, a connection cap sized from `ulimit -n`, and
 * every file closed when its client goes away.
 * `k8s-image pxe` may run again while this serves: the tree's index (nodes, addresses, MACs, report
 * keys, proxy token) is read again, as one whole, at the first request after pxe.json changed, and
 * an `installed` report is recorded under pxe's lock (`<parent>/.<tree>.lock`).
 */
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { chmod, mkdir, open, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { basename, dirname, join, relative, sep, isAbsolute } from 'node:path';
import { pipeline } from 'node:stream';
import { createHash, timingSafeEqual } from 'node:crypto';
import { UserError } from '../errors.js';
import { acquireLock, type Lock } from '../output/guard.js';
import { entryPaths, localEntries, macFileName } from '../pxe/index.js';
import { Admission, waitScript, type AdmissionOptions, type AdmissionSnapshot } from './admission.js';
import { openIso, type IsoImage } from '../iso/reader.js';
import { MAX_REPORT_BYTES, isCertKind, parseReport, reportSignature } from '../status/protocol.js';
import { StatusStore } from '../status/store.js';
import { clockOffsetText, rowOf, statusDocument, type FarmNode } from '../status/view.js';
import { statusPage } from '../status/page.js';
import { parseTarget } from './target.js';
import { budgetFor, softFileLimit, type Budget } from './limits.js';

const TYPES = new Map<string, string>([
  ['cfg', 'text/plain; charset=utf-8'],
  ['ipxe', 'text/plain; charset=utf-8'],
  ['json', 'application/json'],
  ['yaml', 'text/yaml; charset=utf-8'],
  ['txt', 'text/plain; charset=utf-8'],
  ['img', 'application/octet-stream'],
  ['iso', 'application/octet-stream'],
  ['rpm', 'application/x-rpm'],
  ['xml', 'application/xml'],
  ['gz', 'application/gzip'],
  ['bz2', 'application/x-bzip2'],
  ['xz', 'application/x-xz'],
  ['sqlite', 'application/octet-stream'],
  ['efi', 'application/efi'],
]);

/** Timeouts (ms). Reports are at most 256 KiB; every other request is a bodiless GET/HEAD. */
export const TIMEOUTS = {
  /** The request line and headers must arrive within this (slow-header clients). */
  headers: 10000,
  /** The whole request, body included (slow-body clients). */
  request: 15000,
  /** A kept-alive connection with no new request. */
  keepAlive: 5000,
  /** No byte either way for this long: the connection is closed (a stalled download too). */
  idle: 30000,
};
/** Requests a client may have pipelined ahead of the one being answered; no real client pipelines. */
const MAX_PIPELINED = 32;
/** A live-page subscriber that stops reading is dropped once this much is queued for it. */
const MAX_EVENT_BACKLOG = 1 << 20;

/** The nodes the server knows and the key each signs its reports with. */
export interface FarmIndex {
  cluster: string;
  nodes: FarmNode[];
  keys: Record<string, string> | ReadonlyMap<string, string>;
}

/** The index of a PXE tree: its pxe.json and report-keys.json. */
export function pxeTreeIndex(dir: string): FarmIndex {
  return readTree(dir, false).index;
}

/** The file `k8s-image pxe` writes beside pxe.json: the secret the nginx site sends to serve (0600, 64 hex digits). */
export const PROXY_TOKEN_FILE = 'proxy-token';
/** The header nginx's proxied locations carry it in: `proxy_set_header X-K8s-Image-Proxy <token>;`. */
export const PROXY_TOKEN_HEADER = 'x-k8s-image-proxy';

/** The proxy token of a tree, or why there is none usable (one line that says what to do). */
export function readProxyToken(dir: string): { token: string } | { problem: string } {
  const path = join(dir, PROXY_TOKEN_FILE);
  let text: string;
  let st: Stats;
  try {
    const fd = openSync(path, 'r');
    try {
      st = fstatSync(fd);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `no ${path} (the token nginx sends so serve can tell it from any other local user); re-run k8s-image pxe, which writes it and the nginx site that sends it` };
    return { problem: `${path}: cannot be read (${code ?? String(e)})` };
  }
  if (!/^[0-9a-f]{64}\n?$/.test(text)) return { problem: `${path}: not one line of 64 lowercase hex digits; re-run k8s-image pxe to write it again` };
  if ((st.mode & 0o077) !== 0) return { problem: `${path}: mode 0${(st.mode & 0o777).toString(8)}, readable by other users (who could then claim any node's address); chmod 600 it or re-run k8s-image pxe` };
  return { token: text.slice(0, 64) };
}

/** What identifies a file's version: a swapped-in tree (rename) has a new inode. */
const versionOf = (st: Stats | undefined) => (st ? `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}` : '-');
const statOrNone = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/** A PXE tree as serve uses it, read as one consistent whole. */
interface TreeView {
  index: FarmIndex;
  keys: ReadonlyMap<string, string>;
  byName: ReadonlyMap<string, FarmNode>;
  /** By the name of its per-MAC entry (01-aa-bb-...) and by its address: whose request this is, for admission. */
  byMacFile: ReadonlyMap<string, FarmNode>;
  byIp: ReadonlyMap<string, FarmNode>;
  httpRoot?: string;
  proxy?: { token: string } | { problem: string };
  /** pxe.json's version (and proxy-token's, when it is read) this view was read from. */
  version: string;
}

function viewOf(index: FarmIndex, extra: Partial<TreeView> = {}): TreeView {
  // Maps, never plain objects: a node named "constructor" or "__proto__" is just an unknown name.
  const keys: ReadonlyMap<string, string> = index.keys instanceof Map ? index.keys : new Map(Object.entries(index.keys));
  return {
    index,
    keys,
    byName: new Map(index.nodes.map((n) => [n.name, n])),
    byMacFile: new Map(index.nodes.filter((n) => n.mac).map((n) => [macFileName(n.mac!), n])),
    byIp: new Map(index.nodes.map((n) => [n.ip, n])),
    version: '',
    ...extra,
  };
}

/** The version of a tree's files serve reads, as cheaply as two stats. */
function treeVersion(dir: string, withToken: boolean): string {
  return `${versionOf(statSync(join(dir, 'pxe.json')))}${withToken ? ` ${versionOf(statOrNone(join(dir, PROXY_TOKEN_FILE)))}` : ''}`;
}

/**
 * pxe.json, report-keys.json (and proxy-token) of one and the same tree: pxe swaps a whole new tree
 * in by rename, so the files read are kept only when pxe.json is still the file that was opened
 * once the others are read (else the tree changed in between: read again). Throws when no
 * consistent whole could be read (mid-swap, garbage): the caller keeps what it had.
 */
function readTree(dir: string, withToken: boolean): TreeView {
  for (let attempt = 0; ; attempt++) {
    const before = treeVersion(dir, withToken);
    const text = readFileSync(join(dir, 'pxe.json'), 'utf8');
    const keysText = readFileSync(join(dir, 'report-keys.json'), 'utf8');
    const proxy = withToken ? readProxyToken(dir) : undefined;
    const httpRoot = realpathSync(join(dir, 'http'));
    const version = treeVersion(dir, withToken);
    if (version !== before) {
      if (attempt < 3) continue;
      throw new Error(`${dir} kept changing while being read`);
    }
    const doc = JSON.parse(text) as { cluster: string; nodes: FarmNode[] };
    const keys = JSON.parse(keysText) as Record<string, string>;
    if (typeof doc?.cluster !== 'string' || !Array.isArray(doc.nodes) || keys === null || typeof keys !== 'object') throw new Error(`${dir}: pxe.json or report-keys.json is not what k8s-image pxe writes`);
    return viewOf({ cluster: doc.cluster, nodes: doc.nodes, keys: new Map(Object.entries(keys)) }, { httpRoot, proxy, version });
  }
}

/** Equal secrets, compared in constant time whatever the given one's length. */
function sameToken(given: string, token: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(token));
}

/** How long an `installed` report waits for a running `k8s-image pxe` (its lock) before it is answered 503: the node resends. */
export const PXE_LOCK_WAIT_MS = 3000;

export interface ServeOptions {
  /** The PXE tree (`k8s-image pxe` output); without it only the status is served. */
  dir?: string;
  /** The nodes and their report keys: from the config and secrets; default: the PXE tree's. */
  index?: FarmIndex;
  /** Where the status log and reported installs are kept (`<tree>.state`). */
  stateDir: string;
  /** A CentOS 7 DVD, its ISO image (read in place) or extracted tree, served as /centos7/. */
  installer?: string;
  /** An offline bundle (`k8s-image bundle`), served as /bundle/ (public: packages, images, keys). */
  bundle?: string;
  log: (line: string) => void;
  /**
   * A request whose TCP peer is loopback may name the real client in X-Real-IP (a proxy in front),
   * if it also carries the tree's proxy token (`<dir>/proxy-token`) in X-K8s-Image-Proxy. Needs dir.
   */
  trustProxy?: boolean;
  /** Connection and subscriber caps; default: sized from this process's open-file limit. */
  budget?: Budget;
  /** At most this many nodes install at once (see admission.ts); none: no limit. */
  admission?: AdmissionOptions;
  now?: () => number;
}

export interface FarmServer {
  server: Server;
  budget: Budget;
  admission?: Admission;
  close(): Promise<void>;
}

const bare = (a: string) => (a.startsWith('::ffff:') ? a.slice(7) : a);
const isLoopback = (a: string) => a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): number {
  if (res.headersSent || res.destroyed) return 0;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  return Buffer.byteLength(text);
}

/** Per connection: requests not yet answered, and whether it may be closed to make room. */
interface Conn {
  pending: number;
  /** Answered 429 for pipelining too deep: the rest of its requests are dropped with it. */
  closing?: boolean;
  /** Streaming a file, a live feed, or a report being stored: not idle, never evicted. */
  working: number;
}

export async function startFarmServer(opts: ServeOptions, listen: { host: string; port: number }): Promise<FarmServer> {
  if (!opts.dir && !opts.index) throw new Error('startFarmServer: neither a PXE tree nor an index');
  if (opts.trustProxy && !opts.dir) throw new UserError('--trust-proxy: needs --dir (the PXE tree whose proxy-token the nginx site sends)');
  const dir = opts.dir;
  // The tree's own index is re-read whenever pxe.json (or proxy-token) changes: a `pxe` re-run swaps
  // a new tree in while this server runs. An index given by the caller is fixed.
  const follows = dir !== undefined && opts.index === undefined;
  const withToken = !!opts.trustProxy;
  let view: TreeView = follows ? readTree(dir, withToken) : viewOf(opts.index!, { httpRoot: dir ? realpathSync(join(dir, 'http')) : undefined, proxy: dir && withToken ? readProxyToken(dir) : undefined });
  if (view.proxy && 'problem' in view.proxy) throw new UserError(`--trust-proxy: ${view.proxy.problem}`);
  let failedVersion = '';
  let failedAt = 0;
  /** The tree changed and could not be read whole: who owns which address may have changed, so no node's secrets go out meanwhile. */
  let stale = false;
  /** The current view of the tree: read again when its files changed; a failed read keeps the last good one (and is retried). */
  function current(): TreeView {
    if (!follows) return view;
    let version: string;
    try {
      version = treeVersion(dir, withToken);
    } catch {
      return view; // mid-swap (no pxe.json for an instant): the previous tree until the new one is whole
    }
    // A tree that could not be read whole is tried again at most once a second (never a half index meanwhile).
    if (version === view.version || (version === failedVersion && Date.now() - failedAt < 1000)) return view;
    try {
      const next = readTree(dir, withToken);
      const was = view;
      view = next;
      failedVersion = '';
      stale = false;
      const moved = next.index.nodes.filter((n) => {
        const o = was.byName.get(n.name);
        return !o || o.ip !== n.ip || o.mac !== n.mac || was.keys.get(n.name) !== next.keys.get(n.name);
      }).length;
      const gone = was.index.nodes.filter((n) => !next.byName.has(n.name)).length;
      opts.log(`${dir}: the tree changed (k8s-image pxe ran); now ${next.index.nodes.length} nodes of cluster ${next.index.cluster} (${moved} new or changed, ${gone} gone)${next.proxy && 'problem' in next.proxy ? `; proxied requests refused: ${next.proxy.problem}` : ''}`);
    } catch (e) {
      // Logged once for the same files.
      if (version !== failedVersion) opts.log(`${dir}: the tree changed but could not be read whole (${(e as Error).message}); still serving the previous one`);
      failedVersion = version;
      failedAt = Date.now();
      stale = true;
    }
    return view;
  }
  /** The lock `k8s-image pxe` holds while it renders and swaps this tree: `<parent>/.<tree name>.lock`. */
  const treeReal = dir ? realpathSync(dir) : undefined;
  const lockDir = treeReal ? dirname(treeReal) : undefined;
  const lockName = treeReal ? basename(treeReal) : undefined;
  const budget = opts.budget ?? budgetFor(softFileLimit());
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const installedDir = join(opts.stateDir, 'installed');
  const installerIso: IsoImage | undefined = opts.installer && statSync(opts.installer).isFile() ? openIso(opts.installer) : undefined;
  const installerRoot = opts.installer && !installerIso ? realpathSync(opts.installer) : undefined;
  const bundleRoot = opts.bundle ? realpathSync(opts.bundle) : undefined;
  const store = new StatusStore(opts.stateDir);
  const admission = opts.admission ? new Admission(opts.admission) : undefined;
  // A restart keeps the count: the nodes whose last report says they are installing hold their
  // slots again (from now, to their deadline), so a restarted serve never lets twice the limit in.
  if (admission) for (const n of store.all()) if (n.stage === 'installing') admission.touch(n.node);
  for (const note of store.notes) opts.log(note);
  const events = new Set<ServerResponse>();
  const conns = new Map<Socket, Conn>();
  const doc = () => {
    const { index } = current();
    return withAdmission(statusDocument(index.cluster, index.nodes, (n) => store.get(n), Date.now()), admission?.snapshot());
  };
  store.subscribe((s) => {
    const n = current().byName.get(s.node);
    if (!n || !events.size) return;
    // The counts only (not every row of the document): at 5,000 nodes, once per report.
    const counts: Record<string, number> = {};
    for (const node of current().index.nodes) {
      const k = store.get(node.name)?.stage ?? 'none';
      counts[k] = (counts[k] ?? 0) + 1;
    }
    const a = admission?.snapshot();
    const data = `event: node\ndata: ${JSON.stringify({ row: rowOf(n, s), counts, ...(a ? { admission: a } : {}) })}\n\n`;
    for (const res of events) feed(res, data);
  });

  /** A write to a live-page subscriber; one that stopped reading is dropped, not buffered for. */
  function feed(res: ServerResponse, data: string): void {
    if (res.writableLength > MAX_EVENT_BACKLOG) res.destroy();
    else res.write(data);
  }

  /**
   * The client, as the TCP peer says, or (--trust-proxy, peer on loopback) as the proxy's X-Real-IP
   * says, believed only with the tree's proxy token: any local user can connect from loopback and
   * set X-Real-IP, only the proxy k8s-image pxe configured knows the token. A refusal otherwise.
   */
  function clientOf(req: IncomingMessage, peer: string): string | { status: number; why: string } {
    if (!opts.trustProxy || !isLoopback(peer)) return peer;
    const h = req.headers['x-real-ip'];
    if (h === undefined) return peer;
    const proxy = current().proxy;
    if (!proxy || 'problem' in proxy) return { status: 403, why: `X-Real-IP from a loopback peer refused: ${proxy ? proxy.problem : 'no proxy token'}` };
    const given = req.headers[PROXY_TOKEN_HEADER];
    if (typeof given !== 'string' || !sameToken(given, proxy.token)) {
      return { status: 403, why: `X-Real-IP from a loopback peer refused: only the proxy k8s-image pxe configured may name the client, and it sends X-K8s-Image-Proxy with the token in ${join(dir!, PROXY_TOKEN_FILE)}; this request has ${given === undefined ? 'no' : 'a wrong'} token` };
    }
    return typeof h === 'string' && isIP(h) ? bare(h) : { status: 400, why: 'X-Real-IP: expected one IP address (the proxy in front sets it: proxy_set_header X-Real-IP $remote_addr)' };
  }

  /** While its install is reported done, a node's secrets are not handed out (`<state>/installed/<node>`). */
  const installed = (node: string) => existsSync(join(installedDir, node));

  async function report(req: IncomingMessage, res: ServerResponse, ip: string, conn: Conn): Promise<number> {
    const tooLarge = () => {
      // Not read further: answered, then the connection closes (see lingerClose).
      lingerClose(req, res);
      return send(res, 413, `report too large (at most ${MAX_REPORT_BYTES} bytes)\n`, { connection: 'close' });
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_REPORT_BYTES) return tooLarge();
    const body = await new Promise<Buffer | undefined>((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPORT_BYTES) {
          req.off('data', onData);
          resolve(undefined);
        } else chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks)));
      // Aborted or timed out (requestTimeout): nobody to answer.
      req.once('close', () => resolve(Buffer.alloc(0)));
    });
    if (body === undefined) return tooLarge();
    if (res.destroyed || !req.complete) return 0;
    const parsed = parseReport(body.toString('utf8'));
    if ('problem' in parsed) return send(res, 400, `bad report: ${parsed.problem}\n`);
    const { report: r, sig } = parsed;
    /** Why the report is not taken (status and text), against the tree as it is now; undefined when it may be. */
    const refused = (): [number, string] | undefined => {
      const { keys, index } = current();
      const key = keys.get(r.node);
      if (key === undefined) return [403, `no node ${r.node} in cluster ${index.cluster}\n`];
      const want = Buffer.from(reportSignature(key, { node: r.node, stage: r.stage, time: String(r.time), nonce: r.nonce, log: r.log, certs: r.certsText }), 'hex');
      if (!timingSafeEqual(want, Buffer.from(sig, 'hex'))) return [403, 'signature does not match this node\n'];
      // Certificate expiry comes from masters only (kubeadm's PKI and cert-renew.sh live there): a
      // worker's key must not paint a master-like expiry, or a false warning, on the page.
      const role = current().byName.get(r.node)?.role;
      if ((isCertKind(r.stage) || r.certs) && role !== 'master') {
        return [403, `${r.node} is a ${role ?? 'node without a role'}, not a master: only masters report certificates (${isCertKind(r.stage) ? r.stage : 'the certs field'} refused)\n`];
      }
      // Replay protection is the nonce alone, kept for the life of status.log: the node's clock is
      // shown, never trusted (a board with a dead RTC must still get its "installed" accepted).
      if (store.seen(r.node, r.nonce)) return [409, 'replayed report (this nonce was taken already)\n'];
      return undefined;
    };
    const no = refused();
    if (no) return send(res, no[0], no[1]);
    const offset = r.time - now();
    const take = async () => {
      await store.append({ node: r.node, stage: r.stage, time: r.time, offset, nonce: r.nonce, received: Date.now(), ip, ...(r.stage === 'failed' || r.stage === 'certs-failed' ? { log: r.log } : {}), ...(r.certs ? { certs: r.certs } : {}) });
      // Its install is over (done or failed): its slot goes to the next waiting node.
      if (r.stage === 'installed' || r.stage === 'failed') admission?.leave(r.node);
      else if (r.stage === 'installing') admission?.touch(r.node);
      opts.log(`report: ${r.node} ${r.stage} (node clock ${new Date(r.time * 1000).toISOString()}, ${clockOffsetText(offset)}) from ${ip}`);
    };
    conn.working++;
    try {
      if (r.stage !== 'installed' || !dir) {
        await take();
        return send(res, 200, 'ok\n');
      }
      // "installed" changes the tree (the node's entries) and the state pxe renders from (the
      // marker): done under pxe's own lock, so a pxe run never renders from markers that change
      // under it, and against the tree as it is once that run swapped it in.
      let answer: [number, string] = [200, 'ok\n'];
      const ran = await underPxeLock(async () => {
        const again = refused();
        if (again) return void (answer = again);
        await take();
        const n = current().byName.get(r.node);
        if (!n?.mac) return;
        await mkdir(installedDir, { recursive: true });
        await writeFile(join(installedDir, r.node), `${new Date().toISOString()} ${ip} node clock ${new Date(r.time * 1000).toISOString()}\n`);
        // The next PXE boot of this MAC goes to the local disk: a machine left on PXE-first does not reinstall in a loop.
        const e = localEntries(current().index.cluster, n);
        const p = entryPaths(n);
        for (const [path, text] of [[p.pxelinux, e.pxelinux], [p.grub, e.grub], [p.ipxe, e.ipxe]] as const) {
          const target = join(dir, path);
          await writeFile(`${target}.tmp`, text);
          // dnsmasq and nginx (other users) read the entries: 0644 whatever this process's umask.
          await chmod(`${target}.tmp`, 0o644);
          await rename(`${target}.tmp`, target);
        }
        opts.log(`${r.node} (${n.mac}): installed; its PXE entries now boot the local disk and its secrets are no longer served`);
      });
      if (!ran) {
        opts.log(`report: ${r.node} installed not taken yet: k8s-image pxe is writing ${dir} (its lock ${join(lockDir!, `.${lockName}.lock`)} held for over ${PXE_LOCK_WAIT_MS / 1000}s); the node sends it again`);
        return send(res, 503, 'k8s-image pxe is rewriting the PXE tree; send the report again shortly\n', { 'retry-after': '5' });
      }
      return send(res, answer[0], answer[1]);
    } finally {
      conn.working--;
    }
  }

  /** Waiting `installed` reports, taken in batches under one hold of pxe's lock. */
  const lockJobs: { run: () => Promise<void>; deadline: number; done: (ran: boolean) => void; fail: (e: unknown) => void }[] = [];
  let pumping = false;
  let lockProblem = '';
  /** Run `fn` holding pxe's lock on the tree; false when the lock stayed taken for PXE_LOCK_WAIT_MS (fn did not run). Never blocks the event loop: the lock is polled. */
  function underPxeLock(fn: () => Promise<void>): Promise<boolean> {
    return new Promise((done, fail) => {
      lockJobs.push({ run: fn, deadline: Date.now() + PXE_LOCK_WAIT_MS, done, fail });
      void pump();
    });
  }
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (lockJobs.length) {
        let lock: Lock | undefined;
        try {
          lock = await acquireLock(lockDir!, lockName!, { waitMs: Math.max(0, lockJobs[0]!.deadline - Date.now()), pollMs: 50, onStale: (h) => opts.log(`took over the pxe lock of ${h}: that process is gone`) });
        } catch (e) {
          if (e instanceof UserError) {
            // Held all along by a pxe run: those whose time is up are answered 503 (they resend).
            const t = Date.now();
            while (lockJobs.length && lockJobs[0]!.deadline <= t) lockJobs.shift()!.done(false);
            continue;
          }
          // The lock cannot be taken at all (no write access to the tree's parent): go on without it, said once.
          const why = (e as NodeJS.ErrnoException).code ?? String(e);
          if (lockProblem !== why) opts.log(`cannot take k8s-image pxe's lock in ${lockDir} (${why}); installed reports are recorded without it (a pxe run at the same moment may miss one)`);
          lockProblem = why;
        }
        try {
          // Together, not one after another: their status-log appends share one fsync (a boot storm's
          // installed reports were one fsync each, tens a second, found by npm run bench:farm).
          // Each job is one node's; a replay of the same report is refused by its nonce, taken at once.
          await Promise.all(
            lockJobs.splice(0).map(async (job) => {
              try {
                await job.run();
                job.done(true);
              } catch (e) {
                job.fail(e);
              }
            }),
          );
        } finally {
          lock?.release();
        }
      }
    } finally {
      pumping = false;
    }
  }

  /** /status, /status.json, /status/events, /status/log/<node>; undefined when the path is none of them. */
  function status(req: IncomingMessage, res: ServerResponse, path: string, conn: Conn): number | undefined {
    const head = req.method === 'HEAD';
    const reply = (type: string, text: string) => {
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(head ? undefined : text);
      return Buffer.byteLength(text);
    };
    if (path === '/' && !opts.dir) {
      res.writeHead(302, { location: '/status', 'content-length': 0 });
      res.end();
      return 0;
    }
    if (path === '/status' || path === '/status/') return reply('text/html; charset=utf-8', statusPage(doc()));
    if (path === '/status.json') return reply('application/json', `${JSON.stringify(doc(), null, 1)}\n`);
    if (path === '/status/events') {
      // 429, not 503: the server is fine, there are just enough watchers already.
      if (events.size >= budget.subscribers) return send(res, 429, `too many live-page subscribers (${budget.subscribers}); /status.json has the same data\n`, { 'retry-after': '10' });
      if (head) return reply('text/event-stream', '');
      // Held only once this response is the one on the wire (not queued behind a pipelined one).
      attached(res, () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(`retry: 2000\n: k8s-image status of cluster ${current().index.cluster}\n\n`);
        events.add(res);
        conn.working++;
        const beat = setInterval(() => feed(res, ': keep-alive\n\n'), 15000);
        res.once('close', () => {
          clearInterval(beat);
          events.delete(res);
          conn.working--;
        });
      });
      return 0;
    }
    const m = /^\/status\/log\/([a-z0-9-]{1,63})$/.exec(path);
    if (m) {
      const s = current().byName.has(m[1]!) ? store.get(m[1]!) : undefined;
      if (s?.failureLog === undefined) return send(res, 404, `no failure reported by ${m[1]}\n`);
      const when = new Date(s.failedAt!).toISOString();
      return reply('text/plain; charset=utf-8', `# ${s.node}: failed at ${when} (server clock), from ${s.lastIp}; its last log lines, secrets masked on the node\n${s.failureLog}\n`);
    }
    return undefined;
  }

  /**
   * Admission (serve --max-installing): a node's install entry while the farm is full is the wait
   * script (returned); its kickstart and the installer's kernel and initrd mark it installing.
   */
  function admit(path: string, ip: string): string | undefined {
    const v = current();
    const entry = /^\/ipxe\/(01(?:-[0-9a-f]{2}){6})\.ipxe$/.exec(path);
    if (entry) {
      const node = v.byMacFile.get(entry[1]!);
      // An installed node's entry boots the local disk: nothing to wait for.
      if (!node || installed(node.name)) return undefined;
      // Entries are public, names and MACs are on the status page: only the node itself, from the
      // address the farm's DHCP reserves for it, takes or waits for a slot. Anyone else gets the
      // entry and holds nothing (behind proxy DHCP, where the firmware's address is another
      // server's, nodes are counted from their kickstart and kernel, fetched from their own address).
      if (ip !== node.ip) return undefined;
      if (admission!.enter(node.name)) return undefined;
      const seconds = admission!.sleepFor(node.name);
      return waitScript(node.name, path, seconds, admission!.snapshot());
    }
    const ks = /^\/ks\/([a-z0-9-]{1,63})\.cfg$/.exec(path);
    const node = ks ? v.byName.get(ks[1]!) : /^\/centos7\/images\/pxeboot\/(vmlinuz|initrd\.img)$/.test(path) ? v.byIp.get(ip) : undefined;
    // The installer fetches its kickstart from the node's own static address (ip=): a kickstart
    // fetched from anywhere else (a scraper, a stranger holding slots) admits nobody.
    if (node && node.ip === ip && !installed(node.name)) admission!.touch(node.name);
    return undefined;
  }

  /** The real path of `rel` under `root` and its stat, or undefined when it leaves root (symlinks) or is not a file. */
  function resolveFile(root: string, rel: string): { real: string; st: Stats } | undefined {
    try {
      const real = realpathSync(join(root, rel));
      if (real !== root && !real.startsWith(root + sep)) return undefined;
      const st = statSync(real);
      return st.isFile() ? { real, st } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Who may read a resolved file: undefined (anyone), or why not. Decided on the real path, so no
   * spelling of the request (encodings, symlinks, another node's prefix) reaches a node's secrets.
   */
  function refusal(real: string, st: Stats, ip: string): string | undefined {
    const { httpRoot, byName } = current();
    const rel = httpRoot ? relative(httpRoot, real) : '..';
    // Inside http/ (a name like "..private" is inside: only ".." itself or "../..." leaves).
    if (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) {
      const segs = rel.split(sep);
      if (segs[0] === 'seed' || segs[0] === 'nocloud') {
        const node = segs.length >= 3 ? byName.get(segs[1]!) : undefined;
        if (!node || node.ip !== ip) return 'these files belong to another machine';
        if (stale) return `the PXE tree changed and could not be read whole yet (see the serve log), so no node's secrets are served until it can: who owns which address may have changed`;
        if (installed(node.name)) return `${node.name} is installed (its install was reported), so its secrets are no longer served; run \`k8s-image pxe --reinstall ${node.name}\` to install it again`;
        return undefined;
      }
    }
    // Defence in depth: a private (0600) file anywhere else, in the tree or the --installer tree, is somebody's secret.
    if ((st.mode & 0o044) === 0) return 'a private file (mode 0600): not served (chmod 644 it if it is meant for everyone)';
    return undefined;
  }

  function file(req: IncomingMessage, res: ServerResponse, path: string, ip: string, conn: Conn): number {
    const { httpRoot } = current();
    if (bundleRoot && (path === '/bundle' || path.startsWith('/bundle/'))) {
      // The same checks as the tree: real path inside the bundle, regular files, no 0600 file.
      const found = resolveFile(bundleRoot, path.slice('/bundle'.length) || '/');
      if (!found) return send(res, 404, 'not found\n');
      const why = refusal(found.real, found.st, ip);
      if (why) return send(res, 403, `${why}\n`);
      return window(req, res, conn, found.st.size, found.real, async (start, end) => ({ stream: (await open(found.real, 'r')).createReadStream({ start, end }) }));
    }
    if (!httpRoot) return send(res, 404, 'not found (this server has no PXE tree: only /status and /report)\n');
    if (admission) {
      const wait = admit(path, ip);
      if (wait !== undefined) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(wait), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : wait);
        return Buffer.byteLength(wait);
      }
    }
    if (installerIso && path.startsWith('/centos7/')) {
      const e = installerIso.lookup(path.slice('/centos7/'.length));
      if (!e || e.isDir) return send(res, 404, 'not found\n');
      return window(req, res, conn, e.size, e.name, async (start, end) => ({ stream: createReadStream('', { fd: installerIso.fd, start: e.start + start, end: e.start + end, autoClose: false }) }));
    }
    let root = httpRoot;
    let rel = path;
    if (installerRoot && (path === '/centos7' || path.startsWith('/centos7/'))) {
      root = installerRoot;
      rel = path.slice('/centos7'.length) || '/';
    }
    const found = resolveFile(root, rel);
    if (!found) return send(res, 404, 'not found\n');
    const why = refusal(found.real, found.st, ip);
    if (why) return send(res, 403, `${why}\n`);
    const { real } = found;
    return window(req, res, conn, found.st.size, real, async (start, end) => {
      const h = await open(real, 'r');
      return { stream: h.createReadStream({ start, end }) };
    });
  }

  /**
   * A file's bytes, whole or the asked range, streamed (never held in memory). The file is opened
   * only when this response is the one on the wire, and closed whenever the client goes away.
   */
  function window(req: IncomingMessage, res: ServerResponse, conn: Conn, size: number, name: string, openAt: (start: number, end: number) => Promise<{ stream: NodeJS.ReadableStream }>): number {
    const ext = name.split('.').pop()!.toLowerCase();
    const headers: Record<string, string | number> = { 'content-type': TYPES.get(ext) ?? 'application/octet-stream', 'accept-ranges': 'bytes' };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    // Several ranges (bytes=0-0,5-6): ignored, the whole file is sent (200), as RFC 9110 14.2 allows;
    // no multipart/byteranges (no installer asks for it).
    if (range && !range.includes(',')) {
      const r = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(range);
      const unsatisfiable = () => {
        res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
        res.end();
        return 0;
      };
      if (!r || (r[1] === '' && r[2] === '')) return unsatisfiable();
      if (r[1] === '') start = Math.max(0, size - Number(r[2]));
      else {
        start = Number(r[1]);
        end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
      }
      if (start > end || start >= size) return unsatisfiable();
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = size === 0 ? 0 : end - start + 1;
    if (req.method === 'HEAD' || size === 0) {
      res.writeHead(status, headers);
      res.end();
      return 0;
    }
    attached(res, () => {
      conn.working++;
      let released = false;
      const release = () => {
        if (!released) (released = true), conn.working--;
      };
      res.once('close', release);
      openAt(start, end).then(
        ({ stream }) => {
          if (res.destroyed) {
            (stream as unknown as { destroy(): void }).destroy();
            return;
          }
          res.writeHead(status, headers);
          // pipeline: an aborted client destroys the file stream, which closes the file.
          pipeline(stream, res, () => release());
        },
        (e: NodeJS.ErrnoException) => {
          release();
          if (e.code === 'EMFILE' || e.code === 'ENFILE') send(res, 503, 'out of file descriptors; try again shortly\n', { 'retry-after': '2' });
          else send(res, 404, 'not found\n');
        },
      );
    });
    return end - start + 1;
  }

  /** Run `fn` once `res` is the response on the wire (a pipelined one waits its turn); never if the client left. */
  function attached(res: ServerResponse, fn: () => void): void {
    if (res.socket) return fn();
    res.once('socket', () => {
      if (!res.destroyed && res.socket && !res.socket.destroyed) fn();
    });
  }

  /** After a refused body: answer, stop reading, close once the answer is out (briefly draining so it is not reset away). */
  function lingerClose(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    res.once('finish', () => {
      socket.end();
      req.resume();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }

  const server = createServer({ maxHeaderSize: 8192, requestTimeout: TIMEOUTS.request, headersTimeout: TIMEOUTS.headers, keepAliveTimeout: TIMEOUTS.keepAlive, connectionsCheckingInterval: 1000 }, (req, res) => {
    const t0 = Date.now();
    const socket = req.socket;
    const conn = conns.get(socket) ?? { pending: 0, working: 0 };
    const peer = bare(socket.remoteAddress ?? '');
    // Node resets the idle timer to none once a kept-alive connection starts a new request.
    socket.setTimeout(TIMEOUTS.idle);
    conn.pending++;
    let logged = false;
    const client = clientOf(req, peer);
    const ipFor = typeof client === 'string' ? client : undefined;
    const done = (status: number, bytes: number) => {
      if (logged) return;
      logged = true;
      conn.pending--;
      opts.log(`${ipFor ?? peer} ${req.method} ${JSON.stringify(req.url).slice(1, -1).slice(0, 300)} ${status} ${bytes} ${Date.now() - t0}ms`);
    };
    let bytes = 0;
    const sent = () => (res.writableFinished ? bytes || Number(res.getHeader('content-length') ?? 0) : 0);
    res.once('finish', () => done(res.statusCode, sent()));
    // Closed before any answer (the client went away, a report aborted mid-body): 499, as nginx logs it, not the 200 never sent.
    res.once('close', () => done(res.headersSent ? res.statusCode : 499, sent()));
    // Nothing real pipelines this deep: what is queued is answered, then 429 and the connection
    // closes; requests parsed after that are never answered (their connection is going).
    if (conn.closing) return;
    if (conn.pending > MAX_PIPELINED) {
      conn.closing = true;
      bytes = send(res, 429, `more than ${MAX_PIPELINED} requests pipelined on one connection\n`, { connection: 'close' });
      return;
    }
    // A body where none belongs (anything but a report): answer, then close instead of reading it.
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    const target = parseTarget(req.url ?? '');
    if ('problem' in target) {
      res.setHeader('connection', 'close');
      bytes = send(res, 400, `bad request target: ${target.problem}\n`);
      return;
    }
    if (typeof client !== 'string') {
      res.setHeader('connection', 'close');
      bytes = send(res, client.status, `${client.why}\n`);
      return;
    }
    const { path } = target;
    if (req.method === 'POST' && path === '/report') {
      report(req, res, client, conn).then(
        (n) => (bytes = n),
        (e: unknown) => {
          // The status log could not be written (disk full, I/O error): not taken, the node resends.
          opts.log(`report not stored: ${String(e)}`);
          bytes = send(res, 503, 'the report could not be stored; send it again later\n', { 'retry-after': '30' });
        },
      );
      return;
    }
    if (hasBody) res.setHeader('connection', 'close');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      bytes = send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD, POST' });
      return;
    }
    bytes = status(req, res, path, conn) ?? file(req, res, path, client, conn);
  });
  server.timeout = TIMEOUTS.idle;
  server.maxHeadersCount = 100;
  // The hard cap; below it, idle connections make room for new ones (see 'connection').
  server.maxConnections = budget.connections;
  const softCap = Math.max(1, budget.connections - Math.max(2, Math.floor(budget.connections / 32)));
  server.on('connection', (socket: Socket) => {
    if (conns.size >= softCap) {
      // Full: the longest-idle connection (no answer in progress) makes room, so a flood of idle or
      // slow-header connections cannot lock out a node that asks for its kickstart.
      for (const [s, c] of conns) {
        if (c.working === 0 && c.pending === 0) {
          s.destroy();
          conns.delete(s);
          break;
        }
      }
    }
    conns.set(socket, { pending: 0, working: 0 });
    socket.setTimeout(TIMEOUTS.headers);
    socket.once('close', () => conns.delete(socket));
    socket.on('error', () => undefined);
  });
  server.on('request', (req: IncomingMessage) => {
    // Most recently used last: the connection map doubles as the eviction order.
    const c = conns.get(req.socket);
    if (c) {
      conns.delete(req.socket);
      conns.set(req.socket, c);
    }
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const busy = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !busy?.headersSent) {
      socket.end(`HTTP/1.1 ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      installerIso?.close();
      store.close();
      reject(e);
    };
    server.once('error', fail);
    server.listen(listen.port, listen.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  // After listening, an error (accept failing at the file limit) is logged; the server goes on.
  server.on('error', (e: NodeJS.ErrnoException) => opts.log(`server: ${e.code ?? ''} ${e.message}`));
  return {
    server,
    budget,
    admission,
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
  };
}

/** The status document with the admission's figures (installing now, at most, waiting), when serve limits installs. */
function withAdmission<T extends object>(doc: T, a: AdmissionSnapshot | undefined): T & { admission?: AdmissionSnapshot } {
  return a ? { ...doc, admission: a } : doc;
}

/** Reported installs live beside the tree (`<tree>.state`), so rewriting the tree keeps them. */
export function stateDirFor(dir: string): string {
  return `${dir.replace(/\/+$/, '')}.state`;
}
