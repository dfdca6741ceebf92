/**
 * mirrors.bundle: iso. The bundle as an ISO (`k8s-image bundle --iso`): read back by isoinfo (Rock
 * Ridge and Joliet names), 7z (every file's bytes) and blkid (label, type) on the image file; same
 * bundle, same bytes; nothing left on failure. The node side in the sandbox, with blkid/mount
 * stand-ins modelled on util-linux 2.23 (test/reference/util-linux-2.23-blkid-mount.md): install.sh
 * mounts the disc found by its label before yum and unmounts it in the installer's chroot, says so
 * in one line when no disc is there; import-images.sh (first boot, after the reboot) mounts it again
 * and imports from file://; golden.sh imports instead of pulling. The plan: the repository file
 * points at the mount, on every role and in every rendering.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeBundleIso } from '../../src/bundle/iso.js';
import { loadCluster } from '../../src/config/index.js';
import { PATHS, planGolden, planNode } from '../../src/plan/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { packageRoot } from '../../src/assets.js';
import { configProblems } from '../helpers/config.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { callsOf, calls, makeSandbox, run, type Sandbox } from '../node-files/sandbox.js';

const EPOCH = 1605139200;
const LONG_RPM = 'docker-ce-cli-19.03.15-3.el7.x86_64.rpm';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A bundle folder as `k8s-image bundle` leaves it (names and layout; contents made here), plus a stray file. */
function makeBundle(dir: string): void {
  mkdirSync(join(dir, 'repo/repodata'), { recursive: true });
  mkdirSync(join(dir, 'keys'));
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'repo', LONG_RPM), Buffer.alloc(300_000, 7));
  writeFileSync(join(dir, 'repo', 'kubeadm-1.17.4-0.x86_64.rpm'), 'kubeadm rpm');
  writeFileSync(join(dir, 'repo/repodata/repomd.xml'), '<repomd/>\n');
  writeFileSync(join(dir, 'keys/kubernetes-1.gpg'), 'key\n');
  const archives: [string, string][] = [
    ['registry.aliyuncs.com_google_containers_pause_3.1.tar', 'registry.aliyuncs.com/google_containers/pause:3.1'],
    ['quay.io_coreos_flannel_v0.12.0-amd64.tar', 'quay.io/coreos/flannel:v0.12.0-amd64'],
  ];
  const index = ['kubernetesVersion 1.17.4', 'imageRepository registry.aliyuncs.com/google_containers'];
  for (const [file, name] of archives) {
    const bytes = Buffer.from(`archive of ${name}\n`.repeat(1000));
    writeFileSync(join(dir, 'images', file), bytes);
    index.push(`${sha256(bytes)} ${file} ${name}`);
  }
  writeFileSync(join(dir, 'images/index.txt'), `${index.join('\n')}\n`);
  writeFileSync(join(dir, 'bundle.json'), '{"format":1,"kubernetesVersion":"1.17.4"}\n');
  writeFileSync(join(dir, 'notes.txt'), 'not for the disc\n');
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      out.push(`/${relative(dir, p)}${statSync(p).isDirectory() ? '/' : ''}`);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const EXPECTED = [
  '/bundle.json', '/images/', '/images/index.txt', '/images/quay.io_coreos_flannel_v0.12.0-amd64.tar', '/images/registry.aliyuncs.com_google_containers_pause_3.1.tar',
  '/keys/', '/keys/kubernetes-1.gpg', '/repo/', `/repo/${LONG_RPM}`, '/repo/kubeadm-1.17.4-0.x86_64.rpm', '/repo/repodata/', '/repo/repodata/repomd.xml',
];

let bundleDir: string;
let iso: string;
/** The disc's files as 7z extracted them from the image: what the node's mount shows. */
let disc: string;

