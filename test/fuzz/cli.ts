/**
 * A seeded CLI fuzzer (issue 21): random argv over every command, with special paths as the values of
 * every path-taking option (-c, -o, -f, --dir, --state, --iso, --installer, --loaders, --secrets when
 * the build has it): the input config itself, the secrets file, regular, empty and unreadable files,
 * symlinks (to a file, to a directory, dangling, and to a file outside the sandbox), a FIFO, mknod'ed
 * copies of /dev/null, /dev/zero and /dev/full, directories, a read-only bind mount (a private mount
 * namespace, `unshare -m`), non-existent nested paths, empty, very long and newline names, /proc and
 * /sys pseudo-files; as inputs only, also /dev/null, /dev/zero, /dev/full, /etc and /etc/passwd.
 * Outputs are only ever paths inside the run's sandbox or harmless pseudo-files: nothing real is
 * touched. Each run gets a fresh sandbox (its cwd) copied from a template, and a timeout.
 *
 * The invariant: nothing hangs (timeout), no exit 1 or stack trace, exit 0 or 2 (serve: 0 when
 * stopped after it listens); no pre-existing entry in the run dir changes (type, mode, inode,
 * content or link target) unless it is what the command writes on success (its own tree under
 * <out>/<cluster>*, a regular file --force named as the output; never the input config or the
 * secrets file); a refused run (exit 2) creates nothing at all (no secrets file, no empty outputs/).
 *
 * Violations that today's main is known to have (issue 21) are listed in KNOWN_BUGS, in one place;
 * cli-fuzz.test.ts asserts everything else and the integrator empties the list as fixes merge.
 * Used by cli-fuzz.test.ts (a bounded slice) and bench/fuzz.ts (minutes). Not a test file itself.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { defaultClusterYaml } from '../../src/config/index.js';
import { rng } from './fuzzer.js';

export { rng };

export type ViolationKind = 'hang' | 'exit' | 'stack' | 'changed' | 'created' | 'outside';
export interface Violation {
  kind: ViolationKind;
  detail: string;
}

/** A violation today's main has, with the issue that asks for its fix. */
export interface KnownBug {
  issue: string;
  kind: ViolationKind;
  /** Tested on `<argv joined by spaces> => <detail>` (see signature()). */
  re: RegExp;
}

/**
 * Known failures of main at the time the fuzz landed (issue 21), found by `npm run fuzz`. Remove an
 * entry when its fix merges; cli-fuzz.test.ts then holds the fix to it.
 */
export const KNOWN_BUGS: KnownBug[] = [];

export function signature(argv: readonly string[], v: Violation): string {
  return `${argv.map((a) => JSON.stringify(a)).join(' ')} => ${v.kind}: ${v.detail}`;
}

export function knownBug(argv: readonly string[], v: Violation, known: readonly KnownBug[] = KNOWN_BUGS): KnownBug | undefined {
  const s = signature(argv, v);
  return known.find((k) => k.kind === v.kind && k.re.test(s));
}

// ---------------------------------------------------------------------------------------------
// The sandbox

const CLUSTER = 'k8s-lab';
/** Names inside the sandbox (relative to its cwd). */
export const SANDBOX_PATHS = [
  'cluster.yaml', 'cluster.yaml', 'k8s-lab.secrets.yaml', 'file.txt', 'empty.txt', 'link-file', 'link-dangling', 'link-out', 'link-dir',
  'fifo', 'fifo', 'null', 'zero', 'full', 'dir', 'dir/', 'empty-dir', 'unreadable', 'unreadable-dir', 'unreadable-dir/x', 'ro', 'ro/x', 'ro-file',
  'no/such/nested/path', 'outputs', 'tree', 'tree/k8s-lab-pxe', 'cluster.yaml/x', 'fifo/x', 'link-dangling/x', '', '.', '-',
  'n'.repeat(300), `${'d'.repeat(200)}/${'f'.repeat(200)}`, 'new\nline', ' lead space', '--help', 'x'.repeat(250) + '/y',
];
/** Pseudo-files that are safe to name as outputs: nothing can be created or changed there. */
export const PSEUDO_PATHS = ['/proc/self/status', '/proc/version', '/proc/k8s-image-fuzz/x', '/proc/self', '/sys/kernel', '/sys/k8s-image-fuzz/x', '/proc/self/cwd/fifo', '/proc/self/cwd/file.txt'];
/** Inputs only, never outputs. */
export const INPUT_ONLY_PATHS = ['/dev/null', '/dev/zero', '/dev/full', '/etc', '/etc/passwd', '/proc/self/mem', '/nonexistent/CentOS-7-x86_64-DVD-2009.iso'];

