/**
 * Read files straight out of an ISO 9660 image (the CentOS 7 DVD), without mounting it or reading
 * it whole: the directory tree is walked on demand with positioned reads, and a file's bytes are
 * a (start, length) window of the image to copy or stream. Names come from Rock Ridge (NM) when the
 * image has it, else Joliet, else the plain ISO 9660 names without their ";1".
 */
import { closeSync, openSync, readSync } from 'node:fs';

const SECTOR = 2048;

export interface IsoEntry {
  name: string;
  isDir: boolean;
  /** Byte offset of the extent in the image, and its length. */
  start: number;
  size: number;
}

export interface IsoImage {
  /** The entry at `path` (`images/pxeboot/vmlinuz`), or undefined. */
  lookup(path: string): IsoEntry | undefined;
  list(path: string): IsoEntry[] | undefined;
  read(entry: IsoEntry, from?: number, length?: number): Buffer;
  /** The primary volume identifier (the DVD's label, `CentOS 7 x86_64`). */
  readonly volumeId: string;
  close(): void;
  readonly fd: number;
}

export function openIso(path: string): IsoImage {
  const fd = openSync(path, 'r');
  const read = (pos: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, b, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, got);
  };
  try {
    // Volume descriptors from sector 16: the primary (type 1) and a Joliet supplementary one (type 2, UCS-2 escape).
    let primary: Buffer | undefined;
    let joliet: Buffer | undefined;
    for (let s = 16; s < 64; s++) {
      const vd = read(s * SECTOR, SECTOR);
      if (vd.length < SECTOR || vd.toString('latin1', 1, 6) !== 'CD001') break;
      if (vd[0] === 1) primary ??= vd;
      if (vd[0] === 2 && vd[88] === 0x25 && vd[89] === 0x2f && [0x40, 0x43, 0x45].includes(vd[90]!)) joliet ??= vd;
      if (vd[0] === 255) break;
    }
    if (!primary) throw new Error(`${path}: not an ISO 9660 image (no primary volume descriptor at sector 16)`);
    const rootOf = (vd: Buffer) => ({ start: vd.readUInt32LE(156 + 2) * SECTOR, size: vd.readUInt32LE(156 + 10) });

    const records = (dir: { start: number; size: number }): Buffer[] => {
      const data = read(dir.start, dir.size);
      const out: Buffer[] = [];
      for (let off = 0; off < data.length; ) {
        const len = data[off]!;
        if (len === 0) {
          off = (Math.floor(off / SECTOR) + 1) * SECTOR; // records never cross a sector: the rest is padding
          continue;
        }
        out.push(data.subarray(off, off + len));
        off += len;
      }
      return out;
    };

    // Rock Ridge: the root's "." record carries an SP entry.
    const primaryRoot = rootOf(primary);
    const dot = records(primaryRoot)[0]!;
    const suOf = (r: Buffer) => r.subarray(33 + r[32]! + ((r[32]! + 1) % 2 === 1 ? 1 : 0));
    const rockRidge = (() => {
      const su = suOf(dot);
      return su.length >= 7 && su.toString('latin1', 0, 2) === 'SP';
    })();
    const mode: 'rr' | 'joliet' | 'iso' = rockRidge ? 'rr' : joliet ? 'joliet' : 'iso';
    const root = mode === 'joliet' ? rootOf(joliet!) : primaryRoot;

    const nameOf = (r: Buffer): string | undefined => {
      const idLen = r[32]!;
      const id = r.subarray(33, 33 + idLen);
      if (idLen === 1 && (id[0] === 0 || id[0] === 1)) return undefined; // . and ..
      if (mode === 'rr') {
        let nm = '';
        const su = suOf(r);
        for (let i = 0; i + 4 <= su.length; ) {
          const sig = su.toString('latin1', i, i + 2);
          const len = su[i + 2]!;
          if (len < 4) break;
          if (sig === 'NM') nm += su.toString('utf8', i + 5, i + len);
          i += len;
        }
        if (nm) return nm;
      }
      if (mode === 'joliet') {
        const swapped = Buffer.from(id);
        swapped.swap16();
        return swapped.toString('utf16le').replace(/;1$/, '');
      }
      return id.toString('latin1').replace(/;1$/, '').replace(/\.$/, '').toLowerCase();
    };

    const entriesOf = (dir: { start: number; size: number }): IsoEntry[] =>
      records(dir).flatMap((r) => {
        const name = nameOf(r);
        if (name === undefined) return [];
        return [{ name, isDir: (r[25]! & 2) !== 0, start: r.readUInt32LE(2) * SECTOR, size: r.readUInt32LE(10) }];
      });

    const cache = new Map<string, IsoEntry[]>();
    const list = (p: string): IsoEntry[] | undefined => {
      const parts = p.split('/').filter(Boolean);
      let dir: { start: number; size: number } = root;
      let key = '';
      for (const part of parts) {
        const here = cache.get(key) ?? entriesOf(dir);
        cache.set(key, here);
        const hit = here.find((e) => e.name === part && e.isDir);
        if (!hit) return undefined;
        dir = hit;
        key += `/${part}`;
      }
      const here = cache.get(key) ?? entriesOf(dir);
      cache.set(key, here);
      return here;
    };
    return {
      fd,
      volumeId: primary.toString('latin1', 40, 72).trimEnd(),
      list,
      lookup: (p) => {
        const parts = p.split('/').filter(Boolean);
        const name = parts.pop();
        if (name === undefined) return { name: '', isDir: true, ...root };
        return list(parts.join('/'))?.find((e) => e.name === name);
      },
      read: (e, from = 0, length = e.size - from) => read(e.start + from, Math.max(0, Math.min(length, e.size - from))),
      close: () => closeSync(fd),
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
