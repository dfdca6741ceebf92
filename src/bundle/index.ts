/**
 * `k8s-image bundle`: everything the nodes of one cluster download, made once on a connected
 * machine: a yum repository of the pinned packages' dependency closure (resolved by dnf as one
 * transaction), the container images kubeadm, the CNI and the node runtime need as archives that
 * docker 18.06+ and containerd load, the upstream signing keys, and bundle.json (every file's
 * sha256 and size, the versions). Built in a folder beside the output and renamed into place; a
 * re-run keeps every file whose digest still matches and downloads only what changed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { openIso } from '../iso/reader.js';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import type { Cluster } from '../config/index.js';
import { UserError } from '../errors.js';
import { makeDirSync, removeNow, swapIntoPlace, withSignalCleanup, kindOf } from '../output/index.js';
import { bundleKeyFiles, bundleSourceRepos, clusterPackages, cniManifest } from '../plan/index.js';
import { download, fileDigest, humanBytes } from './fetch.js';
import { archiveName, fetchBlobs, writeImageArchive } from './images.js';
import { checkTools, createRepo, nevra, resolvePackages, type ResolvedPackage, type SourceRepo } from './packages.js';
import { RegistryClient, parseImageRef, type PulledManifest } from './registry.js';
import { BUNDLE_FORMAT, MANIFEST_FILE, type BundleManifest, type BundleWant, readBundleManifest } from './manifest.js';

export { BUNDLE_FORMAT, MANIFEST_FILE, readBundleManifest, bundleProblem, type BundleManifest } from './manifest.js';

export interface BundleOptions {
  cluster: Cluster;
  output: string;
  /** The CentOS 7 DVD (its ISO image or extracted tree): its packages count as already on the node, never copied. */
  installer?: string;
  /** Images kubeadm asks for, when kubeadm cannot be run here (another architecture): else asked from the bundled kubeadm. */
  kubeadmImages?: string[];
  /** Fixed timestamp of the repodata and archive entries (same inputs, same bytes). */
  epoch: number;
  progress: (line: string) => void;
}

export interface BundleResult {
  manifest: BundleManifest;
  downloadedBytes: number;
  reusedBytes: number;
  totalBytes: number;
}

/** Running totals, shown as one rewritten line: phase, bytes done / planned, files. */
class Progress {
  done = 0;
  planned = 0;
  reused = 0;
  private last = 0;
  constructor(private show: (l: string) => void) {}
  phase = '';
  bytes(n: number): void {
    this.done += n;
    const now = Date.now();
    if (now - this.last > 200) {
      this.last = now;
      this.render();
    }
  }
  render(): void {
    this.show(`${this.phase}: ${humanBytes(this.done)}${this.planned ? ` of ${humanBytes(this.planned)}` : ''} downloaded${this.reused ? `, ${humanBytes(this.reused)} kept from the last run` : ''}`);
  }
}

/** Reuses `old` (the previous bundle's file) when its digest matches: a hard link, else a copy. */
async function keep(old: string, dest: string, algo: string, hex: string): Promise<number | undefined> {
  if (!existsSync(old)) return undefined;
  const d = await fileDigest(old, algo);
  if (!d || d.hex !== hex) return undefined;
  try {
    linkSync(old, dest);
  } catch {
    await copyFile(old, dest);
  }
  return d.size;
}

/**
 * The kubeadm RPM is run on this machine: first its signature is checked (rpmkeys, a scratch rpm
 * database holding only the bundle's keys), so a package a mirror or a man in the middle altered is
 * never executed. rpmkeys exits 0 for an unsigned package too: "signatures OK" must be said.
 */
function checkSignature(rpm: string, keys: string[], work: string): void {
  const db = join(work, 'rpmdb');
  makeDirSync(db);
  const imp = spawnSync('rpmkeys', ['--dbpath', db, '--import', ...keys], { encoding: 'utf8' });
  if (imp.status !== 0) throw new UserError(`bundle: rpmkeys cannot import the signing keys (${(imp.stderr || String(imp.error)).trim().split('\n').pop()})`);
  const r = spawnSync('rpmkeys', ['--dbpath', db, '--checksig', rpm], { encoding: 'utf8' });
  const said = `${r.stdout}${r.stderr}`.trim().replace(/\s+/g, ' ');
  if (r.status !== 0 || !/\bsignatures OK\b/.test(r.stdout)) throw new UserError(`bundle: ${basename(rpm)} is not signed by a key of its repository (rpmkeys --checksig: ${said || `exit ${r.status}`}); its kubeadm is not run: check the mirror and its key, or pass the image list with --kubeadm-images`);
}

