import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { requireTool } from '../helpers/tools.js';
import { after, before, describe, test } from 'node:test';
import yaml from 'js-yaml';
import { adminKubeconfig, discoveryHash, generateSecrets, joinCommand, type Secrets } from '../../src/secrets/index.js';
import { openssl, opensslBytes, opensslDates, tempDir, writeIn } from './_openssl.js';

const DAY = 24 * 60 * 60 * 1000;
const { dir, cleanup } = tempDir('secrets-certs');
after(cleanup);

// A `now` an hour in the past (whole seconds, as certificates store them) proves the option is honoured.
const now = new Date(Math.floor(Date.now() / 1000) * 1000 - 60 * 60 * 1000);
let secrets: Secrets;
let caPath: string;

before(async () => {
  secrets = await generateSecrets({ cluster: 'demo', generateRootPassword: false, now });
  caPath = writeIn(dir, 'ca.crt', secrets.ca.cert);
});

const modulus = (kind: 'x509' | 'rsa', path: string) => openssl([kind, '-noout', '-modulus', '-in', path]).trim();

const cas = [
  ['ca', 'kubernetes'],
  ['frontProxyCa', 'front-proxy-ca'],
  ['etcdCa', 'etcd-ca'],
] as const;

describe('certificate authorities', () => {
  for (const [field, cn] of cas) {
    test(`${field}: CN=${cn}, RSA 2048 CA valid 10 years from a day before now, matching key`, () => {
      const pair = secrets[field];
      const crt = writeIn(dir, `${field}.crt`, pair.cert);
      const key = writeIn(dir, `${field}.key`, pair.key);

      const text = openssl(['x509', '-in', crt, '-noout', '-text']);
      assert.match(text, new RegExp(`Subject: CN = ${cn}\\n`));
      assert.match(text, new RegExp(`Issuer: CN = ${cn}\\n`));
      assert.match(text, /Public-Key: \(2048 bit\)/);
      assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment, Certificate Sign\n/);
      assert.match(text, /X509v3 Subject Key Identifier:/);
      assert.match(text, /Version: 3 /);
      const serial = openssl(['x509', '-in', crt, '-noout', '-serial']).trim().replace('serial=', '');
      assert.ok(/^[0-7][0-9A-F]+$/.test(serial) && /[1-9A-F]/.test(serial), `serial ${serial} not positive`);

      const { notBefore, notAfter } = opensslDates(crt);
      assert.equal(notBefore.getTime(), now.getTime() - DAY);
      const days = (notAfter.getTime() - now.getTime()) / DAY;
      assert.ok(days >= 3650 && days <= 3653, `valid for ${days} days`);

      assert.equal(openssl(['verify', '-CAfile', crt, crt]).trim(), `${crt}: OK`);
      assert.match(pair.key, /^-----BEGIN RSA PRIVATE KEY-----\n/);
      openssl(['rsa', '-in', key, '-check', '-noout']);
      assert.equal(modulus('x509', crt), modulus('rsa', key));
    });
  }

  test('the three CAs have distinct keys', () => {
    const keys = new Set(cas.map(([f]) => secrets[f].key));
    assert.equal(keys.size, 3);
  });
});

