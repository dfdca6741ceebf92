/**
 * The built-in writer checked by independent readers: isoinfo (genisoimage), xorriso
 * (libisofs), 7-Zip, pycdlib and libblkid. A missing reader fails the test with the
 * Debian package to install.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { writeIso, IsoFile } from '../../src/iso/index.js';
import { cloudInitSeed, listing, LONG_NAME, pycdlibRead, readTree, richTree, run, sha256, TempDir } from './tools.js';

const EPOCH = 1_700_000_000;
const tmp = new TempDir();
let files: IsoFile[];
let image: string;
let seedImage: string;
let oemImage: string;

/** Joliet keeps at most 64 UCS-2 characters (extension kept). */
const JOLIET_LONG_NAME = LONG_NAME.slice(0, 64 - '.txt'.length) + '.txt';
const jolietPath = (p: string) => p.replace(LONG_NAME, JOLIET_LONG_NAME);

before(() => {
  files = richTree();
  image = tmp.file('rich.iso', writeIso({ label: 'cidata', epoch: EPOCH, files }));
  seedImage = tmp.file('seed.iso', writeIso({ label: 'cidata', epoch: EPOCH, files: cloudInitSeed() }));
  oemImage = tmp.file('oemdrv.iso', writeIso({ label: 'OEMDRV', epoch: EPOCH, files: [{ path: 'ks.cfg', bytes: new TextEncoder().encode('text\n') }] }));
});
after(() => tmp.remove());

function expectFilesEqual(tree: Map<string, { bytes: Buffer; mode: number }>, map = (p: string) => p, checkModes = false): void {
  assert.deepEqual([...tree.keys()].sort(), files.map((f) => map(f.path)).sort());
  for (const f of files) {
    const got = tree.get(map(f.path))!;
    assert.ok(got.bytes.equals(Buffer.from(f.bytes)), `${f.path}: bytes differ`);
    if (checkModes) assert.equal(got.mode, f.mode ?? 0o644, `${f.path}: mode ${got.mode.toString(8)}`);
  }
}

describe('isoinfo (genisoimage)', () => {
  it('reads the volume descriptors: label, Joliet level 3, Rock Ridge', async () => {
    const out = await run('isoinfo', ['-d', '-i', image]);
    assert.match(out, /^Volume id: cidata$/m);
    assert.match(out, /Joliet with UCS level 3 found/);
    assert.match(out, /Rock Ridge signatures version 1 found/);
    assert.match(await run('isoinfo', ['-d', '-i', oemImage]), /^Volume id: OEMDRV$/m);
  });

  it('lists the real names through Rock Ridge and Joliet', async () => {
    const rr = (await run('isoinfo', ['-R', '-f', '-i', image])).split('\n').filter(Boolean).sort();
    assert.deepEqual(rr, listing(files.map((f) => f.path)));
    assert.ok(rr.includes('/user-data') && rr.includes('/pki/etcd/ca.key') && rr.includes('/network-config'));
    // isoinfo has no UTF-8 output charset for Joliet names: ask for ISO-8859-1 and decode that.
    const joliet = (await run('isoinfo', ['-J', '-j', 'iso8859-1', '-f', '-i', image], undefined, 'latin1')).split('\n').filter(Boolean).sort();
    assert.deepEqual(joliet, listing(files.map((f) => jolietPath(f.path))));
  });

  it('lists unique 8.3 names in the plain ISO 9660 tree', async () => {
    const plain = (await run('isoinfo', ['-f', '-i', image])).split('\n').filter(Boolean);
    for (const n of ['/USER_DAT.;1', '/USER_DA1.;1', '/META_DAT.;1', '/NETWORK_.;1', '/KS.CFG;1', '/PKI/ETCD/CA.KEY;1']) {
      assert.ok(plain.includes(n), `missing ${n} in ${plain.join(' ')}`);
    }
    assert.equal(new Set(plain).size, plain.length);
    for (const p of plain) assert.match(p, /^(\/[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3};1)?)+$/);
  });

  it('shows PX modes, uid/gid 0 and the epoch date', async () => {
    const out = await run('isoinfo', ['-R', '-l', '-i', image]);
    assert.match(out, /-rw------- +1 +0 +0 +\d+ Nov 14 2023 .* ks\.cfg/);
    assert.match(out, /-rwxr-xr-x +1 +0 +0 +\d+ Nov 14 2023 .* first-boot\.sh/);
    assert.match(out, /-rw-r--r-- +1 +0 +0 +0 Nov 14 2023 .* empty/);
    assert.match(out, /drwxr-xr-x +\d+ +0 +0 +2048 Nov 14 2023 .* etcd/);
  });
});