describe('k8s-image bundle --iso', { timeout: 60_000 }, () => {
  before(async () => {
    for (const t of ['xorriso', 'isoinfo', '7z', 'blkid']) requireTool(t);
    const work = tempDir('k8s-image-bundle-iso-');
    bundleDir = join(work, 'bundle');
    makeBundle(bundleDir);
    iso = join(work, 'bundle.iso');
    await writeBundleIso({ bundle: bundleDir, output: { path: iso, flag: '--iso', force: true }, epoch: EPOCH });
    disc = join(work, 'disc');
    const x = spawnSync('7z', ['x', '-y', `-o${disc}`, iso], { encoding: 'utf8' });
    assert.equal(x.status, 0, x.stdout + x.stderr);
  });

  it('blkid reads label K8SBUNDLE and type iso9660 from the image file', () => {
    const r = spawnSync('blkid', ['-p', '-o', 'export', iso], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^LABEL=K8SBUNDLE$/m);
    assert.match(r.stdout, /^TYPE=iso9660$/m);
  });

  it('isoinfo lists the Rock Ridge and the Joliet names in full (long RPM names kept), the bundle\'s parts only', () => {
    for (const ext of ['-R', '-J']) {
      const r = spawnSync('isoinfo', [ext, '-f', '-i', iso], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const names = r.stdout.split('\n').filter(Boolean).sort();
      assert.deepEqual(names, EXPECTED.map((n) => n.replace(/\/$/, '')).sort(), ext);
    }
    const l = spawnSync('isoinfo', ['-R', '-l', '-i', iso], { encoding: 'utf8' }).stdout;
    assert.match(l, new RegExp(`-r--r--r-- +1 +0 +0 +300000 Nov 12 2020 \\[ *\\d+ 00\\]  ${LONG_RPM.replace(/\./g, '\\.')}`), 'modes and owners normalised (-r), dates the build epoch');
  });

  it('7z extracts every file with the bundle\'s bytes', () => {
    assert.deepEqual(tree(disc), EXPECTED);
    for (const f of EXPECTED.filter((n) => !n.endsWith('/'))) assert.ok(readFileSync(join(disc, f)).equals(readFileSync(join(bundleDir, f))), f);
  });

  it('same bundle, same bytes (file times changed meanwhile); a folder that is no bundle is refused and nothing is written', async () => {
    utimesSync(join(bundleDir, 'repo', LONG_RPM), new Date(), new Date());
    const again = join(tempDir('k8s-image-bundle-iso2-'), 'again.iso');
    await writeBundleIso({ bundle: bundleDir, output: { path: again, flag: '--iso', force: true }, epoch: EPOCH });
    assert.ok(readFileSync(again).equals(readFileSync(iso)));

    const out = tempDir('k8s-image-bundle-iso3-');
    await assert.rejects(writeBundleIso({ bundle: join(bundleDir, 'repo'), output: { path: join(out, 'x.iso'), flag: '--iso' }, epoch: EPOCH }), /bundle\/repo: no repo in it; the ISO is made from a finished bundle/);
    assert.deepEqual(readdirSync(out), []);
  });

  describe('the node: the disc found by its label and mounted (util-linux 2.23 stand-ins)', () => {
    /** install.sh's env: the packages, the bundle's disc (in the sandbox's own paths). */
    function installSandbox(label: boolean): { sb: Sandbox; mnt: string; log: string } {
      const sb = makeSandbox('init');
      const mnt = join(sb.root, 'run/k8s-image/bundle');
      const log = join(sb.root, 'var/log/k8s-image/install.log');
      if (label) {
        mkdirSync(join(sb.fake, 'labels'));
        writeFileSync(join(sb.fake, 'labels/K8SBUNDLE'), `${disc}\n`);
      }
      const settings: Record<string, string> = {
        PACKAGES: 'chrony kubeadm-1.17.4-0',
        FIRSTBOOT_UNIT: 'k8s-image-firstboot.service',
        INSTALL_MARKER: sb.p.installMarker,
        FSTAB: join(sb.root, 'fstab'),
        SELINUX_CONFIG: join(sb.root, 'selinux'),
        INSTALL_LOG: log,
        YUM_BACKOFF: '0',
        YUM_RETRIES: '1',
        BUNDLE_MOUNT: join(packageRoot, 'node-files/bundle-mount.sh'),
        BUNDLE_LABEL: 'K8SBUNDLE',
        BUNDLE_DIR: mnt,
      };
      writeFileSync(sb.p.installEnv, `${Object.entries(settings).map(([k, v]) => `${k}="${v}"`).join('\n')}\n`);
      return { sb, mnt, log };
    }

    it('install.sh (kickstart %post chroot): mounts the disc read-only before yum, unmounts it at the end', async (t) => {
      const { sb, mnt, log } = installSandbox(true);
      t.after(() => sb.cleanup());
      const r = await run(sb, 'install.sh', {}, 20000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const order = calls(sb).map((c) => c[0]).filter((c) => ['blkid', 'mount', 'yum', 'umount'].includes(c!));
      assert.deepEqual(order.slice(0, 3), ['blkid', 'mount', 'yum']);
      assert.equal(order.at(-1), 'umount');
      assert.deepEqual(callsOf(sb, 'blkid')[0], ['blkid', '-L', 'K8SBUNDLE']);
      assert.deepEqual(callsOf(sb, 'mount')[0], ['mount', '-r', '-t', 'iso9660', disc, mnt]);
      assert.deepEqual(readdirSync(mnt), [], 'unmounted before anaconda unmounts the new system');
      assert.match(readFileSync(log, 'utf8'), /bundle-mount: mounted .* \(K8SBUNDLE\) read-only at .*run\/k8s-image\/bundle/);
    });

    it('install.sh --live (cloud-init): the disc stays mounted for first boot', async (t) => {
      const { sb, mnt } = installSandbox(true);
      t.after(() => sb.cleanup());
      const r = await run(sb, 'install.sh', {}, 20000, ['--live']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(callsOf(sb, 'umount').length, 0);
      assert.ok(existsSync(join(mnt, 'bundle.json')));
    });

    it('no disc labelled K8SBUNDLE: install.sh fails in one line naming the label and what to attach; yum never runs', async (t) => {
      const { sb } = installSandbox(false);
      t.after(() => sb.cleanup());
      const r = await run(sb, 'install.sh', {}, 20000);
      assert.equal(r.code, 1);
      assert.match(r.stdout + r.stderr, /ERROR: the offline bundle's disc \(label K8SBUNDLE\) could not be mounted .*no disc labelled K8SBUNDLE on this machine .*attach the ISO 'k8s-image bundle --iso FILE' wrote as a CD drive/);
      assert.equal(callsOf(sb, 'yum').length, 0);
      assert.equal(callsOf(sb, 'mount').length, 0);
    });

    it('first boot after the reboot: import-images.sh mounts the disc again and imports every archive from file://', async (t) => {
      const sb = makeSandbox('init');
      t.after(() => sb.cleanup());
      const mnt = join(sb.root, 'run/k8s-image/bundle');
      mkdirSync(join(sb.fake, 'labels'));
      writeFileSync(join(sb.fake, 'labels/K8SBUNDLE'), `${disc}\n`);
      const env = join(sb.p.etc, 'images.env');
      writeFileSync(env, [`BUNDLE_URL=file://${mnt}`, 'KUBERNETES_VERSION=1.17.4', 'RUNTIME_SERVICE=docker', `STATE_DIR=${sb.p.state}`, `BUNDLE_MOUNT=${join(packageRoot, 'node-files/bundle-mount.sh')}`, 'BUNDLE_LABEL=K8SBUNDLE', `BUNDLE_DIR=${mnt}`, ''].join('\n'));
      const r = await run(sb, 'import-images.sh', { K8S_IMAGE_ENV: env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(callsOf(sb, 'mount').length, 1);
      assert.deepEqual(callsOf(sb, 'docker', 'load').map((c) => c[3]!.split('/').at(-1)), ['registry.aliyuncs.com_google_containers_pause_3.1.tar', 'quay.io_coreos_flannel_v0.12.0-amd64.tar']);
      assert.match(r.stderr, /done: 2 images imported for Kubernetes 1\.17\.4/);
      // Without the disc: exit 6, the helper's reason first.
      const sb2 = makeSandbox('init');
      t.after(() => sb2.cleanup());
      const r2 = await run(sb2, 'import-images.sh', { K8S_IMAGE_ENV: env });
      assert.equal(r2.code, 6);
      assert.match(r2.stderr, /no disc labelled K8SBUNDLE[^\n]*\nimport-images: the bundle's disc is not mounted/);
    });

    it('golden.sh with mirrors.bundle imports the bundle\'s images and never pulls', async (t) => {
      const sb = makeSandbox('init');
      t.after(() => sb.cleanup());
      const mnt = join(sb.root, 'run/k8s-image/bundle');
      mkdirSync(join(sb.fake, 'labels'));
      writeFileSync(join(sb.fake, 'labels/K8SBUNDLE'), `${disc}\n`);
      const seal = join(sb.root, 'seal.sh');
      // The seal is golden.test.ts's subject; here it only records that it ran.
      writeFileSync(seal, `#!/bin/bash\necho sealed >${join(sb.root, 'sealed')}\n`);
      const env = join(sb.p.etc, 'golden.env');
      writeFileSync(env, [
        'KUBERNETES_VERSION=1.17.4', 'IMAGE_REPOSITORY=registry.aliyuncs.com/google_containers', 'RUNTIME_SERVICE=docker',
        `INSTALL_MARKER=${sb.p.installMarker}`, `SEAL_SCRIPT=${seal}`, `GOLDEN_LOG=${join(sb.root, 'golden.log')}`, 'POWEROFF=true',
        `IMPORT_IMAGES=${join(packageRoot, 'node-files/import-images.sh')}`, `BUNDLE_URL=file://${mnt}`, `STATE_DIR=${sb.p.state}`,
        `BUNDLE_MOUNT=${join(packageRoot, 'node-files/bundle-mount.sh')}`, 'BUNDLE_LABEL=K8SBUNDLE', `BUNDLE_DIR=${mnt}`, '',
      ].join('\n'));
      const r = await run(sb, 'golden.sh', { K8S_IMAGE_GOLDEN_ENV: env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(callsOf(sb, 'kubeadm', 'config', 'images', 'pull').length, 0);
      assert.equal(callsOf(sb, 'docker', 'load').length, 2);
      assert.match(r.stdout, /imported the offline bundle's images for Kubernetes 1\.17\.4/);
      assert.ok(existsSync(join(sb.root, 'sealed')));
    });
  });
});

describe('the node scripts of the bundle', () => {
  it('bundle-mount.sh and import-images.sh: bash -n, shellcheck -S style clean (CentOS 7 bash 4.2), #!/bin/bash and set -euo pipefail', () => {
    for (const f of ['bundle-mount.sh', 'import-images.sh']) {
      const path = join(packageRoot, 'node-files', f);
      assert.equal(spawnSync('bash', ['-n', path]).status, 0, f);
      const sc = spawnSync(requireTool('shellcheck'), ['-s', 'bash', '-S', 'style', '-f', 'gcc', path], { encoding: 'utf8' });
      assert.equal(sc.status, 0, sc.stdout);
      assert.match(readFileSync(path, 'utf8'), /^#!\/bin\/bash\n(#.*\n)*set -euo pipefail$/m);
    }
  });
  it('bundle-mount.sh without mount or umount: usage, exit 2', () => {
    const r = spawnSync('bash', [join(packageRoot, 'node-files/bundle-mount.sh')], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^usage: bundle-mount\.sh mount\|umount$/m);
  });
});

describe('mirrors.bundle: iso in the plan', () => {
  const yaml = (bundle: string) => `mirrors:\n  bundle: ${bundle}\nloadBalancer: { kind: nginx }
nodes:
  - { name: m1, role: master, ip: 10.0.0.10/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:01" }
  - { name: w1, role: node, ip: 10.0.0.11/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:02" }
  - { name: lb1, role: lb, ip: 10.0.0.5/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:03" }
`;

  it('every role: the repository file points at the mount, install.sh mounts by label, first boot imports from file://; kickstart and cloud-init carry the helper', async () => {
    const { cluster } = loadCluster(yaml('iso'), 'c.yaml');
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
    for (const node of ['m1', 'w1', 'lb1']) {
      const plan = planNode(cluster, secrets, node);
      const base = plan.files.find((f) => f.path === '/etc/yum.repos.d/CentOS-Base.repo')!.content;
      assert.match(base, /^\[k8s-image-bundle\]\n(.*\n)*baseurl=file:\/\/\/run\/k8s-image\/bundle\/repo\/$/m, node);
      assert.match(base, /^ +file:\/\/\/run\/k8s-image\/bundle\/keys\/kubernetes-1\.gpg$/m, node);
      const install = plan.files.find((f) => f.path === PATHS.installEnv)!.content;
      assert.match(install, new RegExp(`^BUNDLE_MOUNT=${PATHS.bundleMountScript}\nBUNDLE_LABEL=K8SBUNDLE\nBUNDLE_DIR=/run/k8s-image/bundle$`, 'm'), node);
      const helper = plan.files.find((f) => f.path === PATHS.bundleMountScript)!;
      assert.equal(helper.mode, 0o755);
      assert.equal(helper.content, readFileSync(join(packageRoot, 'node-files/bundle-mount.sh'), 'utf8'));
      const text = (as: { bytes: Uint8Array }[]) => as.map((a) => Buffer.from(a.bytes).toString('utf8')).join('\n');
      for (const t of [text(renderKickstart(plan)), text(renderCloudInit(plan))]) assert.ok(t.includes(PATHS.bundleMountScript), node);
      if (node !== 'lb1') {
        const fb = plan.files.find((f) => f.path === PATHS.firstbootEnv)!.content;
        assert.match(fb, /^BUNDLE_URL=file:\/\/\/run\/k8s-image\/bundle$/m);
        assert.match(fb, /^BUNDLE_MOUNT=\/usr\/local\/lib\/k8s-image\/bundle-mount\.sh$/m);
      }
    }
    const golden = planGolden(cluster, secrets);
    const genv = golden.files.find((f) => f.path === PATHS.goldenEnv)!.content;
    assert.match(genv, new RegExp(`^IMPORT_IMAGES=${PATHS.importImagesScript}$`, 'm'));
    assert.match(genv, /^BUNDLE_URL=file:\/\/\/run\/k8s-image\/bundle$/m);
    assert.ok(golden.files.some((f) => f.path === PATHS.bundleMountScript) && golden.files.some((f) => f.path === PATHS.importImagesScript));
  });

  it('a served bundle has no mount helper; golden imports from the URL; any other word is refused naming both forms', async () => {
    const { cluster } = loadCluster(yaml('http://10.0.0.1:8080/bundle'), 'c.yaml');
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
    const plan = planNode(cluster, secrets, 'm1');
    assert.ok(!plan.files.some((f) => f.path === PATHS.bundleMountScript || ((f.path === PATHS.installEnv || f.path === PATHS.firstbootEnv) && /^BUNDLE_(MOUNT|LABEL|DIR)=/m.test(f.content))));
    assert.match(planGolden(cluster, secrets).files.find((f) => f.path === PATHS.goldenEnv)!.content, /^BUNDLE_URL=http:\/\/10\.0\.0\.1:8080\/bundle$/m);
    const p = configProblems(yaml('cdrom'));
    assert.ok(p.some((x) => /^mirrors\.bundle: "cdrom" is not valid: expected the http\(s\) URL .* or iso: the ISO `k8s-image bundle --iso` wrote/.test(x)), p.join('\n'));
  });
});
