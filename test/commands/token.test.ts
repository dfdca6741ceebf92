// `k8s-image token create` run as users run it, against a fake API server on loopback: TLS with a
// server certificate from the cluster CA, and the client's certificate verified against it. The
// server checks the POSTed Secret field by field against test/reference/kubeadm-bootstrap-token.json
// (what kubeadm's BootstrapToken.ToSecret makes); with --write, a node seed built afterwards carries
// the new token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { parseSecrets } from '../../src/secrets/store.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const REF = JSON.parse(readFileSync(join(packageRoot, 'test/reference/kubeadm-bootstrap-token.json'), 'utf8')) as {
  secret: { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; type: string };
  data: Record<string, string>;
  defaults: { usages: string[]; groups: string[]; ttlSeconds: number; tokenPattern: string };
};

async function k8sImage(args: string[], cwd: string, uid?: number): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env };
  delete env.K8S_IMAGE_SECRETS;
  try {
    const r = await run(process.execPath, [cli, ...args], { cwd, env, ...(uid === undefined ? {} : { uid, gid: uid }) });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A server key and certificate for IP 127.0.0.1, signed by the CA in caCrt/caKey (files in dir). */
function serverCert(dir: string, caCrt: string, caKey: string): { key: string; cert: string } {
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:kubernetes\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'srv.csr', '-CA', caCrt, '-CAkey', caKey, '-set_serial', '0x1234', '-days', '2', '-extfile', 'ext.cnf', '-out', 'srv.crt'], dir);
  return { key: readFileSync(join(dir, 'srv.key'), 'utf8'), cert: readFileSync(join(dir, 'srv.crt'), 'utf8') };
}

interface FakeApi {
  url: string;
  requests: { method: string; path: string; subject: string; body: string }[];
  /** Called as each request arrives (before the answer). */
  onRequest?: () => void;
  /** Status to answer (201 by default) and its body. */
  answer: { status: number; body?: string };
  close(): Promise<void>;
}

