/**
 * Issue 21, safe writes: every file a user names is written as a regular file only, never over an
 * input, replaced only with --force, atomically; outputs under /proc and /sys and inputs that are
 * devices or FIFOs are refused at once (exit 2, one line) instead of hanging; `render` after `build`
 * keeps the seed ISOs that still hold its files; `status -s` takes the page's URL and refuses an
 * answer that is not serve's status. Each test runs the CLI as a whole process, as users do, and
 * checks that whatever was at the path before is still there, unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const isRoot = process.getuid?.() === 0;

interface Result { stdout: string; stderr: string; code: number | null; ms: number }

/** The CLI as a process; `timeoutMs` kills it (code null) so a hang fails the test instead of stalling it. */
function k8sImage(args: string[], cwd: string, timeoutMs = 30000): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number | string }).code === undefined || typeof (err as { code?: unknown }).code !== 'number' ? null : (err as { code: number }).code) : 0;
      resolve({ stdout, stderr, code, ms: Date.now() - t0 });
    });
  });
}

function dir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const d = tempDir(prefix);
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Exit 2 with exactly one error line (no stack) that matches `re`. */
function refused(r: Result, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code} after ${r.ms} ms\n${r.stderr}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(errors.length, 1, `${what}: one error line\n${r.stderr}`);
  assert.match(errors[0]!, re, what);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${what}: no stack`);
}

/** What is at a path, to prove it unchanged: its kind, and its link target or bytes. */
function snapshot(path: string): string {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return `link ${readlinkSync(path)}`;
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return `char ${st.rdev}`;
  if (st.isBlockDevice()) return `block ${st.rdev}`;
  if (st.isDirectory()) return 'dir';
  return `file ${st.mode & 0o777} ${readFileSync(path).toString('base64')}`;
}

/** Paths of every kind a careless -o might name, in `base`: a FIFO, a symlink (to a file), and as root a char and a block device node. */
function oddPaths(base: string): Record<string, string> {
  const target = join(base, 'link-target.txt');
  writeFileSync(target, 'the file the link points at\n');
  const paths: Record<string, string> = { fifo: join(base, 'fifo'), symlink: join(base, 'link') };
  execFileSync('mkfifo', [paths.fifo!]);
  symlinkSync(target, paths.symlink!);
  if (isRoot) {
    // /dev/null's and /dev/loop7's numbers, but nodes in a temp dir: nothing real is at stake.
    paths.char = join(base, 'null-like');
    execFileSync('mknod', [paths.char, 'c', '1', '3']);
    paths.block = join(base, 'disk-like');
    execFileSync('mknod', [paths.block, 'b', '7', '7']);
  }
  return paths;
}

const WORDS: Record<string, RegExp> = {
  fifo: /is a FIFO \(named pipe\), not a regular file/,
  symlink: /is a symbolic link to .*link-target\.txt; k8s-image writes only regular files/,
  char: /is a character device, not a regular file/,
  block: /is a block device \(a disk\), not a regular file/,
};

test('init -o --force refuses a FIFO, a symlink and device nodes, leaving them as they were (they used to be replaced by a regular file)', async (t) => {
  const base = dir(t, 'k8s-image-sw-init-');
  const paths = oddPaths(base);
  if (!isRoot) t.diagnostic('not root: the device-node cases need mknod and are left out');
  for (const [kind, path] of Object.entries(paths)) {
    const before = snapshot(path);
    const r = await k8sImage(['init', '-o', path, '--force'], base);
    refused(r, new RegExp(`^error: --out ${path}: ${WORDS[kind]!.source}`), `init -o <${kind}> --force`);
    assert.equal(snapshot(path), before, `the ${kind} is untouched`);
  }
  assert.equal(readFileSync(join(base, 'link-target.txt'), 'utf8'), 'the file the link points at\n');
  assert.deepEqual(readdirSync(base).filter((n) => n.includes('.tmp')), [], 'no temporary file left');
  // A regular file is still replaced with --force, whole, 0644.
  const file = join(base, 'cluster.yaml');
  writeFileSync(file, 'old\n', { mode: 0o600 });
  const ok = await k8sImage(['init', '-o', file, '--force'], base);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(readFileSync(file, 'utf8'), /^nodes:/m);
  assert.equal(lstatSync(file).mode & 0o777, 0o644);
});

test('kubeconfig -f --force never writes over the config it reads (it used to replace cluster.yaml by a kubeconfig)', async (t) => {
  const base = dir(t, 'k8s-image-sw-kc-');
  const config = join(base, 'cluster.yaml');
  assert.equal((await k8sImage(['init', '-o', config], base)).code, 0);
  const before = snapshot(config);
  const r = await k8sImage(['kubeconfig', '-c', config, '-f', config, '--force'], base);
  refused(r, /^error: --file .*cluster\.yaml: is the same file as --config .*cluster\.yaml, which this command reads; write the output to another path$/, 'kubeconfig -f <config>');
  assert.equal(snapshot(config), before);
  assert.deepEqual(readdirSync(base), ['cluster.yaml'], 'refused before the secrets file was made');
});

/** A small image laid out like the CentOS 7 DVD as far as remaster reads it (label, isolinux.cfg). */
function fakeDvd(base: string): string {
  const tree = join(base, 'dvd-tree');
  mkdirSync(join(tree, 'isolinux'), { recursive: true });
  writeFileSync(join(tree, 'isolinux', 'isolinux.cfg'), 'label linux\n  kernel vmlinuz\n  append initrd=initrd.img inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64\n');
  const iso = join(base, 'dvd.iso');
  execFileSync(requireTool('xorriso'), ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'CentOS 7 x86_64', '-R', '-J', tree], { stdio: 'pipe' });
  rmSync(tree, { recursive: true });
  return iso;
}

test('remaster -o refuses an existing file, the --iso DVD itself, a symlink, a FIFO and a block device; the secrets file is not made (all used to be overwritten, exit 0)', { timeout: 120000 }, async (t) => {
  const base = dir(t, 'k8s-image-sw-remaster-');
  const dvd = fakeDvd(base);
  const existing = join(base, 'node01.iso');
  writeFileSync(existing, 'an image the user kept\n');
  const paths: Record<string, string> = { existing, dvd, ...oddPaths(base) };
  const words: Record<string, RegExp> = {
    ...WORDS,
    existing: /a file is already there; pass --force to replace it, or choose another path/,
    dvd: /is the same file as --iso .*dvd\.iso, which this command reads/,
    block: /is a block device \(a disk\), not a regular file; k8s-image replaces only regular files: remaster writes an image file; write it to a file, then copy that to the stick: dd if=node01-install\.iso of=.* bs=4M/,
  };
  for (const [kind, path] of Object.entries(paths)) {
    const before = snapshot(path);
    const r = await k8sImage(['remaster', '--iso', dvd, '-n', 'node01', '-o', path], base);
    refused(r, new RegExp(`^error: -o ${path}: ${words[kind]!.source}`), `remaster -o <${kind}>`);
    assert.equal(snapshot(path), before, `the ${kind} is untouched`);
  }
  assert.ok(!existsSync(join(base, 'outputs')), 'refused before the secrets file (outputs/) was made');
  // A new path is written, 0600, and nothing is left beside it.
  const fresh = join(base, 'new.iso');
  const ok = await k8sImage(['remaster', '--iso', dvd, '-n', 'node01', '-o', fresh], base);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(lstatSync(fresh).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(base).filter((n) => n.startsWith('.')), [], 'no work folder or partial image left');
});

test('outputs under /proc and /sys are refused at once naming the file system (build -o /proc/... used to spin a core forever)', { timeout: 120000 }, async (t) => {
  const base = dir(t, 'k8s-image-sw-proc-');
  const cases: [string[], RegExp][] = [
    [['build', '-o', '/proc/k8s-image-test'], /^error: --out \/proc\/k8s-image-test: is on procfs, a kernel pseudo file system, not storage; choose a path on a disk$/],
    [['render', '-o', '/sys/k8s-image-test/out'], /^error: --out \/sys\/k8s-image-test\/out: is on sysfs, a kernel pseudo file system/],
    [['kubeconfig', '-o', '/proc/k8s-image-test'], /^error: --out \/proc\/k8s-image-test: is on procfs/],
    [['init', '-o', '/proc/self/comm', '--force'], /^error: --out \/proc\/self\/comm: is on procfs/],
    // These made their folder with Node's recursive mkdir, which loops forever under /proc.
    [['golden', '-o', '/proc/k8s-image-test'], /^error: --out \/proc\/k8s-image-test: is on procfs/],
    [['packer', '-o', '/proc/k8s-image-test'], /^error: --out \/proc\/k8s-image-test: is on procfs/],
    [['secrets', '-o', '/proc/k8s-image-test'], /^error: \/proc\/k8s-image-test: is on procfs/],
    [['pxe', '-s', '10.20.0.1:8080', '-o', '/proc/k8s-image-test'], /^error: --out \/proc\/k8s-image-test: is on procfs/],
  ];
  for (const [args, re] of cases) {
    const r = await k8sImage(args, base, 20000);
    refused(r, re, args.join(' '));
    assert.ok(r.ms < 15000, `${args.join(' ')} took ${r.ms} ms`);
  }
  assert.deepEqual(readdirSync(base), [], 'nothing made');
});

test('a config that is /dev/zero or a FIFO nobody writes is refused at once (it used to read until bad_alloc, or wait forever)', { timeout: 60000 }, async (t) => {
  const base = dir(t, 'k8s-image-sw-cfg-');
  const fifo = join(base, 'cluster.fifo');
  execFileSync('mkfifo', [fifo]);
  for (const [path, re] of [['/dev/zero', /is a character device, not a regular file/], [fifo, /is a FIFO \(named pipe\), not a regular file/]] as const) {
    const r = await k8sImage(['validate', '-c', path], base, 15000);
    refused(r, new RegExp(`^error: --config ${path}: ${re.source}; name the file itself \\(a cluster description\\), not a pipe or device$`), `validate -c ${path}`);
  }
  // A regular file is still bounded by what it holds, not by what it claims: 5 MiB is refused.
  const big = join(base, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(5 * 1024 * 1024)}\n`);
  refused(await k8sImage(['validate', '-c', big], base), /^error: --config .*big\.yaml: more than 4194304 bytes, more than a cluster description needs/, 'validate -c big.yaml');
});

