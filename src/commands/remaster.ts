import { existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { openIso } from '../iso/reader.js';
import { remasterIso } from '../iso/remaster.js';
import { renderKickstart } from '../kickstart/index.js';
import { checkOutputFile, commitFile, kindOf, makeDir, removeNow, withSignalCleanup, type OutputFile } from '../output/index.js';
import { BUNDLE_DVD_DIR, planNode } from '../plan/index.js';
import { bundleProblem, readBundleManifest } from '../bundle/manifest.js';
import { loadSecretsFor, readConfig, secretsPathFor, type Output } from './common.js';

export interface RemasterCommandOptions { config?: string; iso?: string; node?: string; output?: string; force?: boolean; newCa?: boolean; bundle?: string; json?: boolean }

/** Where anaconda has the install DVD mounted in %pre and %post --nochroot. */
const DVD_MOUNT = '/run/install/repo';

/** `k8s-image remaster`: the CentOS 7 DVD as one node's installer, booting its kickstart with no key pressed. */
export async function remaster(opts: RemasterCommandOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const problems: string[] = [];
  if (!opts.iso) problems.push('--iso: missing: the CentOS 7 DVD image to start from (CentOS-7-x86_64-DVD-2009.iso)');
  else if (!existsSync(opts.iso)) problems.push(`--iso ${opts.iso}: no such file (pass the DVD's .iso image, not its extracted tree)`);
  else if (!statSync(opts.iso).isFile()) problems.push(`--iso ${opts.iso}: is ${kindOf(statSync(opts.iso))}, not an image file; pass the DVD's .iso image (not its extracted tree; a drive's disc becomes one with dd if=/dev/sr0 of=dvd.iso)`);
  else {
    try {
      openIso(opts.iso).close();
    } catch (e) {
      problems.push(`--iso ${opts.iso}: ${(e as Error).message}`);
    }
  }
  let dvdLabel: string | undefined;
  if (opts.bundle !== undefined) {
    if (cluster.mirrors.bundle !== 'iso') problems.push(`--bundle: the nodes read the bundle from a disc only with mirrors.bundle: iso in ${opts.config ?? 'cluster.yaml'} (it is ${cluster.mirrors.bundle ?? 'unset'}); set it, or leave --bundle out`);
    const r = readBundleManifest(opts.bundle);
    if ('problem' in r) problems.push(`--bundle ${r.problem}`);
    else {
      const { bundleWant } = await import('../bundle/index.js');
      const p = bundleProblem(r.manifest, bundleWant(cluster), opts.bundle);
      if (p) problems.push(`--bundle ${p}`);
    }
    if (opts.iso && !problems.length) {
      try {
        const iso = openIso(opts.iso);
        dvdLabel = iso.volumeId;
        iso.close();
      } catch {
        /* said above */
      }
      // The label reaches the node's env file (blkid -L): the DVD's own d-characters and spaces only.
      if (dvdLabel !== undefined && !/^[A-Za-z0-9_. -]{1,32}$/.test(dvdLabel)) problems.push(`--iso ${opts.iso}: its volume label "${dvdLabel}" has characters the node could not look up safely; pass a CentOS 7 DVD (label "CentOS 7 x86_64")`);
    }
  }
  if (!opts.node) problems.push(`--node: missing: which node this installer is for (${cluster.nodes.map((n) => n.name).join(', ')})`);
  else if (!cluster.nodes.some((n) => n.name === opts.node)) problems.push(`--node ${opts.node}: no such node in cluster ${cluster.name} (nodes: ${cluster.nodes.map((n) => n.name).join(', ')})`);
  const output = opts.output ?? join('outputs', `${cluster.name}-${opts.node ?? 'NODE'}-install.iso`);
  // Never over the DVD, the config or the secrets file; a block device is refused (the image is a
  // file: dd puts it on a stick), and an existing file is replaced only with --force.
  const target: OutputFile = {
    path: output,
    flag: '-o',
    force: opts.force,
    inputs: [
      { flag: '--iso', path: opts.iso },
      { flag: '--config', path: opts.config },
      { flag: 'the secrets file', path: secretsPathFor(loaded, 'outputs') },
    ],
    directoryHint: `give the file to write, like ${join(output, `${opts.node ?? 'NODE'}-install.iso`)}`,
    deviceHint: `remaster writes an image file; write it to a file, then copy that to the stick: dd if=${opts.node ?? 'NODE'}-install.iso of=${output} bs=4M conv=fsync`,
  };
  try {
    checkOutputFile(target);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length) throw new UserError(problems);

  const { secrets } = await loadSecretsFor(loaded, { newCa: opts.newCa }, out);
  const kickstart = renderKickstart(planNode(cluster, secrets, opts.node!, dvdLabel !== undefined ? { bundleOnDvd: dvdLabel } : {}), { seedDir: DVD_MOUNT });
  await makeDir(dirname(output), '-o');
  // The image is made inside a 0700 folder beside the output (its secrets are nobody else's while
  // it is written) and renamed into place whole: nothing half-written is left under the output's name.
  const work = await mkdtemp(join(dirname(output), `.k8s-image-remaster-${process.pid}-`));
  const partial = join(work, 'install.iso');
  try {
    const r = await withSignalCleanup(
      () => {
        removeNow(partial);
        removeNow(work);
      },
      async (checkpoint) => {
        let shown = -10;
        const result = await remasterIso({
          dvd: opts.iso!,
          output: partial,
          node: opts.node!,
          kickstart,
          work,
          ...(opts.bundle !== undefined ? { bundle: { dir: opts.bundle, as: BUNDLE_DVD_DIR } } : {}),
          progress: (p) => {
            if (p - shown >= 1 || p === 100) out.progress(`remastering ${opts.iso}: ${p.toFixed(1)}%`);
            shown = p;
          },
        }).catch((e: unknown) => {
          checkpoint();
          throw e;
        });
        out.progress('');
        checkpoint();
        // The image holds the node's join token (and a master's CA keys): root's only.
        await chmod(partial, 0o600);
        await commitFile(target, partial);
        return result;
      },
    );
    if (opts.json) return out.result(JSON.stringify({ output, node: opts.node, ...r, ...(opts.bundle !== undefined ? { bundle: `/${BUNDLE_DVD_DIR}/` } : {}) }, null, 2));
    out.result(`${output} (mode 0600): the CentOS 7 DVD that installs ${opts.node} of cluster ${cluster.name} with no key pressed`);
    out.result(`its ${[r.bios ? 'BIOS (isolinux)' : '', r.uefi ? 'UEFI (GRUB)' : ''].filter(Boolean).join(' and ')} menu${r.bios && r.uefi ? 's' : ''} default to ${r.ksArg} after 5 s; the DVD's boot records and hybrid MBR are kept, so it boots from a USB stick too (dd if=${output} of=/dev/sdX bs=4M)`);
    if (opts.bundle !== undefined) out.result(`the offline bundle ${opts.bundle} is on it as /${BUNDLE_DVD_DIR}/: the install copies it to /var/lib/k8s-image/bundle on the node's disk and installs from it; first boot imports its images from that copy (no DVD needed after the install)`);
  } finally {
    await rm(partial, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}