/** A kube-apiserver stand-in: TLS from `tls`, client certificates required and verified against `clientCa`. */
async function fakeApi(tls: { key: string; cert: string }, clientCa: string): Promise<FakeApi> {
  const api = { requests: [], answer: { status: 201 } } as unknown as FakeApi;
  const server: Server = createServer({ ...tls, ca: clientCa, requestCert: true, rejectUnauthorized: true }, async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    api.requests.push({ method: req.method ?? '', path: req.url ?? '', subject: `O=${peer.subject?.O} CN=${peer.subject?.CN}`, body });
    api.onRequest?.();
    res.writeHead(api.answer.status, { 'content-type': 'application/json' }).end(api.answer.body ?? body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return api;
}

let dir: string;
let secretsPath: string;
let api: FakeApi;
let stranger: FakeApi;
before(async () => {
  dir = tempDir('k8s-image-token-');
  assert.equal((await k8sImage(['init', '-o', 'cluster.yaml'], dir)).code, 0);
  assert.equal((await k8sImage(['secrets', '-c', 'cluster.yaml'], dir)).code, 0);
  secretsPath = join(dir, 'k8s-lab.secrets.yaml');
  const s = parseSecrets(readFileSync(secretsPath, 'utf8'), secretsPath);
  writeFileSync(join(dir, 'ca.crt'), s.ca.cert);
  writeFileSync(join(dir, 'ca.key'), s.ca.key, { mode: 0o600 });
  api = await fakeApi(serverCert(dir, 'ca.crt', 'ca.key'), s.ca.cert);
  // Another cluster's API server: its own CA.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=kubernetes', '-days', '2'], dir);
  stranger = await fakeApi(serverCert(dir, 'other.crt', 'other.key'), s.ca.cert);
});
after(async () => {
  await api.close();
  await stranger.close();
});

/** Field by field, the Secret kubeadm makes for `token` with a TTL of `ttl` seconds created at about `at` (ms). */
function assertKubeadmSecret(body: string, token: string, ttl: number, at: number): void {
  const s = JSON.parse(body) as { apiVersion: string; kind: string; metadata: Record<string, string>; type: string; data: Record<string, string> };
  const [id, secret] = token.split('.');
  assert.equal(s.apiVersion, REF.secret.apiVersion);
  assert.equal(s.kind, REF.secret.kind);
  assert.deepEqual(s.metadata, { name: REF.secret.metadata.name.replace('<token-id>', id!), namespace: REF.secret.metadata.namespace });
  assert.equal(s.type, REF.secret.type);
  const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  // Exactly the reference's keys (expiration only with a TTL).
  const keys = Object.keys(REF.data).filter((k) => ttl > 0 || k !== 'expiration');
  assert.deepEqual(Object.keys(data).sort(), keys.sort());
  assert.equal(data['token-id'], id);
  assert.equal(data['token-secret'], secret);
  for (const u of REF.defaults.usages) assert.equal(data[`usage-bootstrap-${u}`], 'true');
  assert.equal(data['auth-extra-groups'], REF.defaults.groups.join(','));
  assert.ok(data.description && data.description.length > 0);
  if (ttl > 0) {
    assert.match(data.expiration!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'Go time.RFC3339 in UTC');
    assert.ok(Math.abs(Date.parse(data.expiration!) - (at + ttl * 1000)) < 60_000, data.expiration);
  }
}

test('token create --write: the Secret kubeadm makes, POSTed with admin credentials from the cluster CA; written into the secrets file (0600); a node seed built afterwards carries it', async () => {
  const old = parseSecrets(readFileSync(secretsPath, 'utf8'), secretsPath);
  const at = Date.now();
  const r = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', api.url, '--ttl', '2h', '--write'], dir);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  assert.match(token, new RegExp(REF.defaults.tokenPattern));
  assert.notEqual(token, old.bootstrapToken);
  assert.equal(api.requests.length, 1);
  const req = api.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/api/v1/namespaces/kube-system/secrets');
  assert.equal(req.subject, 'O=system:masters CN=kubernetes-admin');
  assertKubeadmSecret(req.body, token, 7200, at);
  assert.match(r.stderr, /expires \d{4}-\d{2}-\d{2}T/);
  assert.ok(!r.stderr.includes(token), 'the token is printed on stdout only');
  // The secrets file: the new token, everything else as it was, 0600.
  const now = parseSecrets(readFileSync(secretsPath, 'utf8'), secretsPath);
  assert.equal(now.bootstrapToken, token);
  assert.deepEqual({ ...now, bootstrapToken: old.bootstrapToken }, old);
  assert.equal(statSync(secretsPath).mode & 0o777, 0o600);
  // The next build of a node: its seeds join with the new token.
  const b = await k8sImage(['build', '-c', 'cluster.yaml', '-n', 'node01', '-o', 'out'], dir);
  assert.equal(b.code, 0, b.stderr);
  for (const f of ['out/k8s-lab/node01/oemdrv/k8s-image/etc/k8s-image/kubeadm.yaml', 'out/k8s-lab/node01/cloud-init/user-data']) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.ok(text.includes(token), `${f} carries the new token`);
    assert.ok(!text.includes(old.bootstrapToken), `${f} no longer carries the old one`);
  }
});

test('without --write the secrets file is untouched; --ttl 0 makes a token with no expiration, as kubeadm does', async () => {
  const before = readFileSync(secretsPath, 'utf8');
  const n = api.requests.length;
  const r = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', api.url, '--ttl', '0'], dir);
  assert.equal(r.code, 0, r.stderr);
  assertKubeadmSecret(api.requests[n]!.body, r.stdout.trim(), 0, Date.now());
  assert.equal(readFileSync(secretsPath, 'utf8'), before);
  assert.match(r.stderr, /never expires/);
  assert.match(r.stderr, /join by hand: kubeadm join 192\.168\.108\.100:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}/);
});

