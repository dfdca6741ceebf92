import { readConfig } from './common.js';
import { bootstrapOf, endpointText } from '../plan/index.js';
import { endpointProof } from '../plan/endpoint.js';
import { UserError } from '../errors.js';
import type { Output } from './common.js';

export interface ValidateOptions { config?: string; json?: boolean }

/** Load and check the cluster description; print the nodes or (via UserError) every problem. */
export async function validate(opts: ValidateOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  const { cluster } = loaded;
  for (const w of loaded.warnings) out.warn(w);
  const proof = endpointProof(cluster);
  if (proof.problems.length) throw new UserError(proof.problems.map((p) => `cluster.controlPlaneEndpoint: ${p}`));
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
          endpoint: { mode: proof.mode, route: proof.route, certSANs: proof.sans, covered: proof.required },
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
  out.result(prose(`endpoint ${proof.endpoint} (${proof.mode}): ${proof.route.join('; ')}`));
  out.result(prose(`certificate SANs cover ${proof.required.map((r) => `${r.value} (${r.why})`).join(', ')}`));
  out.result(table(['NAME', 'ROLE', 'IP', 'MAC', 'DISK'], cluster.nodes.map((n) => [n.name, n.role, `${n.ip}/${n.prefix}`, n.mac ?? '-', n.disk])));
}

/** Columns to fit: the terminal's when stdout is one, $COLUMNS when set, else unbounded (pipes, files). */
export function terminalWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 20 ? env : Infinity;
}

/** Break a cell into lines of at most `width`, at spaces where it can. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    let w = word;
    while (w.length > width) {
      if (line) out.push(line), (line = '');
      out.push(w.slice(0, width));
      w = w.slice(width);
    }
    if (!line) line = w;
    else if (line.length + 1 + w.length <= width) line += ` ${w}`;
    else out.push(line), (line = w);
  }
  out.push(line);
  return out;
}

/** A sentence wrapped at spaces to `width` columns. */
export function prose(text: string, width = terminalWidth()): string {
  return Number.isFinite(width) ? wrap(text, width).join('\n') : text;
}

/** A plain text table; wider than `maxWidth`, its widest columns wrap onto more lines. */
export function table(head: string[], rows: string[][], maxWidth = terminalWidth()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const gap = 2;
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (widths.length - 1);
  while (total() > maxWidth) {
    const widest = widths.indexOf(Math.max(...widths));
    const floor = Math.max(head[widest]!.length, 8);
    if (widths[widest]! <= floor) break; // as narrow as it sensibly gets
    widths[widest] = Math.max(floor, widths[widest]! - (total() - maxWidth));
  }
  const lines: string[] = [];
  for (const r of [head, ...rows]) {
    const cells = widths.map((w, i) => wrap(r[i] ?? '', w));
    const height = Math.max(...cells.map((c) => c.length));
    for (let l = 0; l < height; l++) lines.push(cells.map((c, i) => (c[l] ?? '').padEnd(widths[i]!)).join(' '.repeat(gap)).trimEnd());
  }
  return lines.join('\n');
}
