import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Cluster } from '../../src/config/index.js';
import type { Secrets } from '../../src/secrets/index.js';
import { planNode, type NodePlan } from '../../src/plan/index.js';
import { firstbootScript } from '../../src/plan/node-scripts.js';
import { renderKickstart, SEED_FILES_DIR } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import type { Artifact } from '../../src/artifact.js';
import { checkKickstart, cloudInitSchema, kubeadmConfigProblems, parseIfcfg, renderNetworkConfigToIfcfg, shellcheck } from '../helpers/readers.js';
import { labAndHa, postSections } from './fixtures.js';
import { tempDir } from '../helpers/tmp.js';

let f: Awaited<ReturnType<typeof labAndHa>>;
before(async () => {
  f = await labAndHa();
});

const text = (a: Artifact[], path: string) => {
  const hit = a.find((x) => x.path === path);
  assert.ok(hit, `no artifact ${path}`);
  return Buffer.from(hit.bytes).toString('utf8');
};

/** One node of each kind: init master, worker, joining master, load balancer. */
function oneOfEachKind(): { cluster: Cluster; secrets: Secrets; name: string }[] {
  return [
    { cluster: f.lab, secrets: f.labSecrets, name: 'master' },
    { cluster: f.lab, secrets: f.labSecrets, name: 'node01' },
    { cluster: f.ha, secrets: f.haSecrets, name: 'master2' },
    { cluster: f.ha, secrets: f.haSecrets, name: 'lb' },
  ];
}

function everyNode(): { cluster: Cluster; secrets: Secrets; name: string }[] {
  return [
    ...f.lab.nodes.map((n) => ({ cluster: f.lab, secrets: f.labSecrets, name: n.name })),
    ...f.ha.nodes.map((n) => ({ cluster: f.ha, secrets: f.haSecrets, name: n.name })),
  ];
}

test('every kickstart line checks against the CentOS 7.9 grammar (lab and HA)', () => {
  for (const { cluster, secrets, name } of everyNode()) {
    const ks = text(renderKickstart(planNode(cluster, secrets, name)), 'ks.cfg');
    assert.deepEqual(checkKickstart(ks), [], `${cluster.name}/${name} ks.cfg`);
  }
});

test('kickstart: only the install disk is touched, no swap, static network, cdrom source', () => {
  const ks = text(renderKickstart(planNode(f.lab, f.labSecrets, 'master')), 'ks.cfg');
  assert.match(ks, /^ignoredisk --only-use=sda$/m);
  assert.match(ks, /^clearpart --all --initlabel --drives=sda$/m);
  assert.match(ks, /^cdrom$/m);
  assert.doesNotMatch(ks, /^part swap/m);
  assert.match(ks, /^network --bootproto=static --device=00:50:56:3f:00:64 --ip=192\.168\.108\.100 --netmask=255\.255\.255\.0 --gateway=192\.168\.108\.2 --nameserver=192\.168\.108\.2 --hostname=master /m);
  assert.match(ks, /^rootpw --iscrypted \$6\$/m, 'the generated root password arrives as its hash');
  assert.match(ks, /^selinux --disabled$/m);
  assert.match(ks, /^reboot/m);
});

test("kickstart: the NIC by MAC, else by the name the config gives, else anaconda's first NIC with a link", () => {
  const device = (cluster: Cluster, name: string) => /^network .*--device=(\S+)/m.exec(text(renderKickstart(planNode(cluster, cluster.name === 'k8s-ha' ? f.haSecrets : f.labSecrets, name)), 'ks.cfg'))![1];
  assert.equal(device(f.lab, 'node01'), '00:50:56:3f:00:65');
  assert.equal(device(f.ha, 'worker1'), 'eth0');
  // Not a guessed ens33: GenericCloud and many templates call it otherwise, and the address would land nowhere.
  assert.equal(device(f.labAsShipped, 'node01'), 'ens33');
  assert.equal(device(f.labNoNic, 'node01'), 'link');
});

test('no cloud-init files for a node whose NIC cannot be identified (the command layer reports it)', () => {
  assert.throws(() => renderCloudInit(planNode(f.labNoNic, f.labSecrets, 'master')), /neither a MAC address nor an interface name/);
});

