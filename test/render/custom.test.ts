/**
 * One's own additions (custom: packages, files, CA certificates, hooks): refused when they could not
 * land as given, carried byte-exact by the kickstart and cloud-init, and run for real by install.sh
 * and first boot in the sandbox (fake yum/systemctl/kubeadm, real bash).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, PATHS } from '../../src/plan/index.js';
import { renderKickstart, writeFileShell } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import type { Artifact } from '../../src/artifact.js';
import { UserError } from '../../src/errors.js';
import { checkKickstart, cloudInitSchema } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { calls, callsOf, exists, makeSandbox, run } from '../node-files/sandbox.js';

/** A hook no heredoc or YAML quoting can hold naively: quotes, $(...), a % line, the kickstart's delimiter, no final newline. */
const NASTY = "#!/bin/bash\necho \"it's $(echo ok) \\\\ `echo x`\"\ncat <<'K8S_IMAGE_EOF' >/dev/null\n%post\n'unclosed\nK8S_IMAGE_EOF\n\ttrue";

let secrets: Secrets;
let dir: string;
before(async () => {
  secrets = await generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false });
  dir = tempDir('k8s-image-custom-');
  mkdirSync(join(dir, 'hooks'));
  mkdirSync(join(dir, 'files'));
  writeFileSync(join(dir, 'hooks', 'after-install.sh'), NASTY);
  writeFileSync(join(dir, 'hooks', 'label.sh'), '#!/bin/bash\necho labelled\n');
  writeFileSync(join(dir, 'files', 'motd'), 'Welcome to a k8s-image node\n');
  writeFileSync(join(dir, 'corp-ca.pem'), secrets.ca.cert);
});

const base = `network: { gateway: 192.168.108.2 }\nnodes:\n  - { name: master, role: master, ip: 192.168.108.100, mac: 00:50:56:3f:00:64 }\n  - { name: node01, role: node, ip: 192.168.108.101, mac: 00:50:56:3f:00:65 }\n  - { name: lb, role: lb, ip: 192.168.108.102, mac: 00:50:56:3f:00:66 }\n`;
const withCustom = (custom: string, nodeCustom = '') =>
  `custom:\n${custom}\n${base.replace('  - { name: node01, role: node, ip: 192.168.108.101, mac: 00:50:56:3f:00:65 }', `  - { name: node01, role: node, ip: 192.168.108.101, mac: 00:50:56:3f:00:65${nodeCustom} }`)}`;
const load = (text: string) => loadCluster(text, join(dir, 'cluster.yaml'), { readFile: (p) => readFileSync(join(dir, p), 'utf8') });
const refused = (text: string): string[] => {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    return e.problems;
  }
  return assert.fail('expected a refusal');
};
const text = (a: Artifact[], path: string) => Buffer.from(a.find((x) => x.path === path)!.bytes).toString('utf8');

const FULL = [
  '  packages: [{ name: nfs-utils, version: 1.3.0-0.68.el7.2 }]',
  "  files: [{ path: /etc/motd, source: files/motd }, { path: /etc/sysconfig/corp, mode: '0640', content: \"TOKEN=abc\\n\", secret: true }]",
  '  caCertificates: [{ source: corp-ca.pem }]',
  '  hooks: { afterInstall: [hooks/after-install.sh], beforeKubeadm: [hooks/label.sh], afterReady: [hooks/label.sh] }',
].join('\n');

