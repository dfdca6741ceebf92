// Who may read a node's secrets, attacked over raw sockets and curl --path-as-is against the real
// `k8s-image serve` (the lab's PXE tree, nodes on loopback addresses so the test can be any of
// them): every spelling of another node's file (doubled slashes, encoded and overlong traversal,
// absolute-form targets, Range, symlinks and hard links in the tree) gets a 4xx and not one byte
// of any 0600 file; a node's own secrets stop after its `installed` (even from a node whose clock
// is days off) until `pxe --reinstall`; --trust-proxy takes X-Real-IP from loopback peers that
// carry the tree's proxy token only (never from another local user, root or not).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, linkSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { signedReportBody } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { cli, freePort, get, labTree, NODES, parseResponses, proxyToken, raw, run, secretsOf, startServe, STRANGER, type Serve } from './lab.js';

const exec = promisify(execFile);
let base: string;
let tree: string;
let serve: Serve;
let secrets: ReturnType<typeof secretsOf>;
const [master, node01, node02] = NODES as [(typeof NODES)[0], (typeof NODES)[0], (typeof NODES)[0]];
const CA = 'k8s-image/etc/k8s-image/pki/ca.key';

before(async () => {
  base = tempDir('k8s-image-serve-secrets-');
  const port = await freePort();
  tree = await labTree(base, port);
  // A symlink and a hard link into the master's secrets from a public directory.
  symlinkSync(join(tree, 'http/seed/master', CA), join(tree, 'http/ks/evil.cfg'));
  symlinkSync(join(tree, 'http/seed/master'), join(tree, 'http/ks/evil-dir'));
  linkSync(join(tree, 'http/seed/master', CA), join(tree, 'http/ks/hard.cfg'));
  secrets = secretsOf(tree);
  serve = await startServe(tree, port);
});

after(async () => {
  await serve?.stop();
});

/** Every spelling of `rel` (a path under http/) we know of, that a non-owner must not get through. */
function spellings(rel: string, other: string): string[] {
  const parts = rel.split('/');
  const out = new Set<string>([`/${rel}`]);
  // Doubled slashes at every position, and a leading one.
  for (let i = 0; i < parts.length; i++) out.add(`/${parts.slice(0, i).join('/')}${i ? '/' : ''}/${parts.slice(i).join('/')}`);
  out.add(`//${rel}`);
  // An encoded or back- slash in each position.
  for (const sl of ['%2F', '%2f', '%5C', '%5c', '\\']) for (let i = 1; i < parts.length; i++) out.add(`/${parts.slice(0, i).join('/')}${sl}${parts.slice(i).join('/')}`);
  out.add(`/%2F${rel}`);
  // Traversal in every form, from a public directory and from the asking node's own prefix.
  const dots = ['..', '%2e%2e', '%2E%2e', '%2e%2E', '.%2e', '%2e.', '%2E%2E', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '%252e%252e'];
  const seps = ['/', '%2f', '%2F', '%5c', '\\', '%c0%af', '%e0%80%af', '%252f'];
  for (const d of dots) for (const s of seps) {
    out.add(`/ks${s}${d}${s}${rel}`);
    out.add(`/${parts[0]}/${other}/${d}${s}${parts.slice(1).join('/')}`);
  }
  out.add(`/./${rel}`);
  out.add(`/${parts[0]}/./${parts.slice(1).join('/')}`);
  out.add(`/${rel}/.`);
  out.add(`/${rel}%00`);
  out.add(`/${rel}%00.cfg`);
  out.add(`/ks%2F..%2F${rel}`);
  out.add(`/${parts[0]}/${parts[1]!.replace(/^(.)/, (c) => `%${c.charCodeAt(0).toString(16)}`)}/${parts.slice(2).join('/')}`);
  out.add(`/${rel}?x=1`);
  out.add(`/${rel}#frag`);
  return [...out];
}