describe('isovfy (genisoimage)', () => {
  it('finds no structural errors (directory records, path tables)', async () => {
    for (const img of [image, seedImage, oemImage]) assert.match(await run('isovfy', [img]), /No errors found/);
  });
});

describe('xorriso (libisofs)', () => {
  it('finds every file by its Rock Ridge name', async () => {
    const out = await run('xorriso', ['-indev', image, '-find', '/']);
    const names = out.split('\n').filter((l) => l.startsWith("'")).map((l) => l.slice(1, -1)).sort();
    assert.deepEqual(names, ['/', ...listing(files.map((f) => f.path))].sort());
  });

  it('extracts byte-equal files with the PX modes', async () => {
    const dest = tmp.sub('xorriso-out');
    await run('xorriso', ['-osirrox', 'on', '-indev', image, '-extract', '/', dest]);
    expectFilesEqual(readTree(dest), (p) => p, true);
  });
});

describe('7-Zip', () => {
  it('lists and extracts byte-equal files (through Joliet)', async () => {
    const out = await run('7z', ['l', '-slt', image]);
    const paths = out.split('\n').filter((l) => l.startsWith('Path = ') && l !== `Path = ${image}`).map((l) => '/' + l.slice(7)).sort();
    assert.deepEqual(paths, listing(files.map((f) => jolietPath(f.path))));
    const dest = tmp.sub('7z-out');
    await run('7z', ['x', '-y', `-o${dest}`, image]);
    expectFilesEqual(readTree(dest), jolietPath);
  });
});

describe('pycdlib', () => {
  it('reads every file through rr_path, joliet_path and iso_path', async () => {
    const r = await pycdlibRead(image);
    assert.equal(r.volume_id, 'cidata'.padEnd(32, ' '));
    assert.equal(r.joliet_volume_id, 'cidata'.padEnd(16, ' '));
    assert.ok(r.rock_ridge_version !== null, 'pycdlib sees Rock Ridge');
    const want = Object.fromEntries(files.map((f) => ['/' + f.path, sha256(f.bytes)]));
    assert.deepEqual(r.rr, want);
    assert.deepEqual(r.joliet, Object.fromEntries(files.map((f) => [jolietPath('/' + f.path), sha256(f.bytes)])));
    assert.deepEqual(Object.values(r.iso).sort(), Object.values(want).sort());
    for (const f of files) assert.equal(r.modes['/' + f.path], 0o100000 | (f.mode ?? 0o644), f.path);
  });

  it('reads the three-file seed', async () => {
    const r = await pycdlibRead(seedImage);
    assert.deepEqual(r.rr, Object.fromEntries(cloudInitSeed().map((f) => ['/' + f.path, sha256(f.bytes)])));
  });
});

describe('libblkid', () => {
  for (const [label, img] of [['cidata', () => seedImage], ['OEMDRV', () => oemImage]] as const) {
    it(`probes TYPE=iso9660 LABEL=${label}, and the raw PVD holds the label`, async () => {
      const out = await run('blkid', ['-p', '-o', 'export', img()]);
      assert.match(out, /^TYPE=iso9660$/m);
      assert.match(out, new RegExp(`^LABEL=${label}$`, 'm'));
      const raw = readFileSync(img()).subarray(16 * 2048 + 40, 16 * 2048 + 72).toString('latin1');
      assert.equal(raw, label.padEnd(32, ' '));
    });
  }
});
