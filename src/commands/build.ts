import { join } from 'node:path';
import type { Cluster, Node } from '../config/index.js';
import { formatPath } from '../config/index.js';
import { UserError } from '../errors.js';
import { renderedEndpointProblems } from '../plan/endpoint.js';
import { type IsoTool, ISO_TOOLS } from '../iso/index.js';
import { buildEpoch } from '../output/index.js';
import { loadSecretsFor, readConfig, warnNodes, withStatusUrl, type Output } from './common.js';
import { nicKnown, checkTreeTarget, writeClusterTree } from '../assemble/index.js';
import { table } from './validate.js';

export interface BuildOptions {
  config?: string;
  role?: 'master' | 'node' | 'lb' | 'all';
  node?: string[];
  seed?: 'cidata' | 'oemdrv' | 'both';
  out?: string;
  isoTool?: IsoTool;
  json?: boolean;
  newCa?: boolean;
  /** Nodes report their progress here (overrides status.url). */
  status?: string;
}

function selectNodes(cluster: Cluster, opts: BuildOptions): Node[] {
  const role = opts.role ?? 'all';
  const names = opts.node ?? [];
  const unknown = names.filter((n) => !cluster.nodes.some((x) => x.name === n));
  if (unknown.length) {
    throw new UserError(`--node ${unknown.join(', ')}: no such node in cluster ${cluster.name}; nodes are ${cluster.nodes.map((n) => n.name).join(', ')}`);
  }
  const chosen = cluster.nodes.filter((n) => (role === 'all' || n.role === role) && (names.length === 0 || names.includes(n.name)));
  if (chosen.length === 0) throw new UserError(`--role ${role}${names.length ? ` --node ${names.join(',')}` : ''}: selects no node of cluster ${cluster.name}`);
  return chosen;
}

/** Why a node cannot have a cidata seed (neither MAC nor interface name), naming the field. */
export function nicProblem(cluster: Cluster, node: Node): string {
  const i = cluster.nodes.indexOf(node);
  return `${formatPath(['nodes', i, 'mac'])}: node ${node.name} has neither a MAC address nor an interface name, so a cidata seed cannot tell cloud-init which NIC gets ${node.ip}/${node.prefix} (cloud-init matches NICs only by MAC); set nodes[${i}].mac to the VM's MAC address, or nodes[${i}].interface (or network.interface) to the NIC's name (eth0 on CentOS 7 GenericCloud)`;
}

/** A list of names for one line: the first few and how many more. */
const someOf = (names: string[]) => (names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`);

/** `k8s-image render` (files only) and `k8s-image build` (files and seed ISOs). */
export async function build(opts: BuildOptions, out: Output, withIsos = true): Promise<void> {
  if (opts.isoTool && !ISO_TOOLS.includes(opts.isoTool)) throw new UserError(`--iso-tool ${opts.isoTool}: use one of ${ISO_TOOLS.join(', ')}`);
  // Every check before the first side effect (the secrets file): a refused build changes nothing.
  const loaded = withStatusUrl(readConfig(opts.config), opts.status);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const nodes = selectNodes(cluster, opts);
  const unknownNic = nodes.filter((n) => !nicKnown(n));
  if (withIsos && opts.seed === 'cidata' && unknownNic.length) throw new UserError(unknownNic.map((n) => nicProblem(cluster, n)));
  if (opts.seed !== 'oemdrv') {
    warnNodes(
      out,
      unknownNic.map((n) => `${nicProblem(cluster, n)}. Built for ${n.name}: the kickstart and OEMDRV seed only (the installer takes the NIC with a link)`),
      unknownNic.map((n) => n.name),
      (count, names) => `${count} more nodes have the same problem (${names}): built with the kickstart and OEMDRV seed only`,
    );
  }
  const outDir = opts.out ?? 'outputs';
  await checkTreeTarget(outDir, join(outDir, cluster.name));
  // The secrets are checked (or minted, in memory only) here; the file is written only just before
  // the tree lands (persist).
  const loadedSecrets = await loadSecretsFor(loaded, opts, out);
  // The kubeadm configs as rendered, read back: endpoint, certSANs, every join's endpoint.
  const endpointProblems = renderedEndpointProblems(cluster, loadedSecrets.secrets);
  if (endpointProblems.length) throw new UserError(endpointProblems.map((p) => `cluster.controlPlaneEndpoint: the rendered kubeadm config of ${p}`));
  const secretsPath = loadedSecrets.secretsPath;
  const showProgress = out.isTTY && !opts.json && nodes.length > 1;
  const { clusterDir, manifestPath, summary, carried } = await writeClusterTree(
    {
      cluster,
      inputDigest: loaded.digest,
      secrets: loadedSecrets.secrets,
      secretsPath,
      persistSecrets: () => loadedSecrets.persist(),
      nodes,
      outDir,
      isos: withIsos,
      seed: opts.seed ?? 'both',
      isoTool: opts.isoTool ?? 'builtin',
      epoch: buildEpoch(),
      newCa: opts.newCa,
    },
    {
      info: (t) => out.info(t),
      warn: (t) => out.warn(t),
      node: (node, i) => {
        if (showProgress && (i % 10 === 9 || i === nodes.length - 1)) out.progress(`[${i + 1}/${nodes.length}] ${node.name}`);
      },
    },
  );
  if (showProgress) out.progress('');

  if (carried?.kept.length) out.info(`kept the seed ISOs that build made for ${someOf(carried.kept)}: their files are unchanged`);
  if (carried?.removed.length) {
    // The same selection render had: build makes every ISO of it again.
    const again = `k8s-image build${opts.config ? ` -c ${opts.config}` : ''}${opts.out ? ` -o ${opts.out}` : ''}${opts.role && opts.role !== 'all' ? ` -r ${opts.role}` : ''}${(opts.node ?? []).map((n) => ` -n ${n}`).join('')}`;
    out.warn(`removed the seed ISOs of ${someOf(carried.removed)}: build made them from files this render changed, so they would install the old ones; make them again with: ${again}`);
  }
  if (opts.json) {
    out.result(
      JSON.stringify(
        {
          cluster: cluster.name,
          ...(carried ? { keptIsos: carried.kept, removedIsos: carried.removed } : {}),
          outputDir: clusterDir,
          secretsFile: secretsPath,
          manifest: manifestPath,
          nodes: summary.map(({ node, artifacts }) => ({
            name: node.name,
            role: node.role,
            ip: node.ip,
            artifacts: artifacts.map((a) => ({ path: join(clusterDir, node.name, a.path), secret: a.secret })),
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const rows = summary.map(({ node, artifacts }) => {
    const top = artifacts.filter((a) => !a.path.includes('/') || a.path.startsWith('cloud-init/'));
    return [node.name, node.role, node.ip, top.map((a) => a.path.replace('cloud-init/', '')).join(' '), artifacts.some((a) => a.secret) ? 'yes (0600)' : 'no'];
  });
  out.result(`${withIsos ? 'built' : 'rendered'} ${summary.length} node(s) of cluster ${cluster.name} into ${clusterDir}/`);
  out.result(table(['NODE', 'ROLE', 'IP', 'ARTIFACTS', 'SECRETS'], rows));
  out.result(`manifest: ${manifestPath}`);
  out.result(`secrets:  ${secretsPath}`);
}