test('the plan carries packages, files, CA anchors and hooks; every path renders them byte-exact', async () => {
  const { cluster, digest } = load(withCustom(FULL, ', custom: { packages: [{ name: htop, version: 2.2.0-3.el7 }] }'));
  const plan = planNode(cluster, secrets, 'node01');
  const at = (p: string) => plan.files.find((f) => f.path === p);
  assert.equal(at('/etc/motd')!.content, 'Welcome to a k8s-image node\n');
  assert.equal(at('/etc/motd')!.mode, 0o644);
  assert.deepEqual([at('/etc/sysconfig/corp')!.mode, at('/etc/sysconfig/corp')!.secret], [0o640, true]);
  assert.equal(at('/etc/pki/ca-trust/source/anchors/k8s-image-01.crt')!.content, secrets.ca.cert.endsWith('\n') ? secrets.ca.cert : `${secrets.ca.cert}\n`);
  assert.equal(at(`${PATHS.hooksDir}/after-install/01-after-install.sh`)!.content, NASTY);
  assert.equal(at(`${PATHS.hooksDir}/after-install/01-after-install.sh`)!.mode, 0o755);
  assert.ok(at(`${PATHS.hooksDir}/before-kubeadm/02-label.sh`));
  assert.ok(at(`${PATHS.hooksDir}/after-ready/03-label.sh`));
  const env = at(PATHS.installEnv)!.content;
  assert.match(env, /^PACKAGES=".* nfs-utils-1\.3\.0-0\.68\.el7\.2 htop-2\.2\.0-3\.el7"$/m, 'the cluster\'s, then the node\'s, in the one yum transaction');
  assert.match(env, /^UPDATE_CA_TRUST=1$/m);
  assert.match(env, new RegExp(`^HOOKS_DIR=${PATHS.hooksDir}$`, 'm'));
  assert.match(at(PATHS.firstbootEnv)!.content, new RegExp(`^HOOKS_DIR=${PATHS.hooksDir}$`, 'm'));
  // The master has the cluster's additions but not node01's own package; the lb node only its after-install hook.
  assert.doesNotMatch(planNode(cluster, secrets, 'master').files.find((f) => f.path === PATHS.installEnv)!.content, /htop/);
  const lb = planNode(cluster, secrets, 'lb');
  assert.deepEqual(lb.files.filter((f) => f.path.startsWith(PATHS.hooksDir)).map((f) => f.path), [`${PATHS.hooksDir}/after-install/01-after-install.sh`]);
  assert.doesNotMatch(lb.files.find((f) => f.path === PATHS.firstbootEnv)!.content, /HOOKS_DIR/);
  // A changed hook is a changed input.
  writeFileSync(join(dir, 'hooks', 'label.sh'), '#!/bin/bash\necho labelled again\n');
  assert.notEqual(load(withCustom(FULL, ', custom: { packages: [{ name: htop, version: 2.2.0-3.el7 }] }')).digest, digest);
  writeFileSync(join(dir, 'hooks', 'label.sh'), '#!/bin/bash\necho labelled\n');

  // Kickstart: the grammar holds; the secret file is not in ks.cfg text but on the seed.
  const ks = renderKickstart(plan);
  assert.deepEqual(checkKickstart(text(ks, 'ks.cfg')), []);
  assert.doesNotMatch(text(ks, 'ks.cfg'), /TOKEN=abc/);
  assert.equal(text(ks, 'oemdrv/k8s-image/etc/sysconfig/corp'), 'TOKEN=abc\n');
  // The shell the kickstart writes the hook with gives back its bytes (run by bash into a temp root).
  const root = tempDir('k8s-image-ks-write-');
  const hook = at(`${PATHS.hooksDir}/after-install/01-after-install.sh`)!;
  const target = join(root, 'hook.sh');
  execFileSync('bash', ['-euc', writeFileShell({ ...hook, path: target })]);
  assert.equal(readFileSync(target, 'utf8'), NASTY);
  assert.ok(text(ks, 'ks.cfg').includes(writeFileShell(hook)), 'ks.cfg writes the hook with that shell');
  rmSync(root, { recursive: true, force: true });

  // cloud-init: the schema and CentOS 7's keys hold; PyYAML-equivalent parse gives the bytes back.
  const userData = text(renderCloudInit(plan), 'cloud-init/user-data');
  assert.deepEqual(await cloudInitSchema(userData), []);
  const wf = (yaml.load(userData) as { write_files: { path: string; content: string; permissions: string }[] }).write_files;
  assert.equal(wf.find((f) => f.path === hook.path)!.content, NASTY);
  assert.equal(wf.find((f) => f.path === '/etc/sysconfig/corp')!.permissions, '0640');
});