/** The lab with a MAC on every node, so `pxe` accepts it. */
function fuzzClusterYaml(): string {
  return defaultClusterYaml().replace(/ip: 192\.168\.108\.10(\d),/g, (_, d: string) => `ip: 192.168.108.10${d}, mac: "52:54:00:00:00:1${d}",`);
}

/**
 * Two templates under `base`: with a secrets file (beside cluster.yaml and in outputs/ for the
 * embedded lab) and a PXE tree, and bare (no secrets anywhere, the same PXE tree). Each is a run dir:
 * `sandbox/` (the cwd) and `outside/` (what the link-out symlink points at).
 */
export function makeTemplates(base: string, cli: string): { withSecrets: string; bare: string } {
  const t = join(base, 'template-secrets');
  const s = join(t, 'sandbox');
  mkdirSync(join(t, 'outside'), { recursive: true });
  writeFileSync(join(t, 'outside', 'victim.txt'), 'outside the sandbox\n');
  mkdirSync(s, { recursive: true });
  writeFileSync(join(s, 'cluster.yaml'), fuzzClusterYaml());
  const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { cwd: s, stdio: ['ignore', 'ignore', 'pipe'] });
  run(['secrets', '-c', 'cluster.yaml']);
  run(['pxe', '-c', 'cluster.yaml', '-s', '10.0.0.1:8080', '-o', 'tree']);
  mkdirSync(join(s, 'outputs'));
  copyFileSync(join(s, 'k8s-lab.secrets.yaml'), join(s, 'outputs', 'k8s-lab.secrets.yaml'));
  chmodSync(join(s, 'outputs', 'k8s-lab.secrets.yaml'), 0o600);
  writeFileSync(join(s, 'file.txt'), 'a file the user cares about\n');
  writeFileSync(join(s, 'empty.txt'), '');
  symlinkSync('file.txt', join(s, 'link-file'));
  symlinkSync('nowhere/at-all', join(s, 'link-dangling'));
  symlinkSync('../outside/victim.txt', join(s, 'link-out'));
  symlinkSync('dir', join(s, 'link-dir'));
  mkdirSync(join(s, 'dir'));
  writeFileSync(join(s, 'dir', 'inside.txt'), 'inside a directory\n');
  mkdirSync(join(s, 'empty-dir'));
  mkdirSync(join(s, 'ro'));
  writeFileSync(join(s, 'ro', 'kept.txt'), 'on a read-only mount\n');
  writeFileSync(join(s, 'ro-file'), 'a read-only bind-mounted file\n');
  writeFileSync(join(s, 'unreadable'), 'mode 000\n');
  mkdirSync(join(s, 'unreadable-dir'));
  execFileSync('sh', ['-c', 'mkfifo fifo && mknod null c 1 3 && mknod zero c 1 5 && mknod full c 1 7 && chmod 666 null zero full'], { cwd: s });
  chmodSync(join(s, 'unreadable'), 0o000);
  chmodSync(join(s, 'unreadable-dir'), 0o000);
  const bare = join(base, 'template-bare');
  execFileSync('cp', ['-a', t, bare]);
  rmSync(join(bare, 'sandbox', 'k8s-lab.secrets.yaml'));
  rmSync(join(bare, 'sandbox', 'outputs'), { recursive: true });
  return { withSecrets: t, bare };
}

export interface Entry {
  type: string;
  mode: number;
  ino: number;
  what: string;
}

