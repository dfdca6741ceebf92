/**
 * The fuzzers for as long as you like: `npm run fuzz -- [iterations] [seed] [http-seconds] [cli-seconds]`.
 * First the config fuzzer (defaults 50000 mutants and a seed from the clock, printed so a failure
 * can be replayed; the invariant of test/fuzz/fuzz.test.ts), then the HTTP request fuzzer against
 * the real `k8s-image serve` under `ulimit -n 1024` (default 180 s; the invariant of
 * test/fuzz/http-fuzz.test.ts: no 5xx, no secret byte to a non-owner, serve up, files bounded).
 * http-seconds 0 skips it; iterations 0 skips the config fuzzer. Then the CLI fuzz (test/fuzz/cli.ts;
 * default 240 s, as root only): random argv over every command with special paths (FIFOs, devices,
 * symlinks, /proc, a read-only mount, the input as the output), the invariant of
 * test/fuzz/cli-fuzz.test.ts; it runs to the end and prints every distinct failure, known (issue 21,
 * KNOWN_BUGS) or not. cli-seconds 0 skips it. Exits 1 on the first violations (the CLI fuzz: on any
 * violation not in KNOWN_BUGS).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/assets.js';
import { judge, mutate, rng } from '../test/fuzz/fuzzer.js';
import { canFuzz, distinct, fuzzCli, signature } from '../test/fuzz/cli.js';
import { fuzzServe } from '../test/fuzz/http.js';
import { freePort, get, labTree, secretsOf, startServe } from '../test/serve/lab.js';

const iterations = Number(process.argv[2] ?? 50000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const httpSeconds = Number(process.argv[4] ?? 180);
const cliSeconds = Number(process.argv[5] ?? 240);
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

if (cliSeconds > 0) {
  const why = canFuzz();
  if (why) process.stderr.write(`CLI fuzz skipped: ${why}\n`);
  else {
    const base = mkdtempSync(join(tmpdir(), 'k8s-image-cli-fuzz-'));
    const t1 = Date.now();
    try {
      const out = await fuzzCli({
        cli: join(packageRoot, 'dist', 'src', 'cli.js'),
        base,
        seed,
        deadline: Date.now() + cliSeconds * 1000,
        timeoutMs: 20000,
        onRun: (res, i) => {
          if (i % 50 === 49) process.stderr.write(`${i + 1} CLI runs, ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
        },
      });
      const line = (d: { shape: string; count: number; argv: string[]; v: { kind: string; detail: string } }) => `  [${d.count}x] ${d.shape}\n      e.g. ${signature(d.argv, d.v as never).slice(0, 900)}\n`;
      const known = distinct(out.known);
      const unknown = distinct(out.unknown);
      if (known.length) process.stdout.write(`CLI fuzz: ${out.known.length} known violations (KNOWN_BUGS, issue 21), ${known.length} distinct:\n${known.map(line).join('')}`);
      if (unknown.length) {
        process.stderr.write(`CLI fuzz, seed ${seed}: ${out.unknown.length} violations not in KNOWN_BUGS, ${unknown.length} distinct:\n${unknown.map(line).join('')}`);
        process.exitCode = 1;
      }
      process.stdout.write(`CLI fuzz: ${out.runs} runs in ${((Date.now() - t1) / 1000).toFixed(0)} s (seed ${seed}), exits ${[...out.codes].map(([k, v]) => `${k}:${v}`).join(' ')}, slowest ${out.slowestMs} ms${unknown.length ? '' : ', no unknown violation'}\n`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }
}
