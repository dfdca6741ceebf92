/**
 * A synthetic upstream for the bundle tests, built in the test from real components: RPMs made by
 * rpmbuild with the real package names, versions and dependencies of a 1.17.4/docker 18.06 node
 * (and newer builds beside the pinned ones, as the real repositories carry), indexed by createrepo_c
 * and served on loopback in the vault / docker-ce / el7 Kubernetes layouts; and Debian's
 * docker-registry on loopback holding the images kubeadm 1.17.4 and flannel ask for, pushed with
 * the registry API: multi-layer, one layer deleting a file (a whiteout), pause as a multi-arch index,
 * coredns as a docker schema2 manifest, the others OCI. Not a test file itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarBuffer } from '../../src/bundle/tar.js';
import { tempDir } from '../helpers/tmp.js';

export interface Rpm { name: string; version: string; release: string; epoch?: number; requires?: string[]; provides?: string[]; files?: Record<string, string>; repo: string; arch?: string; /** Bytes of incompressible payload (the benchmark's sizes). */ payload?: number }

const K = '1.17.4';
/** What kubeadm 1.17.4 prints for `config images list` (its constants: etcd 3.4.3-0, CoreDNS 1.6.5, pause 3.1). */
const KUBEADM_STANDIN = `#!/bin/sh
# Stand-in for kubeadm 1.17.4's "config images list": its image list for a given repository.
v=""; r="k8s.gcr.io"
while [ $# -gt 0 ]; do case "$1" in --kubernetes-version) v="$2"; shift;; --image-repository) r="$2"; shift;; esac; shift; done
[ "$v" = "v${K}" ] || { echo "this kubeadm is v${K}" >&2; exit 1; }
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do echo "$r/$c:$v"; done
echo "$r/pause:3.1"; echo "$r/etcd:3.4.3-0"; echo "$r/coredns:1.6.5"
`;

