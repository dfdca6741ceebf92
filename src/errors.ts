/** An error the user caused and can fix: printed as one line per problem, exit code 2, no stack. */
export class UserError extends Error {
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('\n'));
    this.name = 'UserError';
    this.problems = list;
  }
}

/** File-system failures that are the user's to fix (a full disk, a read-only mount, permissions), not bugs. */
const FS_CAUSES: Record<string, [string, string]> = {
  EACCES: ['permission denied', 'run as a user who may write there, or choose another path (-o/--out, -f/--file, -c/--config)'],
  EPERM: ['operation not permitted', 'check the file attributes (chattr, mount options), or choose another path'],
  EROFS: ['read-only file system', 'choose a writable path (-o/--out, -f/--file) or remount it read-write'],
  ENOSPC: ['no space left on the device', 'free some space (df -h), or choose another path'],
  EDQUOT: ['disk quota exceeded', 'free some space within your quota, or choose another path'],
  ENOENT: ['no such file or directory', 'check the path (its parent directories must exist)'],
  ENOTDIR: ['a part of the path is a file, not a directory', 'choose another path'],
  EISDIR: ['is a directory, not a file', 'name a file'],
  EEXIST: ['already exists', 'remove it or choose another path'],
  ENAMETOOLONG: ['the path is too long', 'choose a shorter path'],
  EMFILE: ['too many open files', 'raise the limit (ulimit -n) and run again'],
  ENFILE: ['too many open files in the system', 'close other programs and run again'],
  EIO: ['input/output error', 'check the disk (dmesg)'],
  EFBIG: ['file too large for this file system or for the file-size limit', 'raise the limit (ulimit -f) or choose another file system'],
  ELOOP: ['too many symbolic links', 'check the path for a symlink loop'],
};

/** The one-line message for a file-system error the user can fix, or undefined for anything else. */
export function fileSystemProblem(e: unknown): { path: string; message: string } | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err !== 'object' || typeof err.code !== 'string') return undefined;
  const cause = FS_CAUSES[err.code];
  if (!cause) return undefined;
  const path = err.path ?? (err as { dest?: string }).dest ?? '(unknown path)';
  return { path, message: `${path}: ${cause[0]} (${err.code}${err.syscall ? ` in ${err.syscall}` : ''}); ${cause[1]}` };
}

/** A problem line as data: its field (or file) path, the value it names when quoted, and the text. */
export function problemObject(text: string): { path?: string; value?: unknown; message: string } {
  // The path is the first word, up to ": " (a field path, a flag or a file). One linear class: the
  // alternation this replaced backtracked exponentially on a long absolute path (the CLI fuzz hung).
  const m = /^([^\s:]+)(?: \([^)]*\))?: (.*)$/s.exec(text);
  if (!m) return { message: text };
  const rest = m[2]!;
  const q = /^("(?:[^"\\]|\\.)*")/.exec(rest);
  let value: unknown;
  if (q) {
    try {
      value = JSON.parse(q[1]!);
    } catch {
      value = undefined;
    }
  }
  return { path: m[1], ...(value !== undefined ? { value } : {}), message: text };
}
