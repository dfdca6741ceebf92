import { defaultClusterYaml, haClusterYaml } from '../config/index.js';
import { writeFileSafely } from '../output/index.js';
import type { Output } from './common.js';

export interface InitOptions { ha?: boolean; out?: string; force?: boolean }

/** Write a commented starting cluster.yaml: the seed-000 lab, or the seed-004 HA layout. */
export async function init(opts: InitOptions, out: Output): Promise<void> {
  const text = opts.ha ? haClusterYaml() : defaultClusterYaml();
  if (!opts.out || opts.out === '-') {
    out.result(text);
    return;
  }
  // A regular file only, replaced only with --force (never a link, FIFO or device), and atomically:
  // an interrupted write never leaves half a cluster.yaml behind.
  await writeFileSafely({ path: opts.out, flag: '--out', force: opts.force, directoryHint: 'name the file to write, like cluster.yaml inside it' }, text, 0o644);
  out.info(`wrote ${opts.out} (${opts.ha ? 'HA: 3 masters, 2 workers, 1 load balancer' : 'lab: 1 master, 2 workers'}); check it with: k8s-image validate --config ${opts.out}`);
}