test('a line whose first non-blank is % goes as base64: pykickstart lstrips before matching %end, %include, %ksappend', () => {
  const content = '#!/bin/bash\n  %end\n\t%include /dev/sda\n  %ksappend http://x\necho done\n';
  writeFileSync(join(dir, 'hooks', 'indented.sh'), content);
  const { cluster } = load(withCustom(`  files: [{ path: /etc/indented, content: ${JSON.stringify(content)} }]\n  hooks: { afterInstall: [hooks/indented.sh] }`));
  const plan = planNode(cluster, secrets, 'node01');
  const ksText = text(renderKickstart(plan), 'ks.cfg');
  assert.deepEqual(checkKickstart(ksText), []);
  assert.doesNotMatch(ksText, /^\s+%(end|include|ksappend)/m, 'no indented % line reaches ks.cfg');
  const root = tempDir('k8s-image-ks-indent-');
  for (const f of [plan.files.find((x) => x.path === '/etc/indented')!, plan.files.find((x) => x.path.endsWith('/after-install/01-indented.sh'))!]) {
    assert.ok(ksText.includes(writeFileShell(f)), f.path);
    const target = join(root, 'out');
    execFileSync('bash', ['-euc', writeFileShell({ ...f, path: target })]);
    assert.equal(readFileSync(target, 'utf8'), content, f.path);
  }
  rmSync(root, { recursive: true, force: true });
});

