/**
 * The version matrix end to end: for each Kubernetes release the seeds and users need, load a cluster,
 * plan the init master and check what lands on it (kubeadm apiVersion, CRI socket, yum repo, pinned
 * package versions, containerd config parsed as TOML by a real reader) — and that every combination
 * the table refuses is refused with its exact reason and fix.
 *
 * Expected values are written out here, not read back from src/versions: the test is the second opinion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, type NodePlan } from '../../src/plan/index.js';
import { kubeadmConfigProblems } from '../helpers/readers.js';
import { configProblems } from '../helpers/config.js';
import { tempDir } from '../helpers/tmp.js';

// RSA key generation is slow: one set of secrets for the whole file (every config keeps the lab's name).
let secretsPromise: Promise<Secrets> | undefined;
function secrets(): Promise<Secrets> {
  secretsPromise ??= generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false, now: new Date('2026-01-01T00:00:00Z') });
  return secretsPromise;
}

/** The lab with a patch applied to its parsed YAML. */
function lab(mutate: (doc: any) => void): string {
  const doc = yaml.load(defaultClusterYaml()) as any;
  mutate(doc);
  return yaml.dump(doc);
}

function withVersion(version: string, runtime?: { kind?: string; version?: string; allowUntestedVersion?: boolean }, extra?: (doc: any) => void): string {
  return lab((d) => {
    d.cluster.kubernetesVersion = version;
    if (runtime) d.cluster.runtime = runtime;
    else delete d.cluster.runtime;
    extra?.(d);
  });
}

const problems = configProblems;

function fileOf(plan: NodePlan, path: string): string {
  const f = plan.files.find((x) => x.path === path);
  assert.ok(f, `${path} is not in the plan (files: ${plan.files.map((x) => x.path).join(', ')})`);
  return f.content;
}

function envVar(text: string, name: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`${name}=`));
  assert.ok(line, `${name}= missing from:\n${text}`);
  return line.slice(name.length + 1).replace(/^"|"$/g, '');
}

const RUNTIME_AND_KUBE = /^(docker-ce|docker-ce-cli|containerd\.io|kubeadm|kubelet|kubectl|kubernetes-cni|cri-tools)(-[0-9].*)?$/;

