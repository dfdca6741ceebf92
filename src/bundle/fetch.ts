import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

/**
 * Node 20's fetch ignores http_proxy/https_proxy (its bundled undici is not reachable without a new
 * dependency): say so once, naming the variable, when one is set. dnf (the solver) does use it.
 */
export function proxyWarning(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'].find((k) => env[k]);
  if (!name) return undefined;
  return `${name} is set: the package solver (dnf) uses it, but the downloads (packages, keys, images) are made by Node ${process.versions.node}'s fetch, which does not use a proxy; on a machine that reaches the mirrors and registries only through the proxy they fail: run bundle where they are reachable directly`;
}

/** What a downloaded file must be: its digest (algorithm and hex) and, when known, its size. */
export interface Expect { algo: string; hex: string; size?: number }

/** Counts bytes as they pass (the progress display), and hashes them. */
class Meter extends Transform {
  readonly hash;
  bytes = 0;
  constructor(algo: string, private onBytes: (n: number) => void) {
    super();
    this.hash = createHash(algo);
  }
  override _transform(chunk: Buffer, _enc: string, cb: () => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    this.push(chunk);
    cb();
  }
}

/**
 * Streams `url` (http(s) or file://) into `dest`, hashing while it writes; the file appears under
 * its name only when the digest (and size) matched, so a cut or altered download is never kept.
 */
export async function download(source: string | (() => Promise<Response>), dest: string, expect: Expect, opts: { headers?: Record<string, string>; onBytes?: (n: number) => void; what: string }): Promise<void> {
  let body: Readable;
  const url = typeof source === 'string' ? source : dest;
  if (typeof source !== 'string') {
    const res = await source();
    body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  } else if (url.startsWith('file://')) {
    body = createReadStream(fileURLToPath(url));
  } else {
    let res: Response;
    try {
      res = await fetch(url, { headers: opts.headers, redirect: 'follow' });
    } catch (e) {
      throw new UserError(`${opts.what}: cannot fetch ${url} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`);
    }
    if (!res.ok || !res.body) throw new UserError(`${opts.what}: ${url} answered HTTP ${res.status}`);
    body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  }
  const part = `${dest}.part`;
  const meter = new Meter(expect.algo, opts.onBytes ?? (() => {}));
  try {
    await pipeline(body, meter, createWriteStream(part, { mode: 0o644 }));
  } catch (e) {
    await rm(part, { force: true });
    if (e instanceof UserError) throw e;
    throw new UserError(`${opts.what}: download of ${url} failed (${(e as Error).message})`);
  }
  const got = meter.hash.digest('hex');
  if (got !== expect.hex || (expect.size !== undefined && meter.bytes !== expect.size)) {
    await rm(part, { force: true });
    throw new UserError(`${opts.what}: ${url} is not what its metadata says (${expect.algo} ${got}, ${meter.bytes} bytes; expected ${expect.hex}${expect.size !== undefined ? `, ${expect.size} bytes` : ''}); the mirror is inconsistent or the download was altered`);
  }
  await rename(part, dest);
}

/** The digest of a file already there (re-runs: kept only when it still matches). */
export async function fileDigest(path: string, algo = 'sha256'): Promise<{ hex: string; size: number } | undefined> {
  const h = createHash(algo);
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch {
    return undefined;
  }
  return { hex: h.digest('hex'), size };
}

/** 1.5 GiB, 12.3 MiB, 800 B. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
