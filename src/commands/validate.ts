import { readConfig } from './common.js';
import { bootstrapOf, endpointText } from '../plan/index.js';
import type { Output } from './common.js';

export interface ValidateOptions { config?: string; json?: boolean }

/** Load and check the cluster description; print the nodes or (via UserError) every problem. */
export async function validate(opts: ValidateOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  const { cluster } = loaded;
  for (const w of loaded.warnings) out.warn(w);
  if (opts.json) {
    out.result(
      JSON.stringify(
        {
          ok: true,
          cluster: cluster.name,
          source: loaded.source ?? null,
          kubernetesVersion: cluster.kubernetesVersion,
          runtime: cluster.runtime,
          cni: cluster.cni,
          kubeProxyMode: cluster.kubeProxyMode,
          controlPlaneEndpoint: endpointText(cluster),
          warnings: loaded.warnings,
          nodes: cluster.nodes.map((n) => ({
            ...n,
            bootstrap: bootstrapOf(cluster, n),
            // What `build` makes for it: a cidata seed needs the NIC's MAC or name.
            seeds: n.mac || n.interface ? ['oemdrv', 'cidata'] : ['oemdrv'],
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const ep = cluster.controlPlaneEndpoint;
  out.result(
    `cluster ${cluster.name}: Kubernetes ${cluster.kubernetesVersion}, ${cluster.runtime.kind} ${cluster.runtime.version}, ${cluster.cni}, endpoint ${ep.host}:${ep.port}` +
      ` (${loaded.source ?? 'embedded default'})`,
  );
  out.result(table(['NAME', 'ROLE', 'IP', 'MAC', 'DISK'], cluster.nodes.map((n) => [n.name, n.role, `${n.ip}/${n.prefix}`, n.mac ?? '-', n.disk])));
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
