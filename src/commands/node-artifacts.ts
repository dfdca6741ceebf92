import type { Artifact } from '../artifact.js';
import type { Cluster, Node } from '../config/index.js';
import { renderCloudInit } from '../cloudinit/index.js';
import { writeIsoWith, type IsoTool } from '../iso/index.js';
import { renderKickstart } from '../kickstart/index.js';
import { planNode } from '../plan/index.js';
import type { Secrets } from '../secrets/index.js';

/** A cidata seed needs to know the NIC: its MAC (cloud-init matches by MAC) or a name the user gave. */
export function nicKnown(node: Pick<Node, 'mac' | 'interface'>): boolean {
  return Boolean(node.mac || node.interface);
}

export interface SeedOptions { isos: boolean; seed: 'cidata' | 'oemdrv' | 'both'; isoTool: IsoTool; epoch: number }

/** Everything for one node: the rendered files and, when asked, the seed ISOs. Pure but for external ISO tools. */
export async function nodeArtifacts(cluster: Cluster, secrets: Secrets, node: Node, opts: SeedOptions): Promise<Artifact[]> {
  const files = nodeFiles(cluster, secrets, node);
  return [...files, ...(await seedIsos(node, files, opts))];
}

/** The node's rendered files (kickstart and OEMDRV tree; cloud-init when its NIC is known). Pure. */
export function nodeFiles(cluster: Cluster, secrets: Secrets, node: Node): Artifact[] {
  const plan = planNode(cluster, secrets, node.name);
  return [...renderKickstart(plan), ...(nicKnown(node) ? renderCloudInit(plan) : [])];
}

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
