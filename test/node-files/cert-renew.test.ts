/**
 * cert-renew.sh run for real in the sandbox, on a PKI made from k8s-image's own CAs (generateSecrets)
 * with leaf certificates and kubeconfigs made here by the openssl CLI, as kubeadm lays them out. The
 * stand-in kubeadm (fake-kubeadm-certs.sh) is bound to one version's facts from
 * test/reference/kubeadm-certs-renew.json: it refuses any other subcommand or flag, and re-signs with
 * openssl keeping subject, SANs and usages. No clock games: a certificate made to last one day is
 * inside the 60-day window, one made for a year is not. Reports go to a loopback server through
 * report.py under CentOS 7's python 2.7 where this machine has it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageRoot } from '../../src/assets.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { parseCerts, reportKey, reportSignature } from '../../src/status/protocol.js';
import { callsOf, makeSandbox, script, type Sandbox } from './sandbox.js';

const REF = JSON.parse(readFileSync(join(packageRoot, 'test/reference/kubeadm-certs-renew.json'), 'utf8')) as {
  versions: { minors: [number, number]; argv: string[]; flags: string[] }[];
  rewrites: { pki: string[]; kubeconfig: string[]; signer: Record<string, string> };
};
const PY27 = '/root/.pyenv/versions/2.7.18/bin/python2.7';
const PYTHON = existsSync(PY27) ? PY27 : '/usr/bin/python3';
const REPORTER = join(packageRoot, 'node-files/report.py');
const RENEW_WITHIN = 60 * 86400;

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const rowOf = (minor: number) => REF.versions.find((v) => minor >= v.minors[0] && minor <= v.minors[1])!;
const CA_FILE: Record<string, string> = { ca: 'ca', 'front-proxy-ca': 'front-proxy-ca', 'etcd/ca': 'etcd/ca' };

/** What kubeadm init leaves: each leaf with its subject, usages and SANs; kubeconfigs embedding a client certificate. */
const LEAVES: Record<string, { subj: string; eku: string; san?: string }> = {
  apiserver: { subj: '/CN=kube-apiserver', eku: 'serverAuth', san: 'DNS:master,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:192.168.108.100' },
  'apiserver-kubelet-client': { subj: '/O=system:masters/CN=kube-apiserver-kubelet-client', eku: 'clientAuth' },
  'front-proxy-client': { subj: '/CN=front-proxy-client', eku: 'clientAuth' },
  'apiserver-etcd-client': { subj: '/O=system:masters/CN=kube-apiserver-etcd-client', eku: 'clientAuth' },
  'etcd/server': { subj: '/CN=master', eku: 'serverAuth,clientAuth', san: 'DNS:master,DNS:localhost,IP:192.168.108.100,IP:127.0.0.1' },
  'etcd/peer': { subj: '/CN=master', eku: 'serverAuth,clientAuth', san: 'DNS:master,DNS:localhost,IP:192.168.108.100,IP:127.0.0.1' },
  'etcd/healthcheck-client': { subj: '/O=system:masters/CN=kube-etcd-healthcheck-client', eku: 'clientAuth' },
};
const KUBECONFIG_SUBJECTS: Record<string, string> = {
  'admin.conf': '/O=system:masters/CN=kubernetes-admin',
  'controller-manager.conf': '/CN=system:kube-controller-manager',
  'scheduler.conf': '/CN=system:kube-scheduler',
  'kubelet.conf': '/O=system:nodes/CN=system:node:master',
};

interface Pki {
  sb: Sandbox;
  certEnv: string;
  kubeletPki: string;
  adminCopy: string;
}

