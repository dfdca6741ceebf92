/**
 * The CLI never loses a user's cluster (issue 10): the CA guard holds for every -o/-c combination,
 * file-system errors are the user's (exit 2, one line), interrupted builds clean up after themselves
 * or are cleaned up by the next one, and concurrent builds into one tree are serialised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { farmYaml } from '../helpers/farm.js';
import { treeHashes } from '../helpers/tree.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');

interface Result { stdout: string; stderr: string; code: number }

async function k8sImage(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const r = await run(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

function tempDirFor(t: { after: (fn: () => void) => void }, prefix: string): string {
  const d = tempDir(prefix);
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const hashes = (dir: string) => treeHashes(dir);

/**
 * The CLI as a user installs it outside the clone: `npm pack`, then `npm install -g` of the tarball
 * into a fresh prefix, its dependencies from npm's cache only (--offline: tests never use the
 * network; `npm ci` filled the cache). The prefix is readable by anyone,
 * so a test can run it as another user wherever the clone lives (/root/k8s-image is 0700).
 */
let packed: { prefix: string; bin: string; pkg: string } | undefined;
function installedCli(): { prefix: string; bin: string; pkg: string } {
  if (packed) return packed;
  const prefix = tempDir('k8s-image-installed-');
  chmodSync(prefix, 0o755);
  const npm = (args: string[], cwd: string) => {
    const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
    assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  // --ignore-scripts: the tests run on the dist/ they just built; prepare would rebuild it.
  const tgz = npm(['pack', '--ignore-scripts', '--pack-destination', prefix], packageRoot).trim().split('\n').at(-1)!;
  npm(['install', '-g', '--offline', '--ignore-scripts', '--prefix', prefix, join(prefix, tgz)], prefix);
  packed = { prefix, bin: join(prefix, 'bin', 'k8s-image'), pkg: join(prefix, 'lib', 'node_modules', 'k8s-image') };
  return packed;
}

const debris = (out: string) => readdirSync(out).filter((n) => n.includes('.staging-') || n.includes('.old-') || n.endsWith('.lock'));

test('the CA guard holds: -o out, secrets deleted, `secrets -c` elsewhere mints a CA, `build -c -o out` is refused naming both files', async (t) => {
  const base = tempDirFor(t, 'k8s-image-ca-');
  const config = join(base, 'prod.yaml');
  await k8sImage(['init', '-o', config], base);
  const out = join(base, 'out');
  assert.equal((await k8sImage(['build', '-c', config, '-o', out], base)).code, 0);
  const before = hashes(join(out, 'k8s-lab'));
  const manifest = JSON.parse(readFileSync(join(out, 'k8s-lab', 'manifest.json'), 'utf8'));
  assert.match(manifest.caFingerprint, /^sha256:[0-9a-f]{64}$/);
  assert.equal(manifest.secretsFile, join(base, 'k8s-lab.secrets.yaml'));
  rmSync(join(base, 'k8s-lab.secrets.yaml'));
  // `secrets` looks in outputs/ by default, which holds nothing: it mints a new CA beside the config.
  assert.equal((await k8sImage(['secrets', '-c', config], base)).code, 0);
  for (const args of [['build', '-c', config, '-o', out], ['render', '-c', config, '-o', out], ['build', '-c', config, '-o', out, '-n', 'node01']]) {
    const r = await k8sImage(args, base);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /was built with a different CA \(sha256:[0-9a-f]{64}, from the secrets file .*k8s-lab\.secrets\.yaml\) than .*k8s-lab\.secrets\.yaml holds/);
    assert.match(r.stderr, /--new-ca/);
    assert.deepEqual(hashes(join(out, 'k8s-lab')), before, `${args.join(' ')} changed the tree`);
  }
  // --new-ca only as a full build, which then replaces every node.
  const partial = await k8sImage(['build', '-c', config, '-o', out, '-n', 'node01', '--new-ca'], base);
  assert.equal(partial.code, 2);
  assert.match(partial.stderr, /--new-ca with --node\/--role: the other nodes .* would keep the old CA/);
  const full = await k8sImage(['build', '-c', config, '-o', out, '--new-ca'], base);
  assert.equal(full.code, 0, full.stderr);
  assert.notEqual(JSON.parse(readFileSync(join(out, 'k8s-lab', 'manifest.json'), 'utf8')).caFingerprint, manifest.caFingerprint);
});

