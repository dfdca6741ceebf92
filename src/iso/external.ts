/** Build the same image with an external tool (xorriso or genisoimage), for comparison or preference. */
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { ValidOptions } from './types.js';

export type ExternalTool = 'xorriso' | 'genisoimage';

/** Which package provides each tool, on Debian/Ubuntu and on RPM systems (CentOS/RHEL/Fedora). */
export const TOOL_PACKAGES: Record<ExternalTool, { deb: string; rpm: string }> = {
  xorriso: { deb: 'xorriso', rpm: 'xorriso' },
  genisoimage: { deb: 'genisoimage', rpm: 'genisoimage' },
};

export function missingToolMessage(tool: ExternalTool): string {
  const p = TOOL_PACKAGES[tool];
  return (
    `${tool} is not installed (or not on PATH): install the Debian/Ubuntu package "${p.deb}" (apt-get install ${p.deb}) ` +
    `or the RPM package "${p.rpm}" (yum/dnf install ${p.rpm}), or use the built-in ISO writer`
  );
}

function mkisofsDate(epoch: number): string {
  // YYYYMMDDhhmmsscc, GMT
  return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '00';
}

/** Lay the files out in a temporary directory (modes and mtimes set), run the tool, return the image bytes. */
export async function writeIsoExternal(tool: ExternalTool, opts: ValidOptions): Promise<Uint8Array> {
  const work = await mkdtemp(join(tmpdir(), 'k8s-image-iso-'));
  try {
    const src = join(work, 'root');
    const out = join(work, 'image.iso');
    await mkdir(src);
    const dirs = new Set<string>([src]);
    for (const f of opts.files) {
      const target = join(src, ...f.parts);
      for (let d = dirname(target); !dirs.has(d); d = dirname(d)) dirs.add(d);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.bytes);
      await chmod(target, f.mode | 0o400); // the tool must be able to read it; -r normalises modes anyway
      await utimes(target, opts.epoch, opts.epoch);
    }
    // Deepest directories first, so setting a child's time does not disturb its parent's again.
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      await chmod(d, 0o755);
      await utimes(d, opts.epoch, opts.epoch);
    }

    const date = mkisofsDate(opts.epoch);
    const args =
      tool === 'xorriso'
        ? ['-as', 'mkisofs', '-quiet', '-V', opts.label, '-J', '-r',
           '--set_all_file_dates', `=${opts.epoch}`, `--modification-date=${date}`, '-o', out, src]
        : ['-quiet', '-input-charset', 'utf-8', '-V', opts.label, '-J', '-r', '-o', out, src];
    const env = { SOURCE_DATE_EPOCH: String(opts.epoch), TZ: 'UTC', LC_ALL: 'C' };
    try {
      // Loaded only here: execa costs a fifth of a second at start-up, and most builds never need it.
      const { execa } = await import('execa');
      await execa(tool, args, { env, stdin: 'ignore', all: true });
    } catch (err) {
      if (isExecaError(err) && err.code === 'ENOENT') throw new UserError(missingToolMessage(tool));
      if (isExecaError(err)) {
        const output = (err.all ?? '').trim().split('\n').slice(-10).join('\n');
        throw new UserError(`${tool} failed while writing the ISO: ${err.shortMessage}${output ? '\n' + output : ''}`);
      }
      throw err;
    }
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function isExecaError(e: unknown): e is { code?: string; exitCode?: number; all?: string; stderr?: string; shortMessage?: string; message: string } {
  return e instanceof Error && e.name === 'ExecaError';
}
