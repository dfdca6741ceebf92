// The file side of `k8s-image serve` as users run it, for the review's findings: a private (0600)
// file is refused wherever it is (a name starting with ".." inside http/, the --installer tree);
// several ranges are answered 200 with the whole file (RFC 9110 lets a server ignore Range) instead
// of 416; a request the client abandons before any answer is logged 499, not a 200 never sent.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { freePort, get, labTree, startServe, STRANGER, type Serve } from './lab.js';

let base: string;
let tree: string;
let dvd: string;
let serve: Serve;

before(async () => {
  base = tempDir('k8s-image-serve-files-');
  const port = await freePort();
  tree = await labTree(base, port);
  // A private file under a directory whose name starts with "..", and one beside public files.
  mkdirSync(join(tree, 'http/..private'));
  writeFileSync(join(tree, 'http/..private/key'), 'PRIVATE-DOTDOT-KEY\n', { mode: 0o600 });
  writeFileSync(join(tree, 'http/..key'), 'PRIVATE-DOTDOT-FILE\n', { mode: 0o600 });
  // An extracted DVD for --installer, with somebody's private file in it.
  dvd = join(base, 'dvd');
  mkdirSync(join(dvd, 'images/pxeboot'), { recursive: true });
  writeFileSync(join(dvd, 'images/pxeboot/vmlinuz'), 'kernel\n');
  chmodSync(join(dvd, 'images/pxeboot/vmlinuz'), 0o644);
  writeFileSync(join(dvd, 'images/private.key'), 'PRIVATE-INSTALLER-KEY\n', { mode: 0o600 });
  serve = await startServe(tree, port, { args: ['--installer', dvd] });
});

after(async () => {
  await serve?.stop();
});

test('a 0600 file is not served: under a ".."-named directory of http/, a "..name" file, or the --installer tree', async () => {
  for (const [path, secret] of [['/..private/key', 'PRIVATE-DOTDOT-KEY'], ['/..key', 'PRIVATE-DOTDOT-FILE'], ['/centos7/images/private.key', 'PRIVATE-INSTALLER-KEY']] as const) {
    for (const range of [undefined, 'bytes=0-4']) {
      const r = await get(serve.port, path, { from: STRANGER, headers: range ? { range } : {} });
      assert.equal(r.status, 403, `${path}: ${r.status}`);
      assert.match(r.body.toString(), /a private file \(mode 0600\): not served/);
      assert.ok(!r.body.includes(secret), path);
    }
  }
  // The installer's public files are served as before.
  const k = await get(serve.port, '/centos7/images/pxeboot/vmlinuz', { from: STRANGER });
  assert.equal(k.status, 200);
  assert.equal(k.body.toString(), 'kernel\n');
});

test('Range: several ranges get the whole file (200); one range 206; an unsatisfiable one 416', async () => {
  const full = readFileSync(join(tree, 'http/ks/master.cfg'));
  for (const range of ['bytes=0-0,5-6', 'bytes=0-0, 5-6', 'bytes=0-10,5-20', `bytes=-5,0-1`]) {
    const r = await get(serve.port, '/ks/master.cfg', { headers: { range } });
    assert.equal(r.status, 200, `${range}: ${r.status}`);
    assert.deepEqual(r.body, full, range);
    assert.doesNotMatch(r.head, /content-range/i);
    assert.match(r.head, new RegExp(`content-length: ${full.length}\\r`, 'i'));
  }
  const one = await get(serve.port, '/ks/master.cfg', { headers: { range: 'bytes=5-6' } });
  assert.equal(one.status, 206);
  assert.deepEqual(one.body, full.subarray(5, 7));
  assert.equal((await get(serve.port, '/ks/master.cfg', { headers: { range: `bytes=${full.length + 5}-` } })).status, 416);
});

test('a report abandoned mid-body is logged 499 (nothing was sent), not 200', async () => {
  await new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: serve.port, localAddress: '127.0.0.42' });
    s.on('error', () => undefined);
    s.write('POST /report HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 200\r\n\r\nnode=node01&stage=');
    setTimeout(() => {
      s.destroy();
      resolve();
    }, 300);
  });
  for (let i = 0; i < 100 && !/127\.0\.0\.42 POST \/report /.test(serve.log()); i++) await new Promise((r) => setTimeout(r, 20));
  const line = serve.log().split('\n').find((l) => l.includes('127.0.0.42 POST /report'));
  assert.match(line ?? '', /127\.0\.0\.42 POST \/report 499 0 \d+ms$/, serve.log().slice(-2000));
  assert.ok(serve.alive());
});