/** Every entry under `root` (not following symlinks, never opening FIFOs or devices). */
export function snapshot(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chardev' : st.isBlockDevice() ? 'blockdev' : st.isSocket() ? 'socket' : 'other';
    let what = '';
    if (type === 'file') what = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
    else if (type === 'symlink') what = readlinkSync(p);
    else if (type === 'chardev' || type === 'blockdev') what = String(st.rdev);
    if (rel) out.set(rel, { type, mode: st.mode & 0o7777, ino: st.ino, what });
    if (type === 'dir') for (const n of readdirSync(p)) walk(rel ? join(rel, n) : n);
  };
  walk('');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Argv

type Pick = <T>(xs: readonly T[]) => T;
type Gen = (pick: Pick, r: () => number, ctx: Ctx) => string;
interface Ctx {
  cwd: string;
  statusBase: string;
}
interface Opt {
  flag: string;
  /** Probability the option is given. */
  p: number;
  /** A value, or none for a flag. */
  gen?: Gen;
  repeat?: boolean;
}

/** An output path: inside the sandbox (relative or absolute), or a harmless pseudo-file. */
const outPath: Gen = (pick, r, ctx) => {
  if (r() < 0.12) return pick(PSEUDO_PATHS);
  const p = pick(SANDBOX_PATHS);
  return r() < 0.2 && p && !p.startsWith('-') ? join(ctx.cwd, p) : p;
};
/** An input path: anything an output may be, and real devices and system files. */
const inPath: Gen = (pick, r, ctx) => (r() < 0.25 ? pick(INPUT_ONLY_PATHS) : outPath(pick, r, ctx));
/** The config: mostly the real one, so commands get far enough to write. */
const config: Gen = (pick, r, ctx) => (r() < 0.65 ? pick(['cluster.yaml', 'cluster.yaml', join(ctx.cwd, 'cluster.yaml'), '/proc/self/cwd/cluster.yaml']) : inPath(pick, r, ctx));
const nodeName: Gen = (pick) => pick(['master', 'node01', 'node02', 'master', 'nobody', '', '../x', 'node01\n']);
const c: Opt = { flag: '-c', p: 0.85, gen: config };
const json: Opt = { flag: '--json', p: 0.2 };
const newCa: Opt = { flag: '--new-ca', p: 0.15 };
const outDir: Opt = { flag: '-o', p: 0.75, gen: outPath };

