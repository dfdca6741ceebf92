/**
 * The registry client against Debian's docker-registry with token authentication turned on (the
 * Docker Hub / registry.k8s.io scheme): 401 with a Bearer challenge, a token from the realm, the
 * pull retried with it. The token service is made here (ES256 JWTs with an x5c chain, the format the
 * registry's token auth verifies against its rootcertbundle, made with openssl and node:crypto).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RegistryClient, parseImageRef } from '../../src/bundle/registry.js';
import { fetchBlobs } from '../../src/bundle/images.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { layer, pushImage, startRegistry } from './upstream.js';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

describe('registry client: Bearer token auth (docker-registry with token auth)', { timeout: 30_000 }, () => {
  let open: Awaited<ReturnType<typeof startRegistry>>;
  let guarded: Awaited<ReturnType<typeof startRegistry>>;
  let tokens: Server;
  const asked: URL[] = [];

  before(async () => {
    requireTool('docker-registry');
    requireTool('openssl');
    const d = tempDir('k8s-token-');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem'), '-days', '2', '-subj', '/CN=k8s-image test token issuer'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const key = createPrivateKey(readFileSync(join(d, 'key.pem')));
    const der = spawnSync('openssl', ['x509', '-in', join(d, 'cert.pem'), '-outform', 'DER']).stdout as Buffer;
    tokens = createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      asked.push(u);
      const [, name, actions] = /^repository:([^:]+):(.+)$/.exec(u.searchParams.get('scope') ?? '') ?? [];
      const now = Math.floor(Date.now() / 1000);
      const head = b64u(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [der.toString('base64')] }));
      const body = b64u(JSON.stringify({ iss: 'k8s-image-test', sub: '', aud: u.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: name ? [{ type: 'repository', name, actions: actions!.split(',') }] : [] }));
      const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${head}.${body}.${b64u(sig)}` }));
    });
    await new Promise<void>((res) => tokens.listen(0, '127.0.0.1', res));
    const realm = `http://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`;
    open = await startRegistry();
    await pushImage(open.host, 'google_containers/kube-proxy', 'v1.17.4', [layer([{ name: 'kube-proxy', data: 'kube-proxy\n' }])], 'oci');
    // The same storage behind a registry that wants a token for everything.
    guarded = await startRegistry({ dataDir: open.dataDir, auth: `auth:\n  token:\n    realm: ${realm}\n    service: k8s-image-test-registry\n    issuer: k8s-image-test\n    rootcertbundle: ${join(d, 'cert.pem')}\n` });
  });
  after(() => {
    open?.stop();
    guarded?.stop();
    tokens?.close();
  });

  it('answers the 401 challenge with a token from the realm, pulls and verifies the blobs', async () => {
    const name = `${guarded.host}/google_containers/kube-proxy:v1.17.4`;
    const bare = await fetch(`http://${guarded.host}/v2/google_containers/kube-proxy/manifests/v1.17.4`);
    assert.equal(bare.status, 401, 'the registry refuses anonymous pulls');
    assert.match(bare.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    const client = new RegistryClient({ insecure: () => true });
    const p = await client.pull(parseImageRef(name));
    assert.equal(p.manifest.layers.length, 1);
    const blobs = tempDir('k8s-blobs-');
    await fetchBlobs(client, name, p, blobs, () => {});
    assert.equal(asked.length, 1, 'one token for the repository, reused for every request');
    assert.equal(asked[0]!.searchParams.get('scope'), 'repository:google_containers/kube-proxy:pull');
    assert.equal(asked[0]!.searchParams.get('service'), 'k8s-image-test-registry');
  });

  it('a registry that wants Basic credentials is refused in one line', async () => {
    const basic = createServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="private"' }).end());
    await new Promise<void>((res) => basic.listen(0, '127.0.0.1', res));
    try {
      const host = `127.0.0.1:${(basic.address() as AddressInfo).port}`;
      await assert.rejects(new RegistryClient({ insecure: () => true }).pull(parseImageRef(`${host}/x/pause:3.1`)), /wants authentication \(Basic realm="private"\); only anonymous pulls and Bearer tokens/);
    } finally {
      basic.close();
    }
  });
});
