/**
 * import-images.sh against a hostile or broken bundle (index.txt comes over plain HTTP): a file name
 * with a slash or a leading dot is refused before anything is written, and a downloaded archive is
 * removed on every failure (a bad sha256, a runtime that refuses it: the real ctr with no containerd
 * behind it), so a failed import leaves nothing behind to be mistaken for a good one. The bundle is a
 * local folder (BUNDLE_URL file://, which the script reads with cp); the node side is the sandbox.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { makeSandbox, run } from '../node-files/sandbox.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A bundle folder whose images/index.txt holds LINES, with FILES beside it. */
function bundleDir(lines: string[], files: Record<string, string> = {}): string {
  const d = tempDir('k8s-import-');
  mkdirSync(join(d, 'bundle/images'), { recursive: true });
  writeFileSync(join(d, 'bundle/images/index.txt'), ['# test', 'kubernetesVersion 1.17.4', 'imageRepository registry.local/k8s', ...lines, ''].join('\n'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(d, 'bundle/images', name), content);
  return join(d, 'bundle');
}

describe('import-images.sh: names from index.txt and cleanup on failure', () => {
  const importIn = async (bundle: string, extraPath?: string) => {
    const sb = makeSandbox('init', { BUNDLE_URL: `file://${bundle}`, KUBERNETES_VERSION: '1.17.4', IMAGE_REPOSITORY: 'registry.local/k8s', RUNTIME_SERVICE: 'containerd' });
    const r = await run(sb, 'import-images.sh', extraPath ? { PATH: `${extraPath}:${sb.env.PATH}` } : {});
    return { r, work: join(sb.p.state, 'bundle-images'), sb };
  };

  it('a file name with a slash or a leading dot is refused (exit 4) and nothing is written outside its folder', async () => {
    const payload = 'not an image\n';
    for (const name of ['../escaped.tar', '..', '.hidden.tar', 'sub/dir.tar', '/etc/passwd']) {
      const bundle = bundleDir([`${sha(payload)} ${name} registry.local/k8s/x:v1`], { 'escaped.tar': payload });
      const { r, work } = await importIn(bundle);
      assert.equal(r.code, 4, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /refused: index\.txt names the archive '.*', which is not a plain file name in images\//, name);
      assert.ok(!existsSync(join(work, '..', 'escaped.tar')), `${name}: nothing written beside the work folder`);
      assert.deepEqual(readdirSync(work).sort(), ['index.txt'], name);
    }
  });

  it('a download that fails its sha256, a missing archive and an archive the runtime refuses leave no file behind', async () => {
    const ctrBin = tempDir('k8s-import-ctr-');
    // The real ctr, pointed at a socket nobody listens on: the runtime refuses the import.
    writeFileSync(join(ctrBin, 'ctr'), `#!/bin/sh\nexec ${requireTool('ctr')} -a ${ctrBin}/none.sock --timeout 2s "$@"\n`);
    chmodSync(join(ctrBin, 'ctr'), 0o755);
    const payload = 'archive bytes\n';
    const cases: [string, string[], Record<string, string>, number, RegExp][] = [
      ['bad sha256', [`${sha('other')} a.tar registry.local/k8s/a:v1`], { 'a.tar': payload }, 4, /its sha256 is not/],
      ['missing archive', [`${sha(payload)} gone.tar registry.local/k8s/g:v1`], {}, 6, /cannot download/],
      ['runtime refuses', [`${sha(payload)} a.tar registry.local/k8s/a:v1`], { 'a.tar': payload }, 5, /ctr refused a\.tar/],
    ];
    for (const [what, lines, files, code, why] of cases) {
      const { r, work } = await importIn(bundleDir(lines, files), ctrBin);
      assert.equal(r.code, code, `${what}: ${r.stderr}`);
      assert.match(r.stderr, why, what);
      assert.deepEqual(readdirSync(work).sort(), ['index.txt'], `${what}: the downloaded archive is removed`);
    }
  });
});
