/**
 * The bundle on the farm: `serve --bundle` serves it; a node planned with mirrors.bundle gets repo
 * files that dnf (a real solver, on an empty root) installs the node's packages from, over HTTP from
 * serve, with every other repository off; first boot (firstboot.sh in the sandbox, fakes for
 * kubeadm and friends, a real containerd behind ctr) imports the bundle's images before kubeadm.
 * A bundle of another Kubernetes version is refused by serve and by the node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bundle } from '../../src/commands/bundle.js';
import { serve } from '../../src/commands/serve.js';
import type { Output } from '../../src/commands/common.js';
import { loadCluster } from '../../src/config/index.js';
import { planNode, PATHS } from '../../src/plan/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { startFarmServer, type FarmServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { calls, makeSandbox, run, script } from '../node-files/sandbox.js';
import { NODE_PACKAGES, buildRepos, freePort, labYaml, pushLabImages, serveDir, startRegistry } from './upstream.js';

const quiet: Output = { result: () => {}, info: () => {}, warn: () => {}, progress: () => {}, isTTY: false };
/** A child run without blocking this process (the bundle is served from it). */
function runAsync(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('close', (code) => res({ status: code ?? 1, stdout, stderr }));
  });
}
const envOf = (text: string) => Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^"(.*)"$/, '$1')]));