/** The packages: names, versions and Requires as the CentOS 7.9 / docker-ce / el7 Kubernetes repositories have them (trimmed to what the closure needs). */
export const RPMS: Rpm[] = [
  // base (os/x86_64)
  // (cloud-init and cloud-utils-growpart: what a golden image adds; the bundle carries them for planGolden)
  ...['chrony-3.4-1.el7', 'curl-7.29.0-59.el7', 'ipset-7.1-1.el7', 'ipvsadm-1.27-8.el7', 'socat-1.7.3.2-2.el7', 'ebtables-2.0.10-16.el7', 'ethtool-4.8-10.el7', 'iproute-4.11.0-30.el7', 'util-linux-2.23.2-65.el7', 'libcgroup-0.41-21.el7', 'iptables-1.4.21-34.el7', 'cloud-init-19.4-7.el7.centos', 'cloud-utils-growpart-0.29-5.el7'].map((s) => {
    const m = /^(.+)-([^-]+)-([^-]+)$/.exec(s)!;
    return { name: m[1]!, version: m[2]!, release: m[3]!, repo: 'centos/7.9.2009/os/x86_64' };
  }),
  { name: 'conntrack-tools', version: '1.4.4', release: '7.el7', requires: ['libnetfilter_cthelper'], repo: 'centos/7.9.2009/os/x86_64' },
  { name: 'libnetfilter_cthelper', version: '1.0.0', release: '11.el7', repo: 'centos/7.9.2009/os/x86_64' },
  // updates: a newer iptables (the solver takes it); openssl (masters: cert-renew.sh), epoch 1 as CentOS ships it
  { name: 'openssl', version: '1.0.2k', release: '26.el7_9', epoch: 1, repo: 'centos/7.9.2009/updates/x86_64' },
  { name: 'iptables', version: '1.4.21', release: '35.el7', repo: 'centos/7.9.2009/updates/x86_64' },
  // extras: container-selinux, with its epoch
  { name: 'container-selinux', version: '2.119.2', release: '1.911c772.el7_8', epoch: 2, arch: 'noarch', repo: 'centos/7.9.2009/extras/x86_64' },
  // docker-ce stable
  { name: 'docker-ce', version: '18.06.3.ce', release: '3.el7', requires: ['container-selinux >= 2:2.9', 'iptables', 'libcgroup'], repo: 'docker-ce/7/x86_64/stable' },
  { name: 'docker-ce', version: '19.03.15', release: '3.el7', epoch: 3, requires: ['container-selinux >= 2:2.74', 'containerd.io >= 1.2.2-3', 'docker-ce-cli'], repo: 'docker-ce/7/x86_64/stable' },
  { name: 'containerd.io', version: '1.6.33', release: '3.1.el7', requires: ['container-selinux >= 2:2.74'], repo: 'docker-ce/7/x86_64/stable' },
  // the el7 Kubernetes repository: the pinned builds and newer ones beside them
  { name: 'kubeadm', version: K, release: '0', requires: ['kubelet >= 1.13.0', 'kubectl >= 1.13.0', 'kubernetes-cni >= 0.7.5', 'cri-tools >= 1.13.0'], files: { '/usr/bin/kubeadm': KUBEADM_STANDIN }, repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubelet', version: K, release: '0', requires: ['ebtables', 'ethtool', 'iproute', 'iptables >= 1.4.21', 'kubernetes-cni >= 0.7.5', 'socat', 'util-linux', 'conntrack-tools'], repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubelet', version: '1.17.5', release: '0', requires: ['kubernetes-cni >= 0.8.7'], repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubectl', version: K, release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubectl', version: '1.17.5', release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubernetes-cni', version: '0.7.5', release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'kubernetes-cni', version: '0.8.7', release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'cri-tools', version: '1.13.0', release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
  { name: 'cri-tools', version: '1.19.0', release: '0', repo: 'kubernetes/yum/repos/kubernetes-el7-x86_64' },
];

/** What a node of the default lab installs, pinned (the plan's list). */
export const NODE_PACKAGES = ['chrony', 'curl', 'ipset', 'ipvsadm', 'conntrack-tools', 'socat', 'docker-ce-18.06.3.ce-3.el7', 'kubeadm-1.17.4-0', 'kubelet-1.17.4-0', 'kubectl-1.17.4-0', 'kubernetes-cni-0.7.5-0', 'cri-tools-1.13.0-0'];

function rpmFiles(r: Rpm): [string, string | Buffer][] {
  const files: [string, string | Buffer][] = Object.entries(r.files ?? { [`/usr/share/doc/${r.name}-${r.version}/README`]: `${r.name} ${r.version}-${r.release} (k8s-image test build)\n` });
  if (r.payload) files.push([`/usr/share/${r.name}/payload`, randomBytes(r.payload)]);
  return files;
}

function spec(r: Rpm, files: [string, string | Buffer][]): string {
  const install = files.map(([p, c], i) => `mkdir -p %{buildroot}${p.replace(/\/[^/]+$/, '')}\ncp %{_sourcedir}/f${i} %{buildroot}${p}`).join('\n');
  return [
    `Name: ${r.name}`,
    `Version: ${r.version}`,
    `Release: ${r.release}`,
    ...(r.epoch ? [`Epoch: ${r.epoch}`] : []),
    'Summary: k8s-image bundle test package',
    'License: ASL 2.0',
    `BuildArch: ${r.arch ?? 'x86_64'}`,
    ...(r.requires ?? []).map((q) => `Requires: ${q}`),
    ...(r.provides ?? []).map((q) => `Provides: ${q}`),
    '%description',
    `${r.name} for the k8s-image bundle tests.`,
    '%install',
    install,
    '%files',
    ...files.map(([p]) => (p.startsWith('/usr/bin/') ? `%attr(0755,root,root) ${p}` : p)),
    '',
  ].join('\n');
}

/** Builds every RPM (rpmbuild, in parallel) into <root>/<repo>/Packages and indexes each repo with createrepo_c. */
export async function buildRepos(root: string, rpms: Rpm[] = RPMS): Promise<string[]> {
  const top = tempDir('k8s-rpmbuild-');
  await Promise.all(
    rpms.map(async (r, n) => {
      const d = join(top, String(n));
      mkdirSync(join(d, 'SOURCES'), { recursive: true });
      const files = rpmFiles(r);
      files.forEach(([, c], i) => writeFileSync(join(d, 'SOURCES', `f${i}`), c));
      writeFileSync(join(d, 'p.spec'), spec(r, files));
      const code = await new Promise<number>((res) => {
        const c = spawn('rpmbuild', ['-bb', '--quiet', '--define', '_binary_payload w1.gzdio', '--define', `_topdir ${d}`, '--define', '_build_id_links none', '--define', '__os_install_post %{nil}', '--define', 'source_date_epoch_from_changelog 0', join(d, 'p.spec')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: '1605139200' } });
        let err = '';
        c.stderr.on('data', (b: Buffer) => (err += b.toString()));
        c.on('close', (k) => (k ? (console.error(err), res(k)) : res(0)));
      });
      if (code) throw new Error(`rpmbuild ${r.name} failed`);
      const out = join(d, 'RPMS', r.arch ?? 'x86_64');
      const dest = join(root, r.repo, 'Packages');
      mkdirSync(dest, { recursive: true });
      for (const f of readdirSync(out)) copyFileSync(join(out, f), join(dest, f));
    }),
  );
  // The repositories' signing key (a real OpenPGP key made here; RSA, which CentOS 7's rpm 4.11
  // verifies), every package signed with it by rpmsign, the key where the repo files name it.
  const gnupg = tempDir('k8s-gnupg-');
  const g = spawnSync('gpg', ['--batch', '--homedir', gnupg, '--passphrase', '', '--quick-gen-key', 'k8s-image test <test@example.invalid>', 'rsa2048', 'sign', 'never'], { encoding: 'utf8' });
  if (g.status !== 0) throw new Error(`gpg: ${g.stderr}`);
  const key = spawnSync('gpg', ['--batch', '--homedir', gnupg, '--armor', '--export', 'test@example.invalid']).stdout;
  for (const k of ['kubernetes/yum/doc/yum-key.gpg', 'kubernetes/yum/doc/rpm-package-key.gpg', 'docker-ce/gpg']) {
    mkdirSync(join(root, k, '..'), { recursive: true });
    writeFileSync(join(root, k), key);
  }
  const all = [...new Set(rpms.map((r) => r.repo))].flatMap((repo) => readdirSync(join(root, repo, 'Packages')).map((f) => join(root, repo, 'Packages', f)));
  const signed = spawnSync('rpmsign', ['--addsign', '--define', '_gpg_name test@example.invalid', '--define', `_gpg_path ${gnupg}`, '--define', '__gpg /usr/bin/gpg', ...all], { encoding: 'utf8' });
  if (signed.status !== 0) throw new Error(`rpmsign: ${signed.stderr}`);
  const repos = [...new Set(rpms.map((r) => r.repo))];
  for (const repo of repos) {
    const r = spawnSync('createrepo_c', ['--quiet', join(root, repo)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`createrepo_c: ${r.stderr}`);
  }
  return repos;
}

/** A static file server on loopback over `root` (the mirrors), counting the bytes it sends. */
export async function serveDir(root: string): Promise<{ url: string; server: Server; sent: () => number; requests: string[] }> {
  let sent = 0;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const p = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    requests.push(p);
    const f = join(root, p);
    if (!f.startsWith(root) || !existsSync(f) || !statSync(f).isFile()) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': statSync(f).size });
    const s = createReadStream(f);
    s.on('data', (b) => (sent += (b as Buffer).length));
    s.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, sent: () => sent, requests };
}

