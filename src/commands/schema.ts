import { zodToJsonSchema } from 'zod-to-json-schema';
import { ClusterFileSchema } from '../config/index.js';
import type { Output } from './common.js';

export function clusterJsonSchema(): string {
  const schema = zodToJsonSchema(ClusterFileSchema, { name: 'Cluster', $refStrategy: 'none' });
  return `${JSON.stringify({ ...schema, title: 'k8s-image cluster.yaml' }, null, 2)}\n`;
}

/** Print the JSON Schema of cluster.yaml (committed as schema/cluster.schema.json for editors). */
export async function schema(_opts: object, out: Output): Promise<void> {
  out.result(clusterJsonSchema());
}
