/**
 * The farm's status, kept durably: an append-only log of accepted reports (one JSON line each),
 * fsynced before the server answers, so an acknowledged report survives a restart, a crash or a
 * power cut. Appends that arrive together share one write and one fsync (1000 nodes booting at
 * once do not queue behind each other's disk flush). A line torn by a crash mid-write is cut off
 * at the next open; no other line can be damaged by it.
 */
import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isCertKind, type CertExpiry, type CertKind, type Stage } from './protocol.js';
import { makeDirSync } from '../output/safe-write.js';

export interface StatusEvent {
  node: string;
  /** A bootstrap stage, or a day-2 certificate report (which leaves the stage as it was). */
  stage: Stage | CertKind;
  /** The node's clock (Unix seconds): shown, never trusted for order or freshness. */
  time: number;
  /** The node's clock minus the server's when it arrived (seconds); absent in older logs. */
  offset?: number;
  nonce: string;
  /** When the server accepted it (ms): the order and the "time in stage". */
  received: number;
  /** The address it came from. */
  ip: string;
  /** A failure's last log lines (masked on the node). */
  log?: string;
  /** A master's certificates' expiry, when the report carried it. */
  certs?: CertExpiry;
}

/** A master's certificates as last reported (ready/done at first boot, then every daily renewal run). */
export interface NodeCerts {
  expiry?: CertExpiry;
  /** The last certificate report and when it came (ms); absent when only first boot reported expiry. */
  last?: CertKind;
  lastAt?: number;
  /** When the last failed renewal was reported (ms), cleared by a later success. */
  failedAt?: number;
}

export interface NodeStatus {
  node: string;
  /** null: no bootstrap stage reported yet (only a certificate report came; never made up). */
  stage: Stage | null;
  /** When the node entered this stage (ms; a repeated report of the same stage keeps it). */
  since: number;
  lastReport: number;
  lastIp: string;
  /** The node's clock minus the server's at its last report (seconds), when known. */
  clockOffset?: number;
  /** The newest failure log, kept after the node moves on (shown as "failed before"). */
  failureLog?: string;
  failedAt?: number;
  history: { stage: Stage; received: number }[];
  certs?: NodeCerts;
}

const LOG_NAME = 'status.log';

export class StatusStore {
  private fd: number;
  private readonly nonces = new Set<string>();
  private readonly nodes = new Map<string, NodeStatus>();
  private pending: { line: string; event: StatusEvent; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private readonly listeners = new Set<(s: NodeStatus) => void>();
  /** What opening found (a torn last line), for the server's log. */
  readonly notes: string[] = [];

  constructor(dir: string) {
    // Not Node's recursive mkdir: it loops forever under /proc (a --state path there).
    makeDirSync(dir, '--state');
    const path = join(dir, LOG_NAME);
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let good = 0;
    let lineNo = 0;
    for (let start = 0; start < text.length; ) {
      const end = text.indexOf('\n', start);
      lineNo++;
      if (end < 0) {
        this.notes.push(`${path}: line ${lineNo} was torn by a crash mid-write (it was never acknowledged); cut off`);
        break;
      }
      const line = text.slice(start, end);
      try {
        this.apply(JSON.parse(line) as StatusEvent);
      } catch {
        this.notes.push(`${path}: line ${lineNo} is not a report; ignored`);
      }
      start = end + 1;
      good += Buffer.byteLength(line) + 1;
    }
    this.fd = openSync(path, 'a+', 0o600);
    ftruncateSync(this.fd, good);
  }

  /**
   * Seen before (a replay)? Every accepted nonce is in status.log and read back at every open, so
   * this holds forever, across restarts, with no time window: the node's clock is not needed.
   */
  seen(node: string, nonce: string): boolean {
    return this.nonces.has(`${node}/${nonce}`);
  }

  /** Durably append an accepted report; resolves once it is on disk. */
  append(event: StatusEvent): Promise<NodeStatus> {
    // Taken at once, so a second copy racing this one is a replay even before the disk write.
    this.nonces.add(`${event.node}/${event.nonce}`);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line: `${JSON.stringify(event)}\n`, event, resolve, reject });
      if (!this.flushing) setImmediate(() => this.flush());
      this.flushing = true;
    }).then(() => this.nodes.get(event.node)!);
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    try {
      const buf = Buffer.from(batch.map((b) => b.line).join(''));
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      fdatasyncSync(this.fd);
      for (const b of batch) {
        const s = this.apply(b.event);
        for (const l of this.listeners) l(s);
        b.resolve();
      }
    } catch (e) {
      // Not on disk, so not taken: the node's sender keeps the report and its resend must not look like a replay.
      for (const b of batch) {
        this.nonces.delete(`${b.event.node}/${b.event.nonce}`);
        b.reject(e);
      }
    }
    if (this.pending.length) setImmediate(() => this.flush());
    else this.flushing = false;
  }

  /** A certificate report: the node's certificates change, its bootstrap stage and history do not. */
  private applyCerts(e: StatusEvent & { stage: CertKind }, prev: NodeStatus | undefined): NodeStatus {
    const s: NodeStatus = prev ?? { node: e.node, stage: null, since: e.received, lastReport: e.received, lastIp: e.ip, history: [] };
    s.lastReport = e.received;
    s.lastIp = e.ip;
    if (typeof e.offset === 'number') s.clockOffset = e.offset;
    const certs: NodeCerts = { ...s.certs, last: e.stage, lastAt: e.received };
    if (e.certs) certs.expiry = e.certs;
    if (e.stage === 'certs-failed') {
      certs.failedAt = e.received;
      s.failureLog = e.log ?? '';
      s.failedAt = e.received;
    } else delete certs.failedAt;
    s.certs = certs;
    this.nodes.set(e.node, s);
    return s;
  }

  private apply(e: StatusEvent): NodeStatus {
    this.nonces.add(`${e.node}/${e.nonce}`);
    const prev = this.nodes.get(e.node);
    if (isCertKind(e.stage)) return this.applyCerts(e as StatusEvent & { stage: CertKind }, prev);
    const stage = e.stage;
    const s: NodeStatus = prev ?? { node: e.node, stage, since: e.received, lastReport: e.received, lastIp: e.ip, history: [] };
    if (prev && prev.stage !== stage) s.since = e.received;
    s.stage = stage;
    s.lastReport = e.received;
    s.lastIp = e.ip;
    if (typeof e.offset === 'number') s.clockOffset = e.offset;
    if (e.stage === 'failed') {
      s.failureLog = e.log ?? '';
      s.failedAt = e.received;
    }
    // A reinstall starts the story again.
    if (stage === 'installing' && prev && prev.stage !== 'installing') {
      s.history = [];
      // A reinstalled node makes a new PKI: the old expiry no longer describes it.
      delete s.certs;
    }
    if (e.certs) s.certs = { ...s.certs, expiry: e.certs };
    s.history.push({ stage, received: e.received });
    if (s.history.length > 50) s.history.splice(0, s.history.length - 50);
    this.nodes.set(e.node, s);
    return s;
  }

  get(node: string): NodeStatus | undefined {
    return this.nodes.get(node);
  }

  all(): NodeStatus[] {
    return [...this.nodes.values()];
  }

  /** Called after each report is on disk (the live page's events). Returns the unsubscribe. */
  subscribe(fn: (s: NodeStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    closeSync(this.fd);
  }
}
