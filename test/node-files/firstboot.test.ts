// firstboot.sh run for real in a sandbox: fake kubeadm/kubectl/systemctl/... on PATH, real curl
// against a loopback HTTPS /healthz stub.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PKI_FILES,
  TOKEN,
  calls,
  callsOf,
  exists,
  makeSandbox,
  run,
  setCounter,
  start,
  until,
  type Healthz,
  type Sandbox,
  startHealthz,
  writeModules,
} from './sandbox.js';

const FB = 'firstboot.sh';

function assertPkiRestored(sb: Sandbox): void {
  for (const f of PKI_FILES) {
    const restored = join(sb.p.pkiDir, f);
    assert.ok(exists(restored), `${f} restored into PKI_DIR`);
    assert.deepEqual(readFileSync(restored), readFileSync(join(sb.p.pkiBackup, f)), `${f} byte-identical to PKI_BACKUP's`);
    assert.equal(statSync(restored).mode & 0o777, f.endsWith('.key') ? 0o600 : 0o644, `${f} mode`);
  }
}

describe('firstboot.sh, init master', () => {
  it('prepares, pulls, inits once, copies admin.conf, applies the CNI, waits Ready, starts the keeper; a second run does nothing', async (t) => {
    const sb = makeSandbox('init');
    t.after(() => sb.cleanup());
    setCounter(sb, 'notready', 2);
    const r = await run(sb, FB, { FAKE_MODPROBE_MISSING: 'nf_conntrack_ipv4' });
    assert.equal(r.code, 0, r.stdout + r.stderr);

    const all = calls(sb);
    const has = (...argv: string[]) => all.some((c) => c.length === argv.length && argv.every((a, i) => c[i] === a));
    assert.ok(has('swapoff', '-a'));
    assert.ok(has('setenforce', '0'));
    for (const m of ['br_netfilter', 'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack_ipv4', 'nf_conntrack']) assert.ok(has('modprobe', m), `modprobe ${m}`);
    assert.ok(!has('modprobe', 'overlay'), 'overlay is for containerd only');
    assert.equal(readFileSync(join(sb.p.modulesLoad, 'k8s-conntrack.conf'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(), 'nf_conntrack');
    assert.ok(has('sysctl', '--system'));
    assert.ok(has('systemctl', 'start', 'docker'));
    assert.ok(has('chronyc', 'waitsync', '1'));
    assert.ok(has('kubeadm', 'config', 'images', 'pull', '--config', sb.p.kubeadmConfig));
    assert.deepEqual(callsOf(sb, 'kubeadm', 'init'), [['kubeadm', 'init', '--config', sb.p.kubeadmConfig]]);
    assert.equal(callsOf(sb, 'kubeadm', 'reset').length, 0);
    const admin = join(sb.p.kubeDir, 'admin.conf');
    assert.ok(has('kubectl', '--kubeconfig', admin, 'apply', '-f', sb.p.cni));
    assert.ok(callsOf(sb, 'kubectl', '--kubeconfig', admin, 'get', 'node', 'master').length >= 3, 'polled until Ready');
    assert.ok(has('systemctl', 'enable', '--now', 'k8s-image-token-keeper.timer'));
    // Order: init before CNI before the keeper.
    const idx = (pred: (c: string[]) => boolean) => all.findIndex(pred);
    assert.ok(idx((c) => c[1] === 'init') < idx((c) => c.includes('apply')));
    assert.ok(idx((c) => c.includes('apply')) < idx((c) => c.includes('k8s-image-token-keeper.timer')));

    assert.deepEqual(readFileSync(sb.p.adminKubeconfig), readFileSync(admin));
    assert.equal(statSync(sb.p.adminKubeconfig).mode & 0o777, 0o600);
    assertPkiRestored(sb);
    for (const s of ['prepare', 'time', 'pull', 'init', 'cni', 'ready', 'keeper']) assert.ok(exists(join(sb.p.state, `${s}.done`)), `${s}.done`);
    const sentinel = readFileSync(join(sb.p.state, 'bootstrap-success.complete'), 'utf8');
    assert.match(sentinel, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d init\n$/);

    const log = readFileSync(sb.p.log, 'utf8');
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d firstboot\[/m);
    assert.match(log, /firstboot\[ready\]: waiting up to 5s for node master to be Ready/);
    assert.match(log, /initialized successfully/, 'kubeadm output is logged');
    assert.ok(!log.includes(TOKEN) && !r.stdout.includes(TOKEN), 'the bootstrap token is redacted');
    assert.equal(statSync(sb.p.log).mode & 0o777, 0o600);
    assert.equal(r.stdout.trim().split('\n').at(-1), log.trim().split('\n').at(-1), 'the log also goes to stdout (the journal)');

    const before = calls(sb).length;
    const again = await run(sb, FB);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /bootstrap already complete.*nothing to do/);
    assert.equal(calls(sb).length, before, 'no command run the second time');
    assert.ok(again.ms < 3000);
  });

  it('loads the modules the plan listed; a missing br_netfilter stops first boot, a missing IPVS module only warns', async (t) => {
    const sb = makeSandbox('init');
    t.after(() => sb.cleanup());
    writeModules(sb, ['br_netfilter', 'ip_vs']);
    const warned = await run(sb, FB, { FAKE_MODPROBE_MISSING: 'ip_vs' });
    assert.equal(warned.code, 0, warned.stdout + warned.stderr);
    assert.match(warned.stdout, /WARNING: modprobe ip_vs failed/);
    assert.ok(!calls(sb).some((c) => c[0] === 'modprobe' && c[1] === 'ip_vs_rr'), 'only the listed modules');

    const sb2 = makeSandbox('init');
    t.after(() => sb2.cleanup());
    const failed = await run(sb2, FB, { FAKE_MODPROBE_MISSING: 'br_netfilter' });
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /modprobe br_netfilter failed: bridged pod traffic would bypass iptables/);
    assert.equal(callsOf(sb2, 'kubeadm', 'init').length, 0);
  });

  it('init failing once: kubeadm reset -f, CA restored, retried; PKI_DIR CA files byte-identical to PKI_BACKUP', async (t) => {
    const sb = makeSandbox('init');
    t.after(() => sb.cleanup());
    setCounter(sb, 'init-fails', 1);
    const r = await run(sb, FB);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const kubeadm = callsOf(sb, 'kubeadm').map((c) => c.slice(1, 3).join(' '));
    assert.deepEqual(kubeadm, ['config images', 'init --config', 'reset -f', 'init --config']);
    // The fake init fails when the CA is missing, so the retry saw it restored after the reset.
    assert.deepEqual(readFileSync(join(sb.fake, 'ca.key.seen-by-init')), readFileSync(join(sb.p.pkiBackup, 'ca.key')));
    assertPkiRestored(sb);
    assert.match(r.stdout, /kubeadm init failed \(attempt 1 of 3\)\n.*resetting with 'kubeadm reset -f'/);
    assert.ok(exists(join(sb.p.state, 'bootstrap-success.complete')));
  });

  it('init failing every attempt: exit 1 with what to do, no sentinel; a later run resumes at init', async (t) => {
    const sb = makeSandbox('init');
    t.after(() => sb.cleanup());
    setCounter(sb, 'init-fails', 3);
    const r = await run(sb, FB);
    assert.equal(r.code, 1);
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 3, 'RETRIES=3 attempts');
    assert.equal(callsOf(sb, 'kubeadm', 'reset', '-f').length, 3);
    assert.match(r.stdout, /kubeadm init failed 3 times/);
    assert.match(r.stdout, /FAILED in stage init .*systemctl start k8s-image-firstboot/);
    assert.ok(!exists(join(sb.p.state, 'bootstrap-success.complete')));
    assert.ok(!exists(join(sb.p.state, 'init.done')));
    assert.ok(exists(join(sb.p.state, 'prepare.done')));
    assertPkiRestored(sb);

    const n = calls(sb).length;
    const again = await run(sb, FB);
    assert.equal(again.code, 0, again.stdout);
    const later = calls(sb).slice(n);
    assert.ok(!later.some((c) => c[0] === 'swapoff' || c[0] === 'chronyc' || c.includes('pull')), 'finished stages are skipped');
    assert.equal(later.filter((c) => c[0] === 'kubeadm' && c[1] === 'init').length, 1);
    assert.match(again.stdout, /firstboot\[prepare\]: already done/);
  });

  it('an unsynchronised clock: bounded wait, a warning about TLS, and it goes on', async (t) => {
    const sb = makeSandbox('init', { TIME_SYNC_DEADLINE: '1' });
    t.after(() => sb.cleanup());
    const r = await run(sb, FB, { FAKE_CHRONY_RC: '1' });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /firstboot\[time\]: WARNING: the clock is still not synchronised after 1s.*TLS/);
    assert.ok(callsOf(sb, 'chronyc', 'waitsync', '1').length >= 1);
    assert.ok(callsOf(sb, 'chronyc', 'tracking').length >= 1, 'falls back to chronyc tracking');
    assert.ok(exists(join(sb.p.state, 'bootstrap-success.complete')));
  });
});

