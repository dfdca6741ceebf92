import { UserError } from '../errors.js';

/** One file to put on the image. `path` is POSIX, relative (`user-data`, `pki/etcd/ca.key`); parent directories are implied. */
export interface IsoFile {
  path: string;
  bytes: Uint8Array;
  /** Permission bits recorded in Rock Ridge PX (0..0o7777); default 0o644. Directories are always 0o755. */
  mode?: number;
}

export interface IsoOptions {
  /** Volume identifier: 1-32 characters of [A-Za-z0-9_-], recorded byte for byte (case kept). */
  label: string;
  files: IsoFile[];
  /** Unix seconds used for every timestamp on the image. */
  epoch: number;
}

export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIR_MODE = 0o755;

/** ECMA-119 6.8.2.1: at most 8 directory levels, the root being the first. */
export const MAX_DIR_LEVELS = 8;
/** Rock Ridge NM names: Linux isofs truncates names of 254 and 255 bytes, so stop at 253. */
export const MAX_NAME_BYTES = 253;

const LABEL_RE = /^[A-Za-z0-9_-]{1,32}$/;
/** 7-byte directory record dates hold years 1900..2155; the image is written for 1970 onwards. */
const MAX_EPOCH = Date.UTC(2155, 11, 31, 23, 59, 59) / 1000;

export interface ValidFile {
  parts: string[];
  bytes: Uint8Array;
  mode: number;
}

export interface ValidOptions {
  label: string;
  epoch: number;
  files: ValidFile[];
}

/** Check everything a writer relies on; every problem is reported at once as a UserError. */
export function validateIsoOptions(opts: IsoOptions): ValidOptions {
  const problems: string[] = [];
  const label = opts.label;
  if (typeof label !== 'string' || !LABEL_RE.test(label)) {
    problems.push(`ISO label ${JSON.stringify(label)} is invalid: use 1-32 characters of A-Z a-z 0-9 _ -`);
  }
  const epoch = opts.epoch;
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    problems.push(`ISO epoch ${String(epoch)} is invalid: use whole Unix seconds between 0 and ${MAX_EPOCH}`);
  }
  if (!Array.isArray(opts.files)) {
    problems.push('ISO files must be an array');
    throw new UserError(problems);
  }

  const files: ValidFile[] = [];
  const filePaths = new Set<string>();
  const dirPaths = new Set<string>();
  for (const f of opts.files) {
    const path = f?.path;
    const where = `ISO file ${JSON.stringify(path)}`;
    if (typeof path !== 'string' || path === '') {
      problems.push(`${where}: path must be a non-empty string`);
      continue;
    }
    const parts = path.split('/');
    const bad = parts.find((p) => p === '' || p === '.' || p === '..' || /[\x00-\x1f\x7f]/.test(p));
    if (bad !== undefined) {
      problems.push(`${where}: use a relative POSIX path without empty, '.', '..' or control-character components`);
      continue;
    }
    const long = parts.find((p) => Buffer.byteLength(p, 'utf8') > MAX_NAME_BYTES);
    if (long !== undefined) {
      problems.push(`${where}: the name ${JSON.stringify(long)} is longer than ${MAX_NAME_BYTES} bytes`);
      continue;
    }
    if (parts.length > MAX_DIR_LEVELS) {
      problems.push(`${where}: directories nest deeper than ISO 9660 allows (${MAX_DIR_LEVELS - 1} levels below the root)`);
      continue;
    }
    if (!(f.bytes instanceof Uint8Array)) {
      problems.push(`${where}: bytes must be a Uint8Array`);
      continue;
    }
    if (f.bytes.length > 0xffffffff) {
      problems.push(`${where}: larger than 4 GiB - 1, which one ISO 9660 extent cannot hold`);
      continue;
    }
    const mode = f.mode ?? DEFAULT_FILE_MODE;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      problems.push(`${where}: mode ${String(f.mode)} is not a permission value between 0 and 0o7777`);
      continue;
    }
    if (filePaths.has(path)) {
      problems.push(`${where}: listed twice`);
      continue;
    }
    filePaths.add(path);
    for (let i = 1; i < parts.length; i++) dirPaths.add(parts.slice(0, i).join('/'));
    files.push({ parts, bytes: f.bytes, mode });
  }
  for (const p of filePaths) {
    if (dirPaths.has(p)) problems.push(`ISO file ${JSON.stringify(p)}: also used as a directory by other files`);
  }
  if (problems.length > 0) throw new UserError(problems);
  return { label, epoch, files };
}
