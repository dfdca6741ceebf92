import type { Artifact } from '../artifact.js';
import type { Cluster, Node } from '../config/index.js';
import { renderCloudInit } from '../cloudinit/index.js';
import { nicKnown, seedIsos, type SeedOptions } from './seeds.js';
import { renderKickstart } from '../kickstart/index.js';
import { planNode } from '../plan/index.js';
import type { Secrets } from '../secrets/index.js';

export { nicKnown, seedIsos, type SeedOptions } from './seeds.js';

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