test('refusals are one line and change nothing: another cluster\'s API server, an API error, a bad --ttl, no secrets file', async () => {
  const before = readFileSync(secretsPath, 'utf8');
  const r1 = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', stranger.url, '--write'], dir);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /the server is not one the cluster CA vouches for/);
  assert.equal(stranger.requests.length, 0, 'nothing sent to a server the CA does not vouch for');
  api.answer = { status: 403, body: JSON.stringify({ kind: 'Status', message: 'secrets is forbidden: User "x" cannot create resource' }) };
  const r2 = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', api.url, '--write'], dir);
  api.answer = { status: 201 };
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /refused the admin credentials .*403 secrets is forbidden/);
  const r3 = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', api.url, '--ttl', '3 days'], dir);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /--ttl 3 days: expected a duration like 24h/);
  const r4 = await k8sImage(['token', 'create', '-c', 'cluster.yaml', '--server', api.url, '--secrets', join(dir, 'none.yaml')], dir);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /no secrets file; token create needs the one the cluster was built with/);
  for (const r of [r1, r2, r3, r4]) assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('error')).length, 1, r.stderr);
  assert.equal(readFileSync(secretsPath, 'utf8'), before);
});

test('--write checks the secrets file can be rewritten before it creates anything; when the write fails after the POST, the error names the token, its Secret and how to delete it (run as uid 65534)', { skip: process.getuid?.() !== 0 ? 'needs root to run the CLI as another user' : false }, async (t) => {
  const NOBODY = 65534;
  const d = tempDir('k8s-image-token-nobody-');
  chmodSync(d, 0o755);
  copyFileSync(join(dir, 'cluster.yaml'), join(d, 'cluster.yaml'));
  chmodSync(join(d, 'cluster.yaml'), 0o644);
  const file = join(d, 'k8s-lab.secrets.yaml');
  copyFileSync(secretsPath, file);
  chmodSync(file, 0o600);
  chownSync(file, NOBODY, NOBODY);
  const before = readFileSync(file, 'utf8');
  const args = ['token', 'create', '-c', join(d, 'cluster.yaml'), '--secrets', file, '--server', api.url, '--ttl', '0', '--write'];
  // The file is the user's, its directory is not: the replacement cannot be made. Nothing is POSTed.
  const n = api.requests.length;
  const r1 = await k8sImage(args, d, NOBODY);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /cannot be rewritten by this user \(EACCES.*nothing was created/);
  assert.equal(api.requests.length, n, 'no token created in the cluster');
  // Writable when checked, not any more when written (the directory turns read-only during the POST):
  // the live token is not lost.
  chownSync(d, NOBODY, NOBODY);
  api.onRequest = () => chmodSync(d, 0o555);
  t.after(() => {
    api.onRequest = undefined;
    chmodSync(d, 0o755);
  });
  const r2 = await k8sImage(args, d, NOBODY);
  api.onRequest = undefined;
  assert.equal(r2.code, 2, r2.stderr);
  assert.equal(api.requests.length, n + 1);
  const data = (JSON.parse(api.requests[n]!.body) as { data: Record<string, string> }).data;
  const [id, secret] = ['token-id', 'token-secret'].map((k) => Buffer.from(data[k]!, 'base64').toString('utf8'));
  const errors = r2.stderr.trim().split('\n').filter((l) => l.startsWith('error'));
  assert.equal(errors.length, 1, r2.stderr);
  assert.ok(errors[0]!.includes(`created token ${id}.${secret} (Secret kube-system/bootstrap-token-${id}, never expires) but could not write it into ${file}`), errors[0]);
  assert.ok(errors[0]!.endsWith(`delete it: kubectl -n kube-system delete secret bootstrap-token-${id}`), errors[0]);
  assert.equal(readFileSync(file, 'utf8'), before, 'the secrets file as it was');
});