describe('the bundle on the farm', { timeout: 120_000 }, () => {
  let work: string;
  let out: string;
  let dvd: string;
  let withDvd: string;
  let fromIso: string;
  let names: string[];
  let farm: FarmServer;
  let bundleUrl: string;
  let stops: (() => void)[] = [];
  let containerd: ChildProcess | undefined;

  before(async () => {
    for (const t of ['rpmbuild', 'createrepo_c', 'dnf', 'docker-registry', 'containerd', 'ctr', 'rpm2cpio', 'cpio', 'gpg', 'curl']) requireTool(t);
    work = tempDir('k8s-bundle-farm-');
    await buildRepos(join(work, 'upstream'));
    const mirror = await serveDir(join(work, 'upstream'));
    const registry = await startRegistry();
    stops = [() => mirror.server.close(), registry.stop];
    names = (await pushLabImages(registry.host)).names;
    writeFileSync(join(work, 'cluster.yaml'), labYaml(mirror.url, registry.host));
    out = join(work, 'lab-bundle');
    // A root shell with umask 077 (common hardening): the bundle's modes must not depend on it.
    const umask = process.umask(0o077);
    try {
      await bundle({ config: join(work, 'cluster.yaml'), output: out }, quiet);
    } finally {
      process.umask(umask);
    }
    // nginx's workers (www-data) must reach the bundle: the test's own temp folder opened for them.
    chmodSync(work, 0o755);
    // The same with a DVD: a tree with repodata holding the base packages (as the CentOS 7 DVD does).
    dvd = join(work, 'dvd');
    cpSync(join(work, 'upstream/centos/7.9.2009/os/x86_64'), dvd, { recursive: true });
    withDvd = join(work, 'dvd-bundle');
    // --installer needs the nodes to have the DVD as a repository (mirrors.installer): refused without it.
    await assert.rejects(bundle({ config: join(work, 'cluster.yaml'), output: withDvd, installer: dvd }, quiet), /--installer leaves the DVD's packages out of the bundle, but the nodes have no DVD repository to take them from: set mirrors.installer/);
    assert.equal(existsSync(withDvd), false);
    writeFileSync(join(work, 'cluster-dvd.yaml'), labYaml(mirror.url, registry.host, '  bundle: http://127.0.0.1:9/bundle\n  installer: http://127.0.0.1:9/centos7\n'));
    await bundle({ config: join(work, 'cluster-dvd.yaml'), output: withDvd, installer: dvd }, quiet);
    const iso = join(work, 'dvd.iso');
    const x = spawnSync(requireTool('xorriso'), ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', iso, dvd], { encoding: 'utf8' });
    assert.equal(x.status, 0, x.stderr);
    fromIso = join(work, 'iso-bundle');
    await bundle({ config: join(work, 'cluster-dvd.yaml'), output: fromIso, installer: iso }, quiet);
    // The upstream goes away: from here on only the bundle is reachable.
    for (const s of stops) s();
    stops = [];
    farm = await startFarmServer({ index: { cluster: 'lab', nodes: [], keys: {} }, stateDir: join(work, 'state'), bundle: out, log: () => {} }, { host: '127.0.0.1', port: 0 });
    bundleUrl = `http://127.0.0.1:${(farm.server.address() as AddressInfo).port}/bundle`;
  });
  after(async () => {
    for (const s of stops) s();
    containerd?.kill('SIGTERM');
    await farm?.close();
  });

  const nodePlan = async (extra: string) => {
    const { cluster } = loadCluster(labYaml('http://127.0.0.1:9', '127.0.0.1:9', extra), 'cluster.yaml');
    return planNode(cluster, await generateSecrets({ cluster: cluster.name, generateRootPassword: false }), 'master1');
  };

  it("the node's repo files: the bundle (served by serve) is the only enabled repository, and dnf installs the node from it", async () => {
    // Built under umask 077, served all the same: folders 0755, files 0644.
    assert.equal((await fetch(`${bundleUrl}/bundle.json`)).status, 200, 'serve --bundle serves bundle.json of a bundle built under umask 077');
    assert.equal(statSync(out).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, 'repo/repodata')).mode & 0o777, 0o755);
    for (const f of JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')).files as { path: string }[]) assert.equal(statSync(join(out, f.path)).mode & 0o777, 0o644, f.path);
    const plan = await nodePlan(`  bundle: ${bundleUrl}\n`);
    const repos = plan.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/'));
    const d = tempDir('k8s-node-root-');
    mkdirSync(join(d, 'yum.repos.d'));
    for (const f of repos) writeFileSync(join(d, 'yum.repos.d', f.path.split('/').pop()!), f.content);
    const base = repos.find((f) => f.path.endsWith('CentOS-Base.repo'))!.content;
    assert.match(base, new RegExp(`^\\[k8s-image-bundle\\]\\nname=.*\\nbaseurl=${bundleUrl}/repo/\\nenabled=1\\ngpgcheck=1\\n`, 'm'));
    assert.match(base, /^repo_gpgcheck=0$/m);
    assert.match(base, new RegExp(`${bundleUrl}/keys/kubernetes-1\\.gpg`));
    for (const f of repos) for (const m of f.content.matchAll(/^\[([^\]]+)\][^[]*?enabled=(\d)/gms)) assert.equal(m[2], m[1] === 'k8s-image-bundle' ? '1' : '0', `${m[1]} in ${f.path}`);
    for (const s of ['root', 'cache', 'keys']) mkdirSync(join(d, s));
    // The keys the repo file names are served; they go into the root's rpm database as yum imports
    // them (the CentOS key it also names is on every CentOS node, not on this host).
    const keyUrls = base.match(new RegExp(`${bundleUrl}/keys/[^\\s]+`, 'g'))!;
    for (const [i, k] of keyUrls.entries()) {
      const res = await fetch(k);
      assert.equal(res.status, 200, k);
      writeFileSync(join(d, 'keys', `${i}.gpg`), Buffer.from(await res.arrayBuffer()));
    }
    assert.equal((await runAsync('rpm', ['--root', `${d}/root`, '--import', ...keyUrls.map((_, i) => join(d, 'keys', `${i}.gpg`))])).status, 0);
    const env = envOf(plan.files.find((f) => f.path === PATHS.installEnv)!.content);
    const pkgs = env.PACKAGES!.split(' ');
    writeFileSync(join(d, 'dnf.conf'), '[main]\ninstall_weak_deps=False\n');
    const dnfArgs = ['-q', '--noplugins', `--config=${d}/dnf.conf`, `--setopt=reposdir=${d}/yum.repos.d`, `--setopt=cachedir=${d}/cache`, `--installroot=${d}/root`, '--releasever=7', '--forcearch=x86_64', '--setopt=timeout=10', '--setopt=retries=1', '-y'];
    // The version holds survive the bundle: its repo excludes the pinned packages, so a plain install
    // (or `yum update`) cannot take them; install.sh's --disableexcludes names the bundle repo.
    assert.match(base, /^exclude=docker-ce docker-ce-cli containerd\.io kubelet kubeadm kubectl kubernetes-cni cri-tools$/m);
    assert.ok(env.DISABLE_EXCLUDES!.split(',').includes('k8s-image-bundle'), env.DISABLE_EXCLUDES);
    const held = await runAsync(requireTool('dnf'), [...dnfArgs, 'install', 'kubelet-1.17.4-0']);
    assert.notEqual(held.status, 0, 'kubelet is held by the bundle repo');
    // The repo file (gpgcheck=1), baseurl and solver are the node's; the packages' signatures are checked.
    const r = await runAsync(requireTool('dnf'), [...dnfArgs, `--disableexcludes=${env.DISABLE_EXCLUDES}`, 'install', ...pkgs]);
    assert.equal(r.status, 0, r.stderr);
    const q = spawnSync('rpm', ['--root', `${d}/root`, '-q', 'kubeadm', 'kubelet', 'docker-ce', 'socat'], { encoding: 'utf8' });
    assert.equal(q.status, 0, q.stdout + q.stderr);
    assert.match(q.stdout, /^kubelet-1\.17\.4-0\.x86_64$/m);
  });

  it('first boot imports the bundle images into containerd before kubeadm; the names are the ones kubeadm asks for', async () => {
    const plan = await nodePlan(`  bundle: ${bundleUrl}\n`);
    const env = envOf(plan.files.find((f) => f.path === PATHS.firstbootEnv)!.content);
    assert.equal(env.IMPORT_IMAGES, PATHS.importImagesScript);
    assert.equal(plan.files.find((f) => f.path === PATHS.importImagesScript)?.mode, 0o755);
    const d = tempDir('k8s-fb-containerd-');
    const sock = join(d, 'c.sock');
    writeFileSync(join(d, 'config.toml'), `version = 2\nroot = "${d}/root"\nstate = "${d}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${sock}"\n`);
    containerd = spawn(requireTool('containerd'), ['--config', join(d, 'config.toml')], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    // The node's ctr, talking to the test's containerd.
    const bin = join(d, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ctr'), `#!/bin/sh\nexec ${requireTool('ctr')} -a ${sock} "$@"\n`);
    chmodSync(join(bin, 'ctr'), 0o755);
    const sb = makeSandbox('init', { IMPORT_IMAGES: script('import-images.sh'), BUNDLE_URL: env.BUNDLE_URL!, KUBERNETES_VERSION: env.KUBERNETES_VERSION!, RUNTIME_SERVICE: 'containerd' });
    const r = await run(sb, 'firstboot.sh', { PATH: `${bin}:${sb.env.PATH}` }, 60_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ls = spawnSync(join(bin, 'ctr'), ['-n', 'k8s.io', 'images', 'ls', '-q'], { encoding: 'utf8' });
    assert.deepEqual(ls.stdout.trim().split('\n').sort(), names);
    const log = readFileSync(sb.p.log, 'utf8');
    const imported = log.indexOf("importing the bundle's images succeeded");
    assert.ok(imported > 0, log);
    const kubeadmCalls = calls(sb).filter((c) => c[0] === 'kubeadm');
    assert.ok(kubeadmCalls.some((c) => c[1] === 'init'));
    assert.ok(log.indexOf('kubeadm init') === -1 || log.indexOf('kubeadm init') > imported, 'images imported before kubeadm');
    // A second import finds every archive already there and downloads nothing.
    const again = await run(sb, 'import-images.sh', { PATH: `${bin}:${sb.env.PATH}` });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /done: 0 images imported/);
  });

  it('--installer: what the DVD has is left out, newer builds from updates stay in, and the DVD plus the bundle install the node', async () => {
    const m = JSON.parse(readFileSync(join(withDvd, 'bundle.json'), 'utf8'));
    const inBundle = readdirSync(join(withDvd, 'repo/Packages'));
    assert.ok(m.installer.packagesOnDvd.includes('socat-1.7.3.2-2.el7.x86_64'), JSON.stringify(m.installer));
    assert.ok(!inBundle.some((f) => f.startsWith('socat-') || f.startsWith('chrony-')), inBundle.join(' '));
    assert.ok(inBundle.includes('iptables-1.4.21-35.el7.x86_64.rpm'), 'the updates build is newer than the DVD one');
    assert.ok(inBundle.includes('kubelet-1.17.4-0.x86_64.rpm'));
    // The node's own repo files (mirrors.bundle + mirrors.installer): the bundle and the DVD tree, both served.
    const [b, i] = [await serveDir(withDvd), await serveDir(dvd)];
    try {
      const plan = await nodePlan(`  bundle: ${b.url}\n  installer: ${i.url}/\n`);
      const d = tempDir('k8s-dvd-root-');
      for (const s of ['root', 'cache', 'repos']) mkdirSync(join(d, s));
      for (const f of plan.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/'))) writeFileSync(join(d, 'repos', f.path.split('/').pop()!), f.content);
      const base = plan.files.find((f) => f.path.endsWith('CentOS-Base.repo'))!.content;
      assert.match(base, new RegExp(`^\\[k8s-image-installer\\]\\nname=.*\\nbaseurl=${i.url}/\\nenabled=1\\n`, 'm'));
      writeFileSync(join(d, 'dnf.conf'), '[main]\ninstall_weak_deps=False\n');
      const dnf = (extra: string[]) => runAsync(requireTool('dnf'), ['-q', '--noplugins', `--config=${d}/dnf.conf`, `--setopt=reposdir=${d}/repos`, `--setopt=cachedir=${d}/cache`, `--installroot=${d}/root`, '--releasever=7', '--forcearch=x86_64', '--setopt=timeout=10', ...extra, '--disableexcludes=k8s-image-bundle', '--nogpgcheck', '-y', 'install', ...NODE_PACKAGES]);
      const alone = await dnf(['--disablerepo=k8s-image-installer']);
      assert.notEqual(alone.status, 0, 'without the DVD the bundle is not enough');
      assert.match(alone.stderr, /socat|chrony|curl|ipset/);
      const both = await dnf([]);
      assert.equal(both.status, 0, both.stderr);
    } finally {
      b.server.close();
      i.server.close();
    }
    // The DVD as its ISO image (read in place: only its repodata is copied out): the same bundle.
    assert.deepEqual(JSON.parse(readFileSync(join(fromIso, 'bundle.json'), 'utf8')).files, m.files);
  });

  it('nginx serves the bundle as the README shows (location /bundle/ with alias), and dnf installs from it', async () => {
    const base = tempDir('k8s-nginx-');
    const port = await freePort();
    // The README's snippet, inside a minimal nginx.conf; workers run as Debian's package runs them (www-data).
    const site = `location /bundle/ {\n    alias ${out}/;\n    autoindex off;\n}\n`;
    writeFileSync(join(base, 'nginx.conf'), `user www-data;\nerror_log ${base}/error.log;\npid ${base}/nginx.pid;\nevents {}\nhttp {\n  access_log off;\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  server {\n    listen 127.0.0.1:${port};\n    ${site}  }\n}\n`);
    const t = spawnSync(requireTool('nginx'), ['-t', '-c', join(base, 'nginx.conf'), '-p', base], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    const nginx = spawn(requireTool('nginx'), ['-c', join(base, 'nginx.conf'), '-p', base, '-g', 'daemon off;'], { stdio: 'ignore' });
    try {
      const url = `http://127.0.0.1:${port}/bundle`;
      for (let i = 0; i < 100; i++) if (await fetch(`${url}/bundle.json`).then((r) => r.ok, () => false)) break; else await new Promise((r) => setTimeout(r, 50));
      assert.equal((await fetch(`${url}/bundle.json`)).status, 200, 'nginx (workers as www-data) reads the bundle');
      const plan = await nodePlan(`  bundle: ${url}\n`);
      const d = tempDir('k8s-nginx-root-');
      for (const x of ['root', 'cache', 'yum.repos.d']) mkdirSync(join(d, x));
      for (const f of plan.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/'))) writeFileSync(join(d, 'yum.repos.d', f.path.split('/').pop()!), f.content);
      writeFileSync(join(d, 'dnf.conf'), '[main]\ninstall_weak_deps=False\n');
      const r = await runAsync(requireTool('dnf'), ['-q', '--noplugins', `--config=${d}/dnf.conf`, `--setopt=reposdir=${d}/yum.repos.d`, `--setopt=cachedir=${d}/cache`, `--installroot=${d}/root`, '--releasever=7', '--forcearch=x86_64', '--setopt=timeout=10', '--nogpgcheck', '-y', '--disableexcludes=k8s-image-bundle', 'install', ...NODE_PACKAGES]);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      nginx.kill('SIGTERM');
    }
  });

  it('a bundle of another Kubernetes version is refused, with the reason, by the node and by serve', async () => {
    const sb = makeSandbox('init', { BUNDLE_URL: bundleUrl, KUBERNETES_VERSION: '1.18.20', RUNTIME_SERVICE: 'containerd' });
    const r = await run(sb, 'import-images.sh');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /built for Kubernetes 1\.17\.4, this node runs 1\.18\.20/);
    // Another imageRepository: the images would carry names kubeadm does not ask for.
    const repo = await run(makeSandbox('init', { BUNDLE_URL: bundleUrl, KUBERNETES_VERSION: '1.17.4', IMAGE_REPOSITORY: 'registry.example.com/k8s', RUNTIME_SERVICE: 'containerd' }), 'import-images.sh');
    assert.equal(repo.code, 3, repo.stderr);
    assert.match(repo.stderr, /are named for 127\.0\.0\.1:\d+\/google_containers, this cluster's imageRepository is registry\.example\.com\/k8s/);
    // First boot stops at once on a refused bundle (permanent), with the reason: no RETRIES attempts.
    const fb = makeSandbox('init', { IMPORT_IMAGES: script('import-images.sh'), BUNDLE_URL: bundleUrl, KUBERNETES_VERSION: '1.18.20', RUNTIME_SERVICE: 'containerd' });
    const f = await run(fb, 'firstboot.sh', {}, 30_000);
    assert.notEqual(f.code, 0);
    const log = readFileSync(fb.p.log, 'utf8');
    assert.match(log, /ERROR: the offline bundle is not this cluster's: the bundle at .* was built for Kubernetes 1\.17\.4, this node runs 1\.18\.20.*retrying cannot help/);
    assert.doesNotMatch(log, /importing the bundle's images, attempt 2/, 'no second attempt');
    assert.ok(!calls(fb).some((c) => c[0] === 'kubeadm' && c[1] === 'init'), 'no kubeadm after a refused bundle');
    const other = join(work, 'other.yaml');
    writeFileSync(other, labYaml('http://127.0.0.1:9', '127.0.0.1:9').replace('kubernetesVersion: 1.17.4', 'kubernetesVersion: 1.18.20'));
    await assert.rejects(serve({ config: other, bundle: out, listen: '127.0.0.1:0' }, quiet), /--bundle .*built for Kubernetes 1\.17\.4, the cluster runs 1\.18\.20/);
    await assert.rejects(serve({ config: other, bundle: work, listen: '127.0.0.1:0' }, quiet), /--bundle .*no bundle\.json/);
    // The same version, another runtime / image repository / CNI: refused, naming what differs.
    const lab = readFileSync(join(work, 'cluster.yaml'), 'utf8');
    const variants: [string, string, RegExp][] = [
      ['containerd.yaml', lab.replace('kubernetesVersion: 1.17.4\n', 'kubernetesVersion: 1.17.4\n  runtime: { kind: containerd }\n'), /--bundle .*carries the runtime docker-\S+, the cluster runs containerd-/],
      ['repo.yaml', lab.replace(/imageRepository: .*/, 'imageRepository: registry.example.com/k8s'), /--bundle .*images are named for .*google_containers, the cluster's imageRepository is registry\.example\.com\/k8s/],
      ['cni.yaml', lab.replace(/cniImageRegistry: .*/, 'cniImageRegistry: registry.example.com/hub'), /--bundle .*lacks the CNI images the cluster's manifest names \(registry\.example\.com\/hub\//],
    ];
    for (const [name, text, why] of variants) {
      writeFileSync(join(work, name), text);
      await assert.rejects(serve({ config: join(work, name), bundle: out, listen: '127.0.0.1:0' }, quiet), why, name);
    }
    // A bundle with a file cut short (a copy interrupted) is refused before anything is served.
    const cut = join(work, 'cut-bundle');
    cpSync(out, cut, { recursive: true });
    const victim = readdirSync(join(cut, 'images')).find((f) => f.endsWith('.tar'))!;
    writeFileSync(join(cut, 'images', victim), readFileSync(join(cut, 'images', victim)).subarray(0, 100));
    await assert.rejects(serve({ config: join(work, 'cluster.yaml'), bundle: cut, listen: '127.0.0.1:0' }, quiet), new RegExp(`images/${victim.replace(/[.]/g, '\\.')} has 100 bytes, not \\d+`));
    // serve keeps its rules on the bundle path: no dot-segments, nothing outside it.
    const port = (farm.server.address() as AddressInfo).port;
    const raw = await runAsync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--path-as-is', `http://127.0.0.1:${port}/bundle/../bundle/bundle.json`]);
    assert.equal(raw.stdout, '400');
    assert.equal((await fetch(`${bundleUrl}/bundle.json`)).status, 200);
  });
});
