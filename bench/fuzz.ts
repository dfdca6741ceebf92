/**
 * The fuzzers for as long as you like: `npm run fuzz -- [iterations] [seed] [http-seconds]`.
 * First the config fuzzer (defaults 50000 mutants and a seed from the clock, printed so a failure
 * can be replayed; the invariant of test/fuzz/fuzz.test.ts), then the HTTP request fuzzer against
 * the real `k8s-image serve` under `ulimit -n 1024` (default 180 s; the invariant of
 * test/fuzz/http-fuzz.test.ts: no 5xx, no secret byte to a non-owner, serve up, files bounded).
 * http-seconds 0 skips it; iterations 0 skips the config fuzzer. Exits 1 on the first violations.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judge, mutate, rng } from '../test/fuzz/fuzzer.js';
import { fuzzServe } from '../test/fuzz/http.js';
import { freePort, get, labTree, secretsOf, startServe } from '../test/serve/lab.js';

const iterations = Number(process.argv[2] ?? 50000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const httpSeconds = Number(process.argv[4] ?? 180);
const r = rng(seed);
const t0 = Date.now();
let accepted = 0;
for (let i = 0; i < iterations; i++) {
  const { text, what } = mutate(r);
  const v = await judge(text);
  if (v.outcome === 'accepted') accepted++;
  if (v.violations.length) {
    process.stderr.write(`seed ${seed}, mutant #${i} (${what}):\n${v.violations.join('\n')}\n--- config ---\n${text.slice(0, 4000)}\n`);
    process.exit(1);
  }
  if (i % 1000 === 999) process.stderr.write(`${i + 1}/${iterations} mutants, ${accepted} accepted, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
if (iterations) process.stdout.write(`fuzz: ${iterations} mutants (seed ${seed}), ${accepted} accepted, no violation, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

if (httpSeconds > 0) {
  const base = mkdtempSync(join(tmpdir(), 'k8s-image-http-fuzz-'));
  try {
    const port = await freePort();
    const tree = await labTree(base, port);
    writeFileSync(join(tree, 'http/big.img'), Buffer.alloc(1 << 20, 3));
    const serve = await startServe(tree, port, { ulimit: 1024 });
    await get(port, '/ks/master.cfg');
    const baselineFds = serve.fds();
    const { leak } = secretsOf(tree);
    const out = await fuzzServe(serve, { seed, deadline: Date.now() + httpSeconds * 1000, baselineFds, leak });
    await serve.stop();
    if (out.violations.length) {
      process.stderr.write(`HTTP fuzz, seed ${seed}:\n${out.violations.join('\n')}\n`);
      process.exit(1);
    }
    process.stdout.write(`HTTP fuzz: ${out.cases} connections in ${httpSeconds} s (seed ${seed}), answers ${[...out.statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ')}, open files ${baselineFds} -> at most ${out.maxFds}, no violation\n`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
