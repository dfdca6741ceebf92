/**
 * Benchmark (not a test): how long building seeds takes, for the default lab and a generated
 * 100-node cluster, against cloud-localds (Debian cloud-image-utils) making the same 100 cidata
 * seeds. Run: npm run bench. Figures go in the README.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml } from '../src/config/index.js';
import { generateSecrets } from '../src/secrets/index.js';
import { nodeArtifacts } from '../src/commands/build.js';
import { DEFAULT_EPOCH } from '../src/output/index.js';

function bigCluster(n: number): string {
  const doc = yaml.load(defaultClusterYaml()) as { network: Record<string, unknown>; nodes: unknown[] };
  doc.network.prefix = 16;
  doc.network.gateway = '192.168.0.1';
  doc.network.dns = ['192.168.0.1'];
  doc.nodes = [{ name: 'master', role: 'master', ip: '192.168.1.1' }];
  for (let i = 1; i < n; i++) doc.nodes.push({ name: `node${String(i).padStart(3, '0')}`, role: 'node', ip: `192.168.${2 + Math.floor(i / 250)}.${1 + (i % 250)}` });
  return yaml.dump(doc);
}

async function time(label: string, text: string | undefined): Promise<{ ms: number; seeds: Map<string, Record<string, Uint8Array>> }> {
  const { cluster } = loadCluster(text);
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const seeds = new Map<string, Record<string, Uint8Array>>();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let bytes = 0;
  for (const node of cluster.nodes) {
    const artifacts = await nodeArtifacts(cluster, secrets, node, { isos: true, seed: 'both', isoTool: 'builtin', epoch: DEFAULT_EPOCH });
    bytes += artifacts.reduce((s, a) => s + a.bytes.length, 0);
    const ci: Record<string, Uint8Array> = {};
    for (const a of artifacts) if (a.path.startsWith('cloud-init/')) ci[a.path.slice(11)] = a.bytes;
    seeds.set(node.name, ci);
  }
  const ms = performance.now() - t0;
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(`${label}: ${cluster.nodes.length} nodes, plan+render+2 ISOs each in ${ms.toFixed(0)} ms (${(ms / cluster.nodes.length).toFixed(1)} ms/node), ${(bytes / 2 ** 20).toFixed(1)} MiB of artifacts, heap +${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(0)} MiB, rss ${rss.toFixed(0)} MiB`);
  return { ms, seeds };
}

await time('default lab', undefined);
const big = await time('100-node cluster', bigCluster(100));

const dir = mkdtempSync(join(tmpdir(), 'k8s-image-bench-'));
try {
  for (const [name, files] of big.seeds) {
    mkdirSync(join(dir, name));
    for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, name, f), b);
  }
  const t0 = performance.now();
  for (const name of big.seeds.keys()) {
    const d = join(dir, name);
    execFileSync('cloud-localds', ['-N', join(d, 'network-config'), join(d, 'seed.iso'), join(d, 'user-data'), join(d, 'meta-data')]);
  }
  const ms = performance.now() - t0;
  console.log(`cloud-localds: the same 100 cidata seeds in ${ms.toFixed(0)} ms (${(ms / 100).toFixed(1)} ms/seed)`);
  console.log(`ratio: k8s-image (render + cidata + OEMDRV) is ${(ms / big.ms).toFixed(1)}x faster than cloud-localds (cidata only)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
