/**
 * The one way k8s-image writes a file a user named (-o, -f, --out) and reads a file a user gave
 * (-c): regular files only, never one of the command's inputs, an existing file replaced only with
 * --force, the new file complete or absent (a temporary file beside it, renamed into place), and
 * reads that stop at a bound whatever the path is. Every refusal is one UserError line: the option
 * and path, what is there, what would be right.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, readlinkSync, rmdirSync, statSync, statfsSync, type Stats } from 'node:fs';
import { chmod, link, open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** What a non-regular path is, in the words `ls -l` users know. */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device (a disk)';
  return 'not a regular file';
}

/**
 * Kernel pseudo file systems (statfs f_type, linux/magic.h): writing there is never storage, and
 * Node's recursive mkdir spins a core forever under /proc. Path prefixes stand in where statfs fails.
 */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'procfs',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0x27e0eb: 'cgroupfs',
  0x63677270: 'cgroup2fs',
  0xcafe4a11: 'bpffs',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
  0x62656570: 'configfs',
  0x1cd1: 'devpts',
  0xf97cff8c: 'selinuxfs',
  0x65735543: 'fusectl',
  0x42494e4d: 'binfmt_misc',
  0x19800202: 'mqueue',
  0x6e736673: 'nsfs',
};
const PSEUDO_PREFIX: [string, string][] = [['/proc', 'procfs'], ['/sys', 'sysfs']];

/** The nearest ancestor of `path` (itself included) that exists, or undefined when none can be seen. */
function existingAncestor(path: string): string | undefined {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
    }
    const up = dirname(p);
    if (up === p) return undefined;
    p = up;
  }
}

/** The kernel pseudo file system `path` would land on (procfs, sysfs ...), or undefined for real storage. */
export function pseudoFsOf(path: string): string | undefined {
  const at = existingAncestor(path) ?? resolve(path);
  try {
    const name = PSEUDO_FS[Number(statfsSync(at).type)];
    if (name) return name;
  } catch {
    /* no statfs here: the prefixes decide */
  }
  const abs = resolve(path);
  return PSEUDO_PREFIX.find(([prefix]) => abs === prefix || abs.startsWith(`${prefix}/`))?.[1];
}

/** `flag path` for a message, or the bare path. */
const named = (flag: string | undefined, path: string) => (flag ? `${flag} ${path}` : path);

/** Refuses an output path on a kernel pseudo file system, naming which. */
export function refusePseudoFs(path: string, flag?: string): void {
  const fs = pseudoFsOf(path);
  if (fs) throw new UserError(`${named(flag, path)}: is on ${fs}, a kernel pseudo file system, not storage; choose a path on a disk`);
}

/**
 * mkdir -p without Node's recursive mkdir (which spins forever under /proc and says ENOENT where a
 * read-only parent refuses): refuses pseudo file systems and a path that is not a directory, then
 * makes each missing directory, parents first, so an error names the directory that failed.
 */
