import { hostname } from 'node:os';
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/**
 * One writer per output tree: `<out>/.<cluster>.lock` holds the pid, host and start time of the
 * build that writes `<out>/<cluster>/`. A second build waits for it; a lock whose process is gone
 * (SIGKILL, a crash) is taken over, and the staging folders it left are removed.
 */
export interface Lock {
  path: string;
  release(): void;
}

interface LockInfo { pid: number; host: string; started: string }

function alive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true; // another machine's (shared storage): assume it runs
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined; // being written, or garbage: treated as held until it is old
  }
}

export async function acquireLock(
  outDir: string,
  cluster: string,
  opts: { waitMs?: number; pollMs?: number; onWait?: (holder: string) => void; onStale?: (holder: string) => void } = {},
): Promise<Lock> {
  const path = join(outDir, `.${cluster}.lock`);
  const deadline = Date.now() + (opts.waitMs ?? 10 * 60 * 1000);
  let told = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
      await fh.writeFile(`${JSON.stringify(info)}\n`);
      await fh.close();
      let released = false;
      return {
        path,
        release: () => {
          if (released) return;
          released = true;
          try {
            // Only our own lock: a build that took over a lock it thought stale must not lose it.
            if ((JSON.parse(readFileSync(path, 'utf8')) as LockInfo).pid === process.pid) unlinkSync(path);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const info = await readLock(path);
    const holder = info ? `pid ${info.pid} on ${info.host}, started ${info.started}` : 'a build that is starting';
    if (info && !alive(info)) {
      opts.onStale?.(holder);
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (!info) {
      const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 60_000) {
        opts.onStale?.('an unreadable lock file');
        await unlink(path).catch(() => undefined);
        continue;
      }
    }
    if (Date.now() >= deadline) {
      throw new UserError(`${path}: another k8s-image build (${holder}) is writing ${join(outDir, cluster)}; gave up waiting. Let it finish, or if that process is gone, delete ${path}`);
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}

/** The staging folder prefix of a cluster's builds (one per build, removed when it ends). */
export const stagingPrefix = (cluster: string) => `.${cluster}.staging-`;

/**
 * With the lock held, every staging folder of this cluster and every `.old-<pid>` tree a swap left
 * belongs to a build that is gone: remove them (they may hold CA keys), and put back an old tree
 * whose replacement never arrived. Returns what was done, for the user.
 */
export async function cleanStale(outDir: string, cluster: string): Promise<string[]> {
  const done: string[] = [];
  for (const e of await readdir(outDir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory() && e.name.startsWith(stagingPrefix(cluster))) {
      await rm(join(outDir, e.name), { recursive: true, force: true });
      done.push(`removed ${join(outDir, e.name)}, left by an interrupted build (it may have held CA keys)`);
    }
  }
  const clusterDir = join(outDir, cluster);
  for (const [dir, base] of [[outDir, cluster], [clusterDir, undefined]] as const) {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const m = /^(.+)\.old-[0-9]+$/.exec(e.name);
      if (!e.isDirectory() || !m || (base !== undefined && m[1] !== base)) continue;
      const target = join(dir, m[1]!);
      const old = join(dir, e.name);
      const targetExists = await stat(target).then(() => true, () => false);
      if (targetExists) {
        await rm(old, { recursive: true, force: true });
        done.push(`removed ${old}, the previous tree an interrupted build had already replaced`);
      } else {
        await rename(old, target);
        done.push(`restored ${target} from ${old}: an interrupted build had moved it aside`);
      }
    }
  }
  return done;
}

/** Thrown inside a build when a signal asked it to stop. */
export class Interrupted extends Error {
  constructor(readonly signal: string, readonly exitCode: number) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

/**
 * While `work` runs, SIGINT/SIGTERM/SIGHUP make `checkpoint()` throw Interrupted, so the build stops
 * between two files, its own finally blocks remove the staging and release the lock once every
 * write in flight has settled (removing at once would race writes still running in libuv's
 * threads), and the process then exits with 128 + the signal number (130, 143, 129). A build stuck
 * in one step is cleaned up and ended after `graceMs`. SIGKILL cannot be caught: the next build's
 * cleanStale() takes care of that.
 */
export async function withSignalCleanup<T>(forceCleanup: () => void, work: (checkpoint: () => void) => Promise<T>, graceMs = 5000): Promise<T> {
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  let caught: Interrupted | undefined;
  const handlers = Object.entries(codes).map(([sig, code]) => {
    const h = () => {
      if (caught) return;
      caught = new Interrupted(sig, code);
      setTimeout(() => {
        forceCleanup();
        process.stderr.write(`\nk8s-image: interrupted (${sig}); removed the unfinished build\n`);
        process.exit(code);
      }, graceMs).unref();
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const checkpoint = () => {
    if (caught) throw caught;
  };
  try {
    return await work(checkpoint);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

/** Synchronous removal for signal handlers. */
export function removeNow(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
