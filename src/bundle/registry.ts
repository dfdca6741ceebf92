import { UserError } from '../errors.js';

/**
 * A registry API v2 client (the Docker Registry HTTP API V2 / OCI distribution spec): anonymous
 * pulls, with the Bearer token dance when the registry answers 401 with a WWW-Authenticate
 * challenge (Docker Hub, registry.k8s.io, Aliyun). Manifests of four kinds are understood: docker
 * schema2 and OCI image manifests, and manifest lists / OCI indexes, from which linux/amd64 is
 * picked explicitly (tools default to the build host's architecture).
 */
export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export interface ImageRef {
  /** As written: `registry.aliyuncs.com/google_containers/pause:3.1`. */
  name: string;
  /** The host the API is asked (docker.io → registry-1.docker.io). */
  host: string;
  repository: string;
  tag: string;
}

/** Splits an image reference; docker.io and one-word names get Docker Hub's `library/`. */
export function parseImageRef(name: string): ImageRef {
  const m = /^(?:([a-zA-Z0-9.-]+(?::[0-9]+)?|localhost)\/)?([a-z0-9]+(?:[._\/-][a-z0-9]+)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(name);
  let host = m?.[1];
  let repo = m?.[2];
  if (!m || !repo) throw new UserError(`image ${name}: not a reference like registry.example.com/path/name:tag (a tag is required; digests are not taken)`);
  if (host && !host.includes('.') && !host.includes(':') && host !== 'localhost') {
    repo = `${host}/${repo}`;
    host = undefined;
  }
  if (!host || host === 'docker.io' || host === 'index.docker.io') {
    host = 'registry-1.docker.io';
    if (!repo.includes('/')) repo = `library/${repo}`;
  }
  return { name, host, repository: repo, tag: m[3]! };
}

export interface Descriptor { mediaType: string; digest: string; size: number; platform?: { os?: string; architecture?: string; variant?: string }; annotations?: Record<string, string> }
export interface Manifest { schemaVersion: number; mediaType?: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }

export interface PulledManifest {
  /** The image manifest's bytes and digest as the registry serves them (for amd64, from the index). */
  bytes: Buffer;
  digest: string;
  mediaType: string;
  manifest: Manifest;
  /** When the tag named an index: its digest (recorded; the archive carries the amd64 image only). */
  indexDigest?: string;
}

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export class RegistryClient {
  private tokens = new Map<string, string>();
  constructor(private opts: { insecure: (host: string) => boolean; userAgent?: string }) {}

  private base(ref: ImageRef): string {
    return `${this.opts.insecure(ref.host) ? 'http' : 'https'}://${ref.host}/v2/${ref.repository}`;
  }

  /** A GET with the registry's token when it asked for one; a 401 with a Bearer challenge fetches the token once and retries. */
  async get(ref: ImageRef, path: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.base(ref)}${path}`;
    const key = `${ref.host}/${ref.repository}`;
    const send = () => {
      const h: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'k8s-image', ...headers };
      const t = this.tokens.get(key);
      if (t) h.authorization = `Bearer ${t}`;
      return fetch(url, { headers: h, redirect: 'follow' });
    };
    let res: Response;
    try {
      res = await send();
      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate') ?? '';
        await res.arrayBuffer().catch(() => undefined);
        await this.authenticate(ref, challenge);
        res = await send();
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`image ${ref.name}: cannot reach ${url} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`);
    }
    return res;
  }

  private async authenticate(ref: ImageRef, challenge: string): Promise<void> {
    const m = /^Bearer\s+(.*)$/i.exec(challenge.trim());
    if (!m) throw new UserError(`image ${ref.name}: ${ref.host} wants authentication (${challenge || 'no WWW-Authenticate'}); only anonymous pulls and Bearer tokens are supported`);
    const params: Record<string, string> = {};
    for (const p of m[1]!.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
    if (!params.realm) throw new UserError(`image ${ref.name}: ${ref.host}'s Bearer challenge has no realm`);
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    u.searchParams.set('scope', params.scope ?? `repository:${ref.repository}:pull`);
    let res: Response;
    try {
      res = await fetch(u, { headers: { 'user-agent': this.opts.userAgent ?? 'k8s-image' } });
    } catch (e) {
      throw new UserError(`image ${ref.name}: cannot reach the token service ${u.origin}${u.pathname} (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`);
    }
    if (!res.ok) throw new UserError(`image ${ref.name}: the token service ${u.origin}${u.pathname} answered HTTP ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new UserError(`image ${ref.name}: the token service gave no token`);
    this.tokens.set(`${ref.host}/${ref.repository}`, token);
  }

  /** The manifest by tag or digest: bytes, digest (checked when asked by digest), media type. */
  async manifest(ref: ImageRef, reference: string): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
    const res = await this.get(ref, `/manifests/${reference}`, { accept: ACCEPT });
    if (res.status === 404) throw new UserError(`image ${ref.name}: ${ref.host} has no ${ref.repository}:${reference} (HTTP 404); check cluster.imageRepository / mirrors.cniImageRegistry`);
    if (!res.ok) throw new UserError(`image ${ref.name}: manifest ${reference} answered HTTP ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) throw new UserError(`image ${ref.name}: manifest ${reference} came back as ${digest}; the registry or a proxy altered it`);
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    try {
      const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown; schemaVersion?: number };
      if (doc.mediaType) mediaType = doc.mediaType;
      else if (doc.manifests) mediaType = MEDIA.ociIndex;
      else if (doc.schemaVersion === 2 && !Object.values(MEDIA).includes(mediaType as never)) mediaType = MEDIA.ociManifest;
    } catch {
      throw new UserError(`image ${ref.name}: manifest ${reference} is not JSON`);
    }
    return { bytes, digest, mediaType };
  }

  /** The linux/amd64 image manifest of a tag (through an index when the tag names one). */
  async pull(ref: ImageRef): Promise<PulledManifest> {
    let m = await this.manifest(ref, ref.tag);
    let indexDigest: string | undefined;
    if (m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList) {
      const idx = JSON.parse(m.bytes.toString('utf8')) as { manifests: Descriptor[] };
      const pick = idx.manifests.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === 'amd64');
      if (!pick) throw new UserError(`image ${ref.name}: its index has no linux/amd64 image (platforms: ${idx.manifests.map((d) => `${d.platform?.os}/${d.platform?.architecture}`).join(', ')})`);
      indexDigest = m.digest;
      m = await this.manifest(ref, pick.digest);
    }
    if (m.mediaType === 'application/vnd.docker.distribution.manifest.v1+prettyjws' || m.mediaType === 'application/vnd.docker.distribution.manifest.v1+json') {
      throw new UserError(`image ${ref.name}: the registry serves only a schema 1 manifest, which neither containerd 1.6 nor this tool takes; push it again with a current client`);
    }
    if (m.mediaType !== MEDIA.ociManifest && m.mediaType !== MEDIA.dockerManifest) throw new UserError(`image ${ref.name}: unknown manifest type ${m.mediaType}`);
    const manifest = JSON.parse(m.bytes.toString('utf8')) as Manifest;
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new UserError(`image ${ref.name}: manifest without config or layers`);
    for (const l of manifest.layers) {
      if (l.mediaType === MEDIA.ociLayerZstd) throw new UserError(`image ${ref.name}: layer ${l.digest} is zstd-compressed, which docker 18.06-20.10 cannot load; use a gzip build of the image`);
    }
    return { ...m, manifest, indexDigest };
  }

  /** A blob's URL and the headers that fetch it (the token), for the streaming download. */
  async blobRequest(ref: ImageRef, digest: string): Promise<Response> {
    const res = await this.get(ref, `/blobs/${digest}`);
    if (!res.ok || !res.body) throw new UserError(`image ${ref.name}: blob ${digest} answered HTTP ${res.status}`);
    return res;
  }
}