test('no spelling of a node\'s secret path gives a non-owner a single secret byte (raw sockets, absolute form, Range)', { timeout: 120000 }, async () => {
  const victims = [
    `seed/master/${CA}`,
    'seed/master/k8s-image/etc/k8s-image/token',
    'seed/master/k8s-image/etc/k8s-image/report.key',
    'nocloud/node01/user-data',
    'ks/evil.cfg',
    'ks/hard.cfg',
    `ks/evil-dir/${CA}`,
  ];
  const probes: { from: string; target: string; range?: string }[] = [];
  for (const rel of victims) {
    const owner = rel.startsWith('nocloud/node01/') ? node01 : master;
    const asker = owner === master ? node01 : master;
    for (const target of spellings(rel, asker.name)) {
      // Every spelling in every form; who asks and the Range header take turns.
      for (const form of [target, `http://127.0.0.1:${serve.port}${target}`, `HTTP://x${target}`]) {
        const i = probes.length;
        probes.push({ from: [asker.ip, STRANGER, node02.ip][i % 3]!, target: form, range: [undefined, 'bytes=0-40', 'bytes=-64', 'bytes=1-'][i % 4] });
      }
    }
  }
  const bad: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < probes.length) {
        const { from, target, range } = probes[next++]!;
        const r = await get(serve.port, target, { from, headers: range ? { range } : {} });
        if (r.status < 400 || r.status >= 500) bad.push(`${from} ${target} ${range ?? ''}: ${r.status}`);
        const leak = secrets.leak(r.body);
        if (leak) bad.push(`${from} ${target} ${range ?? ''}: bytes of ${leak}`);
      }
    }),
  );
  assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${probes.length} probes`);
  assert.ok(probes.length > 3000, `${probes.length} probes`);
  assert.ok(serve.alive());
  // The owner still gets its own files, by their plain name only.
  const own = await get(serve.port, `/seed/master/${CA}`, { from: master.ip });
  assert.equal(own.status, 200);
  assert.deepEqual(own.body, secrets.files.get(`seed/master/${CA}`));
  assert.ok(secrets.leak(own.body), 'the leak finder finds the secret where it is meant to be');
  // Resolved, not spelt: the symlink into the master's directory is the master's; the hard link is a 0600 file outside it.
  assert.equal((await get(serve.port, '/ks/evil.cfg', { from: master.ip })).status, 200);
  assert.equal((await get(serve.port, '/ks/hard.cfg', { from: master.ip })).status, 403);
});

test('curl --path-as-is: the reviewer\'s reproductions are refused', async () => {
  const url = `http://127.0.0.1:${serve.port}`;
  for (const p of [`/seed//master/${CA}`, '/nocloud//node01/user-data', '/%2Fseed/master/k8s-image/etc/k8s-image/token', `/ks%2F..%2Fseed/master/${CA}`, '/seed/master/..%2Fnode01/k8s-image/etc/k8s-image/report.key', `/ks/../seed/master/${CA}`]) {
    for (const range of [[], ['-r', '0-100']]) {
      const r = await exec('curl', ['-sS', '--path-as-is', '--interface', node02.ip, ...range, '-o', '-', '-w', '\n%{http_code}', `${url}${p}`], { encoding: 'buffer' });
      const text = r.stdout as Buffer;
      const code = Number(text.toString('latin1').split('\n').pop());
      assert.ok(code >= 400 && code < 500, `${p}: ${code}`);
      assert.equal(secrets.leak(text), undefined, p);
    }
  }
});

test('a proxy-style request: absolute form and pipelined probes on one connection', async () => {
  const targets = [`http://x/seed/master/${CA}`, `/seed/master/${CA}`, '/ks/master.cfg', `HTTP://127.0.0.1/seed/node01/../master/${CA}`, '/status.json', `/seed/node01/..%2fmaster/${CA}`, '/ks/master.cfg'];
  const reqs = targets.map((t) => `GET ${t} HTTP/1.1\r\nhost: x\r\n\r\n`).join('');
  const { data, closed } = await raw(serve.port, reqs, { from: node01.ip });
  const rs = parseResponses(data, targets.map(() => 'GET'));
  // A bad target is answered 400 and ends the connection (what follows it is not read).
  assert.deepEqual(rs.map((r) => r.status), [403, 403, 200, 400]);
  assert.ok(closed);
  assert.equal(secrets.leak(data), undefined);
});

test('prototype names as node names: plain 4xx, never 500', async () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', 'tostring']) {
    const body = signedReportBody('0'.repeat(64), { node: name, stage: 'installed', time: 1, nonce: randomBytes(16).toString('hex') });
    const r = await get(serve.port, '/report', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.ok(r.status >= 400 && r.status < 500, `${name}: ${r.status} ${r.body}`);
    for (const p of [`/status/log/${name}`, `/seed/${name}/x`, `/nocloud/${name}/user-data`, `/ks/${name}`, `/ks/x.${name}`]) {
      const g = await get(serve.port, p);
      assert.ok(g.status >= 400 && g.status < 500, `${p}: ${g.status}`);
    }
  }
  assert.ok(serve.alive());
});

