import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, type NodePlan } from '../../src/plan/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';

/**
 * Every step seed 000 does by hand on each machine, and where the plan does it. A row names the
 * file (or plan field) and what must be in it; deviations from the seed are listed with the reason.
 */
const STEPS: { step: string; where: string; expect: RegExp }[] = [
  { step: '/etc/hosts with every node', where: '/etc/hosts', expect: /^192\.168\.108\.100 master\n192\.168\.108\.101 node01\n192\.168\.108\.102 node02$/m },
  { step: 'chronyd time sync', where: '/etc/chrony.conf', expect: /^server ntp\.aliyun\.com iburst$/m },
  { step: 'chronyd enabled', where: '/etc/k8s-image/install.env', expect: /^ENABLE_SERVICES=".*\bchronyd\b/m },
  { step: 'firewalld and iptables services off', where: '/etc/k8s-image/install.env', expect: /^DISABLE_SERVICES="firewalld iptables ip6tables"$/m },
  { step: 'SELinux disabled', where: '/etc/k8s-image/install.env', expect: /^SELINUX=disabled$/m },
  { step: 'swap off (swapoff -a + fstab)', where: 'ks.cfg', expect: /^reqpart --add-boot\npart \/ --fstype=xfs/m },
  { step: 'sysctl bridge-nf-call-ip6tables = 1', where: '/etc/sysctl.d/k8s.conf', expect: /^net\.bridge\.bridge-nf-call-ip6tables = 1$/m },
  { step: 'sysctl bridge-nf-call-iptables = 1', where: '/etc/sysctl.d/k8s.conf', expect: /^net\.bridge\.bridge-nf-call-iptables = 1$/m },
  { step: 'sysctl ip_forward = 1', where: '/etc/sysctl.d/k8s.conf', expect: /^net\.ipv4\.ip_forward = 1$/m },
  { step: 'modprobe br_netfilter (now at every boot)', where: '/etc/modules-load.d/k8s.conf', expect: /^br_netfilter$/m },
  { step: 'ipvs modules ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh', where: '/etc/modules-load.d/k8s.conf', expect: /^ip_vs\nip_vs_rr\nip_vs_wrr\nip_vs_sh$/m },
  { step: 'nf_conntrack_ipv4 (probed at first boot)', where: '/etc/k8s-image/firstboot.env', expect: /^MODULES_LOAD_DIR=\/etc\/modules-load\.d$/m },
  { step: 'ipset + ipvsadm', where: '/etc/k8s-image/install.env', expect: /^PACKAGES=".*\bipset ipvsadm\b/m },
  { step: 'docker-ce repo (aliyun)', where: '/etc/yum.repos.d/docker-ce.repo', expect: /^baseurl=https:\/\/mirrors\.aliyun\.com\/docker-ce\/linux\/centos\/7\/\$basearch\/stable\/$/m },
  { step: 'docker-ce-18.06.3.ce-3.el7 with --setopt=obsoletes=0', where: '/etc/k8s-image/install.env', expect: /^PACKAGES=".*\bdocker-ce-18\.06\.3\.ce-3\.el7\b/m },
  { step: 'daemon.json cgroup driver systemd (seed 002)', where: '/etc/docker/daemon.json', expect: /"native\.cgroupdriver=systemd"/ },
  { step: 'daemon.json registry mirrors', where: '/etc/docker/daemon.json', expect: /"registry-mirrors": \[\]/ },
  { step: 'kubernetes repo (aliyun)', where: '/etc/yum.repos.d/kubernetes.repo', expect: /^baseurl=https:\/\/mirrors\.aliyun\.com\/kubernetes\/yum\/repos\/kubernetes-el7-x86_64\/$/m },
  { step: 'kubeadm kubelet kubectl 1.17.4-0', where: '/etc/k8s-image/install.env', expect: /kubeadm-1\.17\.4-0 kubelet-1\.17\.4-0 kubectl-1\.17\.4-0/ },
  { step: 'kubelet enabled', where: '/etc/k8s-image/install.env', expect: /^ENABLE_SERVICES=".*\bkubelet\b/m },
  { step: 'kubelet cgroup driver systemd', where: '/etc/k8s-image/kubeadm.yaml', expect: /^cgroupDriver: systemd$/m },
  { step: 'kube-proxy mode ipvs', where: '/etc/k8s-image/kubeadm.yaml', expect: /^kind: KubeProxyConfiguration\nmode: ipvs$/m },
  { step: 'init --apiserver-advertise-address', where: '/etc/k8s-image/kubeadm.yaml', expect: /advertiseAddress: 192\.168\.108\.100/ },
  { step: 'init --image-repository', where: '/etc/k8s-image/kubeadm.yaml', expect: /^imageRepository: registry\.aliyuncs\.com\/google_containers$/m },
  { step: 'init --kubernetes-version v1.17.4', where: '/etc/k8s-image/kubeadm.yaml', expect: /^kubernetesVersion: v1\.17\.4$/m },
  { step: 'init --pod-network-cidr 10.244.0.0/16', where: '/etc/k8s-image/kubeadm.yaml', expect: /podSubnet: 10\.244\.0\.0\/16/ },
  { step: 'init --service-cidr 10.96.0.0/12', where: '/etc/k8s-image/kubeadm.yaml', expect: /serviceSubnet: 10\.96\.0\.0\/12/ },
  { step: 'flannel applied (manifest shipped)', where: '/etc/k8s-image/cni.yaml', expect: /"Network": "10\.244\.0\.0\/16"/ },
  { step: 'kubeconfig for the user', where: '/etc/k8s-image/firstboot.env', expect: /^ADMIN_KUBECONFIG=\/root\/\.kube\/config$/m },
];

const JOIN_STEPS: { step: string; where: string; expect: RegExp }[] = [
  { step: 'kubeadm join --token', where: '/etc/k8s-image/kubeadm.yaml', expect: /token: [a-z0-9]{6}\.[a-z0-9]{16}/ },
  { step: 'kubeadm join --discovery-token-ca-cert-hash', where: '/etc/k8s-image/kubeadm.yaml', expect: /- sha256:[0-9a-f]{64}/ },
  { step: 'kubeadm join <master>:6443', where: '/etc/k8s-image/kubeadm.yaml', expect: /apiServerEndpoint: 192\.168\.108\.100:6443/ },
];

/** Where the tool deliberately differs from seed 000, and why. */
const DEVIATIONS: { seed: string; tool: string; why: string; where: string; expect: RegExp }[] = [
  {
    seed: 'KUBE_PROXY_MODE=ipvs in /etc/sysconfig/kubelet',
    tool: 'KubeProxyConfiguration mode: ipvs in the kubeadm config',
    why: 'nothing reads KUBE_PROXY_MODE; kube-proxy stays on iptables',
    where: '/etc/sysconfig/kubelet',
    expect: /^KUBELET_EXTRA_ARGS=--node-ip=192\.168\.108\.100$/m,
  },
  {
    seed: 'stock CentOS repos (mirrorlist.centos.org)',
    tool: 'base/updates/extras rewritten to the vault mirror',
    why: 'CentOS 7 is end-of-life and mirrorlist.centos.org is gone',
    where: '/etc/yum.repos.d/CentOS-Base.repo',
    expect: /^baseurl=https:\/\/mirrors\.aliyun\.com\/centos-vault\/7\.9\.2009\/extras\/\$basearch\/$/m,
  },
  {
    seed: 'only docker-ce, kubeadm, kubelet, kubectl pinned',
    tool: 'kubernetes-cni and cri-tools pinned too, then excluded from updates',
    why: 'yum would pull the newest companions, which may not fit the pinned kubelet',
    where: '/etc/k8s-image/install.env',
    expect: /kubernetes-cni-0\.7\.5-0 cri-tools-1\.13\.0-0/,
  },
  {
    seed: 'repos with gpgcheck=0',
    tool: 'gpgcheck=1 with the repositories\' keys',
    why: 'packages are installed unattended: their signatures are the only check',
    where: '/etc/yum.repos.d/kubernetes.repo',
    expect: /^gpgcheck=1\ngpgkey=https:\/\/mirrors\.aliyun\.com\/kubernetes\/yum\/doc\/yum-key\.gpg$/m,
  },
  {
    seed: 'kubeadm join printed on the master and typed by hand',
    tool: 'a pre-generated token and CA shared by every seed; nodes wait for /healthz',
    why: 'no hands: nodes may boot before the master',
    where: '/etc/k8s-image/firstboot.env',
    expect: /^ROLE=init$/m,
  },
];

let secrets: Secrets;
let master: NodePlan;
let node: NodePlan;
let ks: string;
before(async () => {
  const { cluster } = loadCluster(undefined);
  secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  master = planNode(cluster, secrets, 'master');
  node = planNode(cluster, secrets, 'node01');
  ks = Buffer.from(renderKickstart(master)[0]!.bytes).toString();
});

function content(plan: NodePlan, where: string): string {
  if (where === 'ks.cfg') return ks;
  const f = plan.files.find((x) => x.path === where);
  assert.ok(f, `the plan has no ${where}`);
  return f.content;
}

test('every seed-000 step has a place in the master plan', () => {
  for (const s of [...STEPS, ...DEVIATIONS.map((d) => ({ step: d.tool, where: d.where, expect: d.expect }))]) {
    assert.match(content(master, s.where), s.expect, `${s.step} (${s.where})`);
  }
});

test('every seed-000 join step has a place in a node plan', () => {
  for (const s of JOIN_STEPS) assert.match(content(node, s.where), s.expect, `${s.step} (${s.where})`);
  assert.ok(!content(master, '/etc/k8s-image/install.env').includes('--setopt'), 'yum options live in install.sh, not in the env');
});

test('the deviations each say why', () => {
  for (const d of DEVIATIONS) assert.ok(d.why.length > 20, d.seed);
  assert.ok(!content(master, '/etc/sysconfig/kubelet').includes('KUBE_PROXY_MODE'));
  assert.doesNotMatch(ks, /^part\s.*swap/m, 'no swap partition in the kickstart');
});
