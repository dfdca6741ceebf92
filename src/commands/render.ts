import { build, type BuildOptions } from './build.js';
import type { Output } from './common.js';

export type RenderOptions = Omit<BuildOptions, 'seed' | 'isoTool'>;

/** `k8s-image render`: the build without seed ISOs (ks.cfg, oemdrv/, cloud-init/ per node). */
export async function render(opts: RenderOptions, out: Output): Promise<void> {
  await build(opts, out, false);
}
