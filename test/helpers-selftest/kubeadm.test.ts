/** kubeadmConfigProblems accepts a correct 1.17 multi-document config and catches each kind of error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeadmConfigProblems } from '../helpers/readers.js';

const V1BETA2 = `apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
    ttl: 24h0m0s
    usages: [signing, authentication]
    groups: ["system:bootstrappers:kubeadm:default-node-token"]
localAPIEndpoint:
  advertiseAddress: 192.168.108.100
  bindPort: 6443
nodeRegistration:
  name: node1
  criSocket: /var/run/dockershim.sock
  taints:
    - key: node-role.kubernetes.io/master
      effect: NoSchedule
  kubeletExtraArgs:
    node-ip: 192.168.108.100
certificateKey: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.17.4
clusterName: lab
controlPlaneEndpoint: "192.168.108.10:6443"
imageRepository: k8s.gcr.io
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
apiServer:
  certSANs: [192.168.108.10, api.lab.test]
  timeoutForControlPlane: 4m0s
  extraArgs:
    audit-log-maxage: "30"
  extraVolumes:
    - name: audit
      hostPath: /var/log/kubernetes
      mountPath: /var/log/kubernetes
      pathType: DirectoryOrCreate
controllerManager:
  extraArgs:
    bind-address: 0.0.0.0
scheduler: {}
etcd:
  local:
    dataDir: /var/lib/etcd
dns:
  type: CoreDNS
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failSwapOn: true
clusterDNS: [10.96.0.10]
evictionHard:
  memory.available: 100Mi
  nodefs.available: 10%
systemReserved:
  cpu: 100m
featureGates:
  RotateKubeletServerCertificate: true
rotateCertificates: true
authentication:
  webhook:
    enabled: true
    cacheTTL: 2m0s
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
clusterCIDR: 10.244.0.0/16
ipvs:
  scheduler: rr
  syncPeriod: 30s
conntrack:
  maxPerCore: 32768
  tcpEstablishedTimeout: 24h0m0s
`;

function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}:\n${problems.join('\n') || '(none)'}`);
}

test('a correct v1beta2 Init+Cluster+Kubelet+KubeProxy config for 1.17.4 passes', () => {
  assert.deepEqual(kubeadmConfigProblems(V1BETA2, '1.17.4'), []);
  assert.deepEqual(kubeadmConfigProblems(V1BETA2 + '---\n', 'v1.17.4'), [], 'an empty trailing document is fine');
});

test('a misspelt key is caught', () => {
  const problems = kubeadmConfigProblems(V1BETA2.replace('controlPlaneEndpoint:', 'controlPlaneEndPoint:'), '1.17.4');
  assert.deepEqual(problems, ['doc 2 (ClusterConfiguration): unknown key controlPlaneEndPoint for kubeadm.k8s.io/v1beta2']);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('    pathType:', '    pathtype:'), '1.17.4'), /unknown key apiServer\.extraVolumes\[\]\.pathtype/);
});

test('a v1beta3-only key in v1beta2 is caught', () => {
  const withSkip = V1BETA2.replace('kind: InitConfiguration\n', 'kind: InitConfiguration\nskipPhases: [addon/kube-proxy]\n');
  assertProblem(kubeadmConfigProblems(withSkip, '1.17.4'), /doc 1 \(InitConfiguration\): unknown key skipPhases for kubeadm\.k8s\.io\/v1beta2/);
  const withPull = V1BETA2.replace('  name: node1\n', '  name: node1\n  imagePullPolicy: IfNotPresent\n');
  assertProblem(kubeadmConfigProblems(withPull, '1.17.4'), /unknown key nodeRegistration\.imagePullPolicy/);
});

test('kubelet keys newer than the target version are caught (tag at or below the version)', () => {
  const withShutdown = V1BETA2.replace('failSwapOn: true\n', 'failSwapOn: true\nshutdownGracePeriod: 30s\n');
  assertProblem(kubeadmConfigProblems(withShutdown, '1.17.4'), /doc 3 \(KubeletConfiguration\): unknown key shutdownGracePeriod/);
  const asV1beta3 = withShutdown.replaceAll('kubeadm.k8s.io/v1beta2', 'kubeadm.k8s.io/v1beta3').replace('dns:\n  type: CoreDNS\n', '');
  assert.deepEqual(kubeadmConfigProblems(asV1beta3, '1.22.3'), []);
});

test('a map extraArgs in v1beta4 is caught; the list form passes', () => {
  const v1beta4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
apiServer:
  extraArgs:
    audit-log-maxage: "30"
`;
  const problems = kubeadmConfigProblems(v1beta4, '1.31.2');
  assertProblem(problems, /doc 1 \(ClusterConfiguration\): apiServer\.extraArgs: expected a list \(\[\]object\), got a mapping/);
  const listForm = v1beta4.replace('    audit-log-maxage: "30"', '    - name: audit-log-maxage\n      value: "30"');
  assert.deepEqual(kubeadmConfigProblems(listForm, '1.31.2'), []);
});

test('a bad duration, and other wrong value types, are caught', () => {
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('timeoutForControlPlane: 4m0s', 'timeoutForControlPlane: 4 minutes'), '1.17.4'),
    /apiServer\.timeoutForControlPlane: "4 minutes" is not a Go duration/);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('syncPeriod: 30s', 'syncPeriod: 30'), '1.17.4'),
    /doc 4 \(KubeProxyConfiguration\): ipvs\.syncPeriod: expected a duration string, got number 30/);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('audit-log-maxage: "30"', 'audit-log-maxage: 30'), '1.17.4'),
    /apiServer\.extraArgs\.audit-log-maxage: expected a string, got number 30/);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('bindPort: 6443', 'bindPort: "6443"'), '1.17.4'),
    /localAPIEndpoint\.bindPort: expected an integer/);
});

test('apiVersion, kind and YAML errors are caught', () => {
  assertProblem(kubeadmConfigProblems(V1BETA2, '1.26.0'), /kubeadm\.k8s\.io\/v1beta2 is not served by kubeadm 1\.26\.0/);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('kind: InitConfiguration', 'kind: ResetConfiguration'), '1.17.4'), /kind ResetConfiguration does not exist in kubeadm\.k8s\.io\/v1beta2/);
  assertProblem(kubeadmConfigProblems(V1BETA2.replace('kind: KubeletConfiguration', 'kind: KubeletConfig'), '1.17.4'), /kind KubeletConfig does not exist/);
  assertProblem(kubeadmConfigProblems('apiVersion: kubeadm.k8s.io/v1beta2\nkind: [\n', '1.17.4'), /YAML does not parse/);
  assertProblem(kubeadmConfigProblems('apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\nkind: InitConfiguration\n', '1.17.4'), /YAML does not parse: duplicated mapping key/);
});