describe('firstboot.sh, joins (real curl against an HTTPS /healthz stub)', () => {
  let hz: Healthz;
  before(async () => {
    hz = await startHealthz(503);
  });
  after(async () => {
    await hz.close();
  });

  it('worker: waits while /healthz answers 503, joins once it answers 200', async (t) => {
    hz.status = 503;
    const sb = makeSandbox('join', { WAIT_FOR: hz.url }, hz.caPem);
    t.after(() => sb.cleanup());
    const hits0 = hz.hits;
    const job = start(sb, FB);
    assert.ok(await until(() => hz.hits - hits0 >= 3, 8000), 'curl keeps asking /healthz');
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 0, 'no join while unhealthy');
    assert.ok(!calls(sb).some((c) => c.includes('pull')), 'workers skip the pull stage');
    hz.status = 200;
    const r = await job.done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(callsOf(sb, 'kubeadm', 'join'), [['kubeadm', 'join', '--config', sb.p.kubeadmConfig]]);
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 0);
    assert.match(r.stdout, /firstboot\[join\]: still waiting \(check 1\) for https:\/\/127\.0\.0\.1:\d+\/healthz \(curl: \(22\)[^)]*503/);
    assert.match(r.stdout, /ready: https:\/\/127\.0\.0\.1:\d+\/healthz/);
    assert.ok(!exists(sb.p.adminKubeconfig), 'workers get no admin.conf');
    assert.ok(!exists(join(sb.p.pkiDir, 'ca.key')), 'workers get no CA key');
    assert.match(readFileSync(join(sb.p.state, 'bootstrap-success.complete'), 'utf8'), / join\n$/);
  });

  it('worker whose endpoint never becomes healthy: gives up after WAIT_DEADLINE, names the URL and what to do, no join', async (t) => {
    hz.status = 503;
    const sb = makeSandbox('join', { WAIT_FOR: hz.url, WAIT_DEADLINE: '2' }, hz.caPem);
    t.after(() => sb.cleanup());
    const r = await run(sb, FB);
    assert.notEqual(r.code, 0);
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 0);
    assert.ok(r.ms < 6000, `gave up in ${r.ms} ms`);
    const msg = r.stdout.split('\n').find((l) => l.includes('ERROR: gave up')) ?? '';
    assert.ok(msg.includes(hz.url), msg);
    assert.match(msg, /after 2s waiting for/);
    assert.match(msg, /\/var\/log\/k8s-image\/firstboot\.log/);
    assert.match(msg, /systemctl start k8s-image-firstboot/);
    assert.ok(readFileSync(sb.p.log, 'utf8').includes(msg), 'the message is in the log too');
    assert.ok(!exists(join(sb.p.state, 'join.done')));
  });

  it('a URL that answers 200 only with a CA it does not trust does not count', async (t) => {
    hz.status = 200;
    const sb = makeSandbox('join', { WAIT_FOR: hz.url, WAIT_DEADLINE: '1' }, 'not a certificate\n');
    t.after(() => sb.cleanup());
    const r = await run(sb, FB);
    assert.notEqual(r.code, 0);
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 0);
  });

  it('worker: a failed join is reset and retried', async (t) => {
    hz.status = 200;
    const sb = makeSandbox('join', { WAIT_FOR: hz.url }, hz.caPem);
    t.after(() => sb.cleanup());
    setCounter(sb, 'join-fails', 1);
    const r = await run(sb, FB);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(
      callsOf(sb, 'kubeadm').map((c) => c[1]),
      ['join', 'reset', 'join'],
    );
  });

  it('join-control-plane: waits for WAIT_FOR, restores the shared PKI before join (and after a reset), copies admin.conf', async (t) => {
    hz.status = 200;
    const sb = makeSandbox('join-control-plane', { WAIT_FOR: hz.url, RUNTIME_SERVICE: 'containerd' }, hz.caPem);
    writeModules(sb, ['br_netfilter', 'overlay']);
    t.after(() => sb.cleanup());
    setCounter(sb, 'join-fails', 1);
    const hits0 = hz.hits;
    const r = await run(sb, FB);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(hz.hits > hits0, '/healthz was asked');
    assert.ok(callsOf(sb, 'modprobe', 'overlay').length === 1, 'containerd needs overlay');
    assert.ok(callsOf(sb, 'systemctl', 'start', 'containerd').length === 1);
    // Join-only config: `kubeadm config images pull` would fall back to default images, so it is skipped.
    assert.deepEqual(
      callsOf(sb, 'kubeadm').map((c) => c.slice(1).join(' ')),
      [`join --config ${sb.p.kubeadmConfig}`, 'reset -f', `join --config ${sb.p.kubeadmConfig}`],
    );
    assert.match(r.stdout, /firstboot\[pull\]: skipped/);
    // The fake join --control-plane fails without the CA, so both attempts saw it restored.
    assert.deepEqual(readFileSync(join(sb.fake, 'ca.key.seen-by-join')), readFileSync(join(sb.p.pkiBackup, 'ca.key')));
    assertPkiRestored(sb);
    assert.deepEqual(readFileSync(sb.p.adminKubeconfig), readFileSync(join(sb.p.kubeDir, 'admin.conf')));
    assert.equal(calls(sb).filter((c) => c[0] === 'kubectl' && c.includes('apply')).length, 0, 'no CNI apply on a joining master');
    // It waits for its own Node to be Ready, through its admin.conf.
    assert.ok(callsOf(sb, 'kubectl', '--kubeconfig', join(sb.p.kubeDir, 'admin.conf'), 'get', 'node', 'master').length >= 1);
    assert.ok(exists(join(sb.p.state, 'ready.done')));
    assert.equal(calls(sb).filter((c) => c.includes('k8s-image-token-keeper.timer')).length, 0, 'the keeper runs on the init master only');
    // Restore is logged before the join's first attempt.
    const log = readFileSync(sb.p.log, 'utf8');
    assert.ok(log.indexOf('restored the shared CA material') < log.indexOf('+ kubeadm join'));
    assert.ok(log.indexOf('ready: https') < log.indexOf('+ kubeadm join'));
  });

  it('join-control-plane waits for the previous master while it is unhealthy', async (t) => {
    hz.status = 503;
    const sb = makeSandbox('join-control-plane', { WAIT_FOR: hz.url }, hz.caPem);
    t.after(() => sb.cleanup());
    const hits0 = hz.hits;
    const job = start(sb, FB);
    assert.ok(await until(() => hz.hits - hits0 >= 2, 8000));
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 0);
    hz.status = 200;
    const r = await job.done;
    assert.equal(r.code, 0, r.stdout);
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 1);
  });
});