test('a file holding a PRIVATE KEY must be secret (ks.cfg is served to the PXE network); a secret file is never world-readable', () => {
  const key = '-----BEGIN RSA PRIVATE KEY-----\\nMIIEabc\\n-----END RSA PRIVATE KEY-----\\n';
  const p1 = refused(withCustom(`  files: [{ path: /etc/corp/id_rsa, content: "${key}" }]`));
  assert.ok(p1.some((p) => /^custom\.files\[0\]\.secret: content holds a PRIVATE KEY block; set secret: true for it: a file that is not secret is written into ks\.cfg \(served to anyone on the PXE network/.test(p)), p1.join('\n'));
  const p2 = refused(withCustom(`  files: [{ path: /etc/corp/id_rsa, content: "${key}", secret: true, mode: '0644' }]`));
  assert.ok(p2.some((p) => /^custom\.files\[0\]\.mode: '0644' lets every user of the node read a secret file/.test(p)), p2.join('\n'));
  writeFileSync(join(dir, 'hooks', 'with-key.sh'), `#!/bin/bash\ncat >/root/k <<'E'\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\nE\n`);
  const p3 = refused(withCustom('  hooks: { afterInstall: [hooks/with-key.sh] }'));
  assert.ok(p3.some((p) => /^custom\.hooks\.afterInstall\[0\]: "hooks\/with-key\.sh" holds a PRIVATE KEY block/.test(p)), p3.join('\n'));
  // secret: true is accepted, 0600, and stays out of ks.cfg.
  const { cluster } = load(withCustom(`  files: [{ path: /etc/corp/id_rsa, content: "${key}", secret: true }]`));
  const plan = planNode(cluster, secrets, 'node01');
  const f = plan.files.find((x) => x.path === '/etc/corp/id_rsa')!;
  assert.deepEqual([f.mode, f.secret], [0o600, true]);
  assert.doesNotMatch(text(renderKickstart(plan), 'ks.cfg'), /PRIVATE KEY/);
});

test('additions that could not land as given are refused, naming the field', () => {
  writeFileSync(join(dir, 'files', 'nul.bin'), Buffer.from([0x61, 0x00, 0x62]));
  writeFileSync(join(dir, 'files', 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
  writeFileSync(join(dir, 'files', 'big'), 'x'.repeat(1024 * 1024 + 1));
  writeFileSync(join(dir, 'leaf.pem'), execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=leaf', '-days', '1', '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: ['ignore', 'pipe', 'ignore'] }));
  writeFileSync(join(dir, 'key.pem'), `${secrets.ca.cert}\n${secrets.ca.key}`);
  const cases: [string, string, RegExp][] = [
    ['content and source', '  files: [{ path: /etc/a, content: x, source: files/motd }]', /^custom\.files\[0\]: give either content .* or source .*, not both/],
    ['a path k8s-image keeps', '  files: [{ path: /etc/k8s-image/x, content: x }]', /^custom\.files\[0\]\.path: "\/etc\/k8s-image\/x" is where k8s-image keeps its own files/],
    ['a path with ..', '  files: [{ path: /etc/../root/x, content: x }]', /^custom\.files\[0\]\.path: "\/etc\/\.\.\/root\/x" is not valid: expected an absolute path/],
    ['a setuid mode', "  files: [{ path: /etc/a, content: x, mode: '4755' }]", /^custom\.files\[0\]\.mode: "4755" is not valid: expected a quoted octal mode/],
    ['a missing source', '  files: [{ path: /etc/a, source: files/nope }]', /^custom\.files\[0\]\.source: "files\/nope" cannot be read \(ENOENT\); the path is relative to the config file/],
    ['a source outside', '  files: [{ path: /etc/a, source: ../etc/passwd }]', /^custom\.files\[0\]\.source: "\.\.\/etc\/passwd" is not valid: expected a path relative to cluster\.yaml/],
    ['a NUL byte', '  files: [{ path: /etc/a, source: files/nul.bin }]', /^custom\.files\[0\]: "files\/nul\.bin" holds a NUL byte: only text files are carried/],
    ['not UTF-8', '  files: [{ path: /etc/a, source: files/latin1 }]', /^custom\.files\[0\]: "files\/latin1" is not UTF-8 text/],
    ['too big', '  files: [{ path: /etc/a, source: files/big }]', /^custom\.files\[0\]: "files\/big" 1048577 bytes is more than the 1048576 a seed carries for one file/],
    ['a path twice', '  files: [{ path: /etc/a, content: x }, { path: /etc/a, content: y }]', /^custom\.files\[1\]\.path: "\/etc\/a" is already custom\.files\[0\]/],
    ['not PEM', '  caCertificates: [{ content: hello }]', /^custom\.caCertificates\[0\]: expected PEM certificates only/],
    ['a private key beside the CA', '  caCertificates: [{ source: key.pem }]', /this holds a PRIVATE KEY, which must never be copied to every node/],
    ['a leaf certificate', '  caCertificates: [{ source: leaf.pem }]', /^custom\.caCertificates\[0\]: "CN=leaf" is not a CA certificate/],
    ['an unpinned package', '  packages: [{ name: htop }]', /^custom\.packages\[0\]\.version: missing/],
    ['a missing hook', '  hooks: { afterReady: [hooks/nope.sh] }', /^custom\.hooks\.afterReady\[0\]: "hooks\/nope\.sh" cannot be read/],
    ['an unknown hook point', '  hooks: { beforeInstall: [hooks/label.sh] }', /^custom\.hooks: unknown field "beforeInstall"/],
  ];
  for (const [what, custom, want] of cases) {
    const problems = refused(withCustom(custom));
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
  // A node's own file on a path the cluster's already has, and a path the plan writes itself.
  assert.ok(refused(withCustom('  files: [{ path: /etc/a, content: x }]', ', custom: { files: [{ path: /etc/a, content: y }] }')).some((p) => /^nodes\[1\]\.custom\.files\[0\]\.path: "\/etc\/a" is already custom\.files\[0\]/.test(p)));
  const { cluster } = load(withCustom('  files: [{ path: /etc/hosts, content: "127.0.0.1 x\\n" }]'));
  assert.throws(() => planNode(cluster, secrets, 'master'), /^UserError: custom\.files\[0\]\.path: "\/etc\/hosts" is written by k8s-image itself on master/);
});

test('install.sh trusts the CA before yum and runs after-install hooks as files; a failing hook fails the install', async (t) => {
  const sb = makeSandbox('init');
  t.after(() => sb.cleanup());
  rmSync(sb.p.installMarker);
  const bin = sb.env.PATH!.split(':')[0]!;
  writeFileSync(join(bin, 'update-ca-trust'), `#!/bin/bash\necho "update-ca-trust $*" >>"${sb.callsLog}"\n`);
  chmodSync(join(bin, 'update-ca-trust'), 0o755);
  const hooks = join(sb.root, 'hooks');
  mkdirSync(join(hooks, 'after-install'), { recursive: true });
  const out = join(sb.root, 'hook-ran');
  writeFileSync(join(hooks, 'after-install', '01-a.sh'), `${NASTY}\necho "$K8S_IMAGE_HOOK live=$K8S_IMAGE_LIVE ip=$K8S_IMAGE_NODE_IP" >${out}\n`);
  writeFileSync(join(hooks, 'after-install', '02-b.sh'), `echo second >>${out}\n`);
  const env = (extra: string) =>
    writeFileSync(sb.p.installEnv, `PACKAGES="chrony nfs-utils-1.3.0-0.68.el7.2"\nENABLE_SERVICES=chronyd\nINSTALL_MARKER=${sb.p.installMarker}\nINSTALL_LOG=${join(sb.root, 'install.log')}\nFSTAB=${join(sb.root, 'fstab')}\nSELINUX_CONFIG=${join(sb.root, 'selinux')}\nNODE_ADDRESS=192.168.108.101\nUPDATE_CA_TRUST=1\nHOOKS_DIR=${hooks}\nYUM_BACKOFF=0\n${extra}`);
  env('');
  const r = await run(sb, 'install.sh', {});
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const all = calls(sb).map((c) => c.join(' '));
  const ca = all.indexOf('update-ca-trust extract');
  assert.ok(ca >= 0, all.join('\n'));
  assert.ok(ca < all.findIndex((c) => c.startsWith('yum install')), 'trusted before yum');
  assert.deepEqual(callsOf(sb, 'yum', 'install')[0]!.slice(-2), ['chrony', 'nfs-utils-1.3.0-0.68.el7.2']);
  assert.equal(readFileSync(out, 'utf8'), 'after-install live=0 ip=192.168.108.101\nsecond\n', 'both hooks, in order, with their environment');
  assert.match(r.stdout, /hook .*01-a\.sh: start\nit's ok \\ x\n[^\n]*hook .*01-a\.sh: done/);
  assert.ok(exists(sb.p.installMarker));

  writeFileSync(join(hooks, 'after-install', '02-b.sh'), 'echo broken >&2\nexit 7\n');
  rmSync(sb.p.installMarker);
  const bad = await run(sb, 'install.sh', {});
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /ERROR: hook \S*02-b\.sh \(custom\.hooks\.afterInstall\) failed with exit 7; its output is above/);
  assert.match(bad.stdout, /broken/);
  assert.ok(!exists(sb.p.installMarker), 'no install marker after a failed hook');
});

test('first boot runs before-kubeadm hooks before the join and after-ready hooks once Ready; a failing one stops it there', async (t) => {
  const sb = makeSandbox('join', { HOOKS_DIR: join(dirname(dirname(dir)), 'unused') });
  t.after(() => sb.cleanup());
  const hooks = join(sb.root, 'hooks');
  for (const p of ['before-kubeadm', 'after-ready']) mkdirSync(join(hooks, p), { recursive: true });
  // Each hook leaves a mark in the fakes' call log (systemctl is a fake), so the order shows.
  writeFileSync(join(hooks, 'before-kubeadm', '01-x.sh'), 'systemctl is-active "hook-$K8S_IMAGE_HOOK-$K8S_IMAGE_ROLE-$K8S_IMAGE_NODE" || true\n');
  writeFileSync(join(hooks, 'after-ready', '01-y.sh'), 'systemctl is-active "hook-$K8S_IMAGE_HOOK" || true\n');
  writeFileSync(sb.envFile, readFileSync(sb.envFile, 'utf8').replace(/^HOOKS_DIR=.*$/m, `HOOKS_DIR=${hooks}`));
  const r = await run(sb, 'firstboot.sh', {});
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const all = calls(sb).map((c) => c.join(' '));
  const before = all.indexOf('systemctl is-active hook-before-kubeadm-join-node01');
  const join_ = all.findIndex((c) => c.startsWith('kubeadm join'));
  const afterReady = all.indexOf('systemctl is-active hook-after-ready');
  assert.ok(before >= 0 && join_ > before && afterReady > join_, all.join('\n'));
  for (const s of ['before_kubeadm', 'after_ready']) assert.ok(exists(join(sb.p.state, `${s}.done`)), `${s}.done`);

  const sb2 = makeSandbox('join');
  t.after(() => sb2.cleanup());
  mkdirSync(join(sb2.root, 'hooks', 'before-kubeadm'), { recursive: true });
  writeFileSync(join(sb2.root, 'hooks', 'before-kubeadm', '01-fail.sh'), 'echo "cannot reach the NFS server" >&2\nexit 3\n');
  writeFileSync(sb2.envFile, `${readFileSync(sb2.envFile, 'utf8')}HOOKS_DIR=${join(sb2.root, 'hooks')}\n`);
  const bad = await run(sb2, 'firstboot.sh', {});
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /firstboot\[before_kubeadm\]: ERROR: hook \S*01-fail\.sh \(before-kubeadm\) failed with exit 3/);
  assert.match(bad.stdout, /cannot reach the NFS server/);
  assert.match(bad.stdout, /FAILED in stage before_kubeadm/);
  assert.equal(callsOf(sb2, 'kubeadm', 'join').length, 0, 'no join after a failed hook');
});

test('after-ready hooks of a node late to be Ready: no sentinel, and the next run checks readiness itself and runs them', async (t) => {
  const sb = makeSandbox('join', { READY_DEADLINE: '1' });
  t.after(() => sb.cleanup());
  const hooks = join(sb.root, 'hooks');
  mkdirSync(join(hooks, 'after-ready'), { recursive: true });
  writeFileSync(join(hooks, 'after-ready', '01-y.sh'), 'systemctl is-active "hook-$K8S_IMAGE_HOOK" || true\n');
  writeFileSync(sb.envFile, `${readFileSync(sb.envFile, 'utf8')}HOOKS_DIR=${hooks}\n`);
  const late = await run(sb, 'firstboot.sh', { FAKE_NODE_STATUS: 'NotReady' });
  assert.equal(late.code, 0, late.stdout + late.stderr);
  assert.ok(exists(join(sb.p.state, 'ready.done')), 'ready is done (late is a warning)');
  assert.ok(!exists(join(sb.p.state, 'after_ready.done')));
  assert.ok(!exists(join(sb.p.state, 'bootstrap-success.complete')), 'no sentinel while after_ready is unfinished');
  assert.match(late.stdout, /not complete: stage\(s\) after_ready unfinished; \S+bootstrap-success\.complete not written/);
  assert.ok(!calls(sb).some((c) => c.join(' ') === 'systemctl is-active hook-after-ready'));

  // Still NotReady on the rerun: ready is done and does not wait; after_ready asks and waits again.
  const still = await run(sb, 'firstboot.sh', { FAKE_NODE_STATUS: 'NotReady' });
  assert.equal(still.code, 0, still.stdout + still.stderr);
  assert.match(still.stdout, /firstboot\[after_ready\]: WARNING: node node01 is NotReady/);
  assert.ok(!exists(join(sb.p.state, 'bootstrap-success.complete')));

  // Ready now: the hooks run, then the sentinel.
  const ok = await run(sb, 'firstboot.sh', {});
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(calls(sb).filter((c) => c.join(' ') === 'systemctl is-active hook-after-ready').length, 1);
  assert.ok(exists(join(sb.p.state, 'after_ready.done')));
  assert.ok(exists(join(sb.p.state, 'bootstrap-success.complete')));
  assert.equal(callsOf(sb, 'kubeadm', 'join').length, 1, 'joined once');
});
