/**
 * Benchmark of `k8s-image pxe` (not a test), measured the way users run it: the CLI as a whole
 * process under the default open-file limit of Debian and CentOS, `bash -c 'ulimit -n 1024; exec
 * k8s-image pxe ...'`, for a 5,000-node farm (issue 20: this failed with EMFILE). Rows: a fresh tree
 * and a re-run over an existing one (which carries the user's files over and removes the old tree);
 * wall time (median, min, max of the runs), peak RSS (GNU time) and the most file descriptors the
 * process held at once (sampled from /proc/<pid>/fd every few ms), against the limit of 1024.
 *   npm run bench:pxe            (npm run bench:pxe -- --nodes 1000 --runs 1 for a quick look)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/assets.js';
import { farmYaml } from '../test/helpers/farm.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const nodes = arg('--nodes', 5000);
const runs = arg('--runs', 3);
const NOFILE = 1024;
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'k8s-image-pxe-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Run {
  ms: number;
  rssKiB?: number;
  maxFds: number;
}

/** One whole `pxe` process under ulimit -n 1024: wall time, peak RSS, most descriptors open at once. */
async function once(): Promise<Run> {
  const gnuTime = existsSync('/usr/bin/time');
  const pxe = `'${process.execPath}' '${cli}' pxe -c farm.yaml -s 10.20.0.1:8080`;
  // exec: bash becomes GNU time (or node), so the pid sampled is the measured process or its parent.
  const script = `ulimit -n ${NOFILE} && exec ${gnuTime ? `/usr/bin/time -f '%M' ${pxe}` : pxe}`;
  const t0 = performance.now();
  const child = spawn('bash', ['-c', script], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let maxFds = 0;
  const fdsOf = (pid: number) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      return 0;
    }
  };
  // node runs under GNU time: the most descriptors any process of the run holds.
  const sample = setInterval(() => {
    for (const pid of [child.pid!, ...childrenOf(child.pid!)]) maxFds = Math.max(maxFds, fdsOf(pid));
  }, 5);
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  clearInterval(sample);
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`pxe failed (exit ${code}): ${stderr}`);
  const rss = gnuTime ? Number(stderr.trim().split('\n').at(-1)) : undefined;
  return { ms, rssKiB: Number.isFinite(rss) ? rss : undefined, maxFds };
}

/** The pids of a process's children (/proc/<pid>/task/<pid>/children, Linux 3.5+). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

try {
  writeFileSync(join(work, 'farm.yaml'), farmYaml(nodes - 1));
  const tree = join(work, 'outputs', 'farm-pxe');
  const fresh: Run[] = [];
  const rerun: Run[] = [];
  // A warm-up run makes the secrets (once per farm) and warms the page cache; not counted.
  await once();
  for (let i = 0; i < runs; i++) {
    // Moved aside, not removed: removing 5,000 nodes' files takes longer than writing them.
    renameSync(tree, join(work, `old-${i}`));
    fresh.push(await once());
    // The user's loaders and kernel, as the README tells them to copy in: a re-run keeps them.
    mkdirSync(join(tree, 'tftp', 'centos7'), { recursive: true });
    for (const f of ['pxelinux.0', 'ldlinux.c32', 'centos7/vmlinuz', 'centos7/initrd.img']) writeFileSync(join(tree, 'tftp', f), Buffer.alloc(f.includes('initrd') ? 64 << 20 : 64 << 10, 1));
    rerun.push(await once());
  }
  const files = countFiles(tree);
  const row = (what: string, rs: Run[]) => {
    const ms = rs.map((r) => r.ms);
    const rss = rs.map((r) => r.rssKiB).filter((x): x is number => x !== undefined);
    return `| ${what} | ${(median(ms) / 1000).toFixed(2)} s | ${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)} s | ${rss.length ? `${Math.round(median(rss) / 1024)} MiB` : '?'} | ${Math.max(...rs.map((r) => r.maxFds))} |`;
  };
  console.log(`k8s-image pxe, ${nodes} nodes (${files} files in the tree), ulimit -n ${NOFILE}, ${runs} runs each; ${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, tree under ${tmpdir()}`);
  console.log('| run | median | min–max | peak RSS | most fds open |');
  console.log('|---|---|---|---|---|');
  console.log(row('fresh tree', fresh));
  console.log(row('re-run over the tree (keeps 4 user files, 64 MiB initrd)', rerun));
} finally {
  rmSync(work, { recursive: true, force: true });
}
