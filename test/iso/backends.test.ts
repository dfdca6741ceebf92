/** writeIsoWith: the external backends produce the same tree as the built-in writer; a missing tool names its package. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mkdirSync } from 'node:fs';
import { UserError } from '../../src/errors.js';
import { writeIso, writeIsoWith, IsoFile, IsoOptions } from '../../src/iso/index.js';
import { readTree, requireTool, run, TempDir } from './tools.js';

const EPOCH = 1_700_000_000;
const tmp = new TempDir();
after(() => tmp.remove());

const enc = (s: string) => new TextEncoder().encode(s);
const files: IsoFile[] = [
  { path: 'user-data', bytes: enc('#cloud-config\nhostname: w-1\n') },
  { path: 'meta-data', bytes: enc('instance-id: w-1\n') },
  { path: 'network-config', bytes: enc('version: 2\n') },
  { path: 'ks.cfg', bytes: enc('text\n') },
  { path: 'pki/etcd/ca.key', bytes: enc('KEY\n'), mode: 0o600 },
  { path: 'pki/etcd/empty', bytes: new Uint8Array(0) },
];
const opts: IsoOptions = { label: 'cidata', epoch: EPOCH, files };

/** Rock Ridge listing (isoinfo -R -f), Joliet listing, volume id and extracted contents of an image. */
async function describeImage(name: string, img: Uint8Array) {
  const path = tmp.file(name, img);
  const rr = (await run('isoinfo', ['-R', '-f', '-i', path])).split('\n').filter(Boolean).sort();
  const joliet = (await run('isoinfo', ['-J', '-f', '-i', path])).split('\n').filter(Boolean).sort();
  const volume = /^Volume id: (.*)$/m.exec(await run('isoinfo', ['-d', '-i', path]))?.[1];
  const dest = tmp.sub(`${name}-out`);
  await run('xorriso', ['-osirrox', 'on', '-indev', path, '-extract', '/', dest]);
  const contents = new Map([...readTree(dest)].map(([p, v]) => [p, v.bytes.toString('base64')]));
  return { rr, joliet, volume, contents };
}

for (const tool of ['xorriso', 'genisoimage'] as const) {
  describe(`writeIsoWith('${tool}')`, () => {
    it('gives the same names, label and contents as the built-in writer', async () => {
      requireTool(tool);
      const builtin = await describeImage(`builtin-${tool}.iso`, writeIso(opts));
      const external = await describeImage(`${tool}.iso`, await writeIsoWith(tool, opts));
      assert.deepEqual(external.rr, builtin.rr);
      assert.deepEqual(external.joliet, builtin.joliet);
      assert.equal(external.volume, 'cidata');
      assert.equal(builtin.volume, 'cidata');
      assert.deepEqual(external.contents, builtin.contents);
    });
  });
}

describe("writeIsoWith('xorriso') reproducibility", () => {
  it('gives identical bytes twice for the same epoch', async () => {
    requireTool('xorriso');
    const a = await writeIsoWith('xorriso', opts);
    const b = await writeIsoWith('xorriso', opts);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  });
});

describe('writeIsoWith with the tool missing', () => {
  it('throws a UserError naming the Debian and RPM packages', async () => {
    const saved = process.env.PATH;
    process.env.PATH = tmp.sub('empty-path');
    mkdirSync(process.env.PATH);
    try {
      for (const tool of ['xorriso', 'genisoimage'] as const) {
        await assert.rejects(writeIsoWith(tool, opts), (e: unknown) => {
          assert.ok(e instanceof UserError, String(e));
          assert.match(e.message, new RegExp(`${tool} is not installed`));
          assert.match(e.message, new RegExp(`Debian/Ubuntu package "${tool}"`));
          assert.match(e.message, new RegExp(`RPM package "${tool}"`));
          return true;
        });
      }
    } finally {
      process.env.PATH = saved;
    }
  });

  it('still validates before looking for the tool', async () => {
    await assert.rejects(writeIsoWith('xorriso', { ...opts, label: 'no spaces' }), UserError);
  });
});
