/**
 * How many connections serve takes at once, from the open-file limit it runs under: every file it
 * opens is bounded by the tool, never by asking the user to raise `ulimit -n` (DESIGN.md).
 */
import { readFileSync } from 'node:fs';

/** The soft RLIMIT_NOFILE of this process (Linux: /proc/self/limits), or 1024 when unknown. */
export function softFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    /* not Linux: assume the common default */
  }
  return 1024;
}

export interface Budget {
  /** The open-file limit it was sized from. */
  fileLimit: number;
  /** Sockets at once (server.maxConnections). */
  connections: number;
  /** Live-page (SSE) subscribers at once. */
  subscribers: number;
}

/**
 * A connection holds its socket and at most one open file (a response at a time per connection;
 * a pipelined response opens its file only when its turn comes). The rest is node itself, stdio,
 * the status log, the DVD image, the key child's pipes: a fixed reserve, with headroom.
 */
export function budgetFor(fileLimit: number): Budget {
  const reserve = 64 + Math.floor(fileLimit / 16);
  const connections = Math.max(8, Math.min(8192, Math.floor((fileLimit - reserve) / 2)));
  return { fileLimit, connections, subscribers: Math.max(2, Math.min(256, Math.floor(connections / 8))) };
}
