/**
 * The boot entries install.sh sets from the plan (src/plan/kernel.ts), run for real in the sandbox
 * against the grubby 8.28 stand-in (fake-command.sh) and a CentOS 7 grub.cfg, grubenv,
 * /etc/default/grub and /etc/sysconfig/kernel: os.kernel lt makes ELRepo's kernel-lt the default entry
 * (and stays so for its updates), Kubernetes before 1.21 boots with cgroup.memory=nokmem, a running
 * system that booted otherwise reboots before first boot, and a missing entry fails loudly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { defaultClusterYaml, haClusterYaml, loadCluster, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, PATHS, type NodePlan } from '../../src/plan/index.js';
import { DEFAULT_KERNEL_LT } from '../../src/versions/index.js';
import { configProblems } from '../helpers/config.js';
import { STOCK_KERNEL, callsOf, grubCfg, kernelTitle, makeSandbox, run, type Sandbox } from './sandbox.js';

const LT = `${DEFAULT_KERNEL_LT}.x86_64`;

let secretsPromise: Promise<Secrets> | undefined;
const secrets = () => (secretsPromise ??= generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false }));

function lab(mutate: (d: any) => void): Cluster {
  const d = yaml.load(defaultClusterYaml()) as any;
  mutate(d);
  return loadCluster(yaml.dump(d), 'kernel-test.yaml').cluster;
}

const ltCluster = () =>
  lab((d) => {
    d.cluster.kubernetesVersion = '1.33.1';
    delete d.cluster.runtime;
    d.os.kernel = 'lt';
    d.mirrors.elrepo = 'https://mirror.example.com/elrepo/kernel/el7/x86_64';
  });

async function masterPlan(cluster: Cluster): Promise<NodePlan> {
  return planNode(cluster, await secrets(), cluster.nodes.find((n) => n.role === 'master')!.name);
}

/** A sandbox holding the plan's install.env (its packages "installed" by the fake yum), the grub.cfg given. */
function installSandbox(plan: NodePlan, kernels: string[], saved = STOCK_KERNEL): Sandbox {
  const sb = makeSandbox('init');
  rmSync(sb.p.installMarker);
  const env = plan.files.find((f) => f.path === PATHS.installEnv)!.content;
  writeFileSync(join(sb.root, 'etc/fstab'), '/dev/mapper/centos-root / xfs defaults 0 0\n');
  writeFileSync(join(sb.root, 'etc/selinux-config'), 'SELINUX=enforcing\n');
  writeFileSync(
    sb.p.installEnv,
    `${env}# sandbox paths\nFSTAB=${join(sb.root, 'etc/fstab')}\nSELINUX_CONFIG=${join(sb.root, 'etc/selinux-config')}\nINSTALL_LOG=${join(sb.root, 'install.log')}\nINSTALL_MARKER=${sb.p.installMarker}\nYUM_RETRIES=1\nYUM_BACKOFF=0\n`,
  );
  writeFileSync(join(sb.fake, 'grub.cfg'), grubCfg(kernels));
  writeFileSync(join(sb.fake, 'grubenv'), `# GRUB Environment Block\nsaved_entry=${kernelTitle(saved)}\n`);
  return sb;
}

const read = (sb: Sandbox, f: string) => readFileSync(join(sb.fake, f), 'utf8');
const linuxLines = (sb: Sandbox) => read(sb, 'grub.cfg').split('\n').filter((l) => /^\tlinux16 /.test(l));
const install = (sb: Sandbox, args: string[] = [], env: Record<string, string> = {}) => run(sb, 'install.sh', { FAKE_IP_ADDRS: '192.168.108.100', ...env }, 15000, args);

