// Helpers for the secrets tests: run the real openssl, make temp dirs. Not a test file itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir as makeTemp } from '../helpers/tmp.js';

/** Run openssl with `args` (no shell), optional stdin; returns stdout, throws with stderr on failure. */
export function openssl(args: string[], input?: string | Buffer): string {
  const r = spawnSync('openssl', args, { input, encoding: 'buffer' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout.toString('utf8');
}

/** Like openssl() but returns raw stdout bytes. */
export function opensslBytes(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = makeTemp(`k8s-image-${prefix}-`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeIn(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Parse openssl's `-dateopt iso_8601` dates ("2026-01-02 03:04:05Z"). */
export function opensslDates(certPath: string): { notBefore: Date; notAfter: Date } {
  const out = openssl(['x509', '-in', certPath, '-noout', '-dates', '-dateopt', 'iso_8601']);
  const get = (k: string) => {
    const m = new RegExp(`^${k}=(.+)$`, 'm').exec(out);
    if (!m) throw new Error(`no ${k} in: ${out}`);
    return new Date(m[1]!.trim().replace(' ', 'T'));
  };
  return { notBefore: get('notBefore'), notAfter: get('notAfter') };
}
