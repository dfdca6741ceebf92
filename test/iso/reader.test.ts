/**
 * The ISO reader (src/iso/reader.ts) on images real tools made: xorriso with Rock Ridge, genisoimage
 * with Joliet only and with plain ISO 9660 names, and the built-in writer; every file back byte for
 * byte by path, with positioned reads only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { packageRoot } from '../../src/assets.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openIso } from '../../src/iso/reader.js';
import { writeIso } from '../../src/iso/index.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const files: Record<string, Buffer> = {
  'images/pxeboot/vmlinuz': randomBytes(300_000),
  'images/pxeboot/initrd.img': randomBytes(70_001),
  'EFI/BOOT/grubx64.efi': randomBytes(4096),
  '.treeinfo': Buffer.from('[general]\nname = CentOS-7\n'),
  'repodata/repomd.xml': Buffer.from('<repomd/>\n'),
};

function tree(): string {
  const dir = tempDir('k8s-image-isosrc-');
  for (const [p, b] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), b);
  }
  return dir;
}

function checkAll(iso: string, names: (p: string) => string = (p) => p): void {
  const img = openIso(iso);
  try {
    for (const [p, bytes] of Object.entries(files)) {
      const e = img.lookup(names(p));
      assert.ok(e, `${p} not found in ${iso}`);
      assert.equal(e.size, bytes.length);
      assert.deepEqual(img.read(e), bytes, p);
      assert.deepEqual(img.read(e, 1000, 50), bytes.subarray(1000, 1050), `${p} window`);
    }
    assert.equal(img.lookup('images/nope'), undefined);
    assert.ok(img.list('images')!.some((e) => e.name === 'pxeboot' && e.isDir));
  } finally {
    img.close();
  }
}

test('xorriso (Rock Ridge), as the CentOS DVD has', () => {
  const out = join(tempDir('k8s-image-isoout-'), 'rr.iso');
  execFileSync(requireTool('xorriso'), ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'CentOS 7 x86_64', '-o', out, tree()], { stdio: 'pipe' });
  checkAll(out);
});

test('genisoimage with Joliet only, and with plain ISO 9660 names', () => {
  const dir = tree();
  const j = join(tempDir('k8s-image-isoout-'), 'joliet.iso');
  execFileSync(requireTool('genisoimage'), ['-quiet', '-J', '-o', j, dir], { stdio: 'pipe' });
  checkAll(j);
  const plain = join(tempDir('k8s-image-isoout-'), 'plain.iso');
  execFileSync(requireTool('genisoimage'), ['-quiet', '-l', '-o', plain, dir], { stdio: 'pipe' });
  // Plain ISO 9660 upper-cases names and has no leading dot; the reader lower-cases them back.
  const img = openIso(plain);
  try {
    assert.deepEqual(img.read(img.lookup('images/pxeboot/vmlinuz')!), files['images/pxeboot/vmlinuz']);
  } finally {
    img.close();
  }
});

test('the built-in writer', () => {
  const out = join(tempDir('k8s-image-isoout-'), 'builtin.iso');
  writeFileSync(out, writeIso({ label: 'CENTOS7', epoch: 1605139200, files: Object.entries(files).map(([path, bytes]) => ({ path, bytes, mode: 0o644 })) }));
  checkAll(out);
  assert.throws(() => openIso(join(packageRoot, 'package.json')), /not an ISO 9660 image/);
});
