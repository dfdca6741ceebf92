/**
 * The HTTP request fuzzer (http.ts) against the real `k8s-image serve` under `ulimit -n 1024`, for a
 * few seconds (K8S_IMAGE_HTTP_FUZZ_SECONDS, K8S_IMAGE_HTTP_FUZZ_SEED; `npm run fuzz` runs it for
 * minutes): never a 5xx, never a secret byte to anyone but its node, serve alive, open files bounded.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { freePort, get, labTree, secretsOf, startServe } from '../serve/lab.js';
import { fuzzServe } from './http.js';

const SECONDS = Number(process.env.K8S_IMAGE_HTTP_FUZZ_SECONDS ?? 4);
const SEED = Number(process.env.K8S_IMAGE_HTTP_FUZZ_SEED ?? 20261206);

test(`HTTP fuzz for ${SECONDS} s (seed ${SEED}): no 5xx, no secret byte to a non-owner, serve up, files bounded`, { timeout: 60000 + SECONDS * 2000 }, async () => {
  const base = tempDir('k8s-image-http-fuzz-');
  const port = await freePort();
  const tree = await labTree(base, port);
  writeFileSync(join(tree, 'http/big.img'), Buffer.alloc(1 << 20, 3));
  const serve = await startServe(tree, port, { ulimit: 1024 });
  try {
    await get(port, '/ks/master.cfg');
    const baselineFds = serve.fds();
    const { leak } = secretsOf(tree);
    const out = await fuzzServe(serve, { seed: SEED, deadline: Date.now() + SECONDS * 1000, baselineFds, leak });
    assert.deepEqual(out.violations, [], `seed ${SEED}`);
    // The fuzzer must reach every kind of answer, or it tests little.
    assert.ok(out.cases > 300, `${out.cases} cases`);
    for (const s of [200, 400, 403, 404]) assert.ok(out.statuses.get(s), `no ${s} among ${[...out.statuses.keys()]}`);
    assert.equal((await get(port, '/ks/master.cfg')).status, 200);
    process.stderr.write(`# HTTP fuzz: ${out.cases} connections in ${SECONDS} s, answers ${[...out.statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ')}, open files ${baselineFds} -> at most ${out.maxFds}\n`);
  } finally {
    await serve.stop();
  }
});
