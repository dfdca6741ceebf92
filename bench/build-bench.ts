/**
 * Benchmark (not a test), measured the way users run the tool: the CLI as a whole process.
 *   npm run bench            (npm run bench -- --quick: one run each, smaller baseline sample)
 * Rows (issue 14): a 1000-worker farm (ks.cfg + cloud-init + both ISOs per node) against
 * cloud-localds (Debian cloud-image-utils) making the 1001 cidata seeds from the same files, in the
 * same run; the largest file of one worker in a 1000- vs a 10-node farm; peak memory of the
 * 1000-node build; `k8s-image --help` against a bare `node -e ""`; rebuilding one node of the
 * farm. Times are medians; the output directory is under the system temp dir (its disk counts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/assets.js';
import { farmYaml } from '../test/helpers/farm.js';

const quick = process.argv.includes('--quick');
const runs = quick ? 1 : 3;
const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'k8s-image-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall time (ms) and peak RSS (KiB, from GNU time when installed) of one whole process. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { ms: number; rssKiB?: number } {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 })
    : spawnSync(cmd, args, { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const rss = gnuTime ? Number(r.stderr.trim().split('\n').at(-1)) : undefined;
  return { ms, rssKiB: Number.isFinite(rss) ? rss : undefined };
}

function largestFile(dir: string): number {
  let max = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else max = Math.max(max, statSync(p).size);
    }
  };
  walk(dir);
  return max;
}

try {
  writeFileSync(join(work, 'farm1000.yaml'), farmYaml(1000));
  writeFileSync(join(work, 'farm10.yaml'), farmYaml(10, 'farm'));
  execFileSync(process.execPath, [cli, 'secrets', '-c', 'farm1000.yaml'], { cwd: work, stdio: 'ignore' });
  copyFileSync(join(work, 'farm.secrets.yaml'), join(work, 'farm-secrets-backup.yaml'));

  // 1. The 1000-worker farm, each run into a directory of its own. Nothing is deleted until every
  // figure is taken: on a journal-less ext4 (this VM's disk) the kernel skips inodes freed in the
  // last minutes when it allocates new ones, one lookup each, so creating files right after a big
  // rm -rf costs seconds of system time whoever creates them (perf: recently_deleted, find_inode_bit).
  const farm: { ms: number; rssKiB?: number }[] = [];
  for (let i = 0; i < runs; i++) farm.push(measure(process.execPath, [cli, 'build', '-c', 'farm1000.yaml', '-o', `out${i}`]));
  const farmMs = median(farm.map((x) => x.ms));
  // The same farm into memory (tmpfs), for the tool's own share: the disk's is the difference.
  const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/k8s-image-bench-') : undefined;
  const inMemory: number[] = [];
  try {
    for (let i = 0; shm && i < runs; i++) {
      inMemory.push(measure(process.execPath, [cli, 'build', '-c', join(work, 'farm1000.yaml'), '-o', join(shm, 'out')]).ms);
      rmSync(join(shm, 'out'), { recursive: true, force: true });
    }
  } finally {
    if (shm) rmSync(shm, { recursive: true, force: true });
  }
  const peakKiB = Math.max(...farm.map((x) => x.rssKiB ?? 0));

  // 2. cloud-localds on the same cidata files: 1001 seeds, one process each, as a shell loop would.
  const seeds = join(work, 'seeds');
  const nodes = readdirSync(join(work, 'out0', 'farm')).filter((n) => existsSync(join(work, 'out0', 'farm', n, 'cloud-init')));
  const sample = quick ? nodes.slice(0, 200) : nodes;
  const localds: number[] = [];
  for (let i = 0; i < runs; i++) {
    mkdirSync(`${seeds}${i}`);
    const t0 = performance.now();
    for (const n of sample) {
      const ci = join(work, 'out0', 'farm', n, 'cloud-init');
      execFileSync('cloud-localds', ['-N', join(ci, 'network-config'), join(`${seeds}${i}`, `${n}.iso`), join(ci, 'user-data'), join(ci, 'meta-data')]);
    }
    localds.push(((performance.now() - t0) * nodes.length) / sample.length);
  }
  const localdsMs = median(localds);

  // 3. A worker's largest file, 1000- vs 10-node farm.
  const big = largestFile(join(work, 'out0', 'farm', 'node0001'));
  measure(process.execPath, [cli, 'build', '-c', 'farm10.yaml', '-o', 'out10']);
  const small = largestFile(join(work, 'out10', 'farm', 'node0001'));

  // 4. Start-up: --help against a bare node.
  // Interleaved, so the host's drift from second to second falls on both alike.
  const helpRuns: number[] = [];
  const bareRuns: number[] = [];
  for (let i = 0; i < 21; i++) {
    bareRuns.push(measure(process.execPath, ['-e', '']).ms);
    helpRuns.push(measure(process.execPath, [cli, '--help']).ms);
  }
  const help = median(helpRuns);
  const bare = median(bareRuns);

  // 5. One node of the 1000-node farm.
  const one = median(Array.from({ length: runs }, () => measure(process.execPath, [cli, 'build', '-c', 'farm1000.yaml', '-o', 'out0', '-n', 'node0500']).ms));

  const row = (what: string, now: string, goal: string, ok: boolean) => `| ${what} | ${now} | ${goal} | ${ok ? 'met' : 'NOT met'} |`;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const fsType = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '--target', work], { encoding: 'utf8' }).stdout?.trim() || 'unknown fs';
  const lines = [
    `k8s-image bench: ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, output under ${tmpdir()} (${fsType}); medians of ${runs}`,
    '',
    '| what | measured | goal | |',
    '|---|---|---|---|',
    row('1000-worker farm (ks + cloud-init + both ISOs per node) vs cloud-localds making the 1001 cidata seeds', `${s(farmMs)} vs ${s(localdsMs)}${quick ? ' (extrapolated from 200)' : ''}: ${(localdsMs / farmMs).toFixed(1)}x`, '>= 10x faster', localdsMs / farmMs >= 10),
    `| the same farm with its output on tmpfs (no disk: the tool's own time) | ${inMemory.length ? s(median(inMemory)) : 'n/a (no /dev/shm)'} | - | |`,
    row('largest file of one worker, 1000-node vs 10-node farm', `${(big / 1024).toFixed(0)} KiB vs ${(small / 1024).toFixed(0)} KiB: ${(big / small).toFixed(2)}x`, '<= 1.5x', big / small <= 1.5),
    row('peak memory, 1000-node build (every thread)', peakKiB ? `${(peakKiB / 1024).toFixed(0)} MiB` : 'n/a (no /usr/bin/time)', '<= 300 MiB', peakKiB > 0 && peakKiB <= 300 * 1024),
    row('`k8s-image --help` vs `node -e ""`', `${help.toFixed(0)} ms vs ${bare.toFixed(0)} ms: ${(help / bare).toFixed(2)}x`, '<= 1.5x', help / bare <= 1.5),
    row('rebuild one node of the 1000-node farm (`-n node0500`)', s(one), '< 1 s', one < 1000),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