test('a failing command has no side effects: build -n nosuchnode writes no secrets file', async (t) => {
  const base = tempDirFor(t, 'k8s-image-nose-');
  const r = await k8sImage(['build', '-n', 'nosuchnode'], base);
  assert.equal(r.code, 2);
  assert.deepEqual(readdirSync(base), [], 'nothing created');
});

test('file-system errors are the user\'s: one line with the path, the cause and what to do, exit 2, --json as data', async (t) => {
  const base = tempDirFor(t, 'k8s-image-fs-');
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  // A read-only and a tiny file system, in a mount namespace of their own (needs root, as CI is).
  const inMount = (opts: string, args: string[]) => {
    const script = `mount -t tmpfs -o ${opts} tmpfs "$1" && shift && exec "$@"`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', mnt, process.execPath, cli, ...args], { cwd: base, encoding: 'utf8' });
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const check = (r: { code: number | null; stderr: string; stdout?: string }, cause: RegExp) => {
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, cause);
    assert.doesNotMatch(r.stderr, /internal error|    at /, 'no stack trace');
  };
  check(inMount('ro,size=1m', ['build', '--role', 'master', '-o', join(mnt, 'out')]), /^error: .*mnt\/out.*: read-only file system \(EROFS in mkdir\); choose a writable path/);
  const full = inMount('size=64k', ['build', '--role', 'master', '-o', join(mnt, 'out'), '--json']);
  check(full, /: no space left on the device \(ENOSPC in write\); free some space/);
  const doc = JSON.parse(full.stdout);
  assert.equal(doc.ok, false);
  assert.match(doc.errors[0].path, /mnt\/out/);
  // Permissions, as an unprivileged user.
  const locked = join(base, 'locked');
  mkdirSync(locked, { mode: 0o755 });
  chmodSync(base, 0o755);
  // Not the checkout's cli.js: under a private folder nobody cannot reach it (EACCES on the module).
  const installed = installedCli().bin;
  const asNobody = (args: string[]) => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, installed, ...args], { cwd: tmpdir(), encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  check(asNobody(['build', '--role', 'master', '-o', join(locked, 'out')]), /locked\/out.*: permission denied \(EACCES in mkdir\)/);
  check(asNobody(['kubeconfig', '-o', join(locked, 'o2'), '-f', join(locked, 'admin.conf')]), /locked.*: permission denied \(EACCES/);
  assert.deepEqual(readdirSync(locked), [], 'nothing half-written');
});

test('a write thread\'s file-system error is the user\'s too: one line naming the file, exit 2, no staging left', async (t) => {
  const base = tempDirFor(t, 'k8s-image-fs-threads-');
  writeFileSync(join(base, 'farm.yaml'), farmYaml(60));
  await k8sImage(['secrets', '-c', 'farm.yaml'], base);
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  const threads = { ...process.env, K8S_IMAGE_THREADS: '2' };
  // A 2 MiB file system fills up a few nodes in, inside a write thread.
  const script = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"';
  const full = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', mnt, process.execPath, cli, 'build', '-c', 'farm.yaml', '-o', join(mnt, 'out')], { cwd: base, env: threads, encoding: 'utf8' });
  assert.equal(full.status, 2, full.stderr);
  assert.match(full.stderr, /^error: .*mnt\/out\/.*: no space left on the device \(ENOSPC in write\); free some space/m);
  assert.doesNotMatch(full.stderr, /internal error|    at /);
  // A file-size limit (ulimit -f, SIGXFSZ ignored as a batch system does): EFBIG, also the user's.
  const limited = spawnSync('bash', ['-c', 'trap "" XFSZ; ulimit -f 64; exec "$@"', 'bash', process.execPath, cli, 'build', '-c', 'farm.yaml', '-o', 'out'], { cwd: base, env: threads, encoding: 'utf8' });
  assert.equal(limited.status, 2, limited.stderr);
  assert.match(limited.stderr, /^error: out\/\.farm\.staging-[^/]+\/[a-z0-9]+\/[^:]+: file too large .*\(EFBIG in write\); raise the limit \(ulimit -f\)/m);
  // The staging tree is removed, and with it the out dir this failed build made (a refused or failed
  // command leaves no empty output folder).
  assert.ok(!existsSync(join(base, 'out')) || readdirSync(join(base, 'out')).length === 0, 'the staging tree is removed');
});

test('SIGINT and SIGTERM during a 300-node build: staging removed, exit 130/143, previous outputs intact; after SIGKILL the next build removes the debris and says so', async (t) => {
  const base = tempDirFor(t, 'k8s-image-sig-');
  const config = join(base, 'farm.yaml');
  writeFileSync(config, farmYaml(300));
  const out = join(base, 'out');
  assert.equal((await k8sImage(['build', '-c', config, '-o', out, '-n', 'master'], base)).code, 0);
  const before = hashes(join(out, 'farm'));
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGKILL', null]] as const) {
    const child = spawn(process.execPath, [cli, 'build', '-c', config, '-o', out], { cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    // Wait until the build has staged some nodes (CA keys among them).
    const t0 = Date.now();
    for (;;) {
      const staging = readdirSync(out).find((n) => n.includes('.staging-'));
      if (staging && readdirSync(join(out, staging)).length > 5) break;
      assert.ok(Date.now() - t0 < 30000, 'the build never staged anything');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill(signal);
    const exitCode = await exited;
    assert.deepEqual(hashes(join(out, 'farm')), before, `${signal}: previous outputs changed`);
    if (code !== null) {
      assert.equal(exitCode, code, `${signal}: ${stderr}`);
      assert.deepEqual(debris(out), [], `${signal} left debris`);
      assert.match(stderr, /interrupted/);
    } else {
      assert.ok(debris(out).some((n) => n.includes('.staging-')), 'SIGKILL cannot be caught: staging stays behind');
      const next = await k8sImage(['build', '-c', config, '-o', out, '-n', 'master'], base);
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, /removed .*\.farm\.staging-.*left by an interrupted build/);
      assert.match(next.stderr, /took over the lock of a build that is gone/);
      assert.deepEqual(debris(out), []);
    }
  }
});

test('two builds into one output at once: the second waits for the first; both succeed and the tree is whole', async (t) => {
  const base = tempDirFor(t, 'k8s-image-conc-');
  const config = join(base, 'farm.yaml');
  writeFileSync(config, farmYaml(120));
  const out = join(base, 'out');
  assert.equal((await k8sImage(['secrets', '-c', config], base)).code, 0);
  const a = k8sImage(['build', '-c', config, '-o', out], base);
  // The second starts while the first holds the lock.
  const t0 = Date.now();
  while (!existsSync(join(out, '.farm.lock'))) {
    assert.ok(Date.now() - t0 < 20000, 'the first build never took the lock');
    await new Promise((r) => setTimeout(r, 10));
  }
  const b = await k8sImage(['build', '-c', config, '-o', out, '-n', 'node0001', '-n', 'node0002'], base);
  const ra = await a;
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /waiting for another build of .*out\/farm to finish \(pid \d+/);
  const manifest = JSON.parse(readFileSync(join(out, 'farm', 'manifest.json'), 'utf8'));
  const files = hashes(join(out, 'farm'));
  delete files['manifest.json'];
  assert.deepEqual(Object.fromEntries(manifest.artifacts.map((x: { path: string; sha256: string }) => [x.path, x.sha256])), files, 'the manifest describes exactly the tree');
  assert.equal(readdirSync(join(out, 'farm')).filter((n) => n !== 'manifest.json').length, 121);
  assert.deepEqual(debris(out), []);
  assert.ok(statSync(join(out, 'farm')).isDirectory());
  assert.ok(!existsSync(join(out, '.farm.lock')));
});

test('installed outside the clone from a packed tarball: --help, init, build, packer and golden run from it, and it carries its LICENSE', async (t) => {
  const { bin, pkg } = installedCli();
  const base = tempDirFor(t, 'k8s-image-outside-');
  const run = (args: string[]) => spawnSync(bin, args, { cwd: base, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } });
  const help = run(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: k8s-image /);
  for (const args of [['init', '-o', 'cluster.yaml'], ['build', '-c', 'cluster.yaml', '-o', 'out'], ['packer', '-c', 'cluster.yaml', '-o', 'out'], ['golden', '-c', 'cluster.yaml', '-o', 'out'], ['validate', '-c', 'cluster.yaml'], ['versions']]) {
    const r = run(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.ok(existsSync(join(base, 'out', 'k8s-lab', 'master', 'master-oemdrv.iso')));
  assert.match(readFileSync(join(pkg, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
  assert.equal(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).license, 'Apache-2.0');
});