export const COMMANDS: Record<string, Opt[]> = {
  init: [{ flag: '--ha', p: 0.3 }, { flag: '-o', p: 0.85, gen: outPath }, { flag: '--force', p: 0.4 }],
  validate: [c, json],
  build: [c, { flag: '-r', p: 0.2, gen: (pick) => pick(['master', 'node', 'all']) }, { flag: '-n', p: 0.3, gen: nodeName, repeat: true }, outDir, newCa, json, { flag: '--seed', p: 0.5, gen: (pick) => pick(['cidata', 'oemdrv', 'both']) }],
  render: [c, { flag: '-n', p: 0.3, gen: nodeName, repeat: true }, outDir, newCa, json, { flag: '--status', p: 0.1, gen: (pick) => pick(['http://10.0.0.1:8080', 'junk']) }],
  secrets: [c, outDir, { flag: '--show', p: 0.3 }, newCa, json],
  kubeconfig: [c, { flag: '-o', p: 0.4, gen: outPath }, { flag: '-f', p: 0.85, gen: outPath }, { flag: '--force', p: 0.4 }],
  pxe: [
    c, outDir, { flag: '-s', p: 0.95, gen: (pick) => pick(['10.0.0.1:8080', '10.0.0.1:8080', '10.0.0.1:8080', '127.0.0.1:8080', 'junk']) },
    { flag: '--installer', p: 0.35, gen: inPath }, { flag: '--loaders', p: 0.35, gen: inPath }, { flag: '--reinstall', p: 0.1, gen: nodeName }, newCa, json,
    { flag: '--secure-boot', p: 0.15, gen: nodeName }, { flag: '--log-dhcp', p: 0.15 },
  ],
  serve: [
    { flag: '-d', p: 0.6, gen: (pick, r, ctx) => (r() < 0.5 ? 'tree/k8s-lab-pxe' : outPath(pick, r, ctx)) }, { flag: '-c', p: 0.4, gen: config }, { flag: '-o', p: 0.3, gen: outPath },
    { flag: '--state', p: 0.5, gen: outPath }, { flag: '--installer', p: 0.3, gen: inPath }, { flag: '-l', p: 1, gen: () => '127.0.0.1:0' },
    { flag: '--bundle', p: 0.15, gen: inPath }, { flag: '--max-installing', p: 0.2, gen: (pick) => pick(['0', '1', '500', '-1', 'x', '9999999']) },
    { flag: '--retry-after', p: 0.2, gen: (pick) => pick(['1', '30', '0', '3601', 'x']) },
  ],
  status: [c, { flag: '-s', p: 1, gen: (pick, _r, ctx) => pick(['http://127.0.0.1:1', ...['array', 'null', 'number', 'nodes-string', 'nodes-junk', 'html', 'empty', 'status-page'].map((k) => `${ctx.statusBase}/${k}`)]) }, { flag: '--failed', p: 0.3 }, json],
  golden: [c, outDir, newCa, json],
  packer: [c, outDir, newCa, json],
  guestinfo: [c, outDir, newCa, json, { flag: '-n', p: 0.3, gen: nodeName, repeat: true }],
  remaster: [c, { flag: '--iso', p: 0.85, gen: inPath }, { flag: '-n', p: 0.8, gen: nodeName }, { flag: '-o', p: 0.8, gen: outPath }, newCa, json],
  versions: [{ flag: '--all', p: 0.5 }, json],
  schema: [],
  // `token create`: no API server answers in the sandbox (port 1 refuses), so it may never write.
  token: [
    c, { flag: '--ttl', p: 0.5, gen: (pick) => pick(['1h', '0', '2d', 'junk', '-5m', '99999999h', '']) },
    { flag: '--server', p: 0.95, gen: (pick) => pick(['https://127.0.0.1:1', 'https://127.0.0.1:1', 'http://127.0.0.1:1', 'junk', 'https://user:pw@127.0.0.1:1']) },
    { flag: '--write', p: 0.4 }, json,
  ],
};
/** Commands that write a tree under <out>/<cluster>*: on success that tree may be rewritten. */
const TREE_WRITERS = new Set(['build', 'render', 'pxe', 'golden', 'packer', 'guestinfo', 'secrets']);
/** How often each command is drawn: the writers most. */
const WEIGHTS: Record<string, number> = { init: 3, validate: 2, build: 4, render: 3, secrets: 3, kubeconfig: 4, pxe: 4, serve: 3, status: 1, golden: 2, packer: 2, guestinfo: 2, remaster: 4, versions: 0.3, schema: 0.3, token: 1.5 };

/** `--secrets PATH` on the commands whose help lists it (another fix of issue 21 may add it). */
export function secretsOption(cli: string): Set<string> {
  const has = new Set<string>();
  for (const cmd of Object.keys(COMMANDS)) {
    if (cmd === 'versions' || cmd === 'schema' || cmd === 'init' || cmd === 'status') continue;
    const help = execFileSync(process.execPath, [cli, ...(cmd === 'token' ? ['token', 'create'] : [cmd]), '--help'], { encoding: 'utf8' });
    if (/--secrets\b/.test(help)) has.add(cmd);
  }
  return has;
}

export function randomArgv(r: () => number, ctx: Ctx, withSecrets: ReadonlySet<string> = new Set()): string[] {
  const pick: Pick = (xs) => xs[Math.floor(r() * xs.length)]!;
  const names = Object.keys(COMMANDS);
  const total = names.reduce((n, k) => n + WEIGHTS[k]!, 0);
  let x = r() * total;
  const cmd = names.find((k) => (x -= WEIGHTS[k]!) < 0) ?? 'build';
  const opts = [...COMMANDS[cmd]!];
  if (withSecrets.has(cmd)) opts.push({ flag: '--secrets', p: 0.4, gen: outPath });
  const argv = cmd === 'token' ? ['token', 'create'] : [cmd];
  for (const o of opts.sort(() => r() - 0.5)) {
    if (r() >= o.p) continue;
    const n = o.repeat && r() < 0.2 ? 2 : 1;
    for (let i = 0; i < n; i++) argv.push(o.flag, ...(o.gen ? [o.gen(pick, r, ctx)] : []));
  }
  return argv;
}

