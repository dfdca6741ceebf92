/**
 * Where the secrets file sits, and what about it a user should hear: the warnings k8s-image gives
 * about a secrets file (its mode, git, a renamed cluster). Read-only: nothing here writes.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import yaml from 'js-yaml';

/** A secrets file readable by group or others: ssh refuses such a key, k8s-image says so. */
export function modeWarning(path: string, mode: number | undefined): string | undefined {
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return `${path} is mode 0${mode.toString(8)}: readable by ${mode & 0o007 ? 'every user of this machine' : 'its group'}, though it holds the cluster CA's private key; chmod 600 ${path}`;
}

/**
 * A secrets file (existing or about to be written) inside a git work tree and not ignored: the
 * next `git add -A` commits the CA key. Quiet when git is missing or the path is outside a work tree.
 */
export function gitWarning(path: string): string | undefined {
  const dir = dirname(resolve(path));
  const top = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', timeout: 10000 });
  if (top.status !== 0 || !top.stdout.trim()) return undefined;
  const ignored = spawnSync('git', ['-C', dir, 'check-ignore', '-q', '--', basename(path)], { timeout: 10000 });
  if (ignored.status !== 1) return undefined; // 0: ignored; 128 or a signal: cannot tell
  const root = top.stdout.trim();
  const tracked = spawnSync('git', ['-C', dir, 'ls-files', '--error-unmatch', '--', basename(path)], { timeout: 10000, stdio: 'ignore' }).status === 0;
  const rel = relative(root, resolve(path));
  return tracked
    ? `${path} is tracked by git (the repository at ${root}): a commit of it gives whoever reads the repository the cluster CA's private key; untrack it (git rm --cached ${rel}) and add it to .gitignore; if it was ever pushed, treat the CA as leaked (README: "The secrets file and the CA")`
    : `${path} is inside the git work tree at ${root} and not ignored: a \`git add -A\` would commit the cluster CA's private key; add it to ${join(root, '.gitignore')} (echo '${rel}' >> ${join(root, '.gitignore')}), or keep it outside with --secrets or K8S_IMAGE_SECRETS`;
}

/**
 * Other secrets files beside `path` minted for the same config under another cluster name: the
 * cluster was renamed, and minting for the new name makes a second CA for the same machines.
 */
export function renamedFrom(path: string, config: string | undefined, cluster: string): Array<{ file: string; cluster: string }> {
  if (config === undefined) return [];
  const dir = dirname(resolve(path));
  const want = resolve(config);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.secrets.yaml') && join(dir, n) !== resolve(path));
  } catch {
    return [];
  }
  const found: Array<{ file: string; cluster: string }> = [];
  for (const n of names.sort()) {
    try {
      const doc = yaml.load(readFileSync(join(dir, n), 'utf8')) as { cluster?: unknown; config?: unknown } | null;
      if (!doc || typeof doc.cluster !== 'string' || doc.cluster === cluster || typeof doc.config !== 'string') continue;
      if (resolve(dir, doc.config) === want) found.push({ file: join(dirname(path), n), cluster: doc.cluster });
    } catch {
      // Not a secrets file we can read: not ours to judge here.
    }
  }
  return found;
}