test('render after build keeps the seed ISOs whose files it left unchanged, and says which it removed when the files changed (it used to delete them silently)', { timeout: 120000 }, async (t) => {
  const base = dir(t, 'k8s-image-sw-render-');
  const config = join(base, 'cluster.yaml');
  assert.equal((await k8sImage(['init', '-o', config], base)).code, 0);
  const out = join(base, 'out');
  assert.equal((await k8sImage(['build', '-c', config, '-o', out], base)).code, 0);
  const isos = (node: string) => readdirSync(join(out, 'k8s-lab', node)).filter((n) => n.endsWith('.iso')).sort();
  const bytes = (node: string) => isos(node).map((n) => readFileSync(join(out, 'k8s-lab', node, n)).toString('base64'));
  assert.deepEqual(isos('node01'), ['node01-cidata.iso', 'node01-oemdrv.iso']);
  const built = bytes('node01');
  // Same config: render rewrites the files and keeps the ISOs, in the tree and in the manifest.
  const same = await k8sImage(['render', '-c', config, '-o', out, '-n', 'node01'], base);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stderr, /kept the seed ISOs that build made for node01: their files are unchanged/);
  assert.deepEqual(bytes('node01'), built);
  const manifest = JSON.parse(readFileSync(join(out, 'k8s-lab', 'manifest.json'), 'utf8')) as { artifacts: { path: string }[] };
  assert.ok(manifest.artifacts.some((a) => a.path === 'node01/node01-cidata.iso'), 'the manifest lists the kept ISO');
  const whole = await k8sImage(['render', '-c', config, '-o', out], base);
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(whole.stderr, /kept the seed ISOs that build made for master, node01, node02/);
  assert.deepEqual(bytes('node01'), built);
  // Changed files: the old ISOs would install the old config, so they go, and the user is told how to make them again.
  writeFileSync(config, readFileSync(config, 'utf8').replace(/dns: \[[^\]]*\]/, 'dns: [192.168.108.53]'));
  const changed = await k8sImage(['render', '-c', config, '-o', out, '--json'], base);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stderr, /warning: removed the seed ISOs of master, node01, node02: build made them from files this render changed, so they would install the old ones; make them again with: k8s-image build -c .*cluster\.yaml -o .*out\n/);
  assert.deepEqual(JSON.parse(changed.stdout).removedIsos, ['master', 'node01', 'node02']);
  assert.deepEqual(isos('node01'), []);
});

