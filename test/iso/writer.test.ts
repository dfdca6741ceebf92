import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.js';
import { writeIso, writeIsoWith, IsoOptions } from '../../src/iso/index.js';
import { cloudInitSeed, richTree } from './tools.js';

const SECTOR = 2048;
const EPOCH = 1_700_000_000; // 2023-11-14 22:13:20 UTC

function ascii(img: Uint8Array, from: number, len: number): string {
  return Buffer.from(img.subarray(from, from + len)).toString('latin1');
}

describe('writeIso: layout', () => {
  it('puts the PVD at sector 16 with the label byte for byte, then Joliet SVD and terminator', () => {
    for (const label of ['cidata', 'OEMDRV', 'k8s_seed-01', 'A'.repeat(32)]) {
      const img = writeIso({ label, epoch: EPOCH, files: cloudInitSeed() });
      const pvd = 16 * SECTOR;
      assert.equal(img[pvd], 1);
      assert.equal(ascii(img, pvd + 1, 5), 'CD001');
      assert.equal(ascii(img, pvd + 40, 32), label.padEnd(32, ' '));
      const svd = 17 * SECTOR;
      assert.equal(img[svd], 2);
      assert.equal(ascii(img, svd + 88, 3), '%/E');
      const joliet = Buffer.from(img.subarray(svd + 40, svd + 72)).swap16().toString('utf16le');
      assert.equal(joliet, label.slice(0, 16).padEnd(16, ' '));
      assert.equal(img[18 * SECTOR], 255);
      assert.equal(ascii(img, 18 * SECTOR + 1, 5), 'CD001');
      // Volume space size (both-endian) covers the whole image, which is whole sectors.
      assert.equal(img.length % SECTOR, 0);
      const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
      assert.equal(dv.getUint32(pvd + 80, true) * SECTOR, img.length);
      assert.equal(dv.getUint32(pvd + 84, false) * SECTOR, img.length);
    }
  });

  it('stamps every volume date with the epoch (GMT offset 0)', () => {
    const img = writeIso({ label: 'cidata', epoch: EPOCH, files: cloudInitSeed() });
    for (const vd of [16, 17]) {
      const base = vd * SECTOR;
      assert.equal(ascii(img, base + 813, 16), '2023111422132000'); // creation
      assert.equal(img[base + 813 + 16], 0);
      assert.equal(ascii(img, base + 830, 16), '2023111422132000'); // modification
      assert.equal(ascii(img, base + 847, 16), '0000000000000000'); // expiration: not specified
      assert.equal(ascii(img, base + 864, 16), '2023111422132000'); // effective
      // Root directory record date: 7 bytes, years since 1900.
      assert.deepEqual([...img.subarray(base + 156 + 18, base + 156 + 25)], [123, 11, 14, 22, 13, 20, 0]);
    }
  });

  it('is deterministic and depends on the epoch', () => {
    const opts: IsoOptions = { label: 'cidata', epoch: EPOCH, files: richTree() };
    const a = writeIso(opts);
    const b = writeIso({ ...opts, files: [...richTree()].reverse() });
    assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'same files (in any order) must give identical bytes');
    const c = writeIso({ ...opts, epoch: EPOCH + 1 });
    assert.equal(c.length, a.length);
    assert.ok(!Buffer.from(a).equals(Buffer.from(c)), 'a different epoch must change the bytes');
  });

  it('keeps a three-file seed small', () => {
    const img = writeIso({ label: 'cidata', epoch: EPOCH, files: cloudInitSeed() });
    assert.ok(img.length < 100 * 1024, `image is ${img.length} bytes`);
    assert.equal(img.length, 64 * 1024);
  });

  it('writes an image with no files at all', () => {
    const img = writeIso({ label: 'EMPTY', epoch: 0, files: [] });
    assert.equal(ascii(img, 16 * SECTOR + 40, 32), 'EMPTY'.padEnd(32, ' '));
  });

  it('builtin backend of writeIsoWith is writeIso', async () => {
    const opts: IsoOptions = { label: 'cidata', epoch: EPOCH, files: cloudInitSeed() };
    assert.ok(Buffer.from(await writeIsoWith('builtin', opts)).equals(Buffer.from(writeIso(opts))));
  });
});

describe('writeIso: validation', () => {
  const files = cloudInitSeed();
  const rejects = (opts: IsoOptions, pattern: RegExp) =>
    assert.throws(() => writeIso(opts), (e: unknown) => e instanceof UserError && pattern.test(e.message));

  it('rejects bad labels', () => {
    for (const label of ['', 'ci data', 'cidata!', 'A'.repeat(33), 'café', 'a/b']) {
      rejects({ label, epoch: EPOCH, files }, /ISO label/);
    }
  });

  it('rejects bad epochs', () => {
    for (const epoch of [-1, 1.5, Number.NaN, Infinity, 6_000_000_000]) rejects({ label: 'cidata', epoch, files }, /epoch/);
  });

  it('rejects bad paths, duplicates, file/directory clashes and bad modes', () => {
    const b = new Uint8Array(1);
    for (const path of ['', '/user-data', 'a//b', 'a/', './x', 'a/../b', 'tab\there']) {
      rejects({ label: 'cidata', epoch: EPOCH, files: [{ path, bytes: b }] }, /ISO file/);
    }
    rejects({ label: 'cidata', epoch: EPOCH, files: [{ path: 'x', bytes: b }, { path: 'x', bytes: b }] }, /listed twice/);
    rejects({ label: 'cidata', epoch: EPOCH, files: [{ path: 'pki', bytes: b }, { path: 'pki/ca.crt', bytes: b }] }, /directory/);
    rejects({ label: 'cidata', epoch: EPOCH, files: [{ path: 'x', bytes: b, mode: 0o10000 }] }, /mode/);
    rejects({ label: 'cidata', epoch: EPOCH, files: [{ path: 'a/b/c/d/e/f/g/h/i', bytes: b }] }, /nest deeper/);
    rejects({ label: 'cidata', epoch: EPOCH, files: [{ path: 'n'.repeat(254), bytes: b }] }, /253 bytes/);
    writeIso({ label: 'cidata', epoch: EPOCH, files: [{ path: 'd/' + 'é'.repeat(126) + 'n', bytes: b }] }); // 253 bytes
  });

  it('accepts the deepest tree ISO 9660 allows', () => {
    writeIso({ label: 'cidata', epoch: EPOCH, files: [{ path: 'a/b/c/d/e/f/g/h', bytes: new Uint8Array(1) }] });
  });

  it('reports an unknown tool as a UserError', async () => {
    await assert.rejects(
      writeIsoWith('mkisofs' as never, { label: 'cidata', epoch: EPOCH, files }),
      (e: unknown) => e instanceof UserError && /unknown ISO tool/.test(e.message),
    );
  });
});