// ---------------------------------------------------------------------------------------------
// One run

export interface RunResult {
  argv: string[];
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  ms: number;
  stderr: string;
  violations: Violation[];
}

const valueOf = (argv: readonly string[], ...flags: string[]): string[] => argv.flatMap((a, i) => (flags.includes(a) && i + 1 < argv.length ? [argv[i + 1]!] : []));

/** Relative path inside the sandbox that `p` names (as given, not resolved through links), or undefined. */
function insideSandbox(p: string, cwd: string): string | undefined {
  const abs = p.startsWith('/proc/self/cwd/') ? join(cwd, p.slice('/proc/self/cwd/'.length)) : p.startsWith('/') ? p : join(cwd, p);
  const rel = abs === cwd ? '' : abs.startsWith(`${cwd}/`) ? abs.slice(cwd.length + 1) : undefined;
  return rel?.replace(/\/+$/, '');
}

/** Whether a change to `rel` (relative to the run dir) is what this successful run may do. */
function mayChange(argv: readonly string[], rel: string, before: Entry, cwd: string): boolean {
  const cmd = argv[0]!;
  if (!rel.startsWith('sandbox/')) return false;
  const r = rel.slice('sandbox/'.length);
  // Never the config this command reads, nor a secrets file (but init reads neither: --force may replace them).
  const input = cmd !== 'init' && valueOf(argv, '-c', '--config').some((c) => insideSandbox(c, cwd) === r);
  const secretsFile = cmd !== 'init' && r.endsWith('.secrets.yaml');
  // --new-ca that succeeds may rotate the secrets file.
  if (secretsFile && argv.includes('--new-ca')) return true;
  if (input || secretsFile) return false;
  if (TREE_WRITERS.has(cmd)) {
    const out = insideSandbox(valueOf(argv, '-o', '--out').at(-1) ?? 'outputs', cwd);
    if (out !== undefined && (out === '' ? r : r.startsWith(`${out}/`) ? r.slice(out.length + 1) : undefined)?.startsWith(CLUSTER)) return true;
  }
  if (cmd === 'serve') return /\.state(\/|$)|-status(\/|$)/.test(r) || valueOf(argv, '--state').some((s) => { const i = insideSandbox(s, cwd); return i !== undefined && (r === i || r.startsWith(`${i}/`)); });
  // --force replaces a regular file it names as the output, and nothing else.
  if (argv.includes('--force') && before.type === 'file') {
    const target = cmd === 'init' ? valueOf(argv, '-o', '--out') : cmd === 'kubeconfig' ? valueOf(argv, '-f', '--file') : [];
    return target.some((t) => insideSandbox(t, cwd) === r);
  }
  return false;
}

function describe(e: Entry): string {
  return `${e.type} ${e.mode.toString(8).padStart(4, '0')}`;
}

/**
 * Runs `argv` in a fresh copy of `template` under `base` and judges it. Runs naming the read-only
 * mount (ro, ro-file) run in a private mount namespace where those are bind-mounted read-only.
 */
