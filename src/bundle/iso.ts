/**
 * The bundle as one ISO 9660 image (Rock Ridge + Joliet), for a machine that takes it as one more
 * CD drive (VMware, a BMC's virtual media) with mirrors.bundle: iso: the node finds it by its label
 * (node-files/bundle-mount.sh: blkid -L K8SBUNDLE) and mounts it read-only. xorriso writes it,
 * streaming the files (the built-in writer of src/iso holds an image in memory, fine for a seed, not
 * for gigabytes of images). Deterministic: every date is the build epoch, modes and owners are
 * normalised (-r), names are sorted by xorriso, the volume UUID comes from the epoch; same bundle,
 * same bytes. Written beside the output and renamed into place.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { commitFile, checkOutputFile, tempPathBeside, type OutputFile } from '../output/index.js';
import { BUNDLE_ISO_LABEL } from '../plan/repos.js';
import { MANIFEST_FILE } from './manifest.js';

/** What goes on the disc: the parts of the bundle a node reads (nothing else that may sit in the folder). */
const PARTS = ['repo', 'keys', 'images', MANIFEST_FILE];

/** ISO 9660 date-time of the volume descriptors, YYYYMMDDhhmmsscc (UTC). */
function isoDate(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').replace(/\.(\d\d)\dZ$/, '$1');
}

export interface BundleIsoOptions {
  /** The bundle directory (`k8s-image bundle -o DIR`). */
  bundle: string;
  output: OutputFile;
  epoch: number;
}

/** Write the bundle's ISO image; returns its label. */
export async function writeBundleIso(opts: BundleIsoOptions): Promise<string> {
  for (const p of PARTS) {
    if (!existsSync(join(opts.bundle, p))) throw new UserError(`${opts.bundle}: no ${p} in it; the ISO is made from a finished bundle (k8s-image bundle -o ${opts.bundle})`);
  }
  checkOutputFile(opts.output);
  const temp = tempPathBeside(opts.output.path);
  const date = isoDate(opts.epoch);
  const args = [
    '-as', 'mkisofs', '-quiet', '-V', BUNDLE_ISO_LABEL, '-J', '-joliet-long', '-r',
    '--set_all_file_dates', `=${opts.epoch}`, `--modification-date=${date}`,
    '-o', temp, '-graft-points',
    ...PARTS.map((p) => `/${p}=${join(opts.bundle, p)}`),
  ];
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(opts.epoch), TZ: 'UTC', LC_ALL: 'C' };
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('xorriso', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? new UserError('xorriso is not installed: the bundle ISO is written with it. Install it (Debian/Ubuntu: apt-get install xorriso; CentOS/RHEL: yum install xorriso) and run again') : e),
      );
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new UserError(`xorriso could not write ${opts.output.path} (exit ${code}): ${err.trim().split('\n').slice(-3).join(' / ')}`));
      });
    });
    await commitFile(opts.output, temp);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  return BUNDLE_ISO_LABEL;
}
