import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { defaultClusterYaml, haClusterYaml } from '../config/index.js';
import type { Output } from './common.js';

export interface InitOptions { ha?: boolean; out?: string; force?: boolean }

/** Write a commented starting cluster.yaml: the seed-000 lab, or the seed-004 HA layout. */
export async function init(opts: InitOptions, out: Output): Promise<void> {
  const text = opts.ha ? haClusterYaml() : defaultClusterYaml();
  if (!opts.out || opts.out === '-') {
    out.result(text);
    return;
  }
  if (existsSync(opts.out) && !opts.force) throw new UserError(`--out ${opts.out}: the file exists; pass --force to overwrite it`);
  // Through a temporary file: an interrupted write never leaves half a cluster.yaml behind.
  writeFileSync(`${opts.out}.tmp`, text, { mode: 0o644 });
  renameSync(`${opts.out}.tmp`, opts.out);
  out.info(`wrote ${opts.out} (${opts.ha ? 'HA: 3 masters, 2 workers, 1 load balancer' : 'lab: 1 master, 2 workers'}); check it with: k8s-image validate --config ${opts.out}`);
}