/** A signed certificate and key (PEM) made with openssl: `days` of life from now. */
function issue(dir: string, pki: string, ca: string, subj: string, eku: string, san: string | undefined, days: number): { cert: string; key: string } {
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, ['keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`, ...(san ? [`subjectAltName=${san}`] : []), ''].join('\n'));
  // EC keys: a test of renewal, not of RSA key generation (the stand-in keeps the key type).
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'l.key'), '-out', join(dir, 'l.csr'), '-subj', subj]);
  openssl(['x509', '-req', '-in', join(dir, 'l.csr'), '-CA', join(pki, `${ca}.crt`), '-CAkey', join(pki, `${ca}.key`), '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, '-days', String(days), '-sha256', '-extfile', ext, '-out', join(dir, 'l.crt')]);
  return { cert: readFileSync(join(dir, 'l.crt'), 'utf8'), key: readFileSync(join(dir, 'l.key'), 'utf8') };
}

function kubeconfig(name: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://192.168.108.100:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: ${name}\n  name: ${name}@kubernetes\ncurrent-context: ${name}@kubernetes\nkind: Config\npreferences: {}\nusers:\n- name: ${name}\n  user:\n    client-certificate-data: ${b64(cert)}\n    client-key-data: ${b64(key)}\n`;
}

/**
 * A master as kubeadm init leaves it, in a sandbox: the CAs from k8s-image's secrets, every leaf
 * for `days[name] ?? 365` days, the kubeconfigs, a 1.15/1.16-style kubelet.conf with its client
 * certificate embedded and the kubelet's rotated one beside it.
 */
function makeMaster(secrets: Secrets, minor: number, runtime: 'docker' | 'containerd', days: Record<string, number>, vars: Record<string, string> = {}): Pki {
  const sb = makeSandbox('init');
  const dir = sb.root;
  const pki = sb.p.pkiDir;
  mkdirSync(join(pki, 'etcd'), { recursive: true });
  const put = (p: string, text: string, mode = 0o644) => writeFileSync(p, text, { mode });
  put(join(pki, 'ca.crt'), secrets.ca.cert);
  put(join(pki, 'ca.key'), secrets.ca.key, 0o600);
  put(join(pki, 'front-proxy-ca.crt'), secrets.frontProxyCa.cert);
  put(join(pki, 'front-proxy-ca.key'), secrets.frontProxyCa.key, 0o600);
  put(join(pki, 'etcd/ca.crt'), secrets.etcdCa.cert);
  put(join(pki, 'etcd/ca.key'), secrets.etcdCa.key, 0o600);
  for (const [name, l] of Object.entries(LEAVES)) {
    const { cert, key } = issue(dir, pki, CA_FILE[REF.rewrites.signer[name]!]!, l.subj, l.eku, l.san, days[name] ?? 365);
    put(join(pki, `${name}.crt`), cert);
    put(join(pki, `${name}.key`), key, 0o600);
  }
  for (const [name, subj] of Object.entries(KUBECONFIG_SUBJECTS)) {
    const { cert, key } = issue(dir, pki, 'ca', subj, 'clientAuth', undefined, days[name] ?? 365);
    put(join(sb.p.kubeDir, name), kubeconfig(name.replace('.conf', ''), cert, key), 0o600);
  }
  const kubeletPki = join(dir, 'var/lib/kubelet/pki');
  mkdirSync(kubeletPki, { recursive: true });
  const rotated = issue(dir, pki, 'ca', KUBECONFIG_SUBJECTS['kubelet.conf']!, 'clientAuth', undefined, 365);
  put(join(kubeletPki, 'kubelet-client-current.pem'), rotated.cert + rotated.key, 0o600);
  const adminCopy = join(dir, 'root/.kube/config');
  const certEnv = join(sb.p.etc, 'cert-renew.env');
  const settings: Record<string, string> = {
    NODE_NAME: 'master',
    KUBE_DIR: sb.p.kubeDir,
    PKI_DIR: pki,
    ADMIN_KUBECONFIG: adminCopy,
    KUBELET_PKI: kubeletPki,
    STATE_DIR: sb.p.state,
    CERT_LOG: join(dir, 'var/log/k8s-image/cert-renew.log'),
    RENEW_COMMAND: `"${rowOf(minor).argv.join(' ')}"`,
    RENEW_WITHIN: String(RENEW_WITHIN),
    RUNTIME: runtime,
    ...vars,
  };
  put(certEnv, `# test\n${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  return { sb, certEnv, kubeletPki, adminCopy };
}

/** The stand-in kubeadm bound to the reference facts of `minor`. */
function fakeKubeadm(minor: number): Record<string, string> {
  const row = rowOf(minor);
  return {
    FAKE_RENEW_ARGV: row.argv.join(' '),
    FAKE_RENEW_FLAGS: row.flags.join(' '),
    FAKE_RENEW_PKI: REF.rewrites.pki.map((n) => `${n}:${REF.rewrites.signer[n]}`).join(' '),
    FAKE_RENEW_KUBECONFIGS: REF.rewrites.kubeconfig.map((n) => `${n}:${REF.rewrites.signer[n]}`).join(' '),
  };
}

const endOf = (pem: string): number => {
  const m = /^notAfter=(.*)$/m.exec(openssl(['x509', '-noout', '-enddate'], pem))!;
  return Math.floor(new Date(m[1]!).getTime() / 1000);
};
const sanOf = (pem: string) => openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem).split('\n')[1]?.trim() ?? '';
const subjectOf = (pem: string) => openssl(['x509', '-noout', '-subject', '-nameopt', 'compat'], pem).trim();
const embedded = (conf: string) => Buffer.from(/client-certificate-data: (\S+)/.exec(conf)![1]!, 'base64').toString('utf8');
const verifies = (caFile: string, pem: string) => spawnSync('openssl', ['verify', '-CAfile', caFile], { input: pem, encoding: 'utf8' }).status === 0;

interface Capture {
  url: string;
  bodies: URLSearchParams[];
  close(): Promise<void>;
}

async function capture(): Promise<Capture> {
  const c = { bodies: [] as URLSearchParams[] } as Capture;
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    c.bodies.push(new URLSearchParams(body));
    res.writeHead(200).end('ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`;
  c.close = () => new Promise((r) => server.close(() => r()));
  return c;
}

let secrets: Secrets;
let reports: Capture;
const sandboxes: Sandbox[] = [];
before(async () => {
  secrets = await generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false });
  reports = await capture();
});
after(async () => {
  await reports.close();
  for (const sb of sandboxes) sb.cleanup();
});

