import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * A minimal deterministic POSIX ustar writer: regular files only, names under 100 bytes, owner 0,
 * mode 0644, a fixed mtime; enough for image archives (docker load, ctr import, skopeo) and the
 * test's layers. Entries stream from files or buffers; nothing is held whole in memory.
 */
export interface TarEntry { name: string; size: number; data?: Buffer; file?: string; mode?: number; type?: 'file' | 'dir' }

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(name: string, size: number, mode = 0o644, mtime = 0, type: 'file' | 'dir' = 'file'): Buffer {
  if (Buffer.byteLength(name) > 99) throw new Error(`tar: name too long: ${name}`);
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(mtime, 12), 136);
  h.write('        ', 148);
  h.write(type === 'dir' ? '5' : '0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

async function put(out: Writable, b: Buffer): Promise<void> {
  if (!out.write(b)) await once(out, 'drain');
}

/** Writes the entries in order, then the two zero blocks; resolves when the last byte is handed to `out`. */
export async function writeTar(out: Writable, entries: TarEntry[], mtime = 0): Promise<void> {
  for (const e of entries) {
    await put(out, tarHeader(e.name, e.type === 'dir' ? 0 : e.size, e.mode ?? (e.type === 'dir' ? 0o755 : 0o644), mtime, e.type));
    if (e.type === 'dir') continue;
    if (e.data) await put(out, e.data);
    else if (e.file) for await (const chunk of createReadStream(e.file)) await put(out, chunk as Buffer);
    await put(out, pad(e.size));
  }
  await put(out, Buffer.alloc(1024));
}

/** The tar as one buffer (small archives: the test's layers). */
export function tarBuffer(entries: { name: string; data: Buffer; mode?: number; type?: 'file' | 'dir' }[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const size = e.type === 'dir' ? 0 : e.data.length;
    parts.push(tarHeader(e.name, size, e.mode ?? (e.type === 'dir' ? 0o755 : 0o644), mtime, e.type));
    if (e.type !== 'dir') parts.push(e.data, pad(size));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