export async function runCase(opts: { cli: string; template: string; base: string; id: string; argv: string[]; timeoutMs: number; keep?: boolean }): Promise<RunResult> {
  const runDir = join(opts.base, opts.id);
  execFileSync('cp', ['-a', opts.template, runDir]);
  const cwd = join(runDir, 'sandbox');
  const argv = opts.argv.map((a) => a.replaceAll('{SANDBOX}', cwd));
  const before = snapshot(runDir);
  const usesRo = argv.some((a, i) => i > 0 && /(^|\/)ro(-file)?(\/|$)/.test(a));
  const [file, args] = usesRo
    ? ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind ro ro && mount -o remount,bind,ro ro && mount --bind ro-file ro-file && mount -o remount,bind,ro ro-file && exec "$0" "$@"', process.execPath, opts.cli, ...argv]]
    : [process.execPath, [opts.cli, ...argv]];
  const t0 = Date.now();
  const child = spawn(file, args as string[], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: '1600000000' } });
  let stderr = '';
  let timedOut = false;
  let stopped = false;
  child.stdout!.resume();
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 1 << 16) stderr += d;
    // serve runs until stopped: once it listens, stop it as Ctrl-C would (a moment later: it
    // installs its SIGTERM handler right after that line).
    if (argv[0] === 'serve' && !stopped && stderr.includes('live status at')) {
      stopped = true;
      setTimeout(() => {
        try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      }, 300);
    }
  });
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }, opts.timeoutMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const ms = Date.now() - t0;
  const violations: Violation[] = [];
  if (timedOut) violations.push({ kind: 'hang', detail: `no exit after ${opts.timeoutMs} ms; stderr: ${stderr.slice(0, 300).trim()}` });
  else if (/internal error|\n {4}at /.test(stderr)) violations.push({ kind: 'stack', detail: `exit ${code}: ${stderr.split('\n').find((l) => /^\w*Error\b|^error:/.test(l)) ?? stderr.split('\n').slice(0, 2).join(' ')}`.slice(0, 300) });
  else if (code !== 0 && code !== 2) violations.push({ kind: 'exit', detail: `exit ${code ?? signal}: ${stderr.slice(0, 300).trim()}` });
  const after = snapshot(runDir);
  const ok = code === 0 && !timedOut;
  const changed: string[] = [];
  for (const [rel, b] of before) {
    const a = after.get(rel);
    let how: string | undefined;
    if (!a) how = `${describe(b)} removed`;
    else if (a.type !== b.type) how = `${describe(b)} became ${describe(a)}`;
    else if (a.ino !== b.ino) how = `${b.type} replaced (new inode)`;
    else if (a.what !== b.what) how = `${b.type} ${b.type === 'symlink' ? 'retargeted' : 'rewritten'}`;
    else if (a.mode !== b.mode) how = `mode ${describe(b)} -> ${a.mode.toString(8)}`;
    if (!how) continue;
    // Removed parents are reported once, not for every file inside.
    if (!a && changed.some((c) => rel.startsWith(`${c.split(':')[0]}/`))) continue;
    if (ok && mayChange(argv, rel, b, cwd)) continue;
    changed.push(`${rel}: ${how}`);
  }
  for (const c of changed) violations.push({ kind: c.startsWith('outside/') ? 'outside' : 'changed', detail: `${ok ? 'exit 0' : timedOut ? 'hung' : `exit ${code}`}, ${c}` });
  if (!ok && !timedOut) {
    // New entries whose parent existed before: what the refused run left behind.
    const top = [...after.keys()].filter((k) => !before.has(k) && (!k.includes('/') || before.has(k.slice(0, k.lastIndexOf('/')))));
    // A secrets file minted inside a new directory is named too.
    for (const k of after.keys()) if (!before.has(k) && k.endsWith('.secrets.yaml') && !top.includes(k)) top.push(k);
    const what = (k: string) => {
      const t = k.replace(/^sandbox\//, '');
      if (t.endsWith('.secrets.yaml')) return `${t} (a secrets file: minted)`;
      return after.get(k)?.type === 'dir' && ![...after.keys()].some((x) => x.startsWith(`${k}/`)) ? `${t} (empty dir)` : t;
    };
    if (top.length) violations.push({ kind: 'created', detail: `refused (exit ${code}) but created ${top.map(what).join(', ')}` });
  }
  if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
  return { argv, code, signal, timedOut, ms, stderr, violations };
}

// ---------------------------------------------------------------------------------------------
// A server for `status -s` that answers with JSON of the wrong shape.