describe('firstboot.sh, bad settings', () => {
  it('a missing env file or an unknown ROLE fails with a clear message', async (t) => {
    const sb = makeSandbox('join', { ROLE: 'master' });
    t.after(() => sb.cleanup());
    const r = await run(sb, FB);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ROLE=master: expected init, join-control-plane, join or none/);
    const missing = await run(sb, FB, { K8S_IMAGE_ENV: join(sb.root, 'nope.env') });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.env/);
    assert.equal(calls(sb).length, 0);
  });
});

/** The install.env a failing or passing install.sh reads (the plan writes the same keys). */
function writeInstallEnv(sb: Sandbox, vars: Record<string, string> = {}): void {
  const settings: Record<string, string> = {
    PACKAGES: 'chrony curl',
    ENABLE_SERVICES: 'chronyd',
    DISABLE_SERVICES: 'firewalld',
    START_SERVICES: 'chronyd',
    FIRSTBOOT_UNIT: 'k8s-image-firstboot.service',
    INSTALL_MARKER: sb.p.installMarker,
    INSTALL_LOG: join(sb.root, 'var/log/k8s-image/install.log'),
    FSTAB: join(sb.root, 'etc/fstab'),
    SELINUX_CONFIG: join(sb.root, 'etc/selinux-config'),
    SELINUX: 'disabled',
    YUM_RETRIES: '1',
    YUM_BACKOFF: '0',
    ...vars,
  };
  writeFileSync(sb.p.installEnv, `# test\n${Object.entries(settings).map(([k, v]) => `${k}="${v}"`).join('\n')}\n`);
}

