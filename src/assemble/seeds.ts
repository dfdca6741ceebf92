/**
 * A node's seed ISOs from its rendered files. Its own module: the write threads make ISOs and
 * need neither the plan nor the renderers (nor js-yaml and mustache) loaded.
 */
import type { Artifact } from '../artifact.js';
import type { Node } from '../config/index.js';
import { writeIsoWith, type IsoTool } from '../iso/index.js';

/** A cidata seed needs to know the NIC: its MAC (cloud-init matches by MAC) or a name the user gave. */
export function nicKnown(node: Pick<Node, 'mac' | 'interface'>): boolean {
  return Boolean(node.mac || node.interface);
}

export interface SeedOptions { isos: boolean; seed: 'cidata' | 'oemdrv' | 'both'; isoTool: IsoTool; epoch: number }

/** The seed ISOs made of the node's files (none unless opts.isos). */
export async function seedIsos(node: Pick<Node, 'name' | 'mac' | 'interface'>, files: Artifact[], opts: SeedOptions): Promise<Artifact[]> {
  if (!opts.isos) return [];
  const isos: Artifact[] = [];
  const seeds: ['cidata' | 'oemdrv', string, string][] = [
    ['cidata', 'cloud-init/', 'cidata'],
    ['oemdrv', 'oemdrv/', 'OEMDRV'],
  ];
  for (const [kind, prefix, label] of seeds) {
    if (opts.seed !== 'both' && opts.seed !== kind) continue;
    if (kind === 'cidata' && !nicKnown(node)) continue;
    const content = files.filter((a) => a.path.startsWith(prefix));
    const secret = content.some((a) => a.secret);
    const bytes = await writeIsoWith(opts.isoTool, {
      label,
      epoch: opts.epoch,
      files: content.map((a) => ({ path: a.path.slice(prefix.length), bytes: a.bytes, mode: a.secret ? 0o600 : a.mode })),
    });
    isos.push({ path: `${node.name}-${kind}.iso`, bytes, mode: secret ? 0o600 : 0o644, secret });
  }
  return isos;
}