test('installed: a node with its clock days off is accepted; then its own secrets are 403 (naming --reinstall) until pxe --reinstall; the replay is refused across a restart', async () => {
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  const seed = `/seed/node01/k8s-image/etc/k8s-image/report.key`;
  assert.equal((await get(serve.port, seed, { from: node01.ip })).status, 200);
  // A board whose RTC says five days ago.
  const body = signedReportBody(keys.node01!, { node: 'node01', stage: 'installed', time: Math.floor(Date.now() / 1000) - 5 * 86400, nonce: randomBytes(16).toString('hex') });
  const post = () => get(serve.port, '/report', { method: 'POST', body, from: node01.ip, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const r = await post();
  assert.equal(r.status, 200, r.body.toString());
  assert.match(serve.log(), /report: node01 installed \(node clock \S+, 5d00h behind\) from 127\.0\.0\.11/);
  const refused = await get(serve.port, seed, { from: node01.ip });
  assert.equal(refused.status, 403);
  assert.match(refused.body.toString(), /node01 is installed .*k8s-image pxe --reinstall node01/);
  assert.equal((await get(serve.port, '/nocloud/node01/user-data', { from: node01.ip })).status, 403);
  assert.equal((await get(serve.port, `/seed/master/${CA}`, { from: master.ip })).status, 200, 'the other nodes are untouched');
  assert.equal((await post()).status, 409, 'replayed');
  const port = serve.port;
  await serve.stop();
  serve = await startServe(tree, port);
  assert.equal((await post()).status, 409, 'replayed after a restart');
  assert.equal((await get(serve.port, seed, { from: node01.ip })).status, 403, 'still installed after a restart');
  // The reinstall (another process) removes <state>/installed/node01: served again, no restart.
  await run(process.execPath, [cli, 'pxe', '-c', 'lab.yaml', '-o', 'out', '--server', `10.20.0.1:${port}`, '--reinstall', 'node01'], { cwd: base });
  const again = await get(serve.port, seed, { from: node01.ip });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, secrets.files.get(seed.slice(1)));
});

test('--trust-proxy: X-Real-IP is believed only with the tree\'s proxy token; any other local user (nobody, curl) is refused 403 without a byte of a secret; a new token is followed without a restart', async () => {
  // A tree whose nodes are not on loopback, as behind nginx in a real farm.
  const b2 = tempDir('k8s-image-serve-proxy-');
  const port = await freePort();
  const ips = ['192.168.108.100', '192.168.108.101', '192.168.108.102'];
  const t2 = await labTree(b2, port, ips);
  const token = proxyToken(t2);
  const path = `/seed/master/${CA}`;
  const viaProxy = (ip: string, t = token) => ({ from: '127.0.0.1', headers: { 'x-real-ip': ip, 'x-k8s-image-proxy': t } });
  const proxied = await startServe(t2, port, { args: ['--trust-proxy'] });
  try {
    const own = await get(port, path, viaProxy(ips[0]!));
    assert.equal(own.status, 200);
    assert.match(own.body.toString(), /PRIVATE KEY/);
    assert.equal((await get(port, path, viaProxy(ips[1]!))).status, 403);
    assert.equal((await get(port, path, viaProxy(`::ffff:${ips[0]}`))).status, 200, 'an IPv4-mapped address is that address');
    assert.equal((await get(port, path, { from: '127.0.0.1' })).status, 403, 'no header: the proxy itself, not a node');
    for (const bad of [`${ips[0]}, 10.0.0.1`, 'master', '', '192.168.108.100 x', '192.168.108.100:1234', '192.168.108.256']) {
      const r = await get(port, path, viaProxy(bad));
      assert.equal(r.status, 400, `X-Real-IP "${bad}": ${r.status}`);
      assert.equal(secrets.leak(r.body), undefined);
    }
    // Two headers are two claims: refused.
    const two = await raw(port, `GET ${path} HTTP/1.1\r\nhost: x\r\nx-real-ip: ${ips[0]}\r\nx-real-ip: ${ips[0]}\r\nx-k8s-image-proxy: ${token}\r\nconnection: close\r\n\r\n`, { from: '127.0.0.1' });
    assert.match(two.data.toString('latin1'), /^HTTP\/1\.1 400/);
    // Any other local process: the master's address claimed without the token, or with a wrong one.
    for (const [what, headers] of [
      ['no token', { 'x-real-ip': ips[0]! }],
      ['an empty token', { 'x-real-ip': ips[0]!, 'x-k8s-image-proxy': '' }],
      ['a wrong token', { 'x-real-ip': ips[0]!, 'x-k8s-image-proxy': 'f'.repeat(64) }],
      ['the token upper-cased', { 'x-real-ip': ips[0]!, 'x-k8s-image-proxy': token.toUpperCase() }],
      ['a prefix of the token', { 'x-real-ip': ips[0]!, 'x-k8s-image-proxy': token.slice(0, 32) }],
      ['the token and more', { 'x-real-ip': ips[0]!, 'x-k8s-image-proxy': `${token}0` }],
    ] as const) {
      for (const from of ['127.0.0.1', '127.0.0.10', '127.1.2.3']) {
        const r = await get(port, path, { from, headers });
        assert.equal(r.status, 403, `${what} from ${from}: ${r.status}`);
        assert.match(r.body.toString(), /X-Real-IP from a loopback peer refused: .*X-K8s-Image-Proxy/, what);
        assert.equal(secrets.leak(r.body), undefined, what);
      }
    }
    const twoTokens = await raw(port, `GET ${path} HTTP/1.1\r\nhost: x\r\nx-real-ip: ${ips[0]}\r\nx-k8s-image-proxy: ${token}\r\nx-k8s-image-proxy: ${token}\r\nconnection: close\r\n\r\n`, { from: '127.0.0.1' });
    assert.match(twoTokens.data.toString('latin1'), /^HTTP\/1\.1 403/, 'two token headers are not the token');
    // The reviewer's reproduction: an unprivileged local user with curl, who cannot read the token file.
    if (process.getuid?.() === 0) {
      await assert.rejects(exec('runuser', ['-u', 'nobody', '--', 'cat', join(t2, 'proxy-token')]), 'nobody cannot read the token');
      for (const p of [path, '/seed/master/k8s-image/etc/k8s-image/token', '/nocloud/node01/user-data']) {
        const r = await exec('runuser', ['-u', 'nobody', '--', 'curl', '-sS', '-H', `X-Real-IP: ${p.includes('node01') ? ips[1] : ips[0]}`, '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${p}`], { encoding: 'buffer' });
        const text = r.stdout as Buffer;
        assert.equal(Number(text.toString('latin1').split('\n').pop()), 403, `nobody: ${p}`);
        assert.equal(secrets.leak(text), undefined, p);
      }
    }
    // The startup line says what is trusted.
    assert.match(proxied.log(), /X-Real-IP trusted only from loopback peers that send X-K8s-Image-Proxy with the token in \S+\/proxy-token/);
    // A request through the proxy is logged with the node's address.
    assert.match(proxied.log(), new RegExp(`${ips[0]!.replace(/\./g, '\\.')} GET /seed/master/`));
    // A new token (pxe wrote the tree again) is used at the next request: the old one is refused.
    const fresh = randomBytes(32).toString('hex');
    writeFileSync(join(t2, 'proxy-token.new'), `${fresh}\n`, { mode: 0o600 });
    renameSync(join(t2, 'proxy-token.new'), join(t2, 'proxy-token'));
    assert.equal((await get(port, path, viaProxy(ips[0]!))).status, 403, 'the old token');
    assert.equal((await get(port, path, viaProxy(ips[0]!, fresh))).status, 200, 'the new token');
  } finally {
    await proxied.stop();
  }
  const direct = await startServe(t2, port);
  try {
    assert.equal((await get(port, path, { from: '127.0.0.1', headers: { 'x-real-ip': ips[0]! } })).status, 403, 'ignored without --trust-proxy');
    assert.equal((await get(port, path, viaProxy(ips[0]!))).status, 403, 'ignored without --trust-proxy, token or not');
    assert.equal((await get(port, path, { from: '127.0.0.1', headers: { 'x-real-ip': 'junk' } })).status, 403);
  } finally {
    await direct.stop();
  }
  // No token in the tree, a readable one, or no tree at all: --trust-proxy does not start (one line, exit 2).
  const cases: [string, () => void, string[], RegExp][] = [
    ['no proxy-token', () => rmSync(join(t2, 'proxy-token')), ['--dir', t2], /^error: --trust-proxy: no \S+\/proxy-token .*re-run k8s-image pxe/],
    ['a world-readable proxy-token', () => writeFileSync(join(t2, 'proxy-token'), `${token}\n`, { mode: 0o644 }), ['--dir', t2], /proxy-token: mode 0644, readable by other users/],
    ['not a token', () => (writeFileSync(join(t2, 'proxy-token'), 'secret\n'), chmodSync(join(t2, 'proxy-token'), 0o600)), ['--dir', t2], /proxy-token: not one line of 64 lowercase hex digits; re-run k8s-image pxe/],
    ['--config, no tree', () => undefined, ['-c', join(b2, 'lab.yaml'), '-o', join(b2, 'out')], /--trust-proxy: needs --dir/],
  ];
  for (const [what, setup, args, want] of cases) {
    setup();
    const r = await exec(process.execPath, [cli, 'serve', ...args, '--listen', `127.0.0.1:${port}`, '--trust-proxy'], { timeout: 20000 }).then(
      () => assert.fail(`${what}: serve started`),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, want, what);
  }
});
