/** Helpers for the ISO tests: independent readers (isoinfo, xorriso, 7z, pycdlib, blkid) and sample trees. */
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { IsoFile } from '../../src/iso/index.js';

export { requireTool, DEBIAN_PACKAGE } from '../helpers/tools.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

/** Run a reader from a neutral directory with a UTF-8 C locale; returns stdout, throws with stderr on failure. */
export async function run(cmd: string, args: string[], input?: string, encoding: 'utf8' | 'latin1' = 'utf8'): Promise<string> {
  const bin = requireTool(cmd);
  const r = await execa(bin, args, {
    cwd: tmpdir(),
    env: { LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', TZ: 'UTC' },
    extendEnv: true,
    reject: false,
    encoding,
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
  });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export class TempDir {
  readonly path = tempDir('k8s-image-iso-test-');
  file(name: string, bytes: Uint8Array): string {
    const p = join(this.path, name);
    writeFileSync(p, bytes);
    return p;
  }
  sub(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    // Extracted trees may hold read-only directories (e.g. from `-r` images): make them writable first.
    const unlock = (dir: string) => {
      chmodSync(dir, 0o755);
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) unlock(join(dir, e.name));
    };
    unlock(this.path);
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Every regular file under dir, as relative POSIX path -> { bytes, mode }. */
export function readTree(dir: string): Map<string, { bytes: Buffer; mode: number }> {
  const out = new Map<string, { bytes: Buffer; mode: number }>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.set(r, { bytes: readFileSync(join(dir, r)), mode: st.mode & 0o7777 });
    }
  };
  walk('');
  return out;
}

/** Directories implied by the files' paths, plus the files, as sorted absolute paths (`/pki`, `/pki/etcd/ca.key`). */
export function listing(paths: string[]): string[] {
  const all = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) all.add('/' + parts.slice(0, i).join('/'));
  }
  return [...all].sort();
}

const enc = (s: string) => new TextEncoder().encode(s);

/** Deterministic pseudo-random bytes. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A typical three-file NoCloud seed. */
export function cloudInitSeed(): IsoFile[] {
  return [
    { path: 'user-data', bytes: enc('#cloud-config\nhostname: cp-1\nfqdn: cp-1.k8s.example\n') },
    { path: 'meta-data', bytes: enc('instance-id: cp-1\nlocal-hostname: cp-1\n') },
    { path: 'network-config', bytes: enc('version: 2\nethernets:\n  eth0:\n    dhcp4: true\n') },
  ];
}

export const LONG_NAME = 'a-very-long-file-name-'.repeat(9) + 'end.txt'; // 205 bytes: NM spills into a CE area

/** A tree exercising subdirectories, modes, an empty file, sector-crossing sizes, name collisions and long names. */
export function richTree(): IsoFile[] {
  const many: IsoFile[] = [];
  for (let i = 0; i < 40; i++) many.push({ path: `many/entry-number-${String(i).padStart(3, '0')}.yaml`, bytes: enc(`n: ${i}\n`) });
  return [
    ...cloudInitSeed(),
    { path: 'ks.cfg', bytes: enc('text\nreboot\n'), mode: 0o600 },
    { path: 'user-datb', bytes: enc('collides with user-data in 8.3\n') },
    { path: 'pki/ca.crt', bytes: enc('-----BEGIN CERTIFICATE-----\n') },
    { path: 'pki/etcd/ca.key', bytes: enc('-----BEGIN PRIVATE KEY-----\n'), mode: 0o600 },
    { path: 'pki/etcd/ca.crt', bytes: enc('-----BEGIN CERTIFICATE-----\netcd\n') },
    { path: 'pki/etcd/empty', bytes: new Uint8Array(0) },
    { path: 'scripts/first-boot.sh', bytes: enc('#!/bin/sh\nexit 0\n'), mode: 0o755 },
    { path: 'blobs/exactly-one-sector.bin', bytes: bytesOf(2048, 1) },
    { path: 'blobs/three-sectors.bin', bytes: bytesOf(5000, 2) },
    { path: `blobs/${LONG_NAME}`, bytes: enc('long name\n') },
    { path: 'docs/café.txt', bytes: enc('non-ASCII name\n') },
    ...many,
  ];
}

/** Script for the Debian python3-pycdlib: every file through rr_path and joliet_path, with sha256 and PX mode. */
const PYCDLIB_SCRIPT = `
import hashlib, io, json, sys
import pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
out = {"rr": {}, "joliet": {}, "iso": {}, "modes": {}}
for kind in ("rr", "joliet", "iso"):
    for dirname, dirs, files in iso.walk(**{kind + "_path": "/"}):
        for f in files:
            p = dirname.rstrip("/") + "/" + f
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, **{kind + "_path": p})
            out[kind][p] = hashlib.sha256(buf.getvalue()).hexdigest()
            if kind == "rr":
                out["modes"][p] = iso.get_record(rr_path=p).rock_ridge.get_file_mode()
out["volume_id"] = iso.pvd.volume_identifier.decode("latin-1")
out["joliet_volume_id"] = iso.joliet_vd.volume_identifier.decode("utf-16-be") if iso.joliet_vd else None
out["rock_ridge_version"] = iso.rock_ridge if iso.has_rock_ridge() else None
iso.close()
print(json.dumps(out))
`;

export interface PycdlibReport {
  rr: Record<string, string>;
  joliet: Record<string, string>;
  iso: Record<string, string>;
  modes: Record<string, number>;
  volume_id: string;
  joliet_volume_id: string | null;
  rock_ridge_version: string | null;
}

/** Read an image with pycdlib through the system interpreter (/usr/bin/python3; `python3` may be a pyenv shim). */
export async function pycdlibRead(image: string): Promise<PycdlibReport> {
  requireTool('/usr/bin/python3');
  const check = await execa('/usr/bin/python3', ['-c', 'import pycdlib'], { cwd: tmpdir(), reject: false });
  if (check.exitCode !== 0) throw new Error('pycdlib is not importable by /usr/bin/python3: install the Debian package python3-pycdlib');
  return JSON.parse(await run('/usr/bin/python3', ['-', image], PYCDLIB_SCRIPT)) as PycdlibReport;
}
