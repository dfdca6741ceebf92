import { join } from 'node:path';
import { UserError } from '../errors.js';
import { buildBundle } from '../bundle/index.js';
import { writeBundleIso } from '../bundle/iso.js';
import { humanBytes, proxyWarning } from '../bundle/fetch.js';
import { buildEpoch, checkOutputFile } from '../output/index.js';
import { readConfig, type Output } from './common.js';

export interface BundleCommandOptions { config?: string; output?: string; installer?: string; kubeadmImages?: string; iso?: string; json?: boolean }

/** `k8s-image bundle`: the offline bundle of one cluster (packages, images, keys, bundle.json). */
export async function bundle(opts: BundleCommandOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const proxyNote = proxyWarning();
  if (proxyNote) out.warn(proxyNote);
  if (cluster.proxy) out.warn('cluster.proxy is the nodes\' proxy: bundle fetches the mirrors and registries directly (run it on a machine that reaches them)');
  const output = opts.output ?? join('outputs', `${cluster.name}-bundle`);
  let kubeadmImages: string[] | undefined;
  if (opts.kubeadmImages !== undefined) {
    kubeadmImages = opts.kubeadmImages.split(',').map((s) => s.trim()).filter(Boolean);
    if (!kubeadmImages.length) throw new UserError('--kubeadm-images: empty; give the lines `kubeadm config images list` prints, comma-separated');
  }
  if (opts.iso !== undefined && !opts.iso) throw new UserError('--iso: an empty path; name the ISO file to write, like outputs/bundle.iso');
  const isoOut = opts.iso ? { path: opts.iso, flag: '--iso', force: true, forceOption: false as const, directoryHint: 'give the file to write, like DIR/bundle.iso' } : undefined;
  if (isoOut) checkOutputFile(isoOut); // before the downloads: a bad path is said at once
  const started = Date.now();
  const epoch = buildEpoch();
  const r = await buildBundle({ cluster, output, installer: opts.installer, kubeadmImages, epoch, progress: (l) => out.progress(l) });
  const m = r.manifest;
  let label: string | undefined;
  if (isoOut) {
    out.progress(`writing ${isoOut.path}`);
    label = await writeBundleIso({ bundle: output, output: isoOut, epoch });
  }
  if (opts.json) {
    out.result(JSON.stringify({ output, ...(isoOut ? { iso: isoOut.path, label } : {}), kubernetesVersion: m.kubernetesVersion, packages: m.packages.length, images: m.images.map((i) => i.name), totalBytes: r.totalBytes, downloadedBytes: r.downloadedBytes, reusedBytes: r.reusedBytes }, null, 2));
    return;
  }
  out.result(
    [
      `bundle for ${cluster.name} (Kubernetes ${m.kubernetesVersion}, ${m.runtime}) in ${output}: ${humanBytes(r.totalBytes)}`,
      `  ${m.packages.length} packages in ${output}/repo${m.installer ? ` (${m.installer.packagesOnDvd.length} more come from the DVD)` : ''}, ${m.keys.length} signing keys in ${output}/keys`,
      `  ${m.images.length} images in ${output}/images: ${m.images.map((i) => i.name).join(', ')}`,
      `  downloaded ${humanBytes(r.downloadedBytes)}, kept ${humanBytes(r.reusedBytes)} from the last run, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      isoOut
        ? `  as an ISO in ${isoOut.path} (label ${label}): attach it to every node as one more CD drive and set mirrors.bundle: iso (or serve the folder)`
        : `Serve it (k8s-image serve --dir <pxe tree> --bundle ${output}, or any web server) and set mirrors.bundle to its URL, like http://<server>:8080/bundle; or write it as a CD image with --iso FILE (mirrors.bundle: iso)`,
    ].join('\n'),
  );
}