describe('firstboot.sh, an install that did not finish (cloud-init runcmd failed)', () => {
  it('refuses to go on while the install fails, says what to rerun, and resumes the whole node once it is fixed', async (t) => {
    const sb = makeSandbox('join');
    t.after(() => sb.cleanup());
    rmSync(sb.p.installMarker);
    writeInstallEnv(sb);
    setCounter(sb, 'yum-fails', 1);
    const r = await run(sb, FB);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /the install did not finish \(no .*install\.done\): running '.*install\.sh --live' again/);
    assert.match(r.stdout, /ERROR: the install failed \(exit 1\).*Read .*install\.log, fix the cause.*then run 'systemctl start k8s-image-firstboot' \(or reboot\): it reruns the install and goes on/);
    assert.equal(callsOf(sb, 'kubeadm').length, 0, 'no kubeadm on a half-installed node');
    assert.equal(callsOf(sb, 'systemctl', 'start', 'docker').length, 0, 'not even the runtime');

    // The mirror is back: the same command reruns the install, then the join.
    const again = await run(sb, FB);
    assert.equal(again.code, 0, again.stdout);
    assert.ok(exists(sb.p.installMarker));
    assert.equal(callsOf(sb, 'yum', 'install').length, 2);
    assert.equal(callsOf(sb, 'kubeadm', 'join').length, 1);
    assert.ok(exists(join(sb.p.state, 'bootstrap-success.complete')));
  });

  it('ROLE=none (an lb node): only makes sure the install finished', async (t) => {
    const sb = makeSandbox('join', { ROLE: 'none', KUBEADM_CONFIG: '', RUNTIME_SERVICE: '' });
    t.after(() => sb.cleanup());
    rmSync(sb.p.installMarker);
    writeInstallEnv(sb, { START_SERVICES: 'chronyd nginx' });
    const r = await run(sb, FB);
    assert.equal(r.code, 0, r.stdout);
    assert.ok(callsOf(sb, 'systemctl', 'restart', 'nginx').length, 'the proxy is (re)started by the rerun install');
    assert.equal(callsOf(sb, 'kubeadm').length, 0);
    assert.ok(exists(join(sb.p.state, 'bootstrap-success.complete')));
  });
});