/** A stand-in for serve: `/status.json` answers `body`, everything else 404. */
async function server(t: { after: (fn: () => void) => void }, body: string): Promise<string> {
  const s: Server = createServer((req, res) => {
    if (req.url === '/status.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    } else {
      res.writeHead(404);
      res.end('not found\n');
    }
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => s.close());
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

const STATUS = {
  cluster: 'k8s-lab',
  now: 1700000000000,
  counts: { none: 1 },
  nodes: [{ name: 'node01', role: 'node', ip: '192.168.108.101', mac: '', stage: null, stageText: 'no report yet', since: null, lastReport: null, lastIp: null, failedAt: null, hasFailureLog: false, clockOffset: null }],
};

test('status -s takes the page URL people paste (/status, /status.json) and refuses an answer that is not serve\'s status (it asked for /status/status.json, and other JSON was a TypeError, exit 1)', async (t) => {
  const base = dir(t, 'k8s-image-sw-status-');
  const good = await server(t, JSON.stringify(STATUS));
  for (const url of [`${good}/status`, `${good}/status/`, `${good}/status.json`]) {
    const r = await k8sImage(['status', '-s', url], base);
    assert.equal(r.code, 0, `${url}: ${r.stderr}`);
    assert.match(r.stdout, /^cluster k8s-lab: 1 nodes/);
    assert.match(r.stdout, /node01 +node +192\.168\.108\.101/);
  }
  const other = await server(t, '{"hello":"world"}');
  refused(await k8sImage(['status', '-s', other], base), /^error: --server: http:\/\/127\.0\.0\.1:\d+\/status\.json answered JSON of another kind \("\{\\"hello\\":\\"world\\"\}"\), not the status of k8s-image serve/, 'other JSON');
  const html = await server(t, '<html>hello</html>');
  refused(await k8sImage(['status', '-s', html], base), /answered something that is not JSON \("<html>hello<\/html>"\), not the status of k8s-image serve/, 'not JSON');
});

test('build and render refuse a <out>/<cluster> that is a file or a symlink (a full build used to delete the file, or swap the link for a folder)', async (t) => {
  const base = dir(t, 'k8s-image-sw-tree-');
  const out = join(base, 'out');
  mkdirSync(out);
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(elsewhere);
  const tree = join(out, 'k8s-lab');
  symlinkSync(elsewhere, tree);
  refused(await k8sImage(['build', '-o', out], base), /^error: --out .*out: .*out\/k8s-lab is a symbolic link; builds replace .* by renames/, 'build, tree a symlink');
  assert.equal(snapshot(tree), `link ${elsewhere}`);
  assert.deepEqual(readdirSync(elsewhere), []);
  rmSync(tree);
  writeFileSync(tree, 'notes the user keeps\n');
  refused(await k8sImage(['render', '-o', out], base), /^error: --out .*out: .*out\/k8s-lab is a regular file, not the folder of a previous build/, 'render, tree a file');
  assert.equal(readFileSync(tree, 'utf8'), 'notes the user keeps\n');
  assert.deepEqual(readdirSync(out), ['k8s-lab'], 'no lock, no secrets file');
});

test('serve --state under /proc, and pxe --installer that is no DVD, are refused before anything is made', { timeout: 60000 }, async (t) => {
  const base = dir(t, 'k8s-image-sw-state-');
  writeFileSync(join(base, 'farm.yaml'), 'cluster: { name: farm }\nnetwork: { prefix: 24, gateway: 10.20.0.254, dns: [10.20.0.254] }\nnodes:\n  - { name: m1, role: master, ip: 10.20.0.10, mac: "52:54:00:00:00:10" }\n');
  // --installer /etc used to fail only after the out dir and a secrets file were made.
  refused(await k8sImage(['pxe', '-c', 'farm.yaml', '-s', '10.20.0.1:8080', '--installer', '/etc'], base), /^error: --installer \/etc: not a CentOS 7 DVD/, 'pxe --installer /etc');
  assert.deepEqual(readdirSync(base), ['farm.yaml'], 'no outputs/, no secrets file');
  const tree = join(base, 'outputs', 'farm-pxe');
  assert.equal((await k8sImage(['pxe', '-c', 'farm.yaml', '-s', '10.20.0.1:8080'], base)).code, 0);
  const r = await k8sImage(['serve', '--dir', tree, '--listen', '127.0.0.1:0', '--state', '/proc/k8s-image-test'], base, 20000);
  refused(r, /^error: --state \/proc\/k8s-image-test: is on procfs/, 'serve --state /proc/...');
  assert.ok(r.ms < 15000, `serve --state /proc took ${r.ms} ms`);
});