export function makeDirSync(path: string, flag?: string, mode?: number): void {
  refusePseudoFs(path, flag);
  const missing: string[] = [];
  let p = resolve(path);
  for (;;) {
    let st: Stats | undefined;
    try {
      st = statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st) {
      if (!st.isDirectory()) throw new UserError(`${named(flag, path)}: ${p === resolve(path) ? 'is' : `${p} is`} ${kindOf(st)}, not a directory; choose a directory (it is created if missing)`);
      break;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, mode);
      madeDirs.push(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

// The directories this process made. A command that then fails (any exit but 0) removes those
// still empty, newest first: a refused command leaves no empty output folder behind, whichever
// later check refused it. rmdir removes nothing that holds a file.
const madeDirs: string[] = [];
process.on('exit', (code) => {
  if (code === 0) return;
  for (const d of madeDirs.reverse()) {
    try {
      rmdirSync(d);
    } catch {
      /* not empty, or gone: leave it */
    }
  }
});

/** A file the command writes, as the user named it. */
export interface OutputFile {
  path: string;
  /** The option that named it, for messages: '-o', '--out', '-f'. */
  flag: string;
  /** Replace an existing regular file (never anything else). */
  force?: boolean;
  /** The option that allows replacing, as the command spells it; false when the command has none. */
  forceOption?: string | false;
  /** The files this command reads: the output is never one of them, --force or not. */
  inputs?: { flag: string; path: string | undefined }[];
  /** Said after a refused block device (remaster: how to put the image on a USB stick). */
  deviceHint?: string;
  /** Said after a refused directory, e.g. `give the file to write, like DIR/x.iso`. */
  directoryHint?: string;
}

/** lstat, or undefined when nothing is there. */
function lstatOrNone(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Every check before the command's first side effect; throws a one-line UserError. Returns whether
 * a file is there (to be replaced, with force).
 */
export function checkOutputFile(o: OutputFile): boolean {
  const at = named(o.flag, o.path);
  if (o.path === '') throw new UserError(`${o.flag}: an empty path; name the file to write`);
  refusePseudoFs(o.path, o.flag);
  // An input named by its path, even one this run is about to create (a secrets file not made yet).
  for (const input of o.inputs ?? []) {
    if (input.path && resolve(input.path) === resolve(o.path)) throw new UserError(`${at}: is the same file as ${input.flag} ${input.path}, which this command reads; write the output to another path`);
  }
  const st = lstatOrNone(o.path);
  if (!st) return false;
  if (st.isSymbolicLink()) {
    let to = '';
    try {
      to = ` to ${readlinkSync(o.path)}`;
    } catch {
      /* unreadable link: say less */
    }
    throw new UserError(`${at}: is a symbolic link${to}; k8s-image writes only regular files and does not write through links: name the file itself, or another path`);
  }
  if (st.isDirectory()) throw new UserError(`${at}: is a directory; ${o.directoryHint ?? 'name the file to write inside it'}`);
  if (!st.isFile()) {
    const hint = st.isBlockDevice() && o.deviceHint ? o.deviceHint : 'name a regular file (or a path where none is yet)';
    throw new UserError(`${at}: is ${kindOf(st)}, not a regular file; k8s-image replaces only regular files: ${hint}`);
  }
  for (const input of o.inputs ?? []) {
    if (!input.path) continue;
    let inSt: Stats;
    try {
      inSt = statSync(input.path);
    } catch {
      continue;
    }
    if (inSt.dev === st.dev && inSt.ino === st.ino) {
      throw new UserError(`${at}: is the same file as ${input.flag} ${input.path}, which this command reads; write the output to another path`);
    }
  }
  if (!o.force) {
    const how = o.forceOption === false ? 'remove it first' : `pass ${o.forceOption ?? '--force'} to replace it`;
    throw new UserError(`${at}: a file is already there; ${how}, or choose another path`);
  }
  return true;
}

/** A temporary name beside `path` (same directory, so the final rename is atomic), hidden and unique. */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.k8s-image-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** Errors about the temporary file are reported for the path the user named. */
function blameOutput(e: unknown, temp: string, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && (err.path === undefined || err.path === temp)) err.path = path;
  return e;
}

/**
 * Put a complete temporary file (beside the output, or in a directory of the same file system) in
 * place: the checks again (the path may have changed meanwhile), then a link that cannot replace
 * anything when no file was to be replaced, else a rename. The temporary file is gone afterwards.
 */
export async function commitFile(o: OutputFile, temp: string): Promise<void> {
  try {
    // The bytes on disk before the name: a crash after the rename never leaves an empty file.
    const fh = await open(temp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const replace = checkOutputFile(o);
    if (!replace) {
      try {
        await link(temp, o.path);
        await rm(temp, { force: true });
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') checkOutputFile(o); // says what appeared there
        // File systems without hard links (FAT on a USB stick): the checks above must do.
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV' && code !== 'EMLINK') throw e;
      }
    }
    await rename(temp, o.path);
  } catch (e) {
    await rm(temp, { force: true });
    throw blameOutput(e, temp, o.path);
  }
}

/** Write `data` to the output, mode `mode` whatever the umask: checked, atomic, never half written. */
export async function writeFileSafely(o: OutputFile, data: string | Uint8Array, mode: number): Promise<void> {
  checkOutputFile(o);
  const temp = tempPathBeside(o.path);
  try {
    const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await chmod(temp, mode);
  } catch (e) {
    await rm(temp, { force: true });
    throw blameOutput(e, temp, o.path);
  }
  await commitFile(o, temp);
}

/** A file the command reads. */
export interface InputFile {
  path: string;
  /** The option that named it, for messages: '-c', '--config'. */
  flag?: string;
  /** At most this many bytes; one more is an error. */
  limit: number;
  /** What the file should be, for messages: 'a cluster description'. */
  what: string;
}

/**
 * Read at most `limit` bytes, in a loop that stops there whatever the file claims its size is
 * (/proc files say 0, a growing file says less): a regular file only. A FIFO, a device (/dev/zero)
 * or a directory is refused without reading from it, so nothing waits for a writer or reads forever.
 */
export function readBoundedSync(i: InputFile): Buffer {
  const at = named(i.flag, i.path);
  const refuse = (st: Stats) => {
    if (st.isDirectory()) return new UserError(`${at}: is a directory; name the file itself (${i.what})`);
    return new UserError(`${at}: is ${kindOf(st)}, not a regular file; name the file itself (${i.what}), not a pipe or device`);
  };
  const st = statSync(i.path);
  if (!st.isFile()) throw refuse(st);
  // O_NONBLOCK: a FIFO put there since the stat opens without waiting (and is refused below).
  const fd = openSync(i.path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) throw refuse(fst);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, i.limit + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > i.limit) throw new UserError(`${at}: more than ${i.limit} bytes, more than ${i.what} needs; is this the right file?`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
