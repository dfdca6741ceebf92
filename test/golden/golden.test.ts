// Golden images, for real: the golden kickstart against the CentOS 7 kickstart grammar and
// shellcheck, the seal in a sandbox root that starts with every piece of identity a clone must not
// inherit, golden.sh's first boot with fake system commands, a clone that skips the install and
// only inits, and Debian's packer validating the template.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/assets.js';
import { defaultClusterYaml, loadCluster } from '../../src/config/index.js';
import { renderGolden, renderPacker } from '../../src/golden/index.js';
import { planGolden, planNode } from '../../src/plan/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { checkKickstart, shellcheck } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { postSections } from '../render/fixtures.js';
import { callsOf, makeSandbox, run, setCounter, type Sandbox } from '../node-files/sandbox.js';

const exec = promisify(execFile);
const cli = join(packageRoot, 'dist/src/cli.js');
const { cluster } = loadCluster(undefined);
let secrets: Secrets;
before(async () => {
  secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: true });
});

const text = (a: { bytes: Uint8Array }) => Buffer.from(a.bytes).toString('utf8');

describe('the golden kickstart', () => {
  it('passes the CentOS 7 grammar and shellcheck, installs what a node needs and holds no secret', async () => {
    const artifacts = renderGolden(cluster, secrets, 1605139200);
    const ks = text(artifacts.find((a) => a.path === 'ks.cfg')!);
    assert.deepEqual(checkKickstart(ks), []);
    for (const s of postSections(ks)) assert.deepEqual(await shellcheck(`#!/bin/bash\n${s.body}`, `golden ${s.header}`), [], s.header);
    assert.match(ks, /^network --bootproto=dhcp --device=link --hostname=k8s-lab-golden --onboot=yes --activate --noipv6$/m);
    for (const p of ['cloud-init', 'cloud-utils-growpart', 'chrony', 'ipvsadm']) assert.match(ks, new RegExp(`^${p}$`, 'm'), p);
    assert.match(ks, /^PACKAGES=".*docker-ce-18\.06\.3\.ce-3\.el7 kubeadm-1\.17\.4-0 kubelet-1\.17\.4-0 kubectl-1\.17\.4-0/m);
    assert.match(ks, /^FIRSTBOOT_UNIT=k8s-image-golden\.service$/m);
    assert.match(ks, /^KUBERNETES_VERSION=1\.17\.4$/m);
    // What every node has is there; what makes a node one in particular is not.
    const paths = planGolden(cluster, secrets).files.map((f) => f.path);
    for (const p of ['/etc/sysctl.d/k8s.conf', '/etc/modules-load.d/k8s.conf', '/etc/docker/daemon.json', '/etc/yum.repos.d/kubernetes.repo', '/usr/local/lib/k8s-image/firstboot.sh', '/usr/local/lib/k8s-image/seal.sh', '/etc/cloud/cloud-init.disabled']) {
      assert.ok(paths.includes(p), p);
      assert.ok(ks.includes(p), `${p} written by the kickstart`);
    }
    for (const p of ['/etc/hosts', '/etc/sysconfig/kubelet', '/etc/k8s-image/kubeadm.yaml', '/etc/k8s-image/firstboot.env', '/etc/k8s-image/ca.crt']) assert.ok(!paths.includes(p), `${p} belongs to a node, not to the image`);
    assert.ok(!paths.some((p) => p.startsWith('/etc/k8s-image/pki')));
    for (const a of artifacts) {
      const t = Buffer.from(a.bytes).toString('latin1');
      assert.ok(!t.includes('PRIVATE KEY') && !t.includes(secrets.bootstrapToken), `${a.path}: no key, no token`);
    }
    // The same runtime files as every node: described once.
    const node = planNode(cluster, secrets, 'node01');
    for (const f of planGolden(cluster, secrets).files.filter((x) => x.path.startsWith('/etc/docker') || x.path.startsWith('/etc/sysctl.d') || x.path.startsWith('/etc/modules-load.d'))) {
      assert.equal(f.content, node.files.find((x) => x.path === f.path)!.content, f.path);
    }
    const iso = join(tempDir('k8s-image-golden-'), 'golden-oemdrv.iso');
    writeFileSync(iso, artifacts.find((a) => a.path === 'golden-oemdrv.iso')!.bytes);
    const blkid = spawnSync(requireTool('blkid'), ['-p', '-o', 'export', iso], { encoding: 'utf8' });
    assert.match(blkid.stdout, /^LABEL=OEMDRV$/m);
  });

  it('k8s-image golden writes the tree; same inputs, same bytes', async () => {
    const base = tempDir('k8s-image-golden-cli-');
    await exec(process.execPath, [cli, 'golden', '-o', 'out'], { cwd: base });
    const first = readFileSync(join(base, 'out/k8s-lab-golden/golden-oemdrv.iso'));
    await exec(process.execPath, [cli, 'golden', '-o', 'out'], { cwd: base, env: { ...process.env, TZ: 'Asia/Shanghai' } });
    assert.deepEqual(readFileSync(join(base, 'out/k8s-lab-golden/golden-oemdrv.iso')), first);
    assert.ok(existsSync(join(base, 'out/k8s-lab-golden/ks.cfg')));
  });
});

// ---------------------------------------------------------------------------------------------

function put(root: string, path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}

/** A root as the golden VM leaves it just before the seal: every identity a clone must not inherit. */
function goldenRoot(sb: Sandbox): string {
  const root = sb.root;
  put(root, 'etc/machine-id', '0123456789abcdef0123456789abcdef\n');
  put(root, 'var/lib/dbus/machine-id', '0123456789abcdef0123456789abcdef\n');
  for (const k of ['rsa', 'ecdsa', 'ed25519']) {
    put(root, `etc/ssh/ssh_host_${k}_key`, 'private\n', 0o600);
    put(root, `etc/ssh/ssh_host_${k}_key.pub`, 'public\n');
  }
  put(root, 'etc/ssh/sshd_config', 'PermitRootLogin yes\n');
  put(root, 'etc/sysconfig/network-scripts/ifcfg-eth0', 'TYPE=Ethernet\nBOOTPROTO=dhcp\nNAME=eth0\nUUID=3f0b9e2c-1d4a-4c55-9f0e-9b1c2a3d4e5f\nDEVICE=eth0\nHWADDR=52:54:00:12:34:56\nONBOOT=yes\n');
  put(root, 'etc/sysconfig/network-scripts/ifcfg-lo', 'DEVICE=lo\nIPADDR=127.0.0.1\n');
  put(root, 'etc/udev/rules.d/70-persistent-net.rules', 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n');
  put(root, 'var/lib/cloud/instance/obj.pkl', 'state');
  put(root, 'var/lib/cloud/instances/iid-golden/sem/config_ssh', 'ran');
  put(root, 'var/lib/cloud/data/instance-id', 'iid-golden\n');
  put(root, 'var/log/cloud-init.log', 'cloud-init ran on the golden VM\n');
  put(root, 'var/log/cloud-init-output.log', 'output\n');
  put(root, 'etc/cloud/cloud-init.disabled', 'golden boot\n');
  put(root, 'etc/cloud/cloud.cfg', 'datasource_list: [ NoCloud, None ]\n');
  put(root, 'root/.bash_history', 'history\n');
  put(root, 'home/admin/.bash_history', 'history\n');
  put(root, 'var/cache/yum/x86_64/7/base/repomd.xml', '<repomd/>');
  put(root, 'var/log/messages', 'boot messages of the golden VM\n');
  put(root, 'var/log/messages-20201112', 'rotated\n');
  put(root, 'var/log/yum.log.1.gz', 'gz');
  put(root, 'var/log/journal/abc/system.journal', 'journal');
  put(root, 'var/log/k8s-image/golden.log', 'golden log\n', 0o600);
  put(root, 'tmp/build-leftover', 'x');
  put(root, 'var/tmp/x', 'x');
  put(root, 'var/lib/k8s-image/reports/00000000000000000001.report', 'x');
  put(root, 'usr/lib/systemd/system/k8s-image-golden.service', '[Unit]\n');
  mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  symlinkSync('/etc/systemd/system/k8s-image-golden.service', join(root, 'etc/systemd/system/multi-user.target.wants/k8s-image-golden.service'));
  const env = planGolden(cluster, secrets).files.find((f) => f.path === '/etc/k8s-image/golden.env')!.content;
  put(root, 'etc/k8s-image/golden.env', env);
  return root;
}

function listAll(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe('seal.sh', () => {
  it('leaves no machine-id, host key, cloud-init state, HWADDR/UUID, log, history, cache or temp file; writes the marker', async (t) => {
    const sb = makeSandbox('init');
    t.after(() => sb.cleanup());
    const root = goldenRoot(sb);
    const r = await run(sb, 'seal.sh', { ROOT: root });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(join(root, 'etc/machine-id'), 'utf8'), '', 'emptied, not removed (systemd fills it at first boot)');
    assert.ok(!existsSync(join(root, 'var/lib/dbus/machine-id')));
    assert.deepEqual(readdirSync(join(root, 'etc/ssh')), ['sshd_config']);
    assert.deepEqual(listAll(join(root, 'var/lib/cloud')), []);
    assert.ok(!existsSync(join(root, 'var/log/cloud-init.log')) && !existsSync(join(root, 'var/log/cloud-init-output.log')));
    assert.ok(!existsSync(join(root, 'etc/cloud/cloud-init.disabled')), 'clones run cloud-init');
    assert.ok(existsSync(join(root, 'etc/cloud/cloud.cfg')));
    assert.equal(readFileSync(join(root, 'etc/sysconfig/network-scripts/ifcfg-eth0'), 'utf8'), 'TYPE=Ethernet\nBOOTPROTO=dhcp\nNAME=eth0\nDEVICE=eth0\nONBOOT=yes\n');
    assert.equal(readFileSync(join(root, 'etc/sysconfig/network-scripts/ifcfg-lo'), 'utf8'), 'DEVICE=lo\nIPADDR=127.0.0.1\n');
    assert.ok(!existsSync(join(root, 'etc/udev/rules.d/70-persistent-net.rules')));
    assert.ok(!existsSync(join(root, 'root/.bash_history')) && !existsSync(join(root, 'home/admin/.bash_history')));
    assert.deepEqual(listAll(join(root, 'var/cache/yum')), []);
    assert.deepEqual(listAll(join(root, 'tmp')), []);
    assert.deepEqual(listAll(join(root, 'var/tmp')), []);
    assert.deepEqual(listAll(join(root, 'var/lib/k8s-image/reports')), []);
    assert.ok(!existsSync(join(root, 'var/log/messages-20201112')) && !existsSync(join(root, 'var/log/yum.log.1.gz')));
    assert.equal(readFileSync(join(root, 'var/log/messages'), 'utf8'), '', 'current logs emptied');
    assert.equal(lstatSync(join(root, 'var/log/k8s-image/golden.log')).mode & 0o777, 0o600, 'modes kept');
    assert.deepEqual(listAll(join(root, 'var/log/journal')), []);
    assert.ok(!existsSync(join(root, 'etc/systemd/system/multi-user.target.wants/k8s-image-golden.service')), 'the golden unit is disabled');
    assert.ok(existsSync(sb.p.installMarker), 'the install marker stays: the image is installed');
    const marker = JSON.parse(readFileSync(join(root, 'etc/k8s-image/golden.json'), 'utf8'));
    assert.equal(marker.cluster, 'k8s-lab');
    assert.equal(marker.kubernetesVersion, '1.17.4');
    assert.equal(marker.runtime, 'docker-18.06.3.ce-3.el7');
    assert.ok(marker.packages.includes('kubeadm-1.17.4-0'));
    assert.match(marker.sealedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('golden.sh, the golden VM\'s first boot', () => {
  function goldenSandbox(): { sb: Sandbox; root: string; env: Record<string, string> } {
    const sb = makeSandbox('init');
    const root = goldenRoot(sb);
    const envFile = join(root, 'etc/k8s-image/golden.env');
    writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}INSTALL_MARKER=${sb.p.installMarker}\nSEAL_SCRIPT=${join(packageRoot, 'node-files/seal.sh')}\nGOLDEN_LOG=${join(root, 'var/log/k8s-image/golden.log')}\nRETRY_PAUSE=0\nRETRIES=2\n`);
    // "systemctl poweroff" is a fake: it logs its call like the others.
    return { sb, root, env: { ROOT: root, K8S_IMAGE_GOLDEN_ENV: envFile, POWEROFF: 'systemctl poweroff' } };
  }

  it('pulls the control-plane images, seals, then powers off', async (t) => {
    const { sb, root, env } = goldenSandbox();
    t.after(() => sb.cleanup());
    const r = await run(sb, 'golden.sh', env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(callsOf(sb, 'systemctl', 'start', 'docker').length, 1);
    assert.deepEqual(callsOf(sb, 'kubeadm', 'config', 'images', 'pull').map((c) => c.slice(1).join(' ')), ['config images pull --kubernetes-version v1.17.4 --image-repository registry.aliyuncs.com/google_containers']);
    assert.ok(existsSync(join(root, 'etc/k8s-image/golden.json')));
    assert.equal(callsOf(sb, 'systemctl', 'poweroff').length, 1);
    assert.ok(r.stdout.indexOf('sealed; powering off') > r.stdout.indexOf('pulled the control-plane images'));
  });

  it('a pull that keeps failing leaves the VM unsealed and running, saying why', async (t) => {
    const { sb, root, env } = goldenSandbox();
    t.after(() => sb.cleanup());
    setCounter(sb, 'pull-fails', 5);
    const r = await run(sb, 'golden.sh', env);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /the image pull failed 2 times .*the image is not sealed/);
    assert.ok(!existsSync(join(root, 'etc/k8s-image/golden.json')));
    assert.ok(existsSync(join(root, 'etc/ssh/ssh_host_rsa_key')));
    assert.equal(callsOf(sb, 'systemctl', 'poweroff').length, 0);
  });

  it('a clone: the install finds every package in the image (no yum), and first boot only inits', async (t) => {
    const { sb, env } = goldenSandbox();
    t.after(() => sb.cleanup());
    const packages = readFileSync(join(sb.root, 'etc/k8s-image/golden.env'), 'utf8').match(/^PACKAGES="(.*)"$/m)![1]!.split(' ');
    // What the golden install left in the rpm database.
    writeFileSync(join(sb.fake, 'rpmdb'), `${packages.join('\n')}\n`);
    assert.equal((await run(sb, 'seal.sh', { ROOT: env.ROOT! })).code, 0);
    // The clone's own seed (cidata: cloud-init runs install.sh --live) names the same packages.
    writeFileSync(sb.p.installEnv, [`PACKAGES="${packages.join(' ')}"`, 'FIRSTBOOT_UNIT=k8s-image-firstboot.service', `INSTALL_MARKER=${sb.p.installMarker}`, `FSTAB=${join(sb.root, 'fstab')}`, `SELINUX_CONFIG=${join(sb.root, 'selinux')}`, ''].join('\n'));
    const install = await run(sb, 'install.sh', {}, 20000, ['--live']);
    assert.equal(install.code, 0, install.stdout);
    assert.match(install.stdout, /packages already installed \(a golden image/);
    const fb = await run(sb, 'firstboot.sh');
    assert.equal(fb.code, 0, fb.stdout);
    assert.equal(callsOf(sb, 'yum').filter((c) => c[1] === 'install').length, 0, 'nothing installed again');
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 1);
    assert.match(fb.stdout, /firstboot\[install\]: install finished/);
  });
});

describe('the Packer template', () => {
  const vars = ['-var', 'iso_checksum=sha256:07b94e6b1a0b0260b94c83d6bb76b26bf7a310dc78d7a9c7432809fb9bc6194a', '-var', 'vcenter_server=vcenter.example.com', '-var', 'vcenter_username=packer@vsphere.local', '-var', 'vcenter_password=secret', '-var', 'vcenter_datacenter=dc1', '-var', 'vcenter_cluster=cluster1', '-var', 'vcenter_datastore=ds1', '-var', 'vcenter_iso_path=[ds1] iso/CentOS-7-x86_64-DVD-2009.iso'];

  function tree(template?: (t: any) => void): string {
    const dir = tempDir('k8s-image-packer-');
    for (const a of renderPacker(cluster, secrets)) {
      mkdirSync(dirname(join(dir, a.path)), { recursive: true });
      let bytes: Uint8Array | string = a.bytes;
      if (template && a.path === 'golden.json') {
        const t = JSON.parse(text(a));
        template(t);
        bytes = JSON.stringify(t);
      }
      writeFileSync(join(dir, a.path), bytes);
    }
    return dir;
  }

  it('packer validate accepts it; without the DVD checksum or vCenter it says what is missing; a misspelt key is refused', () => {
    const packer = requireTool('packer');
    const dir = tree();
    const ok = spawnSync(packer, ['validate', ...vars, 'golden.json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const bare = spawnSync(packer, ['validate', 'golden.json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    assert.notEqual(bare.status, 0);
    assert.match(bare.stdout + bare.stderr, /checksum must be specified/);
    assert.match(bare.stdout + bare.stderr, /'vcenter_server' is required/);
    const typo = tree((t) => (t.builders[0].boot_comand = t.builders[0].boot_command));
    const bad = spawnSync(packer, ['validate', ...vars, 'golden.json'], { cwd: typo, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    assert.notEqual(bad.status, 0, 'the check can fail');
    assert.match(bad.stdout + bad.stderr, /boot_comand/);
  });

  it('every command `k8s-image packer` prints runs as printed: each validate line passes with Debian\'s packer, from a path with a space; the plugins current Packer needs are named', async () => {
    const packer = requireTool('packer');
    const base = tempDir('k8s-image-packer-cli-');
    const stdout: string = (await exec(process.execPath, [cli, 'packer', '-o', join(base, "it's here")], { cwd: base, encoding: 'utf8' })).stdout;
    const lines = stdout.split('\n');
    const cd = lines.find((l) => l.startsWith('  cd '));
    assert.ok(cd, stdout);
    const validates = lines.filter((l) => l.startsWith('  packer validate '));
    assert.deepEqual(validates.map((l) => /-only=(\w+)/.exec(l)?.[1]), ['qemu', 'vsphere'], 'one validate per builder, each with only what that builder needs');
    for (const v of validates) {
      // As a user pastes them: the cd line, then the validate line, through a shell.
      const script: string = `${cd!.trim()} && ${v.trim()}`;
      const r: { status: number | null; stdout: string; stderr: string } = spawnSync('sh', ['-c', script], { cwd: base, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1', PATH: `${dirname(packer)}:${process.env.PATH}` } });
      assert.equal(r.status, 0, `${v.trim()}: ${r.stdout}${r.stderr}`);
    }
    // Packer 1.10+ ships no builders; a JSON template cannot be `packer init`ed: the exact install commands.
    assert.ok(lines.includes('  packer plugins install github.com/hashicorp/qemu'), stdout);
    assert.ok(lines.includes('  packer plugins install github.com/hashicorp/vsphere'), stdout);
    assert.match(stdout, /packer build -only=qemu .*-var iso_checksum=file:https:\/\/vault\.centos\.org\/7\.9\.2009\/isos\/x86_64\/sha256sum\.txt golden\.json/);
    assert.doesNotMatch(stdout, /[<>]/, 'nothing the shell would take for a redirection');
  });

  it('refuses a golden image whose files carry a proxy password (Packer would serve them to anyone)', () => {
    const withProxy = loadCluster(`${defaultClusterYaml()}\nproxy:\n  http: http://alice:s3cret@proxy.example.com:3128\n`).cluster;
    assert.throws(() => renderPacker(withProxy, secrets), /secret files \(.*: a proxy or mirror password\).*Use k8s-image golden and its OEMDRV ISO/);
    // The OEMDRV path carries them as 0600 seed files, never in ks.cfg.
    const golden = renderGolden(withProxy, secrets, 0);
    assert.ok(!text(golden.find((a) => a.path === 'ks.cfg')!).includes('s3cret'));
    assert.ok(golden.some((a) => a.path.startsWith('oemdrv/k8s-image/') && a.secret && text(a).includes('s3cret')));
    assert.equal(golden.find((a) => a.path === 'golden-oemdrv.iso')!.mode, 0o600);
  });

  it('boots the DVD with the kickstart Packer serves, waits for the sealed VM to power off, and its kickstart is the golden one', () => {
    const dir = tree();
    const t = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    assert.deepEqual(t.builders.map((b: any) => b.type), ['qemu', 'vsphere-iso']);
    for (const b of t.builders) {
      assert.equal(b.communicator, 'none');
      assert.equal(b.http_directory, 'http');
      assert.match(b.boot_command.join(''), /inst\.ks=http:\/\/\{\{ \.HTTPIP \}\}:\{\{ \.HTTPPort \}\}\/ks\.cfg<enter>/);
    }
    assert.equal(t.builders[0].iso_checksum, '{{user `iso_checksum`}}');
    assert.equal(t.builders[1].convert_to_template, true);
    assert.deepEqual(t['sensitive-variables'], ['vcenter_password']);
    const ks = readFileSync(join(dir, 'http/ks.cfg'), 'utf8');
    assert.equal(ks, text(renderGolden(cluster, secrets, 0).find((a) => a.path === 'ks.cfg')!));
    assert.match(ks, /^cdrom$/m);
  });
});