describe('firstboot.sh, init behind a load balancer', () => {
  it('waits (bounded, logged) until the endpoint accepts connections before the first kubeadm init', async (t) => {
    // A port nobody listens on yet: the lb "boots later".
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const sb = makeSandbox('init', { WAIT_TCP: `127.0.0.1:${port}`, WAIT_DEADLINE: '20' });
    t.after(() => sb.cleanup());
    const running = start(sb, FB);
    assert.ok(await until(() => exists(sb.p.log) && readFileSync(sb.p.log, 'utf8').includes('still waiting'), 8000), 'it waits and says so');
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 0, 'no init while the endpoint refuses connections');
    const lb = createServer((c) => c.end());
    await new Promise<void>((r) => lb.listen(port, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => lb.close(() => r())));
    const r = await running.done;
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, new RegExp(`waiting for 127\\.0\\.0\\.1:${port} \\(to accept connections\\)`));
    assert.match(r.stdout, /no TCP connection to 127\.0\.0\.1:/);
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 1);
  });

  it('gives up after WAIT_DEADLINE with what to check', async (t) => {
    const sb = makeSandbox('init', { WAIT_TCP: '127.0.0.1:1', WAIT_DEADLINE: '1' });
    t.after(() => sb.cleanup());
    const r = await run(sb, FB);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ERROR: gave up after 1s waiting for 127\.0\.0\.1:1/);
    assert.equal(callsOf(sb, 'kubeadm', 'init').length, 0);
  });
});
