/**
 * The CentOS 7 end-of-life kit in the version table: os.kernel lt (ELRepo's kernel-lt) unlocks exactly
 * 1.32 to 1.37 without cluster.allowUnsupportedVersion, says what it turns off (nothing skipped
 * silently), gives the 1.35+ kubelet failCgroupV1: false, and refuses every minor past 1.37 however it
 * is asked. Expected values are written out here, not read back from src/versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { defaultClusterYaml, loadCluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { kubeadmConfigProblems } from '../helpers/readers.js';
import { configProblems } from '../helpers/config.js';

const ADDITIONS = JSON.parse(readFileSync(new URL('../../../test/reference/kubelet-v1beta1-additions.json', import.meta.url), 'utf8'));

let secretsPromise: Promise<Secrets> | undefined;
const secrets = () => (secretsPromise ??= generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false }));

const MIRROR = 'https://mirror.example.com/elrepo/kernel/el7/x86_64';
function lab(version: string, mutate: (d: any) => void = () => undefined): string {
  const d = yaml.load(defaultClusterYaml()) as any;
  d.cluster.kubernetesVersion = version;
  delete d.cluster.runtime;
  mutate(d);
  return yaml.dump(d);
}
const lt = (d: any) => {
  d.os.kernel = 'lt';
  d.mirrors.elrepo = MIRROR;
};

const KIT = (v: string, cgroup: boolean) =>
  `cluster.kubernetesVersion: ${v} runs on ELRepo's kernel-lt 5.4.278-1.el7.elrepo (os.kernel: lt), with cgroup v1 only: CentOS 7's systemd 219 cannot run cgroup v2` +
  (cgroup ? '; the kubelet is given failCgroupV1: false and kubeadm is told to ignore its SystemVerification preflight error (cgroup v1)' : '') +
  '; containerd stays on the 1.6 line (the last el7 RPMs), which reports no cgroup driver to the kubelet: a kubelet that requires one will not start';

test('os.kernel lt: 1.32 to 1.37 render, each with its warning; the kubeadm config fits that kubeadm', async () => {
  // The patch releases the table records (1.32.13, 1.35.9) and one it does not know (1.33-1.34, 1.36-1.37: any patch, with a warning).
  const cases: [string, boolean, string[]][] = [
    ['1.32.13', false, []],
    ['1.33.2', false, ['cluster.kubernetesVersion: "1.33.2": k8s-image does not know the patch releases of 1.33; make sure your mirror carries kubeadm-1.33.2']],
    ['1.34.1', false, ['cluster.kubernetesVersion: "1.34.1": k8s-image does not know the patch releases of 1.34; make sure your mirror carries kubeadm-1.34.1']],
    ['1.35.9', true, []],
    ['1.36.0', true, ['cluster.kubernetesVersion: "1.36.0": k8s-image does not know the patch releases of 1.36; make sure your mirror carries kubeadm-1.36.0']],
    ['1.37.3', true, ['cluster.kubernetesVersion: "1.37.3": k8s-image does not know the patch releases of 1.37; make sure your mirror carries kubeadm-1.37.3']],
  ];
  for (const [v, cgroupV1Opt, patchWarning] of cases) {
    const loaded = loadCluster(lab(v, lt), 'lt.yaml');
    assert.deepEqual(loaded.warnings, [...patchWarning, KIT(v, cgroupV1Opt)], v);
    const { cluster } = loaded;
    assert.deepEqual(cluster.os.kernel, { kind: 'lt', version: '5.4.278-1.el7.elrepo' });
    assert.equal(cluster.runtime.kind, 'containerd');
    const master = planNode(cluster, await secrets(), 'master');
    const text = master.files.find((f) => f.path === '/etc/k8s-image/kubeadm.yaml')!.content;
    // kubeadm-api.json knows KubeletConfiguration up to 1.22; failCgroupV1 (1.31+) is checked against
    // kubelet-v1beta1-additions.json instead.
    const added = ADDITIONS.KubeletConfiguration.failCgroupV1;
    const minor = Number(v.split('.')[1]);
    assert.deepEqual(kubeadmConfigProblems(text, v).filter((p) => !(minor >= Number(added.since.split('.')[1]) && p === 'doc 3 (KubeletConfiguration): unknown key failCgroupV1 for kubelet.config.k8s.io/v1beta1')), [], v);
    const docs = yaml.loadAll(text) as any[];
    assert.equal(docs[0].apiVersion, 'kubeadm.k8s.io/v1beta4', v);
    assert.deepEqual(docs[0].nodeRegistration.ignorePreflightErrors, cgroupV1Opt ? ['SystemVerification'] : undefined, v);
    assert.equal(docs.find((d) => d.kind === 'KubeletConfiguration').failCgroupV1, cgroupV1Opt ? false : undefined, v);
    // A worker joins with the same preflight.
    const join = yaml.loadAll(planNode(cluster, await secrets(), 'node01').files.find((f) => f.path === '/etc/k8s-image/kubeadm.yaml')!.content) as any[];
    assert.deepEqual(join[0].nodeRegistration.ignorePreflightErrors, cgroupV1Opt ? ['SystemVerification'] : undefined, `${v} join`);
    assert.ok(master.files.some((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo'), v);
  }
});

test('without os.kernel lt, 1.32 to 1.37 are refused (or rendered with allowUnsupportedVersion, as before)', () => {
  for (const v of ['1.32.13', '1.33.2', '1.34.1']) {
    assert.deepEqual(problems(v), [
      `cluster.kubernetesVersion: "${v}" is not supported on CentOS 7's own kernel: kubeadm 1.32+ fails its SystemVerification preflight on CentOS 7's 3.10 kernel (it takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10); set os.kernel: lt (ELRepo's kernel-lt, with mirrors.elrepo) to run 1.32-1.37, use 1.31.x or older, or set cluster.allowUnsupportedVersion: true to render it anyway`,
    ], v);
  }
  for (const v of ['1.35.9', '1.36.0', '1.37.3']) {
    assert.deepEqual(problems(v), [
      `cluster.kubernetesVersion: "${v}" is not supported on CentOS 7's own kernel: kubeadm 1.32+ fails its SystemVerification preflight on CentOS 7's 3.10 kernel (it takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10) and the 1.35+ kubelet refuses cgroup v1; set os.kernel: lt (ELRepo's kernel-lt, with mirrors.elrepo) to run 1.32-1.37, use 1.31.x or older, or set cluster.allowUnsupportedVersion: true to render it anyway`,
    ], v);
  }
});

function problems(v: string, mutate: (d: any) => void = () => undefined): string[] {
  // The unknown-patch warnings are not errors; only errors are compared.
  return configProblems(lab(v, mutate));
}

test('past the table: 1.38 and later stay refused, with os.kernel lt and allowUnsupportedVersion too', () => {
  for (const v of ['1.38.0', '1.40.1']) {
    assert.deepEqual(
      problems(v, (d) => {
        lt(d);
        d.cluster.allowUnsupportedVersion = true;
      }),
      [`cluster.kubernetesVersion: "${v}" is not supported: k8s-image supports 1.15.x to 1.31.x on CentOS 7 (to 1.37.x with os.kernel: lt) and knows no release after 1.37 (run \`k8s-image versions\`)`],
      v,
    );
  }
});

test('os.kernel lt needs mirrors.elrepo and an ELRepo EL7 build; kernelVersion without lt is refused', () => {
  assert.deepEqual(problems('1.33.2', (d) => (d.os.kernel = 'lt')), [
    'mirrors.elrepo: missing: os.kernel: lt installs kernel-lt from ELRepo, which archived EL7 in 2024, so no preset knows a mirror; set it to the directory of your ELRepo EL7 kernel mirror that holds repodata/ and kernel-lt-*.rpm (like https://mirror.example.com/elrepo/kernel/el7/x86_64); yum takes ELRepo\'s key from RPM-GPG-KEY-elrepo.org in that directory unless mirrors.elrepoKey says where it is',
  ]);
  assert.deepEqual(problems('1.33.2', (d) => { lt(d); d.os.kernelVersion = '5.4.278-1.el8.elrepo'; }), [
    'os.kernelVersion: "5.4.278-1.el8.elrepo" is not valid: expected an ELRepo EL7 kernel-lt version-release like 5.4.278-1.el7.elrepo (ending in .el7.elrepo; no epoch \"1:\", no kernel-lt- prefix, no .x86_64: it names /boot/vmlinuz-<version>.x86_64)',
  ]);
  // An epoch would render /boot/vmlinuz-1:5.4.278-1.el7.elrepo.x86_64, a file no package installs.
  for (const v of ['1:5.4.278-1.el7.elrepo', 'kernel-lt-5.4.278-1.el7.elrepo', '5.4.278-1.el7.elrepo.x86_64', '5.4.278.el7.elrepo']) {
    assert.deepEqual(problems('1.33.2', (d) => { lt(d); d.os.kernelVersion = v; }), [`os.kernelVersion: "${v}" is not valid: expected an ELRepo EL7 kernel-lt version-release like 5.4.278-1.el7.elrepo (ending in .el7.elrepo; no epoch \"1:\", no kernel-lt- prefix, no .x86_64: it names /boot/vmlinuz-<version>.x86_64)`], v);
  }
  assert.deepEqual(problems('1.31.14', (d) => (d.os.kernelVersion = '5.4.278-1.el7.elrepo')), [
    'os.kernelVersion: "5.4.278-1.el7.elrepo" is set but os.kernel is not lt; set os.kernel: lt to install ELRepo\'s kernel-lt, or remove os.kernelVersion',
  ]);
  assert.deepEqual(problems('1.33.2', (d) => { lt(d); d.os.kernelVersion = '5.4.278-1.el7.elrepo; reboot'; }), [
    'os.kernelVersion: "5.4.278-1.el7.elrepo; reboot" is not valid: expected an ELRepo EL7 kernel-lt version-release like 5.4.278-1.el7.elrepo (ending in .el7.elrepo; no epoch \"1:\", no kernel-lt- prefix, no .x86_64: it names /boot/vmlinuz-<version>.x86_64)',
  ]);
  // kubeadm 1.32+'s kernel check (test/reference/kubeadm-kernel.json): ELRepo's 4.4 line fails it, under
  // either system-validators list; the 5.4 line passes both. From 1.32 a 4.4.x pin is refused; before, taken.
  const ref = JSON.parse(readFileSync(new URL('../../../test/reference/kubeadm-kernel.json', import.meta.url), 'utf8'));
  const accepts = (list: string[], release: string) => list.some((re) => new RegExp(re).test(release));
  for (const line of ref.elrepoKernelLtLinesEl7 as string[]) {
    const release = `${line}.999-1.el7.elrepo.x86_64`;
    const passes = Object.values(ref.kernelVersions as Record<string, string[]>).every((list) => accepts(list, release));
    const pin = `${line}.248-1.el7.elrepo`;
    for (const v of ['1.32.13', '1.34.1', '1.37.3']) {
      if (passes) assert.ok(loadCluster(lab(v, (d) => { lt(d); d.os.kernelVersion = pin; })).cluster, v);
      else {
        assert.deepEqual(problems(v, (d) => { lt(d); d.os.kernelVersion = pin; }), [
          `os.kernelVersion: "${pin}" is not a 5.4.x kernel-lt, and kubeadm ${v} fails its SystemVerification preflight on it (kubeadm 1.32+ takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10; ELRepo's EL7 kernel-lt lines are 4.4 and 5.4); pin a 5.4.x build like 5.4.278-1.el7.elrepo, or remove os.kernelVersion`,
        ], v);
      }
    }
  }
  assert.ok(!Object.values(ref.kernelVersions as Record<string, string[]>).every((list) => accepts(list, '4.4.248-1.el7.elrepo.x86_64')), 'the reference refuses 4.4');
  assert.deepEqual(loadCluster(lab('1.31.14', (d) => { lt(d); d.os.kernelVersion = '4.4.248-1.el7.elrepo'; })).cluster.os.kernel, { kind: 'lt', version: '4.4.248-1.el7.elrepo' });
  // A pinned older build is taken as given.
  const c = loadCluster(lab('1.31.14', (d) => { lt(d); d.os.kernelVersion = '5.4.270-1.el7.elrepo'; })).cluster;
  assert.deepEqual(c.os.kernel, { kind: 'lt', version: '5.4.270-1.el7.elrepo' });
  // docker is still gone in 1.24+ with any kernel.
  assert.deepEqual(problems('1.33.2', (d) => { lt(d); d.cluster.runtime = { kind: 'docker' }; }), [
    'cluster.runtime.kind: "docker" cannot run Kubernetes 1.33.2: dockershim was removed in 1.24; set cluster.runtime.kind: containerd (or use Kubernetes 1.23.x or older)',
  ]);
});
