/**
 * The config fuzzer for as long as you like: `npm run fuzz -- [iterations] [seed]` (defaults 50000
 * and a seed from the clock, printed so a failure can be replayed). The same invariant as
 * test/fuzz/fuzz.test.ts; exits 1 on the first violations with the mutant that caused them.
 */
import { judge, mutate, rng } from '../test/fuzz/fuzzer.js';

const iterations = Number(process.argv[2] ?? 50000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
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
process.stdout.write(`fuzz: ${iterations} mutants (seed ${seed}), ${accepted} accepted, no violation, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
