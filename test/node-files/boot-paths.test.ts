/**
 * The end-of-life kit and the local endpoint on every delivery path, through the real readers: the
 * kickstart through the CentOS 7.9 pykickstart grammar (test/reference/kickstart-rhel7.json), the
 * cloud-init user-data through cloud-init's schema and the CentOS 7 (19.4) module lists, read back with
 * PyYAML as cloud-init does. Both carry the same plan: kernel-lt's repo and package, the boot entry
 * settings for install.sh, cgroup.memory=nokmem (kickstart: also `bootloader --append`), the local
 * proxy and the endpoint name in /etc/hosts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { defaultClusterYaml, loadCluster, type Cluster } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { planGolden, planNode, PATHS } from '../../src/plan/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { checkKickstart, cloudInitSchema } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';

const text = (arts: { path: string; bytes: Uint8Array | Buffer }[], path: string) => Buffer.from(arts.find((a) => a.path === path)!.bytes).toString('utf8');

function lab(mutate: (d: any) => void): Cluster {
  const d = yaml.load(defaultClusterYaml()) as any;
  mutate(d);
  return loadCluster(yaml.dump(d), 'boot-paths.yaml').cluster;
}

/** 1.33 on kernel-lt behind a local endpoint (the lab's master and workers), and the lab as shipped (1.17: nokmem). */
const kit = () =>
  lab((d) => {
    d.cluster.kubernetesVersion = '1.33.2';
    delete d.cluster.runtime;
    d.loadBalancer = { kind: 'local' };
    d.os.kernel = 'lt';
    d.mirrors.elrepo = 'https://mirror.example.com/elrepo/kernel/el7/x86_64';
  });
const old = () => lab(() => undefined);

test('kickstart: pykickstart (CentOS 7.9) accepts it; bootloader --append carries nokmem only before 1.21', async () => {
  for (const [cluster, append] of [[old(), ' --append="cgroup.memory=nokmem"'], [kit(), '']] as const) {
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
    for (const node of cluster.nodes) {
      const ks = text(renderKickstart(planNode(cluster, secrets, node.name)), 'ks.cfg');
      assert.deepEqual(checkKickstart(ks), [], `${cluster.kubernetesVersion} ${node.name}`);
      assert.match(ks, new RegExp(`^bootloader --location=mbr --boot-drive=sda${append.replace(/[.="]/g, '\\$&')}$`, 'm'), node.name);
    }
  }
});

test('cloud-init: the schema and the CentOS 7 module lists accept it; the same files as the kickstart, byte for byte', async () => {
  const cluster = kit();
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const name of ['master', 'node01']) {
    const plan = planNode(cluster, secrets, name);
    const ud = text(renderCloudInit(plan), 'cloud-init/user-data');
    assert.deepEqual(await cloudInitSchema(ud), [], name);
    const dir = tempDir('k8s-image-boot-');
    writeFileSync(join(dir, 'user-data'), ud);
    const doc = JSON.parse(execFileSync('/usr/bin/python3', ['-c', 'import sys,yaml,json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(dir, 'user-data')], { cwd: dir }).toString()) as {
      write_files: { path: string; content: string }[];
      runcmd: string[][];
    };
    const ks = text(renderKickstart(plan), 'ks.cfg');
    for (const path of ['/etc/yum.repos.d/elrepo-kernel.repo', PATHS.installEnv, '/etc/hosts']) {
      const w = doc.write_files.find((x) => x.path === path);
      assert.ok(w, `${name}: ${path} not in write_files`);
      assert.equal(w.content, plan.files.find((f) => f.path === path)!.content);
      // The kickstart writes the same bytes (a quoted heredoc of the file).
      assert.ok(ks.includes(`cat > ${path} <<'K8S_IMAGE_EOF'\n${w.content}K8S_IMAGE_EOF\n`), `${name}: ${path} differs in ks.cfg`);
    }
    const env = doc.write_files.find((x) => x.path === PATHS.installEnv)!.content;
    assert.match(env, /^DEFAULT_KERNEL=\/boot\/vmlinuz-5\.4\.278-1\.el7\.elrepo\.x86_64$/m);
    assert.match(env, /^DEFAULT_KERNEL_PACKAGE=kernel-lt$/m);
    assert.doesNotMatch(env, /^KERNEL_ARGS=/m);
    assert.match(env, /^PACKAGES=".* kernel-lt-5\.4\.278-1\.el7\.elrepo( |")/m);
    const hosts = doc.write_files.find((x) => x.path === '/etc/hosts')!.content;
    assert.match(hosts, name === 'master' ? /^192\.168\.108\.100 api\.k8s-lab\.internal$/m : /^127\.0\.0\.1 api\.k8s-lab\.internal$/m);
    assert.equal(doc.write_files.some((x) => x.path === '/etc/haproxy/haproxy.cfg'), name !== 'master');
    assert.deepEqual(doc.runcmd, [['bash', plan.installScript, '--live']]);
  }
});

test('golden image: kernel-lt and the boot settings are in the image every clone starts from', async () => {
  const cluster = kit();
  const plan = planGolden(cluster, await generateSecrets({ cluster: cluster.name, generateRootPassword: false }));
  const env = plan.files.find((f) => f.path === PATHS.installEnv)!.content;
  assert.match(env, /^DEFAULT_KERNEL=\/boot\/vmlinuz-5\.4\.278-1\.el7\.elrepo\.x86_64$/m);
  assert.match(env, /^DISABLE_EXCLUDES=kubernetes,docker-ce-stable,elrepo-kernel$/m);
  assert.ok(plan.files.some((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo'));
});
