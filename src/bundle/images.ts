import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { UserError } from '../errors.js';
import { download } from './fetch.js';
import { MEDIA, parseImageRef, type Descriptor, type PulledManifest, type RegistryClient } from './registry.js';
import { writeTar, type TarEntry } from './tar.js';

/** The archive's file name: the full image name with / and : as _ (`registry.k8s.io_pause_3.1.tar`). */
export const archiveName = (image: string) => `${image.replace(/[/:@]/g, '_')}.tar`;

const TO_OCI: Record<string, string> = {
  [MEDIA.dockerConfig]: MEDIA.ociConfig,
  [MEDIA.dockerLayerGzip]: MEDIA.ociLayerGzip,
  [MEDIA.dockerLayer]: MEDIA.ociLayer,
};

/**
 * The image manifest as OCI (a docker schema2 manifest becomes the same config and layers with OCI
 * media types, as skopeo converts it): the archive's index.json points at it.
 */
export function ociManifestOf(p: PulledManifest): Buffer {
  if (p.mediaType === MEDIA.ociManifest) return p.bytes;
  const d = (x: Descriptor) => ({ mediaType: TO_OCI[x.mediaType] ?? x.mediaType, digest: x.digest, size: x.size, ...(x.annotations ? { annotations: x.annotations } : {}) });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: d(p.manifest.config), layers: p.manifest.layers.map(d) }));
}

const hexOf = (digest: string) => {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new UserError(`blob digest ${digest}: only sha256 digests are taken`);
  return m[1]!;
};

/** Fetches every blob of the image into `blobDir` (shared by all images: a layer is fetched once), each verified against its digest while it streams. */
export async function fetchBlobs(client: RegistryClient, image: string, p: PulledManifest, blobDir: string, onBytes: (n: number) => void): Promise<void> {
  const ref = parseImageRef(image);
  await mkdir(blobDir, { recursive: true });
  for (const b of [p.manifest.config, ...p.manifest.layers]) {
    const dest = join(blobDir, hexOf(b.digest));
    if (existsSync(dest)) continue;
    await download(() => client.blobRequest(ref, b.digest), dest, { algo: 'sha256', hex: hexOf(b.digest), size: b.size }, { onBytes, what: `image ${image}` });
  }
}

/**
 * One tar that every loader takes: docker 18.06+ `docker load` reads manifest.json (RepoTags carry the
 * full name kubeadm asks for; gzip layers are decompressed on load), containerd's `ctr images import`
 * and skopeo's oci-archive read oci-layout + index.json (the name in io.containerd.image.name and
 * org.opencontainers.image.ref.name), and skopeo's docker-archive reads manifest.json. Both indexes
 * share the same blobs/sha256/ files. Deterministic: same image, same bytes. Returns its sha256 and size.
 */
export async function writeImageArchive(dest: string, image: string, p: PulledManifest, blobDir: string, mtime: number): Promise<{ sha256: string; size: number }> {
  const ref = parseImageRef(image);
  const oci = ociManifestOf(p);
  const ociDigest = `sha256:${createHash('sha256').update(oci).digest('hex')}`;
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [{ mediaType: MEDIA.ociManifest, digest: ociDigest, size: oci.length, annotations: { 'io.containerd.image.name': image, 'org.opencontainers.image.ref.name': ref.tag } }],
  };
  const blob = (d: string) => `blobs/sha256/${hexOf(d)}`;
  const dockerManifest = [{ Config: blob(p.manifest.config.digest), RepoTags: [image], Layers: p.manifest.layers.map((l) => blob(l.digest)) }];
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v)}\n`);
  const entries: TarEntry[] = [];
  const add = (name: string, data: Buffer) => entries.push({ name, size: data.length, data });
  add('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
  add('index.json', json(index));
  add('manifest.json', json(dockerManifest));
  entries.push({ name: 'blobs/', size: 0, type: 'dir' }, { name: 'blobs/sha256/', size: 0, type: 'dir' });
  const seen = new Set<string>();
  const blobs: [string, number, Buffer | undefined][] = [[ociDigest, oci.length, oci], ...[p.manifest.config, ...p.manifest.layers].map((d) => [d.digest, d.size, undefined] as [string, number, undefined])];
  for (const [digest, size, data] of blobs.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (seen.has(digest)) continue;
    seen.add(digest);
    entries.push(data ? { name: blob(digest), size, data } : { name: blob(digest), size, file: join(blobDir, hexOf(digest)) });
  }
  const part = `${dest}.part`;
  const hash = createHash('sha256');
  let size = 0;
  const out = createWriteStream(part, { mode: 0o644 });
  const origWrite = out.write.bind(out);
  // Hash what goes to the file as it is written (no second read of a large archive).
  out.write = ((chunk: Buffer, ...rest: unknown[]) => {
    hash.update(chunk);
    size += chunk.length;
    return (origWrite as (c: Buffer, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof out.write;
  try {
    await writeTar(out, entries, mtime);
    out.end();
    await finished(out);
  } catch (e) {
    out.destroy();
    await rm(part, { force: true });
    throw e;
  }
  await rename(part, dest);
  return { sha256: hash.digest('hex'), size };
}