/** The images kubeadm asks for: from the kubeadm binary in the bundle itself (`kubeadm config images list`), the authority on its own version. */
function kubeadmImageList(cluster: Cluster, kubeadmRpm: string, work: string, keys: string[]): string[] {
  checkSignature(kubeadmRpm, keys, work);
  const dir = join(work, 'kubeadm');
  makeDirSync(dir);
  const x = spawnSync('/bin/sh', ['-c', 'rpm2cpio "$1" | cpio -idm --quiet ./usr/bin/kubeadm', 'sh', kubeadmRpm], { cwd: dir, encoding: 'utf8' });
  const bin = join(dir, 'usr/bin/kubeadm');
  if (x.status !== 0 || !existsSync(bin)) throw new UserError(`bundle: cannot unpack kubeadm from ${basename(kubeadmRpm)} (${(x.stderr || '').trim() || `exit ${x.status}`})`);
  const r = spawnSync(bin, ['config', 'images', 'list', '--kubernetes-version', `v${cluster.kubernetesVersion}`, '--image-repository', cluster.imageRepository], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: work } });
  if (r.status !== 0) throw new UserError(`bundle: kubeadm config images list failed (${(r.stderr || String(r.error)).trim().split('\n').pop()}); on a host that cannot run the x86_64 kubeadm, pass the list with --kubeadm-images`);
  // Only the image lines (klog warnings go to stderr, but an old kubeadm may print notes first).
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9][a-z0-9.:_\/-]*:[A-Za-z0-9_.-]+$/.test(l));
}

/** The images the CNI manifest names (the same manifest the init master applies). */
/** What a bundle must match to serve this cluster (serve --bundle -c, remaster --bundle). */
export function bundleWant(cluster: Cluster): BundleWant {
  return { kubernetesVersion: cluster.kubernetesVersion, runtime: `${cluster.runtime.kind}-${cluster.runtime.version}`, imageRepository: cluster.imageRepository, cniImages: cniImages(cluster) };
}

export function cniImages(cluster: Cluster): string[] {
  const out = new Set<string>();
  for (const doc of yaml.loadAll(cniManifest(cluster))) {
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'image' && typeof x === 'string') out.add(x);
          else walk(x);
        }
      }
    };
    walk(doc);
  }
  return [...out].sort();
}

/** The source repositories as the solver takes them ($basearch is the solver's: x86_64). */
function sourceRepos(cluster: Cluster, installerDir?: string): SourceRepo[] {
  // cluster.proxy is the nodes' proxy, not this machine's: the bundle is fetched directly.
  const repos: SourceRepo[] = bundleSourceRepos(cluster).map((r) => ({ id: r.id, baseurl: r.baseurl }));
  // The DVD is cheaper than any mirror: at the same version its package wins (and is not copied).
  if (installerDir) repos.push({ id: 'installer', baseurl: `file://${installerDir}`, cost: 1 });
  return repos;
}

/**
 * The DVD's repodata where the solver reads it: an extracted tree as it is, an ISO image's repodata/
 * copied out of it (read in place: only the metadata is needed, its packages are never fetched).
 */
function installerRepo(installer: string, work: string): string {
  if (!existsSync(installer)) throw new UserError(`--installer ${installer}: no such file or directory`);
  const st = statSync(installer);
  if (st.isDirectory()) {
    if (!existsSync(join(installer, 'repodata/repomd.xml'))) throw new UserError(`--installer ${installer}: no repodata/repomd.xml there; give the CentOS 7 DVD image or the root of its extracted tree`);
    return resolve(installer);
  }
  if (!st.isFile()) throw new UserError(`--installer ${installer}: is ${kindOf(st)}; give the CentOS 7 DVD image (CentOS-7-x86_64-DVD-2009.iso) or its extracted tree`);
  let iso;
  try {
    iso = openIso(installer);
  } catch (e) {
    throw new UserError(`--installer ${installer}: not an ISO 9660 image (${(e as Error).message}); give the CentOS 7 DVD image or its extracted tree`);
  }
  try {
    const entries = iso.list('repodata');
    if (!entries || !entries.some((e) => e.name === 'repomd.xml')) throw new UserError(`--installer ${installer}: no repodata/repomd.xml in the image; give the CentOS 7 DVD (the Minimal and NetInstall images are fine too, they carry repodata)`);
    const dir = join(work, 'installer');
    makeDirSync(join(dir, 'repodata'));
    for (const e of entries) if (!e.isDir) writeFileSync(join(dir, 'repodata', e.name), iso.read(e));
    return dir;
  } finally {
    iso.close();
  }
}

