import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact } from '../artifact.js';
import { renderCloudInit } from '../cloudinit/index.js';
import { UserError } from '../errors.js';
import { packerNextSteps, renderGolden, renderPacker } from '../golden/index.js';
import { acquireLock, buildEpoch, cleanStale, makeDir, stagingPrefix, swapIntoPlace, writeArtifacts } from '../output/index.js';
import { planNode } from '../plan/index.js';
import { renderGuestinfo } from '../vmware/index.js';
import type { LoadedCluster, Node } from '../config/index.js';
import { loadSecretsFor, readConfig, type Output } from './common.js';
import { nicProblem } from './build.js';
import { nicKnown } from '../assemble/index.js';
import { table } from './validate.js';

// No --new-ca here: a golden image holds no CA, and guestinfo seeds take the CA of the secrets file
// (a new one is made only by a full build, so no tree is left with the old one unknowingly).
export interface GoldenOptions { config?: string; out?: string; node?: string[]; json?: boolean; secrets?: string }

/**
 * Write `artifacts` as the tree `<out>/<name>/`, whole or not at all, one writer at a time;
 * `beforeSwap` (saving new secrets) runs once the tree is complete, right before it lands.
 */
async function writeTree(outDir: string, name: string, artifacts: Artifact[], out: Output, beforeSwap: () => void): Promise<string> {
  const target = join(outDir, name);
  await makeDir(outDir, '--out');
  const lock = await acquireLock(outDir, name, { onWait: (h) => out.info(`waiting for another run writing ${target} (${h})`) });
  try {
    for (const what of await cleanStale(outDir, name)) out.warn(what);
    const stage = await mkdtemp(join(outDir, `${stagingPrefix(name)}${process.pid}-`));
    try {
      await writeArtifacts(stage, artifacts);
      beforeSwap();
      await swapIntoPlace([{ staged: stage, target }]);
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
  return target;
}

async function loaded(opts: GoldenOptions, out: Output, check: (l: LoadedCluster) => void = () => undefined) {
  const l = readConfig(opts.config);
  for (const w of l.warnings) out.warn(w);
  // Every check before the secrets: a refused command mints nothing.
  check(l);
  const { secrets, secretsPath, persist } = await loadSecretsFor(l, { out: opts.out, secrets: opts.secrets }, out);
  return { cluster: l.cluster, secrets, secretsPath, persist, outDir: opts.out ?? 'outputs' };
}

/** `k8s-image golden`: the golden image's kickstart and OEMDRV seed. */
export async function golden(opts: GoldenOptions, out: Output): Promise<void> {
  const { cluster, secrets, secretsPath, persist, outDir } = await loaded(opts, out);
  const tree = await writeTree(outDir, `${cluster.name}-golden`, renderGolden(cluster, secrets, buildEpoch()), out, persist);
  if (opts.json) return out.result(JSON.stringify({ tree, kickstart: join(tree, 'ks.cfg'), seed: join(tree, 'golden-oemdrv.iso'), secretsFile: secretsPath }, null, 2));
  out.result(`golden image of cluster ${cluster.name} (Kubernetes ${cluster.kubernetesVersion}, ${cluster.runtime.kind} ${cluster.runtime.version}) in ${tree}/`);
  out.result(`next: boot a VM from the CentOS 7 DVD with ${join(tree, 'golden-oemdrv.iso')} as a second CD (or k8s-image packer for an unattended build).`);
  out.result('It installs, pulls the control-plane images at its first boot, seals itself for cloning and powers off: make it a template. Give each clone its own <node>-cidata.iso (k8s-image build --seed cidata).');
  out.result(`secrets:  ${secretsPath} (the image holds no CA and no token; the clones' seeds take them from this file)`);
}

/** `k8s-image packer`: a Packer template (qemu and vsphere-iso) that builds the golden image. */
export async function packer(opts: GoldenOptions, out: Output): Promise<void> {
  const { cluster, secrets, secretsPath, persist, outDir } = await loaded(opts, out);
  const tree = await writeTree(outDir, `${cluster.name}-packer`, renderPacker(cluster, secrets), out, persist);
  if (opts.json) return out.result(JSON.stringify({ tree, template: join(tree, 'golden.json'), secretsFile: secretsPath }, null, 2));
  out.result(`Packer template of cluster ${cluster.name}'s golden image in ${tree}/ (golden.json, http/ks.cfg)`);
  for (const line of packerNextSteps(tree)) out.result(line);
}

/** `k8s-image guestinfo`: each node's seed as VMware guestinfo (.vmx lines and a govc script). */
export async function guestinfo(opts: GoldenOptions, out: Output): Promise<void> {
  const names = opts.node ?? [];
  let nodes: Node[] = [];
  const { cluster, secrets, secretsPath, persist, outDir } = await loaded(opts, out, ({ cluster }) => {
    const unknown = names.filter((n) => !cluster.nodes.some((x) => x.name === n));
    if (unknown.length) throw new UserError(unknown.map((n) => `--node ${n}: no such node in cluster ${cluster.name} (nodes: ${cluster.nodes.map((x) => x.name).join(', ')})`));
    nodes = cluster.nodes.filter((n) => !names.length || names.includes(n.name));
    const noNic = nodes.filter((n) => !nicKnown(n));
    if (noNic.length) throw new UserError(noNic.map((n) => nicProblem(cluster, n)));
  });
  const artifacts: Artifact[] = [];
  for (const n of nodes) {
    const seed = renderCloudInit(planNode(cluster, secrets, n.name));
    const get = (f: string) => seed.find((a) => a.path === `cloud-init/${f}`)!.bytes;
    artifacts.push(...renderGuestinfo(n.name, { userData: get('user-data'), metaData: get('meta-data'), networkConfig: get('network-config') }));
  }
  const tree = await writeTree(outDir, `${cluster.name}-guestinfo`, artifacts, out, persist);
  if (opts.json) return out.result(JSON.stringify({ tree, secretsFile: secretsPath, nodes: nodes.map((n) => ({ name: n.name, vmx: join(tree, `${n.name}.vmx`), govc: join(tree, `${n.name}.govc.sh`) })) }, null, 2));
  out.result(`VMware guestinfo of cluster ${cluster.name} in ${tree}/ (mode 0600: the values carry each node's secrets)`);
  out.result(table(['NODE', '.VMX LINES', 'GOVC'], nodes.map((n) => [n.name, `${n.name}.vmx`, `sh ${n.name}.govc.sh`])));
  out.result("Needs cloud-init 21.3 or later in the image (its VMware datasource): CentOS 7's own 19.4 does not read guestinfo; attach <node>-cidata.iso there instead.");
  out.result(`secrets:  ${secretsPath}`);
}
