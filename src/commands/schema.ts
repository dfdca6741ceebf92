import { zodToJsonSchema } from 'zod-to-json-schema';
import { ClusterFileSchema } from '../config/index.js';
import type { Output } from './common.js';
import { FIELD_DOCS } from '../config/field-docs.js';

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; description?: string; default?: unknown };

/** Put each field's description and default (field-docs.ts) on its schema node; returns the paths seen. */
function annotate(node: JsonSchema, path: string[], seen: string[]): void {
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const p = [...path, k];
    const key = p.join('.');
    seen.push(key);
    const doc = FIELD_DOCS[key];
    if (doc) {
      child.description = doc[0];
      if (doc.length > 1) child.default = doc[1];
    }
    annotate(child, p, seen);
  }
  if (node.items) annotate(node.items, [...path.slice(0, -1), `${path.at(-1)}[]`], seen);
  for (const alt of node.anyOf ?? []) annotate(alt, path, seen);
}

/** The schema with every field documented, and the field paths it has (for the completeness test). */
export function clusterJsonSchemaObject(): { schema: Record<string, unknown>; fields: string[] } {
  const schema = zodToJsonSchema(ClusterFileSchema, { name: 'Cluster', $refStrategy: 'none' }) as { definitions: { Cluster: JsonSchema } };
  const fields: string[] = [];
  annotate(schema.definitions.Cluster, [], fields);
  schema.definitions.Cluster.description = 'A k8s-image cluster description: every field is optional except nodes (README.md, "cluster.yaml").';
  return { schema: { ...schema, title: 'k8s-image cluster.yaml' }, fields: [...new Set(fields)] };
}

export function clusterJsonSchema(): string {
  return `${JSON.stringify(clusterJsonSchemaObject().schema, null, 2)}\n`;
}

/** Print the JSON Schema of cluster.yaml (committed as schema/cluster.schema.json for editors). */
export async function schema(_opts: object, out: Output): Promise<void> {
  out.result(clusterJsonSchema());
}