export async function junkStatusServer(): Promise<{ base: string; close: () => Promise<void> }> {
  const bodies: Record<string, string> = {
    array: '[]', null: 'null', number: '5', 'nodes-string': '{"nodes":"x"}', 'nodes-junk': '{"nodes":[1,null,{"name":{}}],"cluster":7}',
    html: '<html>status</html>', empty: '', 'status-page': '<!doctype html><title>k8s-image status</title>',
  };
  const server: Server = createServer((req, res) => {
    const key = (req.url ?? '').split('/')[1] ?? '';
    res.writeHead(200, { 'content-type': key === 'html' || key === 'status-page' ? 'text/html' : 'application/json' });
    res.end(bodies[key] ?? '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

// ---------------------------------------------------------------------------------------------
// A session: templates, then runs until a count or a deadline.

export interface FuzzReport {
  runs: number;
  codes: Map<string, number>;
  /** Every violation not in `known`, with its argv. */
  unknown: { argv: string[]; v: Violation }[];
  /** Known ones, by the issue entry that matched. */
  known: { argv: string[]; v: Violation; bug: KnownBug }[];
  slowestMs: number;
}

/** A short key that groups one kind of failure: the command, the kind, and the detail with names folded. */
export function shape(argv: readonly string[], v: Violation): string {
  const d = v.detail
    .replace(/n{300}|d{200}\/f{200}|x{250}\/y/g, '<long>')
    .replace(/\/tmp\/[^\s'",:]+/g, '<tmp>')
    .replace(/no exit after \d+ ms; stderr:.*/s, 'no exit')
    .replace(/(exit \d+): .*/s, '$1')
    .replace(/new inode/, 'new inode');
  const flags = argv.filter((a) => a.startsWith('-') && a.length > 1).join(' ');
  return `${argv[0]} ${v.kind} ${v.kind === 'hang' || v.kind === 'exit' ? flags : ''} ${d}`.replace(/\s+/g, ' ');
}

export async function fuzzCli(opts: { cli: string; base: string; seed: number; runs?: number; deadline?: number; timeoutMs: number; concurrency?: number; known?: readonly KnownBug[]; onRun?: (r: RunResult, i: number) => void }): Promise<FuzzReport> {
  const templates = makeTemplates(opts.base, opts.cli);
  const withSecrets = secretsOption(opts.cli);
  const status = await junkStatusServer();
  const r = rng(opts.seed);
  const report: FuzzReport = { runs: 0, codes: new Map(), unknown: [], known: [], slowestMs: 0 };
  let next = 0;
  const worker = async () => {
    while ((opts.runs === undefined || next < opts.runs) && (opts.deadline === undefined || Date.now() < opts.deadline)) {
      const i = next++;
      // Draw everything for run i before awaiting, so a seed replays the same argv whatever the concurrency.
      const template = r() < 0.5 ? templates.withSecrets : templates.bare;
      const argv = randomArgv(r, { cwd: '{SANDBOX}', statusBase: status.base }, withSecrets);
      const res = await runCase({ cli: opts.cli, template, base: opts.base, id: `run-${i}`, argv, timeoutMs: opts.timeoutMs });
      report.runs++;
      report.slowestMs = Math.max(report.slowestMs, res.ms);
      const key = res.timedOut ? 'timeout' : String(res.code ?? res.signal);
      report.codes.set(key, (report.codes.get(key) ?? 0) + 1);
      for (const v of res.violations) {
        const bug = knownBug(res.argv, v, opts.known ?? KNOWN_BUGS);
        if (bug) report.known.push({ argv: res.argv, v, bug });
        else report.unknown.push({ argv: res.argv, v });
      }
      opts.onRun?.(res, i);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
  } finally {
    await status.close();
  }
  return report;
}

/** The distinct failures of a report, each with a count and its first argv (for bench output and the report). */
export function distinct(items: { argv: string[]; v: Violation }[]): { shape: string; count: number; argv: string[]; v: Violation }[] {
  const m = new Map<string, { shape: string; count: number; argv: string[]; v: Violation }>();
  for (const it of items) {
    const s = shape(it.argv, it.v);
    const e = m.get(s);
    if (e) e.count++;
    else m.set(s, { shape: s, count: 1, argv: it.argv, v: it.v });
  }
  return [...m.values()].sort((a, b) => a.shape.localeCompare(b.shape));
}

/** Whether the fuzz is possible here: it needs root for mknod (and unshare for the read-only mount). */
export function canFuzz(): string | undefined {
  if (process.getuid?.() !== 0) return 'the CLI fuzz needs root (mknod for device copies, unshare -m for the read-only mount)';
  if (!existsSync('/usr/bin/unshare') && !existsSync('/bin/unshare')) return 'no unshare(1)';
  return undefined;
}
