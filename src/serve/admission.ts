/**
 * Admission: at most N nodes install at once (issue 26). A farm powered on at once would otherwise
 * have every node pull its installer, stage2 and packages together (1.3-1.8 GB each) through one
 * server's link, and installs time out. serve decides at the node's iPXE entry (/ipxe/01-<mac>.ipxe):
 * a node gets its install entry when a slot is free, else a small iPXE script that sleeps and asks
 * again (`sleep` + `chain`). Waiting nodes are served in the order they first asked (a queue), so
 * none waits behind later arrivals; one that stops asking leaves the queue.
 *
 * A node holds its slot from its entry until it reports `installed` or `failed`, or until a deadline
 * (a node that died mid-install must not hold a slot forever). Fetching its kickstart or the
 * installer kernel (Secure Boot nodes boot through GRUB over TFTP and never ask for an iPXE entry)
 * takes a slot whatever the count: those requests cannot be told to wait. A slot granted at the entry
 * whose node fetches nothing within `grantMs` (powered off after DHCP) is freed.
 */

/**
 * The default: about what one server's 10 GbE link carries. Each install pulls ~1.5 GB; 500 nodes
 * at once share 1.25 GB/s, 2.5 MB/s each, i.e. 10 minutes per install, within anaconda's and
 * curl's timeouts; Foreman's documentation puts one server at ~500 concurrent downloaders. A farm
 * whose bulk comes from nginx or per-rack caches can raise it (--max-installing).
 */
export const DEFAULT_MAX_INSTALLING = 500;
/** How long a waiting node sleeps before it asks again (s), plus a per-MAC spread of up to as much again. */
export const DEFAULT_RETRY_SECONDS = 30;
/** A slot is freed when its node has not reported installed or failed within this (ms). */
export const DEFAULT_INSTALL_DEADLINE_MS = 2 * 3600_000;
/** A slot granted at the iPXE entry is freed when its node fetches no kickstart or kernel within this (ms). */
export const DEFAULT_GRANT_MS = 10 * 60_000;

export interface AdmissionOptions {
  max: number;
  retrySeconds?: number;
  deadlineMs?: number;
  grantMs?: number;
  now?: () => number;
}

export interface AdmissionSnapshot {
  max: number;
  installing: number;
  waiting: number;
  retrySeconds: number;
  /** Nodes admitted over the whole run, and how many had to wait first. */
  admitted: number;
  waited: number;
  /** The longest a node waited so far (s): from its first ask to its admission. */
  longestWaitSeconds: number;
}

interface Slot {
  since: number;
  /** It fetched its kickstart or kernel (the grant is confirmed). */
  confirmed: boolean;
}

export class Admission {
  readonly max: number;
  readonly retrySeconds: number;
  private readonly deadlineMs: number;
  private readonly grantMs: number;
  private readonly now: () => number;
  private readonly slots = new Map<string, Slot>();
  /** Waiting nodes in the order they first asked: when they first asked and when they last did. */
  private readonly queue = new Map<string, { first: number; last: number }>();
  private admittedCount = 0;
  private waitedCount = 0;
  private longestWait = 0;

  constructor(o: AdmissionOptions) {
    this.max = o.max;
    this.retrySeconds = o.retrySeconds ?? DEFAULT_RETRY_SECONDS;
    this.deadlineMs = o.deadlineMs ?? DEFAULT_INSTALL_DEADLINE_MS;
    this.grantMs = o.grantMs ?? DEFAULT_GRANT_MS;
    this.now = o.now ?? Date.now;
  }

  /** A waiting node that has not asked again within twice its longest sleep has gone away. */
  private get queueTtlMs(): number {
    return (this.retrySeconds * 2 + 5) * 2000;
  }

  private expire(t: number): void {
    for (const [node, s] of this.slots) {
      if (t - s.since > this.deadlineMs || (!s.confirmed && t - s.since > this.grantMs)) this.slots.delete(node);
    }
    for (const [node, q] of this.queue) if (t - q.last > this.queueTtlMs) this.queue.delete(node);
  }

  /** The node asks for its install entry: true when it may install now, false when it waits. */
  enter(node: string): boolean {
    const t = this.now();
    this.expire(t);
    const held = this.slots.get(node);
    if (held) return true;
    const free = this.max - this.slots.size;
    let ahead = 0;
    for (const other of this.queue.keys()) {
      if (other === node) break;
      ahead++;
    }
    if (ahead < free) {
      this.admit(node, t, false);
      return true;
    }
    const q = this.queue.get(node);
    if (q) q.last = t;
    else this.queue.set(node, { first: t, last: t });
    return false;
  }

  /** The node fetched its kickstart or the installer kernel: it is installing, whatever the count. */
  touch(node: string): void {
    const t = this.now();
    const s = this.slots.get(node);
    if (s) s.confirmed = true;
    else {
      this.expire(t);
      this.admit(node, t, true);
    }
  }

  private admit(node: string, t: number, confirmed: boolean): void {
    const q = this.queue.get(node);
    if (q) {
      this.queue.delete(node);
      this.waitedCount++;
      this.longestWait = Math.max(this.longestWait, (t - q.first) / 1000);
    }
    this.slots.set(node, { since: t, confirmed });
    this.admittedCount++;
  }

  /** The node reported installed or failed: its slot goes to the next in the queue. */
  leave(node: string): void {
    this.slots.delete(node);
    this.queue.delete(node);
  }

  /** Seconds a waiting node sleeps: the retry time plus a spread from its name, so retries do not come in step. */
  sleepFor(node: string): number {
    let h = 0;
    for (const c of node) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return this.retrySeconds + (h % Math.max(1, this.retrySeconds));
  }

  snapshot(): AdmissionSnapshot {
    this.expire(this.now());
    return {
      max: this.max,
      installing: this.slots.size,
      waiting: this.queue.size,
      retrySeconds: this.retrySeconds,
      admitted: this.admittedCount,
      waited: this.waitedCount,
      longestWaitSeconds: Math.round(this.longestWait),
    };
  }
}

/**
 * The iPXE script a waiting node gets instead of its install entry: it says why, sleeps, and asks
 * for the same entry again (a relative URI: iPXE resolves it against the script's own URL), replacing
 * itself so a long wait never nests.
 */
export function waitScript(node: string, path: string, seconds: number, s: AdmissionSnapshot): string {
  return [
    '#!ipxe',
    `# k8s-image: ${node} waits its turn: ${s.installing} nodes are installing, at most ${s.max} at once (serve --max-installing)`,
    `echo k8s-image: ${s.installing} of at most ${s.max} nodes installing, ${s.waiting} waiting: ${node} asks again in ${seconds} s`,
    `sleep ${seconds}`,
    // --replace: a plain chain runs the next script inside this one, a level of iPXE's 4 KiB BIOS
    // stack per retry (ipxe image_cmd.c imgexec); after about a dozen waits the firmware hangs.
    `chain --replace --autofree ${path} || exit 1`,
    '',
  ].join('\n');
}