test('service-account key: RSA 2048 private key and its "PUBLIC KEY"', () => {
  const key = writeIn(dir, 'sa.key', secrets.serviceAccount.key);
  const pub = writeIn(dir, 'sa.pub', secrets.serviceAccount.pub);
  assert.match(secrets.serviceAccount.pub, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  assert.match(openssl(['pkey', '-pubin', '-in', pub, '-noout', '-text']), /Public-Key: \(2048 bit\)/);
  openssl(['rsa', '-in', key, '-check', '-noout']);
  const fromKey = opensslBytes(['rsa', '-in', key, '-pubout', '-outform', 'der']);
  const fromPub = opensslBytes(['pkey', '-pubin', '-in', pub, '-outform', 'der']);
  assert.ok(fromKey.equals(fromPub), 'sa.pub is not the public half of sa.key');
});

test('discoveryHash equals the openssl pipeline kubeadm documents', () => {
  const r = spawnSync(
    'sh',
    ['-c', 'openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der | sha256sum', 'sh', caPath],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const hex = r.stdout.split(/\s/)[0];
  assert.match(hex!, /^[0-9a-f]{64}$/);
  assert.equal(discoveryHash(secrets.ca.cert), `sha256:${hex}`);
  assert.notEqual(discoveryHash(secrets.etcdCa.cert), discoveryHash(secrets.ca.cert));
});

test('joinCommand', () => {
  assert.equal(
    joinCommand(secrets, '10.0.0.10:6443'),
    `kubeadm join 10.0.0.10:6443 --token ${secrets.bootstrapToken} --discovery-token-ca-cert-hash ${discoveryHash(secrets.ca.cert)}`,
  );
});

describe('adminKubeconfig', () => {
  let text: string;
  let cfg: any;
  const server = 'https://10.0.0.10:6443';
  before(async () => {
    text = await adminKubeconfig({ secrets, clusterName: 'demo', server, now });
    cfg = yaml.load(text);
  });

  test('has the admin.conf shape', () => {
    assert.equal(cfg.apiVersion, 'v1');
    assert.equal(cfg.kind, 'Config');
    assert.equal(cfg['current-context'], 'kubernetes-admin@demo');
    assert.deepEqual(cfg.contexts, [{ name: 'kubernetes-admin@demo', context: { cluster: 'demo', user: 'kubernetes-admin' } }]);
    assert.equal(cfg.clusters.length, 1);
    assert.equal(cfg.clusters[0].name, 'demo');
    assert.equal(cfg.clusters[0].cluster.server, server);
    assert.equal(Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), secrets.ca.cert);
    assert.equal(cfg.users[0].name, 'kubernetes-admin');
  });

  test('client certificate: signed by the cluster CA, O=system:masters CN=kubernetes-admin, clientAuth, 1 year', () => {
    const user = cfg.users[0].user;
    const crt = writeIn(dir, 'client.crt', Buffer.from(user['client-certificate-data'], 'base64').toString());
    const key = writeIn(dir, 'client.key', Buffer.from(user['client-key-data'], 'base64').toString());

    assert.equal(openssl(['verify', '-CAfile', caPath, crt]).trim(), `${crt}: OK`);
    assert.equal(openssl(['verify', '-CAfile', caPath, '-purpose', 'sslclient', crt]).trim(), `${crt}: OK`);
    const other = writeIn(dir, 'etcd-ca.crt', secrets.etcdCa.cert);
    assert.notEqual(spawnSync('openssl', ['verify', '-CAfile', other, crt]).status, 0, 'verifies against the wrong CA');

    const subject = openssl(['x509', '-in', crt, '-noout', '-subject']).trim();
    assert.equal(subject, 'subject=O = system:masters, CN = kubernetes-admin');
    const text = openssl(['x509', '-in', crt, '-noout', '-text']);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Issuer: CN = kubernetes\n/);
    assert.equal(modulus('x509', crt), modulus('rsa', key));

    const { notBefore, notAfter } = opensslDates(crt);
    assert.equal(notBefore.getTime(), now.getTime() - DAY);
    const days = (notAfter.getTime() - now.getTime()) / DAY;
    assert.ok(days >= 365 && days <= 366, `valid for ${days} days`);
  });

  test('kubectl authenticates with it to an HTTPS server that trusts only the cluster CA', async () => {
    // A stand-in API server: server certificate for 127.0.0.1 signed by the cluster CA, and client
    // certificates required and verified against that CA, as kube-apiserver does.
    const caKey = writeIn(dir, 'ca-for-server.key', secrets.ca.key);
    writeIn(dir, 'srv-ext.cnf', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/srv.key`, '-out', `${dir}/srv.csr`, '-subj', '/CN=kube-apiserver']);
    openssl(['x509', '-req', '-in', `${dir}/srv.csr`, '-CA', caPath, '-CAkey', caKey, '-CAcreateserial', '-out', `${dir}/srv.crt`, '-days', '1', '-extfile', `${dir}/srv-ext.cnf`]);
    const seen: { cn?: string; o?: string }[] = [];
    const srv = createServer(
      { key: readFileSync(`${dir}/srv.key`), cert: readFileSync(`${dir}/srv.crt`), ca: secrets.ca.cert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ cn: peer.subject?.CN as string, o: peer.subject?.O as string });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      },
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as AddressInfo).port;
      const cfgText = await adminKubeconfig({ secrets, clusterName: 'lab', server: `https://127.0.0.1:${port}`, now });
      const path = writeIn(dir, 'admin-local.conf', cfgText);
      const kubectl = requireTool('kubectl');
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(kubectl, ['--kubeconfig', path, 'get', '--raw', '/healthz'], (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
      });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), 'ok');
      assert.deepEqual(seen[0], { cn: 'kubernetes-admin', o: 'system:masters' });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