/**
 * Run cert-renew.sh as systemd runs the oneshot unit: in a process group of its own (the unit's
 * cgroup), and the moment the script's main process exits, SIGTERM then SIGKILL to the whole group
 * (KillMode=control-group; systemd 219 service_enter_running -> service_enter_stop): a background
 * sender does not survive it. Reports go to the capture server; what reached it is what counts.
 */
async function renew(m: Pki, fakeMinor: number, extraEnv: Record<string, string> = {}) {
  sandboxes.push(m.sb);
  const key = reportKey(secrets.ca.key, 'master');
  writeFileSync(join(m.sb.p.etc, 'report.key'), `${key}\n`, { mode: 0o600 });
  writeFileSync(m.certEnv, `${readFileSync(m.certEnv, 'utf8')}STATUS_URL=${reports.url}\nREPORTER=${REPORTER}\nREPORT_PYTHON=${PYTHON}\n`);
  const before = reports.bodies.length;
  const child = spawn('bash', [script('cert-renew.sh')], {
    env: {
      ...m.sb.env,
      LANG: 'C',
      LC_ALL: 'C',
      K8S_IMAGE_CERT_ENV: m.certEnv,
      K8S_IMAGE_REPORT_KEY: join(m.sb.p.etc, 'report.key'),
      K8S_IMAGE_REPORT_SPOOL: join(m.sb.p.state, 'reports'),
      K8S_IMAGE_REPORT_TRIES: '3',
      K8S_IMAGE_REPORT_PAUSE: '0.2',
      ...fakeKubeadm(fakeMinor),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let journal = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (journal += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (journal += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // the group is empty already
    }
  };
  killGroup('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  killGroup('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  return { code, journal, log: readFileSync(join(m.sb.root, 'var/log/k8s-image/cert-renew.log'), 'utf8'), reportsFrom: before, key };
}

/** The reports that run sent: they must be there already (nothing of the run is left to send them). */
function sent(from: number, n: number): URLSearchParams[] {
  const got = reports.bodies.slice(from);
  assert.ok(got.length >= n, `expected ${n} report(s) to have reached the server by the end of the run, got ${got.length}`);
  return got;
}

describe('cert-renew.sh in the sandbox', () => {
  it('1.17 (kubeadm alpha certs renew all), docker: a one-day apiserver certificate is renewed, the CAs and SANs stay, the control plane restarts, admin.conf is copied, kubelet.conf points at the rotated certificate', async () => {
    const m = makeMaster(secrets, 17, 'docker', { apiserver: 1 });
    const pki = m.sb.p.pkiDir;
    const caBefore = ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'etcd/ca.crt'].map((f) => readFileSync(join(pki, f), 'utf8'));
    const oldApi = readFileSync(join(pki, 'apiserver.crt'), 'utf8');
    const oldAdmin = embedded(readFileSync(join(m.sb.p.kubeDir, 'admin.conf'), 'utf8'));
    const r = await renew(m, 17);
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(callsOf(m.sb, 'kubeadm'), [['kubeadm', 'alpha', 'certs', 'renew', 'all', '--cert-dir', pki]]);
    const newApi = readFileSync(join(pki, 'apiserver.crt'), 'utf8');
    assert.notEqual(newApi, oldApi);
    assert.ok(endOf(newApi) - Date.now() / 1000 > 360 * 86400, 'a year again');
    assert.equal(sanOf(newApi), sanOf(oldApi), 'SANs unchanged');
    assert.match(sanOf(newApi), /IP Address:10\.96\.0\.1/);
    assert.equal(subjectOf(newApi), subjectOf(oldApi));
    assert.ok(verifies(join(pki, 'ca.crt'), newApi), 'signed by the same CA');
    assert.ok(verifies(join(pki, 'etcd/ca.crt'), readFileSync(join(pki, 'etcd/server.crt'), 'utf8')), 'etcd leaves by the etcd CA');
    assert.deepEqual(['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'etcd/ca.crt'].map((f) => readFileSync(join(pki, f), 'utf8')), caBefore, 'the CAs never change');
    // `renew all` renews every one (kubeadm: unconditionally), the kubeconfigs too.
    const admin = readFileSync(join(m.sb.p.kubeDir, 'admin.conf'), 'utf8');
    assert.notEqual(embedded(admin), oldAdmin);
    assert.equal(subjectOf(embedded(admin)), subjectOf(oldAdmin));
    assert.equal(readFileSync(m.adminCopy, 'utf8'), admin, 'admin.conf copied to ADMIN_KUBECONFIG');
    // The static pods: their containers stopped, the kubelet starts them again.
    assert.deepEqual(callsOf(m.sb, 'docker', 'stop'), ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'].map((x) => ['docker', 'stop', `cid-${x}`]));
    assert.deepEqual(callsOf(m.sb, 'docker', 'ps')[0], ['docker', 'ps', '-q', '--filter', 'label=io.kubernetes.container.name=kube-apiserver', '--filter', 'label=io.kubernetes.pod.namespace=kube-system']);
    // 1.15/1.16 kubelet.conf: embedded certificate replaced by the rotated file, kubelet restarted.
    const kubelet = readFileSync(join(m.sb.p.kubeDir, 'kubelet.conf'), 'utf8');
    assert.doesNotMatch(kubelet, /client-certificate-data|client-key-data/);
    assert.match(kubelet, new RegExp(`^    client-certificate: ${m.kubeletPki}/kubelet-client-current\\.pem$`, 'm'));
    assert.match(kubelet, new RegExp(`^    client-key: ${m.kubeletPki}/kubelet-client-current\\.pem$`, 'm'));
    assert.deepEqual(callsOf(m.sb, 'systemctl', 'restart'), [['systemctl', 'restart', 'kubelet']]);
    assert.match(r.log, /ending within 60 days: apiserver\.crt/);
    // Reported: certs-renewed with the new earliest expiry and the CA's, signed over them.
    const [body] = sent(r.reportsFrom, 1);
    assert.equal(body!.get('stage'), 'certs-renewed');
    const certs = parseCerts(body!.get('certs')!)!;
    assert.ok(certs, body!.get('certs')!);
    assert.equal(certs.caNotAfter, endOf(secrets.ca.cert));
    const ends = [...Object.keys(LEAVES).map((n) => endOf(readFileSync(join(pki, `${n}.crt`), 'utf8'))), ...['admin.conf', 'controller-manager.conf', 'scheduler.conf'].map((n) => endOf(embedded(readFileSync(join(m.sb.p.kubeDir, n), 'utf8'))))];
    assert.equal(certs.notAfter, Math.min(...ends));
    assert.equal(body!.get('sig'), reportSignature(r.key, { node: 'master', stage: 'certs-renewed', time: body!.get('time')!, nonce: body!.get('nonce')!, log: '', certs: body!.get('certs')! }));
  });

  it('nothing near its end: no kubeadm, no restart, a certs-checked report with the earliest expiry', async () => {
    const m = makeMaster(secrets, 17, 'docker', { 'front-proxy-client': 200 });
    const before = readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8');
    const r = await renew(m, 17);
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(callsOf(m.sb, 'kubeadm'), []);
    assert.deepEqual(callsOf(m.sb, 'docker', 'stop'), []);
    assert.equal(readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8'), before);
    assert.match(r.log, /every certificate lasts more than 60 days; nothing to renew/);
    assert.equal(r.journal, `k8s-image cert-renew: every certificate lasts more than 60 days; nothing renewed (the log is ${join(m.sb.root, 'var/log/k8s-image/cert-renew.log')})\n`, 'the journal gets one line');
    const [body] = sent(r.reportsFrom, 1);
    assert.equal(body!.get('stage'), 'certs-checked');
    const certs = parseCerts(body!.get('certs')!)!;
    assert.equal(certs.cert, 'front-proxy-client.crt');
    assert.equal(certs.notAfter, endOf(readFileSync(join(m.sb.p.pkiDir, 'front-proxy-client.crt'), 'utf8')));
  });

  it('1.22 (kubeadm certs renew all), containerd: a one-day admin.conf certificate is renewed and crictl restarts the control plane', async () => {
    const m = makeMaster(secrets, 22, 'containerd', { 'admin.conf': 1 });
    // Master index 2, started 1 minute after boot and 6 hours away from its own time: a Persistent=true
    // catch-up after a farm-wide outage; it waits 2 x CATCH_UP_STAGGER (1 s here) before renewing.
    writeFileSync(join(m.sb.root, 'uptime'), '61.25 100.00\n');
    const d = new Date(Date.now() + 6 * 3600_000);
    const slot = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    writeFileSync(m.certEnv, `${readFileSync(m.certEnv, 'utf8')}MASTER_INDEX=2\nRENEW_SLOT=${slot}\nCATCH_UP_STAGGER=1\nPROC_UPTIME=${join(m.sb.root, 'uptime')}\n`);
    const t0 = Date.now();
    const r = await renew(m, 22);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, new RegExp(`a catch-up run 1 minute\\(s\\) after boot, not at this master's time \\(${slot}\\): .* waiting 2s \\(master index 2 x 1s\\) first`));
    assert.ok(Date.now() - t0 >= 2000, 'it waited');
    assert.deepEqual(callsOf(m.sb, 'kubeadm'), [['kubeadm', 'certs', 'renew', 'all', '--cert-dir', m.sb.p.pkiDir]]);
    assert.ok(endOf(embedded(readFileSync(join(m.sb.p.kubeDir, 'admin.conf'), 'utf8'))) - Date.now() / 1000 > 360 * 86400);
    assert.deepEqual(callsOf(m.sb, 'crictl', 'stop'), ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'].map((x) => ['crictl', 'stop', '--timeout', '30', `cid-${x}`]));
    assert.match(r.log, /ending within 60 days: admin\.conf/);
  });

  it('the wrong version\'s command is refused by the stand-in: the run fails, reports certs-failed with the log, changes nothing', async () => {
    // A 1.22 kubeadm has no `alpha certs`: RENEW_COMMAND of 1.17 against the 1.22 stand-in.
    const m = makeMaster(secrets, 17, 'docker', { apiserver: 1 });
    const before = readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8');
    const r = await renew(m, 22);
    assert.equal(r.code, 1);
    assert.match(r.log, /Error: unknown command "alpha" for "kubeadm"/);
    assert.match(r.log, /FAILED \(exit 1\)/);
    assert.equal(readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8'), before);
    assert.deepEqual(callsOf(m.sb, 'docker', 'stop'), []);
    const bodies = sent(r.reportsFrom, 1);
    const failed = bodies.find((b) => b.get('stage') === 'certs-failed')!;
    assert.ok(failed, 'certs-failed reported');
    assert.match(failed.get('log')!, /unknown command "alpha"/);
    // The log is written by the script itself (no tee to lose lines): the report's tail has the ERROR line.
    assert.match(failed.get('log')!, /ERROR: kubeadm alpha certs renew all failed \(output above\)/);
    assert.match(r.journal, /^k8s-image cert-renew: FAILED \(exit 1\): kubeadm alpha certs renew all failed/m, 'a one-line summary for the journal');
    assert.ok(parseCerts(failed.get('certs')!), 'with the expiry as it stands');
  });

  it('no openssl on the master: the run fails clearly (it does not take every certificate for due), and report.py still reports, without the expiry', async () => {
    const m = makeMaster(secrets, 17, 'docker', { apiserver: 1 });
    // Every command of PATH but openssl, as on a master where it is not installed.
    const noOpenssl = join(m.sb.root, 'no-openssl-bin');
    mkdirSync(noOpenssl);
    const [fakes, ...rest] = m.sb.env.PATH!.split(':');
    for (const d of rest) {
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        if (f !== 'openssl' && !existsSync(join(noOpenssl, f))) symlinkSync(join(d, f), join(noOpenssl, f));
      }
    }
    const before = readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8');
    const r = await renew(m, 17, { PATH: `${fakes}:${noOpenssl}` });
    assert.equal(r.code, 1, r.log);
    assert.match(r.log, /ERROR: openssl is not installed \(yum install openssl; the plan installs it on masters\)/);
    assert.deepEqual(callsOf(m.sb, 'kubeadm'), [], 'nothing renewed');
    assert.equal(readFileSync(join(m.sb.p.pkiDir, 'apiserver.crt'), 'utf8'), before);
    const [failed] = sent(r.reportsFrom, 1);
    assert.equal(failed!.get('stage'), 'certs-failed');
    assert.equal(failed!.get('certs'), null, 'no expiry without openssl');
    assert.match(failed!.get('log')!, /ERROR: openssl is not installed/);
  });

  it('the stand-in refuses a flag its version does not have', () => {
    const sb = makeSandbox('init');
    sandboxes.push(sb);
    const r = spawnSync('kubeadm', ['certs', 'renew', 'all', '--use-api'], { env: { ...process.env, ...sb.env, ...fakeKubeadm(22) }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown flag: --use-api/);
    const r2 = spawnSync('kubeadm', ['alpha', 'certs', 'renew', 'apiserver'], { env: { ...process.env, ...sb.env, ...fakeKubeadm(17) }, encoding: 'utf8' });
    assert.equal(r2.status, 1, 'only `all` is what k8s-image runs');
  });

  it('report.py: a master\'s ready report carries the expiry by itself (from K8S_IMAGE_KUBE_DIR); a worker\'s does not', async () => {
    const m = makeMaster(secrets, 17, 'docker', { 'scheduler.conf': 100 });
    sandboxes.push(m.sb);
    const keyFile = join(m.sb.p.etc, 'report.key');
    writeFileSync(keyFile, `${reportKey(secrets.ca.key, 'master')}\n`, { mode: 0o600 });
    const send = async (kubeDir: string, node: string) => {
      const from = reports.bodies.length;
      await promisify(execFile)(PYTHON, [REPORTER, reports.url, node, 'ready'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', K8S_IMAGE_KUBE_DIR: kubeDir, K8S_IMAGE_REPORT_KEY: keyFile, K8S_IMAGE_REPORT_SPOOL: join(m.sb.p.state, 'reports'), K8S_IMAGE_REPORT_TRIES: '2', K8S_IMAGE_REPORT_PAUSE: '0.1' },
      });
      return (sent(from, 1))[0]!;
    };
    const master = await send(m.sb.p.kubeDir, 'master');
    const c = parseCerts(master.get('certs')!)!;
    assert.equal(c.cert, 'scheduler.conf');
    assert.equal(c.notAfter, endOf(embedded(readFileSync(join(m.sb.p.kubeDir, 'scheduler.conf'), 'utf8'))));
    assert.equal(c.caNotAfter, endOf(secrets.ca.cert));
    // A worker: kubeadm join leaves pki/ca.crt but no apiserver.crt.
    const worker = join(m.sb.root, 'worker-kube');
    mkdirSync(join(worker, 'pki'), { recursive: true });
    writeFileSync(join(worker, 'pki/ca.crt'), secrets.ca.cert);
    const w = await send(worker, 'master');
    assert.equal(w.get('certs'), null);
    assert.equal(w.get('stage'), 'ready');
  });

  it('report.py: a kubelet.conf still embedding its client certificate counts (1.15/1.16, not repointed), and the CA field is the earliest of the three CAs', async () => {
    const m = makeMaster(secrets, 16, 'docker', { 'kubelet.conf': 50 });
    sandboxes.push(m.sb);
    const keyFile = join(m.sb.p.etc, 'report.key');
    writeFileSync(keyFile, `${reportKey(secrets.ca.key, 'master')}\n`, { mode: 0o600 });
    // A front-proxy CA that ends before the cluster CA (100 days; made by hand, say).
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(m.sb.root, 'fp.key'), '-out', join(m.sb.p.pkiDir, 'front-proxy-ca.crt'), '-subj', '/CN=front-proxy-ca', '-days', '100']);
    const from = reports.bodies.length;
    await promisify(execFile)(PYTHON, [REPORTER, '--certs', m.sb.p.kubeDir, reports.url, 'master', 'certs-checked'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', K8S_IMAGE_REPORT_KEY: keyFile, K8S_IMAGE_REPORT_SPOOL: join(m.sb.p.state, 'reports'), K8S_IMAGE_REPORT_TRIES: '2', K8S_IMAGE_REPORT_PAUSE: '0.1' },
    });
    const [body] = sent(from, 1);
    const c = parseCerts(body!.get('certs')!)!;
    assert.equal(c.cert, 'kubelet.conf');
    assert.equal(c.notAfter, endOf(embedded(readFileSync(join(m.sb.p.kubeDir, 'kubelet.conf'), 'utf8'))));
    assert.equal(c.caNotAfter, endOf(readFileSync(join(m.sb.p.pkiDir, 'front-proxy-ca.crt'), 'utf8')));
    assert.ok(c.caNotAfter < endOf(secrets.ca.cert));
  });

  it('before kubeadm made the PKI: nothing at all', async () => {
    const m = makeMaster(secrets, 17, 'docker', {});
    spawnSync('rm', ['-f', join(m.sb.p.pkiDir, 'apiserver.crt'), join(m.sb.p.kubeDir, 'admin.conf')]);
    const kubelet = readFileSync(join(m.sb.p.kubeDir, 'kubelet.conf'), 'utf8');
    const r = await renew(m, 17);
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, /kubeadm has not made this master's PKI yet/);
    assert.deepEqual(callsOf(m.sb, 'kubeadm'), []);
    assert.deepEqual(callsOf(m.sb, 'systemctl'), []);
    assert.equal(readFileSync(join(m.sb.p.kubeDir, 'kubelet.conf'), 'utf8'), kubelet);
    await new Promise((r2) => setTimeout(r2, 300));
    assert.equal(reports.bodies.length, r.reportsFrom, 'no report');
  });
});
