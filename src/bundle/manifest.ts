import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BUNDLE_FORMAT = 'k8s-image-bundle/1';
export const MANIFEST_FILE = 'bundle.json';

/** bundle.json: what the bundle holds, for the node side, serve and a re-run. */
export interface BundleManifest {
  format: string;
  cluster: string;
  kubernetesVersion: string;
  runtime: string;
  imageRepository: string;
  /** Built with --installer: the packages the DVD provides (not in the bundle). */
  installer?: { packagesOnDvd: string[] };
  /** The package set asked for (the plan's), resolved as one transaction. */
  requested: string[];
  packages: { nevra: string; repo: string; file: string; size: number }[];
  images: { name: string; file: string; manifestDigest: string; indexDigest?: string; layers: number; sha256: string; size: number }[];
  keys: { url: string; file: string }[];
  /** Every file but bundle.json, sorted by path. */
  files: { path: string; sha256: string; size: number }[];
}

/** Reads DIR/bundle.json, or says why DIR is not a bundle. */
export function readBundleManifest(dir: string): { manifest: BundleManifest } | { problem: string } {
  const p = join(dir, MANIFEST_FILE);
  if (!existsSync(p)) return { problem: `no ${MANIFEST_FILE} in ${dir} (run k8s-image bundle -o ${dir})` };
  if (!statSync(p).isFile() || statSync(p).size > 64 * 1024 * 1024) return { problem: `${p} is not a bundle manifest` };
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as BundleManifest;
    if (m.format !== BUNDLE_FORMAT) return { problem: `${p}: format ${String(m.format)}, expected ${BUNDLE_FORMAT} (made by another k8s-image version: run k8s-image bundle again)` };
    if (typeof m.kubernetesVersion !== 'string' || !Array.isArray(m.files) || !Array.isArray(m.images)) return { problem: `${p}: not what k8s-image bundle writes` };
    return { manifest: m };
  } catch (e) {
    return { problem: `${p}: not JSON (${(e as Error).message})` };
  }
}

/** What a cluster needs of its bundle: the values bundle.json records, and the CNI's image names. */
export interface BundleWant {
  kubernetesVersion: string;
  /** `<kind>-<version>`, as bundle.json's runtime. */
  runtime: string;
  imageRepository: string;
  cniImages: string[];
}

/** Why a bundle cannot serve this cluster (undefined when it can): its version, runtime, image repository and CNI images. */
export function bundleProblem(m: BundleManifest, want: BundleWant, dir: string): string | undefined {
  const again = `run k8s-image bundle -c <this cluster.yaml> -o ${dir} again`;
  if (m.kubernetesVersion !== want.kubernetesVersion) return `${dir}: this bundle was built for Kubernetes ${m.kubernetesVersion}, the cluster runs ${want.kubernetesVersion}; its packages and images would not match what kubeadm asks for: ${again}`;
  if (m.runtime !== want.runtime) return `${dir}: this bundle carries the runtime ${m.runtime}, the cluster runs ${want.runtime}; the nodes would find no package of their runtime in it: ${again}`;
  if (m.imageRepository !== want.imageRepository) return `${dir}: this bundle's images are named for ${m.imageRepository}, the cluster's imageRepository is ${want.imageRepository}; kubeadm would not find them imported and pull from the network: ${again}`;
  const have = new Set(m.images.map((i) => i.name));
  const missing = want.cniImages.filter((i) => !have.has(i));
  if (missing.length) return `${dir}: this bundle lacks the CNI images the cluster's manifest names (${missing.join(', ')}); another cni or mirrors.cniImageRegistry: ${again}`;
  return undefined;
}

/**
 * Whether every file bundle.json lists is there with its size (cheap: no hashing of gigabytes at a
 * server's start; yum checks each package's digest from the repodata and import-images.sh each
 * archive's). Undefined when whole.
 */
export function bundleFilesProblem(dir: string, m: BundleManifest): string | undefined {
  const bad: string[] = [];
  for (const f of m.files) {
    let size = -1;
    try {
      const st = statSync(join(dir, f.path));
      if (st.isFile()) size = st.size;
    } catch {
      /* missing */
    }
    if (size !== f.size) bad.push(size < 0 ? `${f.path} is missing` : `${f.path} has ${size} bytes, not ${f.size}`);
  }
  if (!bad.length) return undefined;
  return `${dir}: not the bundle its bundle.json describes (${bad.slice(0, 3).join('; ')}${bad.length > 3 ? `; ${bad.length - 3} more` : ''}); run k8s-image bundle -o ${dir} again, which keeps what is intact`;
}