export async function buildBundle(o: BundleOptions): Promise<BundleResult> {
  const { cluster } = o;
  // The DVD's packages are left out: the nodes must have the DVD as a repository, or their yum
  // (in %post, or on a cloud image) finds none of them.
  if (o.installer && !cluster.mirrors.installer)
    throw new UserError(`--installer leaves the DVD's packages out of the bundle, but the nodes have no DVD repository to take them from: set mirrors.installer to where they reach the DVD tree (serve --installer serves it as http://<server>:8080/centos7), or build the bundle without --installer`);
  checkTools();
  const target = resolve(o.output);
  let old: BundleManifest | undefined;
  if (existsSync(target)) {
    const st = statSync(target);
    if (!st.isDirectory()) throw new UserError(`-o ${o.output}: is ${kindOf(st)}; give a directory for the bundle`);
    const m = readBundleManifest(target);
    if ('problem' in m) {
      if (readdirSync(target).length > 0) throw new UserError(`-o ${o.output}: not empty and not a bundle (${m.problem}); choose a new directory (it is created) or an earlier bundle's`);
    } else old = m.manifest;
  }
  makeDirSync(dirname(target), '-o');
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.bundle-`));
  const work = await mkdtemp(join(dirname(target), `.${basename(target)}.work-`));
  const progress = new Progress(o.progress);
  let downloaded = 0;
  const cleanup = () => {
    removeNow(staging);
    removeNow(work);
  };
  try {
    return await withSignalCleanup(cleanup, async (checkpoint) => {
      // 1. Packages: one transaction, downloaded (or kept) and indexed.
      progress.phase = 'resolving packages';
      progress.render();
      const wanted = clusterPackages(cluster).sort();
      const resolved = await resolvePackages(work, sourceRepos(cluster, o.installer ? installerRepo(o.installer, work) : undefined), wanted);
      checkpoint();
      const fetched = resolved.filter((p) => p.repo !== 'installer');
      const onDvd = resolved.filter((p) => p.repo === 'installer');
      await mkdir(join(staging, 'repo/Packages'), { recursive: true });
      progress.phase = `packages (${fetched.length})`;
      const oldPkgDir = join(target, 'repo/Packages');
      const toGet: ResolvedPackage[] = [];
      for (const p of fetched) {
        const file = basename(p.location);
        const kept = await keep(join(oldPkgDir, file), join(staging, 'repo/Packages', file), p.checksumType, p.checksum);
        if (kept !== undefined) progress.reused += kept;
        else toGet.push(p);
      }
      progress.planned = toGet.reduce((a, p) => a + p.size, 0);
      for (const p of toGet) {
        const start = progress.done;
        await download(p.url, join(staging, 'repo/Packages', basename(p.location)), { algo: p.checksumType, hex: p.checksum, size: p.size }, { onBytes: (n) => progress.bytes(n), what: `package ${nevra(p)} (${p.repo})` });
        downloaded += progress.done - start;
        checkpoint();
      }
      // createrepo_c records each file's mtime (<time file=...>): a fixed one, so the same packages give the same repodata.
      for (const f of readdirSync(join(staging, 'repo/Packages'))) utimesSync(join(staging, 'repo/Packages', f), o.epoch, o.epoch);
      createRepo(join(staging, 'repo'), o.epoch);
      // 2. The upstream signing keys (gpgcheck=1 on the node needs every one of them).
      await mkdir(join(staging, 'keys'), { recursive: true });
      for (const k of bundleKeyFiles(cluster)) {
        const res = await fetch(k.url).catch((e: Error & { cause?: Error }) => {
          throw new UserError(`bundle: cannot fetch the signing key ${k.url} (${e.cause?.message ?? e.message})`);
        });
        if (!res.ok) throw new UserError(`bundle: the signing key ${k.url} answered HTTP ${res.status}`);
        const body = Buffer.from(await res.arrayBuffer());
        if (!body.toString('latin1').includes('BEGIN PGP PUBLIC KEY BLOCK') && body[0] !== 0x99 && body[0] !== 0x98) throw new UserError(`bundle: ${k.url} is not a PGP public key`);
        await writeFile(join(staging, k.file), body, { mode: 0o644 });
      }
      // 3. Images: the list kubeadm itself gives, and the CNI manifest's.
      const kubeadm = fetched.concat(onDvd).find((p) => p.name === 'kubeadm');
      if (!kubeadm) throw new UserError('bundle: kubeadm is not in the resolved set');
      const keyPaths = bundleKeyFiles(cluster).map((k) => join(staging, k.file));
      const kubeadmList = o.kubeadmImages ?? kubeadmImageList(cluster, join(staging, 'repo/Packages', basename(kubeadm.location)), work, keyPaths);
      const images = [...new Set([...kubeadmList, ...cniImages(cluster)])].sort();
      for (const i of images) parseImageRef(i);
      const insecure = new Set(cluster.mirrors.insecureRegistries);
      const client = new RegistryClient({ insecure: (h) => insecure.has(h) });
      await mkdir(join(staging, 'images'), { recursive: true });
      const blobDir = join(work, 'blobs');
      const imageRecords: BundleManifest['images'] = [];
      progress.phase = `images (${images.length})`;
      progress.planned = 0;
      const pulled: [string, PulledManifest][] = [];
      for (const image of images) pulled.push([image, await client.pull(parseImageRef(image))]);
      for (const [image, p] of pulled) {
        const file = `images/${archiveName(image)}`;
        const prev = old?.images.find((i) => i.name === image && i.manifestDigest === p.digest);
        const kept = prev ? await keep(join(target, prev.file), join(staging, file), 'sha256', prev.sha256) : undefined;
        let rec: { sha256: string; size: number };
        if (kept !== undefined && prev) {
          progress.reused += kept;
          rec = { sha256: prev.sha256, size: kept };
        } else {
          progress.planned += [p.manifest.config, ...p.manifest.layers].reduce((a, d) => a + d.size, 0);
          const start = progress.done;
          await fetchBlobs(client, image, p, blobDir, (n) => progress.bytes(n));
          downloaded += progress.done - start;
          rec = await writeImageArchive(join(staging, file), image, p, blobDir, o.epoch);
        }
        imageRecords.push({ name: image, file, manifestDigest: p.digest, ...(p.indexDigest ? { indexDigest: p.indexDigest } : {}), layers: p.manifest.layers.length, ...rec });
        checkpoint();
      }
      // The node's import script reads this list (bash 4.2, no JSON parser): version and image repository lines, then sha256 file name.
      await writeFile(
        join(staging, 'images/index.txt'),
        [`# k8s-image bundle images for Kubernetes ${cluster.kubernetesVersion}`, `kubernetesVersion ${cluster.kubernetesVersion}`, `imageRepository ${cluster.imageRepository}`, ...imageRecords.map((i) => `${i.sha256} ${basename(i.file)} ${i.name}`), ''].join('\n'),
      );
      // 4. The manifest: every file's digest and size, the versions, the package and image lists.
      progress.phase = 'checking the bundle';
      progress.render();
      const files = await listFiles(staging);
      const manifest: BundleManifest = {
        format: BUNDLE_FORMAT,
        cluster: cluster.name,
        kubernetesVersion: cluster.kubernetesVersion,
        runtime: `${cluster.runtime.kind}-${cluster.runtime.version}`,
        imageRepository: cluster.imageRepository,
        installer: o.installer ? { packagesOnDvd: onDvd.map(nevra).sort() } : undefined,
        requested: wanted,
        packages: fetched.map((p) => ({ nevra: nevra(p), repo: p.repo, file: `repo/Packages/${basename(p.location)}`, size: p.size })).sort((a, b) => (a.nevra < b.nevra ? -1 : 1)),
        images: imageRecords,
        keys: bundleKeyFiles(cluster).map((k) => ({ url: k.url, file: k.file })),
        files,
      };
      if (!manifest.installer) delete manifest.installer;
      await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
      o.progress('');
      // Served to everyone (serve --bundle refuses a private file, nginx reads as its own user):
      // explicit modes, not what the umask left (mkdtemp makes the folder 0700).
      publicModes(staging);
      await swapIntoPlace([{ staged: staging, target }]);
      removeNow(work);
      const totalBytes = files.reduce((a, f) => a + f.size, 0);
      return { manifest, downloadedBytes: downloaded, reusedBytes: progress.reused, totalBytes };
    });
  } finally {
    cleanup();
  }
}

/** Every folder 0755, every file 0644, whatever the umask was. */
function publicModes(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) publicModes(p);
    else if (e.isFile()) chmodSync(p, 0o644);
  }
}

async function listFiles(root: string): Promise<BundleManifest['files']> {
  const out: BundleManifest['files'] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(root, r));
      if (st.isDirectory()) await walk(r);
      else if (r !== MANIFEST_FILE) {
        const d = (await fileDigest(join(root, r)))!;
        out.push({ path: r, sha256: d.hex, size: d.size });
      }
    }
  };
  await walk('');
  return out;
}