/** Parse TOML with Debian's python3-toml (the pyenv `python3` on PATH cannot import it), from a neutral cwd. */
function parseToml(text: string): any {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) throw new Error('/usr/bin/python3 is not installed: install the Debian packages python3 and python3-toml');
  const cwd = tempDir('k8s-image-toml-');
  try {
    const out = execFileSync(py, ['-c', 'import json, sys, toml; json.dump(toml.loads(sys.stdin.read()), sys.stdout)'], { input: text, cwd, encoding: 'utf8' });
    return JSON.parse(out);
  } catch (e) {
    const err = e as { stderr?: string };
    if (err.stderr?.includes("No module named 'toml'")) throw new Error('python3-toml is not installed: apt-get install python3-toml');
    throw new Error(`TOML did not parse:\n${text}\n${err.stderr ?? String(e)}`);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

interface Case {
  version: string;
  runtime: 'docker' | 'containerd';
  api: string;
  socket: string;
  baseurl: string;
  pinned: string[];
  pause?: string;
}

const EL7 = 'https://mirrors.aliyun.com/kubernetes/yum/repos/kubernetes-el7-x86_64/';
const PKGS = (m: number) => `https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.${m}/rpm/`;
const DOCKERSHIM = '/var/run/dockershim.sock';
const CONTAINERD = 'unix:///run/containerd/containerd.sock';
const el7Kube = (v: string) => [`kubeadm-${v}-0`, `kubelet-${v}-0`, `kubectl-${v}-0`];
const pkgsKube = (v: string) => [`kubeadm-${v}-150500.1.1`, `kubelet-${v}-150500.1.1`, `kubectl-${v}-150500.1.1`];

const CASES: Case[] = [
  { version: '1.15.12', runtime: 'docker', api: 'kubeadm.k8s.io/v1beta2', socket: DOCKERSHIM, baseurl: EL7, pinned: ['docker-ce-18.06.3.ce-3.el7', ...el7Kube('1.15.12'), 'kubernetes-cni-0.7.5-0', 'cri-tools-1.13.0-0'] },
  { version: '1.16.4', runtime: 'docker', api: 'kubeadm.k8s.io/v1beta2', socket: DOCKERSHIM, baseurl: EL7, pinned: ['docker-ce-18.06.3.ce-3.el7', ...el7Kube('1.16.4'), 'kubernetes-cni-0.7.5-0', 'cri-tools-1.13.0-0'] },
  { version: '1.17.4', runtime: 'docker', api: 'kubeadm.k8s.io/v1beta2', socket: DOCKERSHIM, baseurl: EL7, pinned: ['docker-ce-18.06.3.ce-3.el7', ...el7Kube('1.17.4'), 'kubernetes-cni-0.7.5-0', 'cri-tools-1.13.0-0'] },
  {
    version: '1.20.15', runtime: 'docker', api: 'kubeadm.k8s.io/v1beta2', socket: DOCKERSHIM, baseurl: EL7,
    pinned: ['docker-ce-19.03.15-3.el7', 'docker-ce-cli-19.03.15-3.el7', 'containerd.io-1.4.13-3.1.el7', ...el7Kube('1.20.15'), 'kubernetes-cni-0.8.7-0', 'cri-tools-1.13.0-0'],
  },
  {
    version: '1.23.17', runtime: 'docker', api: 'kubeadm.k8s.io/v1beta3', socket: DOCKERSHIM, baseurl: EL7,
    pinned: ['docker-ce-20.10.24-3.el7', 'docker-ce-cli-20.10.24-3.el7', 'containerd.io-1.6.33-3.1.el7', ...el7Kube('1.23.17'), 'kubernetes-cni-0.8.7-0', 'cri-tools-1.19.0-0'],
  },
  { version: '1.24.17', runtime: 'containerd', api: 'kubeadm.k8s.io/v1beta3', socket: CONTAINERD, baseurl: PKGS(24), pause: '3.7', pinned: ['containerd.io-1.6.33-3.1.el7', ...pkgsKube('1.24.17'), 'kubernetes-cni', 'cri-tools'] },
  { version: '1.26.15', runtime: 'containerd', api: 'kubeadm.k8s.io/v1beta3', socket: CONTAINERD, baseurl: PKGS(26), pause: '3.9', pinned: ['containerd.io-1.6.33-3.1.el7', ...pkgsKube('1.26.15'), 'kubernetes-cni', 'cri-tools'] },
  {
    version: '1.28.2', runtime: 'containerd', api: 'kubeadm.k8s.io/v1beta3', socket: CONTAINERD, baseurl: PKGS(28), pause: '3.9',
    pinned: ['containerd.io-1.6.33-3.1.el7', ...pkgsKube('1.28.2'), 'kubernetes-cni-1.2.0-150500.2.1', 'cri-tools-1.28.0-150500.1.1'],
  },
  {
    version: '1.30.14', runtime: 'containerd', api: 'kubeadm.k8s.io/v1beta3', socket: CONTAINERD, baseurl: PKGS(30), pause: '3.9',
    pinned: ['containerd.io-1.6.33-3.1.el7', ...pkgsKube('1.30.14'), 'kubernetes-cni-1.4.0-150500.1.1', 'cri-tools-1.30.0-150500.1.1'],
  },
  {
    version: '1.31.1', runtime: 'containerd', api: 'kubeadm.k8s.io/v1beta4', socket: CONTAINERD, baseurl: PKGS(31), pause: '3.10',
    pinned: ['containerd.io-1.6.33-3.1.el7', ...pkgsKube('1.31.1'), 'kubernetes-cni-1.5.1-150500.1.1', 'cri-tools-1.31.1-150500.1.1'],
  },
];

async function planMaster(cluster: Cluster): Promise<NodePlan> {
  return planNode(cluster, await secrets(), 'master');
}

for (const c of CASES) {
  test(`${c.version} with ${c.runtime}: kubeadm API, CRI socket, repository and pinned packages`, async () => {
    // The runtime kind is left to its default: docker up to 1.23, containerd from 1.24.
    const { cluster, warnings } = loadCluster(withVersion(c.version));
    assert.deepEqual(warnings, []);
    assert.equal(cluster.runtime.kind, c.runtime);
    const plan = await planMaster(cluster);

    const kubeadmText = fileOf(plan, '/etc/k8s-image/kubeadm.yaml');
    const docs = yaml.loadAll(kubeadmText) as any[];
    const init = docs.find((d) => d.kind === 'InitConfiguration');
    assert.equal(init.apiVersion, c.api);
    assert.equal(docs.find((d) => d.kind === 'ClusterConfiguration').apiVersion, c.api);
    assert.equal(init.nodeRegistration.criSocket, c.socket);
    assert.equal(init.nodeRegistration.ignorePreflightErrors, undefined, 'supported releases need no ignored preflight checks');
    assert.equal(docs.find((d) => d.kind === 'KubeletConfiguration').failCgroupV1, undefined);
    assert.deepEqual(kubeadmConfigProblems(kubeadmText, c.version), []);

    const repo = fileOf(plan, '/etc/yum.repos.d/kubernetes.repo');
    assert.match(repo, new RegExp(`^baseurl=${c.baseurl.replace(/[.$]/g, '\\$&')}$`, 'm'));

    const packages = envVar(fileOf(plan, '/etc/k8s-image/install.env'), 'PACKAGES').split(' ');
    assert.deepEqual(packages.filter((p) => RUNTIME_AND_KUBE.test(p)), c.pinned);

    if (c.runtime === 'containerd') {
      const toml = parseToml(fileOf(plan, '/etc/containerd/config.toml'));
      const cri = toml.plugins['io.containerd.grpc.v1.cri'];
      assert.equal(toml.version, 2);
      assert.equal(cri.sandbox_image, `registry.aliyuncs.com/google_containers/pause:${c.pause}`);
      assert.equal(cri.containerd.runtimes.runc.runtime_type, 'io.containerd.runc.v2');
      assert.equal(cri.containerd.runtimes.runc.options.SystemdCgroup, true);
      const crictl = yaml.load(fileOf(plan, '/etc/crictl.yaml')) as Record<string, string>;
      assert.equal(crictl['runtime-endpoint'], c.socket);
      assert.match(fileOf(plan, '/etc/modules-load.d/k8s.conf'), /^overlay$/m, 'containerd needs the overlay module');
    } else {
      const daemon = JSON.parse(fileOf(plan, '/etc/docker/daemon.json'));
      assert.deepEqual(daemon['exec-opts'], ['native.cgroupdriver=systemd']);
    }
  });
}

test('containerd before 1.24: version 2 config with containerd 1.3, socket without scheme', async () => {
  const { cluster } = loadCluster(withVersion('1.17.4', { kind: 'containerd' }));
  assert.equal(cluster.runtime.version, '1.3.9-3.1.el7');
  const plan = await planMaster(cluster);
  const toml = parseToml(fileOf(plan, '/etc/containerd/config.toml'));
  assert.equal(toml.version, 2);
  assert.equal(toml.plugins['io.containerd.grpc.v1.cri'].sandbox_image, 'registry.aliyuncs.com/google_containers/pause:3.1');
  assert.equal(toml.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes.runc.options.SystemdCgroup, true);
  const kubeadmText = fileOf(plan, '/etc/k8s-image/kubeadm.yaml');
  assert.equal((yaml.loadAll(kubeadmText) as any[])[0].nodeRegistration.criSocket, '/run/containerd/containerd.sock');
  assert.deepEqual(kubeadmConfigProblems(kubeadmText, '1.17.4'), []);
  assert.ok(envVar(fileOf(plan, '/etc/k8s-image/install.env'), 'PACKAGES').split(' ').includes('containerd.io-1.3.9-3.1.el7'));
});

test('containerd registry mirrors and insecure registries go into containerd\'s own config, not daemon.json', async () => {
  const { cluster } = loadCluster(
    withVersion('1.28.2', undefined, (d) => {
      d.mirrors.registryMirrors = ['https://abc.mirror.aliyuncs.com'];
      d.mirrors.insecureRegistries = ['registry.local:5000'];
    }),
  );
  const plan = await planMaster(cluster);
  assert.equal(plan.files.find((f) => f.path === '/etc/docker/daemon.json'), undefined);
  const cri = parseToml(fileOf(plan, '/etc/containerd/config.toml')).plugins['io.containerd.grpc.v1.cri'];
  assert.deepEqual(cri.registry.mirrors['docker.io'].endpoint, ['https://abc.mirror.aliyuncs.com', 'https://registry-1.docker.io']);
  assert.deepEqual(cri.registry.mirrors['registry.local:5000'].endpoint, ['http://registry.local:5000']);
  assert.equal(cri.registry.configs['registry.local:5000'].tls.insecure_skip_verify, true);
});

test('flannel images follow the table: v0.22.3 with cni-plugin v1.2.0 up to 1.23, v0.26.1 with v1.5.1-flannel2 after', async () => {
  for (const [version, flannel, plugin] of [
    ['1.17.4', 'docker.io/flannel/flannel:v0.22.3', 'docker.io/flannel/flannel-cni-plugin:v1.2.0'],
    ['1.28.2', 'docker.io/flannel/flannel:v0.26.1', 'docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel2'],
  ] as const) {
    const plan = await planMaster(loadCluster(withVersion(version)).cluster);
    const ds = (yaml.loadAll(fileOf(plan, '/etc/k8s-image/cni.yaml')) as any[]).find((d) => d?.kind === 'DaemonSet');
    const spec = ds.spec.template.spec;
    // The table's Docker Hub names, served by the preset's CNI registry (plan/cni.test.ts).
    assert.equal(spec.containers[0].image, flannel.replace('docker.io/', 'docker.m.daocloud.io/'));
    assert.equal(spec.initContainers[0].image, plugin.replace('docker.io/', 'docker.m.daocloud.io/'));
  }
});

// ---------------------------------------------------------------------------------------------
// Refused combinations: exact messages
// ---------------------------------------------------------------------------------------------

test('refused: docker with 1.24+', () => {
  assert.deepEqual(problems(withVersion('1.28.2', { kind: 'docker' })), [
    'cluster.runtime.kind: "docker" cannot run Kubernetes 1.28.2: dockershim was removed in 1.24; set cluster.runtime.kind: containerd (or use Kubernetes 1.23.x or older)',
  ]);
});

test('refused: releases older than 1.15 and newer than the table knows', () => {
  assert.deepEqual(problems(withVersion('1.14.10')), [
    'cluster.kubernetesVersion: "1.14.10" is not supported: k8s-image supports 1.15.x to 1.31.x on CentOS 7 (to 1.37.x with os.kernel: lt) (run `k8s-image versions`)',
  ]);
  assert.deepEqual(problems(withVersion('1.38.0', undefined, (d) => { d.cluster.allowUnsupportedVersion = true; })), [
    'cluster.kubernetesVersion: "1.38.0" is not supported: k8s-image supports 1.15.x to 1.31.x on CentOS 7 (to 1.37.x with os.kernel: lt) and knows no release after 1.37 (run `k8s-image versions`)',
  ]);
});

test('refused: 1.32-1.37 on CentOS 7\'s own kernel without cluster.allowUnsupportedVersion', () => {
  assert.deepEqual(problems(withVersion('1.32.4')), [
    'cluster.kubernetesVersion: "1.32.4" is not supported on CentOS 7\'s own kernel: kubeadm 1.32+ fails its SystemVerification preflight on CentOS 7\'s 3.10 kernel (it takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10); set os.kernel: lt (ELRepo\'s kernel-lt, with mirrors.elrepo) to run 1.32-1.37, use 1.31.x or older, or set cluster.allowUnsupportedVersion: true to render it anyway',
  ]);
  assert.deepEqual(problems(withVersion('1.35.0')), [
    'cluster.kubernetesVersion: "1.35.0" is not supported on CentOS 7\'s own kernel: kubeadm 1.32+ fails its SystemVerification preflight on CentOS 7\'s 3.10 kernel (it takes 4.19+, or only 5.4, 5.10, 5.15 and 6+ from system-validators v1.10) and the 1.35+ kubelet refuses cgroup v1; set os.kernel: lt (ELRepo\'s kernel-lt, with mirrors.elrepo) to run 1.32-1.37, use 1.31.x or older, or set cluster.allowUnsupportedVersion: true to render it anyway',
  ]);
});

test('opted in above 1.31: warning, SystemVerification ignored, failCgroupV1: false from 1.35', async () => {
  const optIn = (d: any) => { d.cluster.allowUnsupportedVersion = true; };
  const l32 = loadCluster(withVersion('1.32.4', undefined, optIn));
  assert.deepEqual(l32.warnings, [
    'cluster.kubernetesVersion: 1.32.4 is above 1.31.x, the newest release supported on CentOS 7\'s own kernel; because cluster.allowUnsupportedVersion is set, kubeadm is told to ignore the SystemVerification preflight error (CentOS 7\'s kernel 3.10); nobody tests this combination (os.kernel: lt is the supported way)',
  ]);
  let docs = yaml.loadAll(fileOf(await planMaster(l32.cluster), '/etc/k8s-image/kubeadm.yaml')) as any[];
  assert.equal(docs[0].apiVersion, 'kubeadm.k8s.io/v1beta4');
  assert.deepEqual(docs[0].nodeRegistration.ignorePreflightErrors, ['SystemVerification']);
  assert.equal(docs.find((d) => d.kind === 'KubeletConfiguration').failCgroupV1, undefined);
  const join = yaml.loadAll(fileOf(planNode(l32.cluster, await secrets(), 'node01'), '/etc/k8s-image/kubeadm.yaml')) as any[];
  assert.deepEqual(join[0].nodeRegistration.ignorePreflightErrors, ['SystemVerification'], 'joining nodes run the same preflight');

  const l35 = loadCluster(withVersion('1.35.0', undefined, optIn));
  assert.deepEqual(l35.warnings, [
    'cluster.kubernetesVersion: 1.35.0 is above 1.31.x, the newest release supported on CentOS 7\'s own kernel; because cluster.allowUnsupportedVersion is set, kubeadm is told to ignore the SystemVerification preflight error (CentOS 7\'s kernel 3.10) and the kubelet is given failCgroupV1: false; nobody tests this combination (os.kernel: lt is the supported way)',
  ]);
  docs = yaml.loadAll(fileOf(await planMaster(l35.cluster), '/etc/k8s-image/kubeadm.yaml')) as any[];
  assert.equal(docs.find((d) => d.kind === 'KubeletConfiguration').failCgroupV1, false);
  assert.deepEqual(docs[0].nodeRegistration.ignorePreflightErrors, ['SystemVerification']);
  const plan = await planMaster(l35.cluster);
  assert.equal(parseToml(fileOf(plan, '/etc/containerd/config.toml')).plugins['io.containerd.grpc.v1.cri'].sandbox_image, 'registry.aliyuncs.com/google_containers/pause:3.10.1');
});

test('refused: containerd 1.2 (no config version 2) and containerd < 1.6 with the CRI-v1-only kubelet', () => {
  assert.deepEqual(problems(withVersion('1.17.4', { kind: 'containerd', version: '1.2.13-3.2.el7' })), [
    'cluster.runtime.version: containerd "1.2.13-3.2.el7" cannot run Kubernetes 1.17.4: containerd 1.2 predates config version 2 and the runc v2 shim that SystemdCgroup needs (both arrived in containerd 1.3); set cluster.runtime.version: 1.3.9-3.1.el7 (or leave it out for that default)',
  ]);
  // No opt-out for these: allowUntestedVersion does not help.
  assert.deepEqual(problems(withVersion('1.26.15', { kind: 'containerd', version: '1.5.11-3.1.el7', allowUntestedVersion: true })), [
    'cluster.runtime.version: containerd "1.5.11-3.1.el7" cannot run Kubernetes 1.26.15: the Kubernetes 1.26 kubelet speaks only CRI v1, which needs containerd 1.6 or newer; set cluster.runtime.version: 1.6.33-3.1.el7 (or leave it out for that default)',
  ]);
});

test('refused: a runtime version outside the known range, unless cluster.runtime.allowUntestedVersion', () => {
  assert.deepEqual(problems(withVersion('1.17.4', { kind: 'docker', version: '17.03.2.ce-1.el7' })), [
    'cluster.runtime.version: docker "17.03.2.ce-1.el7" is not known to work with Kubernetes 1.17.4: it is not among the versions known to work with Kubernetes 1.17 (18.06.3.ce-3.el7, 18.09.9-3.el7); set cluster.runtime.version: 18.06.3.ce-3.el7 (or leave it out for that default), or set cluster.runtime.allowUntestedVersion: true to install it anyway',
  ]);
  const { cluster, warnings } = loadCluster(withVersion('1.17.4', { kind: 'docker', version: '17.03.2.ce-1.el7', allowUntestedVersion: true }));
  assert.equal(cluster.runtime.version, '17.03.2.ce-1.el7');
  assert.deepEqual(warnings, [
    'cluster.runtime.version: docker "17.03.2.ce-1.el7" is not among the versions known to work with Kubernetes 1.17; it will be installed as asked (cluster.runtime.allowUntestedVersion is set)',
  ]);
});

test('refused: kube-proxy IPVS on 1.18.0-1.18.2 (kubernetes#89520); 1.18.3 and iptables mode are fine', () => {
  assert.deepEqual(problems(withVersion('1.18.2')), [
    'cluster.kubeProxyMode: "ipvs" does not work with Kubernetes 1.18.2 on CentOS 7: kube-proxy 1.18.0-1.18.2 cannot read IPVS destinations from the 3.10 kernel (kubernetes issue #89520); use Kubernetes 1.18.3 or later, or set cluster.kubeProxyMode: iptables',
  ]);
  assert.deepEqual(loadCluster(withVersion('1.18.3')).warnings, []);
  assert.deepEqual(loadCluster(withVersion('1.18.0', undefined, (d) => { d.cluster.kubeProxyMode = 'iptables'; })).warnings, []);
});
