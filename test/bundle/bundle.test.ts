/**
 * `k8s-image bundle` against a synthetic upstream built here (rpmbuild RPMs with the real names and
 * dependencies on loopback yum repositories, Debian's docker-registry with multi-layer, whiteout and
 * multi-arch images), then every consumer for real: dnf --installroot installs the node's packages
 * from the bundle alone, containerd imports the archives under the names kubeadm asks for, skopeo
 * reads them as docker and OCI archives; re-runs download only what changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { bundle } from '../../src/commands/bundle.js';
import type { Output } from '../../src/commands/common.js';
import { readBundleManifest } from '../../src/bundle/index.js';
import { resolvePackages } from '../../src/bundle/packages.js';
import { proxyWarning } from '../../src/bundle/fetch.js';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { NODE_PACKAGES, buildRepos, labYaml, layer, pushImage, pushLabImages, serveDir, startRegistry } from './upstream.js';
import { packageRoot } from '../../src/assets.js';

const CLI = join(packageRoot, 'dist/src/cli.js');

function capture(): Output & { lines: string[]; progressLines: string[] } {
  const lines: string[] = [];
  const progressLines: string[] = [];
  return { lines, progressLines, result: (t) => lines.push(t), info: (t) => lines.push(t), warn: (t) => lines.push(`warning: ${t}`), progress: (t) => progressLines.push(t), isTTY: false };
}

/**
 * `docker load` of docker 18.06, step by step as test/reference/docker-load-18.md records it (no
 * docker daemon here): manifest.json, the config's os and diff_ids, every layer decompressed and its
 * digest equal to its diff_id, RepoTags full name:tag references.
 */
function dockerLoad1806(archive: string): string[] {
  const dir = tempDir('k8s-docker-load-');
  assert.equal(spawnSync('tar', ['-xf', archive, '-C', dir]).status, 0);
  const items = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; RepoTags?: string[]; Layers: string[] }[];
  assert.ok(Array.isArray(items));
  const tags: string[] = [];
  for (const m of items) {
    const cfg = JSON.parse(readFileSync(join(dir, m.Config), 'utf8'));
    assert.ok(cfg.os === 'linux' || cfg.os === undefined || cfg.os === '');
    assert.equal(m.Layers.length, cfg.rootfs.diff_ids.length, 'invalid manifest, layers length mismatch');
    m.Layers.forEach((l, i) => {
      const raw = readFileSync(join(dir, l));
      const tar = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
      assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, cfg.rootfs.diff_ids[i], `invalid diffID for layer ${i}`);
    });
    for (const t of m.RepoTags ?? []) {
      assert.match(t, /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._\/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, `invalid tag ${t}`);
      tags.push(t);
    }
  }
  return tags;
}

/**
 * dnf as a node would run it, on an empty root, with the bundle's repository as the only one and
 * gpgcheck on: the signing keys are the bundle's own (keys/), imported into the root's rpm database
 * as yum imports a repo file's gpgkey.
 */
