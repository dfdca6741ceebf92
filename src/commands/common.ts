import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { loadCluster, type LoadedCluster } from '../config/index.js';

/** Where commands write: results to stdout, logs and warnings to stderr. Tests pass their own. */
export interface Output {
  result(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  isTTY: boolean;
}

export const stdio: Output = {
  result: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  info: (t) => process.stderr.write(`${t}\n`),
  warn: (t) => process.stderr.write(`warning: ${t}\n`),
  isTTY: Boolean(process.stderr.isTTY),
};

export function readConfig(path: string | undefined): LoadedCluster {
  if (path === undefined) return loadCluster(undefined);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--config ${path}: cannot read it (${code ?? String(e)}); run \`k8s-image init --out ${path}\` for a starting file`);
  }
  return loadCluster(text, path);
}