test('every %post body and every shipped script pass bash -n and shellcheck', async () => {
  for (const { cluster, secrets, name } of oneOfEachKind()) {
    const plan = planNode(cluster, secrets, name);
    const ks = text(renderKickstart(plan), 'ks.cfg');
    const sections = postSections(ks);
    assert.ok(sections.length >= 1);
    for (const s of sections) assert.deepEqual(await shellcheck(`#!/bin/bash\n${s.body}`, `${name} ${s.header}`), [], `${name}: ${s.header}`);
    for (const file of plan.files.filter((x) => x.path.endsWith('.sh'))) {
      assert.deepEqual(await shellcheck(file.content, file.path), [], file.path);
    }
  }
});

test('no secret in any ks.cfg; workers and the lb carry no private key at all', () => {
  for (const { cluster, secrets, name } of everyNode()) {
    const artifacts = [...renderKickstart(planNode(cluster, secrets, name)), ...renderCloudInit(planNode(cluster, secrets, name))];
    const ks = text(artifacts, 'ks.cfg');
    assert.ok(!ks.includes('PRIVATE KEY'), `${name}: key material in ks.cfg`);
    assert.ok(!ks.includes(secrets.bootstrapToken), `${name}: join token in ks.cfg`);
    assert.ok(!ks.includes(secrets.bootstrapToken.split('.')[1]!), `${name}: token secret in ks.cfg`);
    const role = cluster.nodes.find((n) => n.name === name)!.role;
    if (role !== 'master') {
      for (const a of artifacts) assert.ok(!Buffer.from(a.bytes).toString().includes('PRIVATE KEY'), `${name}: ${a.path} holds a private key`);
    }
    if (role === 'lb') {
      for (const a of artifacts) assert.ok(!Buffer.from(a.bytes).toString().includes(secrets.bootstrapToken), `${name}: ${a.path} holds the token`);
    }
  }
});

test("the master's OEMDRV files and user-data hold the same CA material as the secrets file", () => {
  for (const [cluster, secrets, name] of [[f.lab, f.labSecrets, 'master'], [f.ha, f.haSecrets, 'master3']] as const) {
    const plan = planNode(cluster, secrets, name);
    const ks = renderKickstart(plan);
    const base = `oemdrv/${SEED_FILES_DIR}/etc/k8s-image/pki`;
    assert.equal(text(ks, `${base}/ca.key`), secrets.ca.key);
    assert.equal(text(ks, `${base}/ca.crt`), secrets.ca.cert);
    assert.equal(text(ks, `${base}/etcd/ca.key`), secrets.etcdCa.key);
    assert.equal(text(ks, `${base}/front-proxy-ca.key`), secrets.frontProxyCa.key);
    assert.equal(text(ks, `${base}/sa.key`), secrets.serviceAccount.key);
    assert.equal(text(ks, `${base}/sa.pub`), secrets.serviceAccount.pub);
    const ud = text(renderCloudInit(plan), 'cloud-init/user-data');
    assert.ok(ud.includes('BEGIN RSA PRIVATE KEY'));
    // Every seed file is a 0600 secret, but the status sender %pre runs from the seed (plain code).
    for (const a of ks.filter((x) => x.path.startsWith(`oemdrv/${SEED_FILES_DIR}/`))) {
      if (a.path.endsWith('/report.py')) assert.deepEqual([a.mode, a.secret], [0o755, false]);
      else assert.deepEqual([a.mode, a.secret], [0o600, true], a.path);
    }
    assert.equal(ks.some((a) => a.path.endsWith('/report.key')), cluster.status !== undefined);
  }
});

/** Re-root the absolute paths of the file-writing commands (not the heredoc bodies) under $ROOT. */
function reroot(script: string, map: (line: string) => string): string {
  let inHeredoc = false;
  return script
    .split('\n')
    .map((line) => {
      if (inHeredoc) {
        if (line === 'K8S_IMAGE_EOF') inHeredoc = false;
        return line;
      }
      if (line.includes("<<'K8S_IMAGE_EOF'")) inHeredoc = true;
      return map(line);
    })
    .join('\n');
}