test('the plan: kernel-lt pinned from mirrors.elrepo, its entry the default; nokmem only before 1.21', async () => {
  const lt = await masterPlan(ltCluster());
  assert.deepEqual(lt.boot, { args: [], defaultKernel: { package: 'kernel-lt', image: `/boot/vmlinuz-${LT}` } });
  const env = lt.files.find((f) => f.path === PATHS.installEnv)!.content;
  assert.match(env, new RegExp(`^PACKAGES=".* kernel-lt-${DEFAULT_KERNEL_LT.replaceAll('.', '\\.')}[ "]`, 'm'));
  assert.match(env, /^DISABLE_EXCLUDES=kubernetes,docker-ce-stable,elrepo-kernel$/m);
  assert.match(env, new RegExp(`^DEFAULT_KERNEL=/boot/vmlinuz-${LT.replaceAll('.', '\\.')}$`, 'm'));
  const repo = lt.files.find((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo')!.content;
  assert.match(repo, /^baseurl=https:\/\/mirror\.example\.com\/elrepo\/kernel\/el7\/x86_64\/$/m);
  assert.match(repo, /^exclude=kernel-lt\*$/m, 'yum update never moves the pinned kernel');
  assert.match(repo, /^gpgcheck=1$/m);
  // mirrors.elrepo exists because only a mirror is reachable: the key comes from the mirror too, never www.elrepo.org.
  assert.match(repo, /^gpgkey=https:\/\/mirror\.example\.com\/elrepo\/kernel\/el7\/x86_64\/RPM-GPG-KEY-elrepo\.org$/m);
  assert.doesNotMatch(repo, /www\.elrepo\.org/);
  // An lb node runs no kubelet: stock kernel, no arguments.
  const ha = loadCluster(haClusterYaml(), 'ha.yaml').cluster;
  const haSecrets = await generateSecrets({ cluster: ha.name, generateRootPassword: false });
  assert.deepEqual(planNode(ha, haSecrets, 'lb').boot, { args: [] });
  assert.deepEqual(planNode(ha, haSecrets, 'worker1').boot, { args: ['cgroup.memory=nokmem'] });
  for (const [version, args] of [['1.20.15', ['cgroup.memory=nokmem']], ['1.21.14', []], ['1.31.14', []]] as const) {
    const c = lab((d) => {
      d.cluster.kubernetesVersion = version;
      delete d.cluster.runtime;
    });
    assert.deepEqual((await masterPlan(c)).boot.args, args, version);
  }
});

test('mirrors.elrepoKey: yum takes the key from where it says; a URL that is not one is refused', async () => {
  const keyed = lab((d) => {
    d.cluster.kubernetesVersion = '1.33.1';
    delete d.cluster.runtime;
    d.os.kernel = 'lt';
    d.mirrors.elrepo = 'https://mirror.example.com/elrepo/kernel/el7/x86_64/';
    d.mirrors.elrepoKey = 'http://keys.example.com/elrepo/RPM-GPG-KEY-elrepo.org';
  });
  const repo = (await masterPlan(keyed)).files.find((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo')!.content;
  assert.match(repo, /^gpgkey=http:\/\/keys\.example\.com\/elrepo\/RPM-GPG-KEY-elrepo\.org$/m);
  const bad = yaml.load(defaultClusterYaml()) as any;
  bad.cluster.kubernetesVersion = '1.33.1';
  delete bad.cluster.runtime;
  bad.os.kernel = 'lt';
  bad.mirrors.elrepo = 'https://mirror.example.com/elrepo/kernel/el7/x86_64';
  bad.mirrors.elrepoKey = 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-elrepo.org';
  assert.deepEqual(configProblems(yaml.dump(bad)), [
    'mirrors.elrepoKey: "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-elrepo.org" is not valid: expected an http(s) URL like https://mirrors.example.com/path or http://user:password@proxy:3128 (no spaces, quotes, query or $; other characters in a password as %XX)',
  ]);
  // Without os.kernel lt it does nothing, and says so.
  const stock = yaml.load(defaultClusterYaml()) as any;
  stock.mirrors.elrepoKey = 'https://keys.example.com/RPM-GPG-KEY-elrepo.org';
  assert.deepEqual(loadCluster(yaml.dump(stock), 'k.yaml').warnings, ['mirrors.elrepoKey: set without os.kernel: lt; it has no effect']);
});

test('os.kernel lt in the installer: kernel-lt becomes the saved default entry, and stays so for its updates', async () => {
  const plan = await masterPlan(ltCluster());
  // new-kernel-pkg put kernel-lt's entry first, but the default stayed the stock kernel (DEFAULTKERNEL=kernel).
  const sb = installSandbox(plan, [LT, STOCK_KERNEL]);
  try {
    const before = await run(sb, 'install.sh', {}, 15000);
    assert.equal(before.code, 0, before.stdout + before.stderr);
    assert.equal(read(sb, 'grubenv'), `# GRUB Environment Block\nsaved_entry=${kernelTitle(LT)}\n`);
    assert.match(read(sb, 'default-grub'), /^GRUB_DEFAULT=saved$/m);
    assert.match(read(sb, 'sysconfig-kernel'), /^DEFAULTKERNEL=kernel-lt$/m);
    assert.match(read(sb, 'sysconfig-kernel'), /^UPDATEDEFAULT=yes$/m);
    assert.deepEqual(callsOf(sb, 'grubby', `--set-default=/boot/vmlinuz-${LT}`).length, 1);
    assert.ok(existsSync(sb.p.installMarker));
    // The installer reboots by itself: nothing is started or rebooted from here.
    assert.equal(callsOf(sb, 'systemctl', '--no-block', 'reboot').length, 0);
    // Again (first boot resuming an install): same result.
    const again = await run(sb, 'install.sh', {}, 15000);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(read(sb, 'sysconfig-kernel').match(/^DEFAULTKERNEL=/gm)!.length, 1);
  } finally {
    sb.cleanup();
  }
});

test('os.kernel lt without a kernel-lt entry: grubby says nothing, the read-back fails the install', async () => {
  const plan = await masterPlan(ltCluster());
  const sb = installSandbox(plan, [STOCK_KERNEL]);
  try {
    const r = await run(sb, 'install.sh', {}, 15000);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, new RegExp(`ERROR: the default boot entry is '/boot/vmlinuz-${STOCK_KERNEL.replaceAll('.', '\\.')}', not /boot/vmlinuz-${LT.replaceAll('.', '\\.')}: is the kernel-lt package installed`));
    assert.equal(read(sb, 'grubenv'), `# GRUB Environment Block\nsaved_entry=${kernelTitle(STOCK_KERNEL)}\n`, 'the stand-in, like grubby 8.28, left saved_entry alone');
    assert.ok(!existsSync(sb.p.installMarker));
  } finally {
    sb.cleanup();
  }
});

test('Kubernetes before 1.21: cgroup.memory=nokmem on every entry and in GRUB_CMDLINE_LINUX, once however often it runs', async () => {
  const plan = await masterPlan(lab(() => undefined));
  assert.deepEqual(plan.boot.args, ['cgroup.memory=nokmem']);
  const sb = installSandbox(plan, [STOCK_KERNEL, '3.10.0-1127.el7.x86_64']);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await run(sb, 'install.sh', {}, 15000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const lines = linuxLines(sb);
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(l.split(' ').filter((w) => w === 'cgroup.memory=nokmem').length, 1, l);
    assert.match(read(sb, 'default-grub'), /^GRUB_CMDLINE_LINUX="crashkernel=auto rd\.lvm\.lv=centos\/root rhgb quiet cgroup\.memory=nokmem"$/m);
    // The default entry is left as it was (no os.kernel lt).
    assert.equal(read(sb, 'grubenv'), `# GRUB Environment Block\nsaved_entry=${kernelTitle(STOCK_KERNEL)}\n`);
    assert.match(read(sb, 'sysconfig-kernel'), /^DEFAULTKERNEL=kernel$/m);
  } finally {
    sb.cleanup();
  }
});

test('a running system (cloud-init) that booted another kernel or without the arguments reboots, and does not return to first boot meanwhile', async () => {
  const plan = await masterPlan(ltCluster());
  const sb = installSandbox(plan, [LT, STOCK_KERNEL]);
  try {
    // The fake systemctl does not reboot: install.sh waits REBOOT_WAIT for it, then fails loudly.
    const t0 = Date.now();
    const r = await install(sb, ['--live'], { REBOOT_WAIT: '1' });
    assert.ok(Date.now() - t0 >= 1000, 'it waited for the reboot');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`rebooting: this boot runs kernel ${STOCK_KERNEL.replaceAll('.', '\\.')}, not /boot/vmlinuz-`));
    assert.match(r.stdout, /ERROR: no reboot within 1s of asking for it \(runs kernel /);
    assert.equal(callsOf(sb, 'systemctl', '--no-block', 'reboot').length, 1);
    assert.equal(callsOf(sb, 'systemctl', 'start', '--no-block', PATHS.firstbootUnit).length, 0, 'first boot waits for the new kernel');
    assert.ok(existsSync(sb.p.installMarker), 'the install itself is done');
    assert.ok(callsOf(sb, 'systemctl', 'enable', PATHS.firstbootUnit).length, 'first boot runs after the reboot');

    // After the reboot, on kernel-lt: first boot goes on.
    const after = await install(sb, ['--live'], { KERNEL_RELEASE: LT });
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.equal(callsOf(sb, 'systemctl', '--no-block', 'reboot').length, 1, 'no second reboot');
    assert.equal(callsOf(sb, 'systemctl', 'start', '--no-block', PATHS.firstbootUnit).length, 1);
  } finally {
    sb.cleanup();
  }

  const old = await masterPlan(lab(() => undefined));
  const sb2 = installSandbox(old, [STOCK_KERNEL]);
  try {
    const r = await install(sb2, ['--live'], { REBOOT_WAIT: '0' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /rebooting: this boot booted without cgroup\.memory=nokmem/);
    assert.equal(callsOf(sb2, 'systemctl', 'start', '--no-block', PATHS.firstbootUnit).length, 0);
  } finally {
    sb2.cleanup();
  }
});