/** Debian's docker-registry on loopback with a temp config and storage; resolves when /v2/ answers. */
export async function startRegistry(opts: { dataDir?: string; auth?: string } = {}): Promise<{ host: string; proc: ChildProcess; stop: () => void; dataDir: string }> {
  const dir = tempDir('k8s-registry-');
  const port = await freePort();
  const dataDir = opts.dataDir ?? join(dir, 'data');
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${opts.auth ?? ''}`,
  );
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.ok || r.status === 401) return { host, proc, stop: () => proc.kill('SIGTERM'), dataDir };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`docker-registry did not start: ${err}`);
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(host: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha(data);
  const head = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.ok) return digest;
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start ${start.status}`);
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload ${put.status}: ${await put.text()}`);
  return digest;
}

async function pushManifest(host: string, repo: string, ref: string, body: Buffer, mediaType: string): Promise<void> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': mediaType } });
  if (r.status !== 201) throw new Error(`manifest ${repo}:${ref} ${r.status}: ${await r.text()}`);
}

/** A layer: a gzip'd tar of the entries, and its diff id (the uncompressed digest). */
export function layer(entries: { name: string; data?: string; type?: 'dir' }[]): { gz: Buffer; diffId: string } {
  const tar = tarBuffer(entries.map((e) => ({ name: e.name, data: Buffer.from(e.data ?? ''), type: e.type })), 1605139200);
  return { gz: gzipSync(tar, { level: 1 }), diffId: sha(tar) };
}

export type Kind = 'oci' | 'docker';

/** Pushes one image (config + layers + manifest) for `arch`; returns the manifest's descriptor. */
export async function pushImage(host: string, repo: string, tag: string | undefined, layers: { gz: Buffer; diffId: string }[], kind: Kind, arch = 'amd64'): Promise<{ digest: string; size: number; mediaType: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Entrypoint: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history: layers.map(() => ({ created_by: 'k8s-image test' })) }));
  const cfg = await pushBlob(host, repo, config);
  const ls = [];
  for (const l of layers) ls.push({ mediaType: kind === 'oci' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: await pushBlob(host, repo, l.gz), size: l.gz.length });
  const mediaType = kind === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: { mediaType: kind === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: cfg, size: config.length }, layers: ls }));
  const digest = sha(body);
  await pushManifest(host, repo, tag ?? digest, body, mediaType);
  return { digest, size: body.length, mediaType };
}

/** Every image the 1.17.4 lab asks for, pushed under <host>/google_containers and <host>/dockerhub (flannel). */
export async function pushLabImages(host: string, bigLayerBytes = 0): Promise<{ names: string[]; whiteout: string; multiArch: string }> {
  // The benchmark's sizes: one incompressible layer per control-plane image.
  const big = (tag: string) => (bigLayerBytes ? [layer([{ name: `${tag}.bin`, data: randomBytes(bigLayerBytes).toString('base64') }])] : []);
  const base = layer([{ name: 'etc/', type: 'dir' }, { name: 'etc/os-release', data: 'NAME=test\n' }, { name: 'etc/obsolete.conf', data: 'old\n' }]);
  // The whiteout: this layer deletes etc/obsolete.conf from the one below.
  const del = layer([{ name: 'etc/', type: 'dir' }, { name: 'etc/.wh.obsolete.conf' }, { name: 'etc/added.conf', data: 'new\n' }]);
  const names: string[] = [];
  const g = `${host}/google_containers`;
  for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
    const own = layer([{ name: 'usr/', type: 'dir' }, { name: 'usr/local/', type: 'dir' }, { name: `usr/local/${c}`, data: `${c} v${K}\n` }]);
    await pushImage(host, `google_containers/${c}`, `v${K}`, [base, del, own, ...big(c)], 'oci');
    names.push(`${g}/${c}:v${K}`);
  }
  await pushImage(host, 'google_containers/etcd', '3.4.3-0', [base, layer([{ name: 'etcd', data: 'etcd 3.4.3\n' }]), ...big('etcd')], 'oci');
  names.push(`${g}/etcd:3.4.3-0`);
  await pushImage(host, 'google_containers/coredns', '1.6.5', [base, layer([{ name: 'coredns', data: 'coredns 1.6.5\n' }])], 'docker');
  names.push(`${g}/coredns:1.6.5`);
  // pause: a multi-arch index whose first entry is arm64 (a tool that takes the first would be wrong).
  const arm = await pushImage(host, 'google_containers/pause', undefined, [layer([{ name: 'pause', data: 'arm64\n' }])], 'oci', 'arm64');
  const amd = await pushImage(host, 'google_containers/pause', undefined, [layer([{ name: 'pause', data: 'amd64\n' }])], 'oci', 'amd64');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { ...amd, platform: { os: 'linux', architecture: 'amd64' } }] }));
  await pushManifest(host, 'google_containers/pause', '3.1', index, 'application/vnd.oci.image.index.v1+json');
  names.push(`${g}/pause:3.1`);
  await pushImage(host, 'dockerhub/flannel/flannel', 'v0.22.3', [base, layer([{ name: 'opt/', type: 'dir' }, { name: 'opt/flanneld', data: 'flanneld\n' }])], 'docker');
  await pushImage(host, 'dockerhub/flannel/flannel-cni-plugin', 'v1.2.0', [layer([{ name: 'flannel', data: 'cni plugin\n' }])], 'oci');
  names.push(`${host}/dockerhub/flannel/flannel:v0.22.3`, `${host}/dockerhub/flannel/flannel-cni-plugin:v1.2.0`);
  return { names: names.sort(), whiteout: `${g}/kube-apiserver:v${K}`, multiArch: `${g}/pause:3.1` };
}

/** The lab cluster.yaml with its mirrors and registries on loopback. */
export function labYaml(mirror: string, registry: string, extra = ''): string {
  return `cluster:
  name: lab
  kubernetesVersion: ${K}
  imageRepository: ${registry}/google_containers
mirrors:
  centos: ${mirror}/centos/7.9.2009
  epel: ${mirror}/epel/7
  dockerCe: ${mirror}/docker-ce
  kubernetesEl7: ${mirror}/kubernetes/yum
  insecureRegistries: [${registry}]
  cniImageRegistry: ${registry}/dockerhub
${extra}nodes:
  - { name: master1, role: master, ip: 192.168.108.10/24, gateway: 192.168.108.1, dns: [192.168.108.1] }
  - { name: node1, role: node, ip: 192.168.108.11/24, gateway: 192.168.108.1, dns: [192.168.108.1] }
`;
}
