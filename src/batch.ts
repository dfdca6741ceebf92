import { setFlagsFromString } from 'node:v8';

/**
 * V8's tiering is tuned for pages and servers that run for minutes: it optimizes a function after a
 * small budget of work and inlines generously. A build runs for a second or two and renders every
 * node with the same functions, so optimizing compiles were a third of its CPU (perf, two cores).
 * Optimizing later and inlining less cut the 1000-node build's CPU by a sixth (3.65 -> 3.02
 * CPU-seconds, median wall 2.24 -> 1.89 s, six interleaved runs). Heuristics only: the bytes are
 * the same. Set by build, render and pxe before their modules load; `serve` keeps V8's defaults.
 */
export function tuneForBatch(): void {
  setFlagsFromString('--interrupt-budget=600000');
  setFlagsFromString('--max-inlined-bytecode-size-cumulative=300');
}