function dnfInstall(repoDir: string, packages: string[], keys: string[]): { status: number; out: string } {
  const d = tempDir('k8s-dnf-root-');
  for (const s of ['root', 'repos', 'cache']) mkdirSync(join(d, s));
  writeFileSync(join(d, 'dnf.conf'), '[main]\ninstall_weak_deps=False\ngpgcheck=1\n');
  if (keys.length) assert.equal(spawnSync('rpm', ['--root', `${d}/root`, '--import', ...keys]).status, 0);
  const r = spawnSync(
    requireTool('dnf'),
    ['-q', '--noplugins', `--config=${d}/dnf.conf`, `--setopt=reposdir=${d}/repos`, `--setopt=cachedir=${d}/cache`, `--installroot=${d}/root`, '--releasever=7', '--forcearch=x86_64', `--repofrompath=bundle,file://${repoDir}`, '--repo=bundle', '--setopt=bundle.gpgcheck=1', '-y', 'install', ...packages],
    { encoding: 'utf8', cwd: '/' },
  );
  const q = spawnSync('rpm', ['--root', `${d}/root`, '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}\\n'], { encoding: 'utf8' });
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}\n${q.stdout}` };
}

describe('k8s-image bundle', { timeout: 120_000 }, () => {
  let mirror: Awaited<ReturnType<typeof serveDir>>;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let images: Awaited<ReturnType<typeof pushLabImages>>;
  let work: string;
  let config: string;
  let out: string;
  let first: ReturnType<typeof capture>;
  let containerd: ChildProcess | undefined;

  before(async () => {
    for (const t of ['rpmbuild', 'createrepo_c', 'dnf', 'docker-registry', 'containerd', 'ctr', 'skopeo', 'rpm2cpio', 'cpio', 'gpg']) requireTool(t);
    work = tempDir('k8s-bundle-');
    const upstream = join(work, 'upstream');
    await buildRepos(upstream);
    mirror = await serveDir(upstream);
    registry = await startRegistry();
    images = await pushLabImages(registry.host);
    config = join(work, 'cluster.yaml');
    writeFileSync(config, labYaml(mirror.url, registry.host));
    out = join(work, 'out', 'lab-bundle');
    first = capture();
    await bundle({ config, output: out }, first);
  });
  after(() => {
    mirror?.server.close();
    registry?.stop();
    containerd?.kill('SIGTERM');
  });

  it('resolves the pinned set as one transaction: the pinned builds only, the closure from base/updates/extras, repodata yum 3 reads', () => {
    const m = readBundleManifest(out);
    assert.ok('manifest' in m, JSON.stringify(m));
    const pk = m.manifest.packages.map((p) => p.nevra);
    for (const want of ['kubeadm-1.17.4-0.x86_64', 'kubelet-1.17.4-0.x86_64', 'kubectl-1.17.4-0.x86_64', 'kubernetes-cni-0.7.5-0.x86_64', 'cri-tools-1.13.0-0.x86_64', 'docker-ce-18.06.3.ce-3.el7.x86_64', 'container-selinux-2:2.119.2-1.911c772.el7_8.noarch', 'iptables-1.4.21-35.el7.x86_64', 'libnetfilter_cthelper-1.0.0-11.el7.x86_64']) {
      assert.ok(pk.includes(want), `${want} missing from ${pk.join(', ')}`);
    }
    // Newer builds beside the pinned ones stay out (dnf download --resolve would pull kubelet 1.17.5 and kubernetes-cni 0.8.7).
    for (const no of ['kubelet-1.17.5', 'kubectl-1.17.5', 'kubernetes-cni-0.8.7', 'cri-tools-1.19.0', 'docker-ce-3:19', 'containerd.io', 'iptables-1.4.21-34']) assert.ok(!pk.some((p) => p.startsWith(no)), `${no} should not be in the bundle`);
    const repomd = readFileSync(join(out, 'repo/repodata/repomd.xml'), 'utf8');
    assert.match(repomd, /<data type="primary_db">/);
    assert.doesNotMatch(repomd, /zst|zck|\.xz"/);
    assert.ok(!/checksum type="(?!sha256)/.test(repomd), 'sha256 checksums only');
    // createrepo_c 0.17.3: --general-compress-type gz covers the sqlite databases too (not bz2).
    assert.match(repomd, /<data type="primary_db">[^]*?<location href="repodata\/[0-9a-f]+-primary\.sqlite\.gz"\/>/);
    for (const k of m.manifest.keys) assert.match(readFileSync(join(out, k.file), 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/);
    assert.deepEqual(m.manifest.keys.map((k) => k.file).sort(), ['keys/docker-ce-stable-1.gpg', 'keys/kubernetes-1.gpg', 'keys/kubernetes-2.gpg']);
    // Every file listed with its digest; the progress display ran.
    for (const f of m.manifest.files) assert.ok(existsSync(join(out, f.path)), f.path);
    assert.ok(first.progressLines.some((l) => /downloaded/.test(l)), first.progressLines.join('\n'));
    // Nothing left beside the output.
    assert.deepEqual(readdirSync(join(work, 'out')), ['lab-bundle']);
  });

  it('dnf --installroot installs the node packages from the bundle alone, signatures checked with the keys it carries, and names the package when one is missing', () => {
    const keys = readdirSync(join(out, 'keys')).map((k) => join(out, 'keys', k));
    // gpgcheck is real: without the bundle's keys the signed packages are refused.
    const unsigned = dnfInstall(join(out, 'repo'), ['socat'], []);
    assert.notEqual(unsigned.status, 0);
    assert.match(unsigned.out, /do not have any GPG public keys installed/, unsigned.out);
    const ok = dnfInstall(join(out, 'repo'), NODE_PACKAGES, keys);
    assert.equal(ok.status, 0, ok.out);
    for (const p of ['kubelet-1.17.4-0', 'kubeadm-1.17.4-0', 'docker-ce-18.06.3.ce-3.el7', 'socat-1.7.3.2-2.el7', 'container-selinux-2.119.2']) assert.match(ok.out, new RegExp(`^${p.replaceAll('.', '\\.')}`, 'm'));
    const broken = join(tempDir('k8s-broken-'), 'repo');
    cpSync(join(out, 'repo'), broken, { recursive: true });
    for (const f of readdirSync(join(broken, 'Packages'))) if (f.startsWith('socat-')) rmSync(join(broken, 'Packages', f));
    rmSync(join(broken, 'repodata'), { recursive: true });
    assert.equal(spawnSync('createrepo_c', ['--quiet', broken]).status, 0);
    const bad = dnfInstall(broken, NODE_PACKAGES, keys);
    assert.notEqual(bad.status, 0);
    assert.match(bad.out, /socat/, bad.out);
  });

  it('image archives: the names kubeadm asks for, loaded by docker 18.06 (its load.go steps), accepted by skopeo as docker-archive and oci-archive', () => {
    const m = readBundleManifest(out);
    assert.ok('manifest' in m);
    assert.deepEqual(m.manifest.images.map((i) => i.name), images.names);
    const skopeo = requireTool('skopeo');
    for (const i of m.manifest.images) {
      const file = join(out, i.file);
      assert.deepEqual(dockerLoad1806(file), [i.name], 'docker 18.06 loads it under the full name');
      for (const transport of ['docker-archive', 'oci-archive']) {
        const r = spawnSync(skopeo, ['inspect', '--raw', `${transport}:${file}`], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${transport} ${i.name}: ${r.stderr}`);
        const cfg = spawnSync(skopeo, ['inspect', '--config', `${transport}:${file}`], { encoding: 'utf8' });
        assert.equal(JSON.parse(cfg.stdout).architecture, 'amd64', `${i.name} via ${transport}`);
      }
    }
    // From the multi-arch index (arm64 listed first), the amd64 image was taken.
    assert.ok(m.manifest.images.find((i) => i.name === images.multiArch)!.indexDigest);
  });

  it('containerd imports every archive under its full name, the whiteout applied', async () => {
    const d = tempDir('k8s-containerd-');
    const sock = join(d, 'c.sock');
    writeFileSync(join(d, 'config.toml'), `version = 2\nroot = "${d}/root"\nstate = "${d}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${sock}"\n`);
    containerd = spawn(requireTool('containerd'), ['--config', join(d, 'config.toml')], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const ctr = (...a: string[]) => spawnSync(requireTool('ctr'), ['-a', sock, '-n', 'k8s.io', ...a], { encoding: 'utf8' });
    for (const f of readdirSync(join(out, 'images')).filter((f) => f.endsWith('.tar'))) {
      const r = ctr('images', 'import', '--snapshotter', 'native', join(out, 'images', f));
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    }
    assert.deepEqual(ctr('images', 'ls', '-q').stdout.trim().split('\n').sort(), images.names);
    const mnt = join(d, 'mnt');
    mkdirSync(mnt);
    assert.equal(ctr('images', 'mount', '--snapshotter', 'native', images.whiteout, mnt).status, 0);
    try {
      assert.ok(existsSync(join(mnt, 'etc/added.conf')));
      assert.ok(!existsSync(join(mnt, 'etc/obsolete.conf')), 'the whiteout layer deleted etc/obsolete.conf');
      assert.ok(!existsSync(join(mnt, 'etc/.wh.obsolete.conf')));
    } finally {
      ctr('images', 'unmount', mnt);
    }
  });

  it('re-run: downloads only what changed, same bytes otherwise; a failure leaves the old bundle whole', async () => {
    const before = readFileSync(join(out, 'bundle.json'), 'utf8');
    const seen = mirror.requests.length;
    const again = capture();
    await bundle({ config, output: out, json: true }, again);
    const r1 = JSON.parse(again.lines.join('\n'));
    assert.equal(r1.downloadedBytes, 0, again.lines.join('\n'));
    assert.ok(r1.reusedBytes > 0);
    assert.equal(readFileSync(join(out, 'bundle.json'), 'utf8'), before, 'same inputs, same bundle');
    // Only metadata and keys went over the wire from the mirror, no package.
    const asked = mirror.requests.slice(seen);
    assert.ok(asked.some((p) => p.endsWith('repomd.xml')), asked.join(' '));
    assert.ok(!asked.some((p) => p.endsWith('.rpm')), asked.join(' '));
    // kube-proxy is rebuilt upstream under the same tag: only its new layer is fetched.
    const base = layer([{ name: 'etc/', type: 'dir' }, { name: 'etc/os-release', data: 'NAME=test\n' }, { name: 'etc/obsolete.conf', data: 'old\n' }]);
    const fix = layer([{ name: 'usr/', type: 'dir' }, { name: 'usr/local/', type: 'dir' }, { name: 'usr/local/kube-proxy', data: 'kube-proxy v1.17.4 rebuilt\n' }]);
    await pushImage(registry.host, 'google_containers/kube-proxy', 'v1.17.4', [base, fix], 'oci');
    const third = capture();
    await bundle({ config, output: out, json: true }, third);
    const r2 = JSON.parse(third.lines.join('\n'));
    assert.ok(r2.downloadedBytes > 0 && r2.downloadedBytes < 2048, `only the new layer and config: ${r2.downloadedBytes}`);
    const changed = readFileSync(join(out, 'bundle.json'), 'utf8');
    assert.notEqual(changed, before);
    // A package damaged in place is noticed by its digest and fetched again; the bundle is whole again.
    const kubelet = readdirSync(join(out, 'repo/Packages')).find((f) => f.startsWith('kubelet-'))!;
    const good = readFileSync(join(out, 'repo/Packages', kubelet));
    const damaged = Buffer.from(good);
    damaged[damaged.length - 1] ^= 0xff;
    rmSync(join(out, 'repo/Packages', kubelet));
    writeFileSync(join(out, 'repo/Packages', kubelet), damaged);
    const fourth = capture();
    await bundle({ config, output: out, json: true }, fourth);
    assert.equal(JSON.parse(fourth.lines.join('\n')).downloadedBytes, good.length, 'only the damaged package');
    assert.deepEqual(readFileSync(join(out, 'repo/Packages', kubelet)), good);
    assert.equal(readFileSync(join(out, 'bundle.json'), 'utf8'), changed);
    // A failing run (an image the registry lacks) leaves the bundle as it was, and nothing beside it.
    const badConfig = join(work, 'bad.yaml');
    writeFileSync(badConfig, labYaml(mirror.url, registry.host).replace('/google_containers\n', '/missing_repo\n'));
    await assert.rejects(bundle({ config: badConfig, output: out }, capture()), /has no missing_repo\/kube-apiserver:v1\.17\.4|HTTP 404/);
    assert.equal(readFileSync(join(out, 'bundle.json'), 'utf8'), changed);
    assert.deepEqual(readdirSync(join(work, 'out')), ['lab-bundle']);
  });

  it('--iso: the bundle as a K8SBUNDLE ISO; 7z extracts every file bundle.json lists with its sha256; the same bundle gives the same bytes', async () => {
    const iso = join(work, 'out', 'lab-bundle.iso');
    const cap = capture();
    await bundle({ config, output: out, iso }, cap);
    assert.match(cap.lines.join('\n'), /as an ISO in .*lab-bundle\.iso \(label K8SBUNDLE\): attach it to every node as one more CD drive and set mirrors\.bundle: iso/);
    assert.match(spawnSync('blkid', ['-p', '-o', 'export', iso], { encoding: 'utf8' }).stdout, /^LABEL=K8SBUNDLE$/m);
    const x = join(work, 'iso-files');
    const r = spawnSync('7z', ['x', '-y', `-o${x}`, iso], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const m = readBundleManifest(out);
    assert.ok('manifest' in m);
    assert.ok(m.manifest.files.length > 10);
    for (const f of m.manifest.files) assert.equal(createHash('sha256').update(readFileSync(join(x, f.path))).digest('hex'), f.sha256, f.path);
    assert.ok(readFileSync(join(x, 'bundle.json')).equals(readFileSync(join(out, 'bundle.json'))));
    const again = join(work, 'again.iso');
    await bundle({ config, output: out, iso: again }, capture());
    assert.ok(readFileSync(again).equals(readFileSync(iso)));
  });

  it("kubeadm is run on this machine only when its RPM's signature checks out with the bundle's keys (rpmkeys --checksig)", async () => {
    // The mirror now serves another key than the one the packages are signed with (a swapped package
    // would look the same): the bundle refuses to run kubeadm, naming it, and leaves nothing.
    const gnupg = tempDir('k8s-otherkey-');
    const g = spawnSync('gpg', ['--batch', '--homedir', gnupg, '--passphrase', '', '--quick-gen-key', 'other <other@example.invalid>', 'rsa2048', 'sign', 'never'], { encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
    const other = spawnSync('gpg', ['--batch', '--homedir', gnupg, '--armor', '--export', 'other@example.invalid']).stdout;
    const keys = ['kubernetes/yum/doc/yum-key.gpg', 'kubernetes/yum/doc/rpm-package-key.gpg', 'docker-ce/gpg'].map((k) => join(work, 'upstream', k));
    const saved = keys.map((k) => readFileSync(k));
    try {
      for (const k of keys) writeFileSync(k, other);
      const target = join(work, 'out', 'other-key-bundle');
      await assert.rejects(bundle({ config, output: target }, capture()), /bundle: kubeadm-1\.17\.4-0\.x86_64\.rpm is not signed by a key of its repository \(rpmkeys --checksig: .*\); its kubeadm is not run/);
      assert.equal(existsSync(target), false);
    } finally {
      keys.forEach((k, i) => writeFileSync(k, saved[i]!));
    }
  });

  it("behind an HTTP proxy: dnf (the solver) is given this machine's http_proxy; Node's fetch cannot use it, and bundle says so", async () => {
    // A forward proxy stand-in (absolute-form request lines, as libcurl sends them to an HTTP proxy)
    // in front of the mirror; the repository's host does not resolve, so only the proxy reaches it.
    const seen: string[] = [];
    const proxy = createHttpServer((req, res) => {
      seen.push(req.url ?? '');
      const u = new URL(req.url ?? '/', 'http://invalid');
      const up = httpGet(`${mirror.url}${u.pathname}`, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = process.env.http_proxy;
    process.env.http_proxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const w = tempDir('k8s-proxy-resolve-');
      const got = await resolvePackages(w, [{ id: 'base', baseurl: 'http://mirror.invalid/centos/7.9.2009/os/x86_64/' }], ['socat']);
      assert.deepEqual(got.map((p) => p.name), ['socat']);
      assert.ok(seen.some((u) => u === 'http://mirror.invalid/centos/7.9.2009/os/x86_64/repodata/repomd.xml'), seen.join(' '));
      assert.match(proxyWarning()!, /^http_proxy is set: the package solver \(dnf\) uses it, but the downloads .* Node [0-9.]+'s fetch, which does not use a proxy/);
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
      proxy.close();
    }
    assert.equal(proxyWarning({}), undefined);
  });

  it('missing tools: one line naming the Debian packages', () => {
    const empty = tempDir('k8s-nopath-');
    const r = spawnSync(process.execPath, [CLI, 'bundle', '-c', config, '-o', join(work, 'nothing')], { encoding: 'utf8', env: { PATH: empty } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /apt-get install .*createrepo-c/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