test('%post writes every plan file byte-exact with its mode, and %post --nochroot copies the secret ones', () => {
  for (const [cluster, secrets, name] of [[f.lab, f.labSecrets, 'master'], [f.lab, f.labSecrets, 'node02'], [f.ha, f.haSecrets, 'lb']] as const) {
    const plan = planNode(cluster, secrets, name);
    const artifacts = renderKickstart(plan);
    const sections = postSections(text(artifacts, 'ks.cfg'));
    const root = tempDir('k8s-image-post-');
    const seed = tempDir('k8s-image-seed-');
    for (const a of artifacts.filter((x) => x.path.startsWith('oemdrv/'))) {
      const p = join(seed, a.path.slice('oemdrv/'.length));
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, a.bytes);
    }
    // %pre runs in the installer (chronyd -q sets the clock): installer-clock.test.ts runs it with fakes.
    for (const s of sections.filter((x) => !x.header.startsWith('%pre'))) {
      let body = s.body;
      if (s.header.includes('--nochroot')) {
        body = body
          .split('\n')
          .filter((l) => !/^(mount|umount) /.test(l))
          .join('\n')
          .replace(/^seed=.*$/m, `seed=${seed}`)
          .replaceAll('/mnt/sysimage/', `${root}/`);
      } else {
        body = reroot(body, (l) => (/^(mkdir -p|cat >|base64 -d >|chmod [0-7]+) /.test(l) ? l.replace(/ \//, ` ${root}/`) : l)).replace(/^bash \/usr\/local.*$/m, '');
      }
      execFileSync('bash', ['-c', body], { stdio: 'pipe' });
    }
    for (const file of plan.files) {
      const p = join(root, file.path);
      assert.equal(readFileSync(p, 'utf8'), file.content, `${name}: ${file.path} differs`);
      assert.equal(statSync(p).mode & 0o777, file.mode, `${name}: ${file.path} mode`);
    }
  }
});

test('every user-data passes cloud-init schema and the CentOS 7 (19.4) key lists; write_files are byte-exact', async () => {
  for (const { cluster, secrets, name } of oneOfEachKind()) {
    const plan = planNode(cluster, secrets, name);
    const ci = renderCloudInit(plan);
    const ud = text(ci, 'cloud-init/user-data');
    assert.deepEqual(await cloudInitSchema(ud), [], `${name} user-data`);
    // Read back with the YAML library cloud-init itself uses.
    const dir = tempDir('k8s-image-ud-');
    writeFileSync(join(dir, 'user-data'), ud);
    const out = execFileSync('/usr/bin/python3', ['-c', 'import sys,yaml,json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(dir, 'user-data')], { cwd: dir }).toString();
    const doc = JSON.parse(out) as { write_files: { path: string; content: string; permissions: string }[]; runcmd: string[][] };
    assert.equal(doc.write_files.length, plan.files.length);
    for (const file of plan.files) {
      const w = doc.write_files.find((x) => x.path === file.path)!;
      assert.equal(w.content, file.content, file.path);
      assert.equal(Number.parseInt(w.permissions, 8), file.mode, file.path);
    }
    // One command, so its status is the runcmd script's (runcmd.test.ts runs it through cloud-init's shellify).
    assert.deepEqual(doc.runcmd, [['bash', plan.installScript, '--live']]);
    const meta = yaml.load(text(ci, 'cloud-init/meta-data')) as Record<string, string>;
    assert.equal(meta['instance-id'], `${cluster.name}-${name}-1`);
    assert.equal(meta['local-hostname'], name);
  }
});

test("network-config goes through cloud-init's own parser and sysconfig renderer to the right ifcfg", async () => {
  for (const [cluster, name, ip, prefix, gw, mac, device] of [
    [f.lab, 'master', '192.168.108.100', '24', '192.168.108.2', '00:50:56:3f:00:64', 'ens33'],
    [{ ...f.lab, nodes: f.lab.nodes.map((n) => ({ ...n, interface: undefined })) }, 'node01', '192.168.108.101', '24', '192.168.108.2', '00:50:56:3f:00:65', 'eth0'],
    [f.ha, 'master1', '10.0.11.18', '16', '10.0.0.1', undefined, 'eth0'],
    [f.labAsShipped, 'node02', '192.168.108.102', '24', '192.168.108.2', undefined, 'ens33'],
  ] as const) {
    const secrets = cluster.name === 'k8s-ha' ? f.haSecrets : f.labSecrets;
    const nc = text(renderCloudInit(planNode(cluster, secrets, name)), 'cloud-init/network-config');
    const files = await renderNetworkConfigToIfcfg(nc);
    const ifcfgName = Object.keys(files).find((k) => /ifcfg-/.test(k) && !k.endsWith('ifcfg-lo'));
    assert.ok(ifcfgName, `no ifcfg in ${Object.keys(files).join(', ')}`);
    const ifcfg = parseIfcfg(files[ifcfgName]!);
    assert.equal(ifcfg.IPADDR, ip);
    assert.ok(ifcfg.PREFIX === prefix || ifcfg.NETMASK === (prefix === '24' ? '255.255.255.0' : '255.255.0.0'), JSON.stringify(ifcfg));
    assert.equal(ifcfg.GATEWAY, gw);
    assert.equal(ifcfg.BOOTPROTO, 'none');
    assert.equal(ifcfg.DEVICE, device);
    // cloud-init matches (and renames) the NIC by this MAC: the address lands whatever the image calls it.
    if (mac) assert.equal(ifcfg.HWADDR?.toLowerCase(), mac);
    else assert.equal(ifcfg.HWADDR, undefined);
  }
});

test('every kubeadm key exists in the reference API of its version', () => {
  for (const { cluster, secrets, name } of everyNode()) {
    const plan: NodePlan = planNode(cluster, secrets, name);
    const cfg = plan.files.find((x) => x.path === '/etc/k8s-image/kubeadm.yaml');
    if (plan.role === 'lb') {
      assert.equal(cfg, undefined);
      continue;
    }
    assert.ok(cfg && cfg.secret && cfg.mode === 0o600);
    assert.deepEqual(kubeadmConfigProblems(cfg.content, cluster.kubernetesVersion), [], `${name}`);
  }
});

test('kubeadm config: init on the first master, control-plane joins after it, workers join through the endpoint', () => {
  const kinds = (cluster: Cluster, secrets: Secrets, name: string) => {
    const plan = planNode(cluster, secrets, name);
    return yaml.loadAll(plan.files.find((x) => x.path === '/etc/k8s-image/kubeadm.yaml')!.content) as any[];
  };
  const init = kinds(f.lab, f.labSecrets, 'master');
  assert.deepEqual(init.map((d) => d.kind), ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration']);
  assert.equal(init[0].bootstrapTokens[0].token, f.labSecrets.bootstrapToken);
  assert.equal(init[0].bootstrapTokens[0].ttl, '24h0m0s');
  assert.equal(init[0].localAPIEndpoint.advertiseAddress, '192.168.108.100');
  assert.equal(init[0].nodeRegistration.criSocket, '/var/run/dockershim.sock');
  assert.equal(init[1].kubernetesVersion, 'v1.17.4');
  assert.equal(init[1].imageRepository, 'registry.aliyuncs.com/google_containers');
  assert.deepEqual(init[1].networking, { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' });
  assert.equal(init[2].cgroupDriver, 'systemd');
  assert.equal(init[3].mode, 'ipvs');
  const join = kinds(f.lab, f.labSecrets, 'node01');
  assert.equal(join[0].kind, 'JoinConfiguration');
  assert.equal(join[0].discovery.bootstrapToken.apiServerEndpoint, '192.168.108.100:6443');
  assert.match(join[0].discovery.bootstrapToken.caCertHashes[0], /^sha256:[0-9a-f]{64}$/);
  const cp = kinds(f.ha, f.haSecrets, 'master2');
  assert.equal(cp[0].controlPlane.localAPIEndpoint.advertiseAddress, '10.0.12.55');
  assert.equal(cp[0].discovery.bootstrapToken.apiServerEndpoint, '10.0.1.157:6443');
  const haInit = kinds(f.ha, f.haSecrets, 'master1');
  assert.equal(haInit[1].controlPlaneEndpoint, '10.0.1.157:6443');
  assert.ok(haInit[1].apiServer.certSANs.includes('10.0.1.157'));
});

test('first-boot env: serial control-plane joins and workers wait on the endpoint', () => {
  const env = (cluster: Cluster, secrets: Secrets, name: string) =>
    planNode(cluster, secrets, name).files.find((x) => x.path === '/etc/k8s-image/firstboot.env')!.content;
  assert.match(env(f.ha, f.haSecrets, 'master1'), /^ROLE=init$/m);
  assert.match(env(f.ha, f.haSecrets, 'master2'), /^WAIT_FOR="https:\/\/10\.0\.11\.18:6443\/healthz"$/m);
  assert.match(env(f.ha, f.haSecrets, 'master3'), /^WAIT_FOR="https:\/\/10\.0\.12\.55:6443\/healthz"$/m);
  assert.match(env(f.ha, f.haSecrets, 'worker1'), /^WAIT_FOR="https:\/\/10\.0\.1\.157:6443\/healthz"$/m);
  assert.match(env(f.ha, f.haSecrets, 'master1'), /^EXPECTED_NODES="master2 master3 worker1 worker2"$/m);
  // The first master behind the lb waits for it to accept connections before kubeadm init.
  assert.match(env(f.ha, f.haSecrets, 'master1'), /^WAIT_TCP="10\.0\.1\.157:6443"$/m);
  assert.match(env(f.lab, f.labSecrets, 'master'), /^WAIT_TCP=""$/m, 'a single master is its own endpoint');
  // lb nodes get first boot too: it reruns an unfinished install.
  assert.match(env(f.ha, f.haSecrets, 'lb'), /^ROLE=none$/m);
  assert.ok(planNode(f.ha, f.haSecrets, 'lb').files.some((x) => x.path === '/etc/systemd/system/k8s-image-firstboot.service'));
});

test('plans are pure: same inputs, same plan; a node-local change touches only that node', () => {
  const a = planNode(f.lab, f.labSecrets, 'node01');
  assert.deepEqual(planNode(f.lab, f.labSecrets, 'node01'), a);
  const moved = { ...f.lab, nodes: f.lab.nodes.map((n) => (n.name === 'node01' ? { ...n, disk: 'vdb' } : n)) };
  assert.notDeepEqual(planNode(moved, f.labSecrets, 'node01'), a);
  assert.deepEqual(planNode(moved, f.labSecrets, 'node02'), planNode(f.lab, f.labSecrets, 'node02'));
});

test('yum repo files parse as INI (as yum reads them): every repo has a baseurl directory, gpgcheck=1 and keys', () => {
  for (const { cluster, secrets, name } of oneOfEachKind()) {
    const repos = planNode(cluster, secrets, name).files.filter((x) => x.path.startsWith('/etc/yum.repos.d/'));
    assert.ok(repos.length >= 2);
    const dir = tempDir('k8s-image-repos-');
    for (const r of repos) writeFileSync(join(dir, r.path.split('/').pop()!), r.content);
    // yum 3 reads .repo files with iniparse, a ConfigParser work-alike: same sections, keys, continuations.
    const py = `import configparser, glob, json, sys
out = {}
for f in sorted(glob.glob(sys.argv[1] + '/*.repo')):
    c = configparser.RawConfigParser()
    c.read(f)
    for s in c.sections():
        out[s] = dict(c.items(s))
print(json.dumps(out))`;
    const parsed = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, dir], { cwd: dir }).toString()) as Record<string, Record<string, string>>;
    const ids = Object.keys(parsed);
    assert.ok(ids.includes('base') && ids.includes('updates') && ids.includes('extras'), `${name}: ${ids.join(', ')}`);
    if (name !== 'lb') assert.ok(ids.includes('kubernetes') && ids.includes('docker-ce-stable'), `${name}: ${ids.join(', ')}`);
    for (const [id, r] of Object.entries(parsed)) {
      assert.match(r.baseurl!, /^https:\/\/\S+\/$/, `${name} [${id}] baseurl`);
      assert.equal(r.gpgcheck, '1', `${name} [${id}]`);
      for (const key of r.gpgkey!.split(/\s+/)) assert.match(key, /^(https:\/\/|file:\/\/\/)\S+$/, `${name} [${id}] gpgkey`);
      assert.ok(!('mirrorlist' in r), `${name} [${id}] must not use the dead mirrorlist`);
    }
    if (name !== 'lb') assert.equal(parsed.kubernetes!.exclude, 'kubelet kubeadm kubectl kubernetes-cni cri-tools');
  }
});

test("the master's CA files are exactly the set first boot restores for kubeadm", () => {
  const script = firstbootScript();
  const restored = /^PKI_FILES='([^']+)'$/m.exec(script)![1]!.split(' ').sort();
  const planned = planNode(f.ha, f.haSecrets, 'master2')
    .files.filter((x) => x.path.startsWith('/etc/k8s-image/pki/'))
    .map((x) => x.path.slice('/etc/k8s-image/pki/'.length))
    .sort();
  assert.deepEqual(planned, restored);
});
