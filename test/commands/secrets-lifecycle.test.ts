// The secrets file and the CA's life cycle, run as users run the CLI: refused commands mint nothing,
// --new-ca says what it does (or why not), --secrets/K8S_IMAGE_SECRETS move the file, and the
// warnings a user needs (mode, git, a renamed cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { packageRoot } from '../../src/assets.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');

async function k8sImage(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  const e2 = { ...process.env, ...env };
  if (!('K8S_IMAGE_SECRETS' in env)) delete e2.K8S_IMAGE_SECRETS;
  try {
    const r = await run(process.execPath, [cli, ...args], { cwd, env: e2 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

/** Every path under `dir` (directories end in /) with its content's hash: what "nothing changed" compares. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out.push(`${rel}${e.name}/`);
        walk(p, `${rel}${e.name}/`);
      } else out.push(`${rel}${e.name} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`);
    }
  };
  walk(dir, '');
  return out;
}

/** A directory with cluster.yaml (the lab; the master has a MAC, so pxe has a node). */
async function project(prefix: string): Promise<{ base: string; config: string }> {
  const base = tempDir(`k8s-image-${prefix}-`);
  const config = join(base, 'cluster.yaml');
  const r = await k8sImage(['init', '-o', config], base);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(config, readFileSync(config, 'utf8').replace('{ name: master, role: master,', '{ name: master, role: master, mac: "52:54:00:00:00:01",'));
  return { base, config };
}

const oneLineError = (stderr: string, re: RegExp) => {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.ok(errors.some((l) => re.test(l)), `expected an error line matching ${re}:\n${stderr}`);
  assert.doesNotMatch(stderr, /    at /, 'no stack trace');
};

test('build -n node01 --new-ca with the secrets file gone: refused before minting, so the next build still says the file is missing (not mixed-CA)', async () => {
  const { base, config } = await project('newca-partial');
  const out = join(base, 'out');
  assert.equal((await k8sImage(['render', '-c', config, '-o', out], base)).code, 0);
  rmSync(join(base, 'k8s-lab.secrets.yaml'));
  const before = listing(base);
  const r = await k8sImage(['render', '-c', config, '-o', out, '-n', 'node01', '--new-ca'], base);
  assert.equal(r.code, 2, r.stderr);
  oneLineError(r.stderr, /^error: --new-ca with --node\/--role: the other nodes of cluster k8s-lab would keep the old CA.*run a full build \(no --node\/--role\) with --new-ca$/);
  assert.deepEqual(listing(base), before, 'nothing created or changed');
  const next = await k8sImage(['render', '-c', config, '-o', out], base);
  assert.equal(next.code, 2);
  assert.match(next.stderr, /holds artifacts built with a CA whose secrets file .*k8s-lab\.secrets\.yaml is missing/);
  assert.doesNotMatch(next.stderr, /different CA/);
});

for (const [what, args, re] of [
  ['guestinfo -n <unknown node>', (c: string, b: string) => ['guestinfo', '-c', c, '-o', join(b, 'out'), '-n', 'nosuch'], /^error: --node nosuch: no such node in cluster k8s-lab/],
  ['kubeconfig -f no/dir/x', (c: string, b: string) => ['kubeconfig', '-c', c, '-f', join(b, 'no', 'dir', 'admin.conf')], /no such file or directory/],
] as const) {
  test(`a refused ${what} mints no secrets and creates nothing`, async () => {
    const { base, config } = await project('refused');
    const before = listing(base);
    const r = await k8sImage([...args(config, base)], base);
    assert.equal(r.code, 2, r.stderr);
    oneLineError(r.stderr, re);
    assert.deepEqual(listing(base), before, 'nothing created or changed');
  });
}

test('a refused remaster of an ISO that is not the CentOS DVD mints no secrets and creates nothing', async () => {
  const { base, config } = await project('refused-remaster');
  const before = listing(base);
  // An ISO 9660 image that is not the CentOS DVD: refused when its boot menus are looked for.
  const isoDir = tempDir('k8s-image-notdvd-');
  mkdirSync(join(isoDir, 'x'));
  writeFileSync(join(isoDir, 'x', 'hello'), 'not a DVD\n');
  const mk = spawnSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', join(isoDir, 'small.iso'), join(isoDir, 'x')]);
  assert.equal(mk.status, 0, `xorriso (Debian package xorriso) is needed: ${mk.error ?? mk.stderr}`);
  const r = await k8sImage(['remaster', '-c', config, '--iso', join(isoDir, 'small.iso'), '-n', 'node01', '-o', join(base, 'node01.iso')], base);
  assert.equal(r.code, 2, r.stderr);
  oneLineError(r.stderr, /^error: --iso .*small\.iso: .*CentOS 7 DVD/);
  assert.deepEqual(listing(base), before, 'nothing created or changed');
});

test('a refused pxe --installer /etc mints no secrets', async () => {
  const { base, config } = await project('refused-pxe');
  const out = join(base, 'out');
  const r = await k8sImage(['pxe', '-c', config, '-o', out, '-s', '192.168.108.1:8080', '--installer', '/etc'], base);
  assert.equal(r.code, 2, r.stderr);
  oneLineError(r.stderr, /^error: --installer \/etc: /);
  assert.ok(!existsSync(join(base, 'k8s-lab.secrets.yaml')), 'no secrets file minted');
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, `pxe left ${existsSync(out) ? readdirSync(out).join(', ') : ''} in ${out}`);
});

test('the embedded lab: a refused kubeconfig leaves no outputs/ and no secrets file behind', async () => {
  const cwd = tempDir('k8s-image-lab-refused-');
  const r = await k8sImage(['kubeconfig', '-f', join(cwd, 'no', 'dir', 'admin.conf')], cwd);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(readdirSync(cwd), [], 'nothing created');
});

test('an empty secrets file: one clear error, the file kept as it is, nothing created', async () => {
  const { base, config } = await project('badfile');
  const secrets = join(base, 'k8s-lab.secrets.yaml');
  const out = join(base, 'out');
  writeFileSync(secrets, '', { mode: 0o600 });
  const before = listing(base);
  for (const args of [['secrets', '-c', config], ['golden', '-c', config, '-o', out], ['kubeconfig', '-c', config], ['render', '-c', config, '-o', out]]) {
    const r = await k8sImage(args, base);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    oneLineError(r.stderr, /^error: secrets file .*k8s-lab\.secrets\.yaml: is empty; restore it from your backup/);
    // render's output directory is its own business (made before the secrets are read); the rest is untouched.
    assert.deepEqual(listing(base).filter((l) => !l.startsWith('out/')), before.filter((l) => !l.startsWith('out/')), `${args[0]} changed something`);
    rmSync(out, { recursive: true, force: true });
  }
});

test('a directory where the secrets file should be: one clear error, nothing created', async () => {
  const { base, config } = await project('dirfile');
  const secrets = join(base, 'k8s-lab.secrets.yaml');
  const out = join(base, 'out');
  mkdirSync(secrets);
  const before = listing(base);
  for (const args of [['secrets', '-c', config], ['golden', '-c', config, '-o', out]]) {
    const r = await k8sImage(args, base);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    oneLineError(r.stderr, /^error: secrets file .*k8s-lab\.secrets\.yaml: is a directory, not a secrets file/);
    assert.deepEqual(listing(base), before, `${args[0]} created something`);
  }
});

test('--new-ca with a secrets file whose CA the outputs were built with: refused, pointing at the rotation procedure; nothing changes', async () => {
  const { base, config } = await project('newca-existing');
  const out = join(base, 'out');
  assert.equal((await k8sImage(['render', '-c', config, '-o', out], base)).code, 0);
  const before = listing(base);
  for (const cmd of ['render', 'secrets']) {
    const r = await k8sImage([cmd, '-c', config, '-o', out, '--new-ca'], base);
    assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
    oneLineError(r.stderr, /^error: --new-ca: .*k8s-lab\.secrets\.yaml exists and holds the cluster CA \(sha256:[0-9a-f]{64}\) that .*out\/k8s-lab was built with; k8s-image never replaces the CA in a secrets file\. To rotate the CA: move the file aside \(mv .*\), run a full build with --new-ca, and reinstall every node/);
    assert.deepEqual(listing(base), before, `${cmd} --new-ca changed something`);
  }
});

test('golden, packer, guestinfo and remaster refuse --new-ca, naming why', async () => {
  const { base, config } = await project('newca-none');
  const before = listing(base);
  for (const cmd of ['golden', 'packer', 'guestinfo']) {
    const r = await k8sImage([cmd, '-c', config, '-o', join(base, 'out'), '--new-ca'], base);
    assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
    oneLineError(r.stderr, /^error: --new-ca: a golden image holds no CA, and guestinfo seeds carry the CA of the secrets file; a new CA is made only by a full build \(k8s-image build --new-ca\)/);
  }
  const r = await k8sImage(['remaster', '-c', config, '-n', 'node01', '--new-ca'], base);
  assert.equal(r.code, 2, r.stderr);
  oneLineError(r.stderr, /^error: --new-ca: remaster makes one node's installer, which would leave every other node with the old CA/);
  assert.deepEqual(listing(base), before);
  const help = await k8sImage(['golden', '--help'], base);
  assert.doesNotMatch(help.stdout, /--new-ca/);
});

test('--secrets PATH and K8S_IMAGE_SECRETS: the file lives there, every summary names it, later runs find it; a missing directory is refused', async () => {
  const { base, config } = await project('secrets-path');
  const out = join(base, 'out');
  const keep = join(base, 'keep');
  mkdirSync(keep, { mode: 0o700 });
  const file = join(keep, 'lab.secrets.yaml');
  const b = await k8sImage(['render', '-c', config, '-o', out, '--secrets', file], base);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!existsSync(join(base, 'k8s-lab.secrets.yaml')), 'not beside the config');
  assert.match(b.stderr, new RegExp(`created ${file.replace(/[.]/g, '\\.')} \\(mode 0600; --secrets\\)`));
  assert.equal(JSON.parse(readFileSync(join(out, 'k8s-lab', 'manifest.json'), 'utf8')).secretsFile, file);
  // The same file through the environment: same CA, so no mixed-CA refusal and nothing minted.
  const again = await k8sImage(['render', '-c', config, '-o', out], base, { K8S_IMAGE_SECRETS: file });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`secrets file: ${file.replace(/[.]/g, '\\.')} \\(K8S_IMAGE_SECRETS\\)`));
  const g = await k8sImage(['golden', '-c', config, '-o', out], base, { K8S_IMAGE_SECRETS: file });
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stdout, new RegExp(`^secrets: +${file.replace(/[.]/g, '\\.')}`, 'm'));
  const s = await k8sImage(['secrets', '-c', config, '--json'], base, { K8S_IMAGE_SECRETS: file });
  assert.equal(JSON.parse(s.stdout).file, file);
  assert.ok(!existsSync(join(base, 'k8s-lab.secrets.yaml')));
  const before = listing(base);
  const bad = await k8sImage(['secrets', '-c', config, '--secrets', join(base, 'nodir', 's.yaml')], base);
  assert.equal(bad.code, 2, bad.stderr);
  oneLineError(bad.stderr, /^error: --secrets .*nodir\/s\.yaml: its directory .*nodir does not exist/);
  assert.deepEqual(listing(base), before);
});

test('warnings: a group or world readable secrets file', async () => {
  const { base, config } = await project('warnings');
  const secrets = join(base, 'k8s-lab.secrets.yaml');
  assert.equal((await k8sImage(['secrets', '-c', config], base)).code, 0);
  chmodSync(secrets, 0o644);
  const loose = await k8sImage(['secrets', '-c', config], base);
  assert.equal(loose.code, 0, loose.stderr);
  assert.match(loose.stderr, /^warning: .*k8s-lab\.secrets\.yaml is mode 0644: readable by every user of this machine, though it holds the cluster CA's private key; chmod 600 /m);
  chmodSync(secrets, 0o640);
  assert.match((await k8sImage(['secrets', '-c', config], base)).stderr, /^warning: .*is mode 0640: readable by its group/m);
  chmodSync(secrets, 0o600);
  assert.doesNotMatch((await k8sImage(['secrets', '-c', config], base)).stderr, /^warning:/m);
});

test('warnings: a secrets file not ignored, or tracked, in a git work tree', async () => {
  const { base, config } = await project('warnings-git');
  assert.equal((await k8sImage(['secrets', '-c', config], base)).code, 0);
  const git = (...args: string[]) => assert.equal(spawnSync('git', ['-C', base, ...args]).status, 0, `git ${args.join(' ')} (Debian package git)`);
  git('init', '-q', '.');
  const unignored = await k8sImage(['secrets', '-c', config], base);
  assert.match(unignored.stderr, /^warning: .*k8s-lab\.secrets\.yaml is inside the git work tree at .* and not ignored: a `git add -A` would commit the cluster CA's private key; add it to .*\.gitignore/m);
  writeFileSync(join(base, '.gitignore'), '*.secrets.yaml\n');
  assert.doesNotMatch((await k8sImage(['secrets', '-c', config], base)).stderr, /^warning:/m);
  git('add', '-f', 'k8s-lab.secrets.yaml');
  assert.match((await k8sImage(['secrets', '-c', config], base)).stderr, /^warning: .*k8s-lab\.secrets\.yaml is tracked by git/m);
});

test('warnings: cluster.name changed while the old name\'s secrets file, made for this config, sits beside it', async () => {
  const { base, config } = await project('warnings-rename');
  assert.equal((await k8sImage(['secrets', '-c', config], base)).code, 0);
  // cluster.name changed in the same config: the old name's secrets file sits beside it.
  writeFileSync(config, readFileSync(config, 'utf8').replace(/^  name: k8s-lab\b/m, '  name: k8s-renamed'));
  const renamed = await k8sImage(['secrets', '-c', config], base);
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.match(renamed.stderr, /^warning: cluster\.name is "k8s-renamed", but .*k8s-lab\.secrets\.yaml beside it was made for this config as cluster "k8s-lab": this run mints a second CA for cluster "k8s-renamed", which nodes installed as "k8s-lab" do not trust\. If you renamed the cluster, set cluster\.name back to "k8s-lab"/m);
  // Another config in the same directory is another cluster: no warning.
  const other = join(base, 'other.yaml');
  writeFileSync(other, readFileSync(config, 'utf8').replace(/^  name: k8s-renamed\b/m, '  name: other'));
  assert.doesNotMatch((await k8sImage(['secrets', '-c', other], base)).stderr, /^warning:/m);
});

test('serve -c looks for the secrets file where --secrets or K8S_IMAGE_SECRETS says, and never mints one', async () => {
  const { base, config } = await project('serve-secrets');
  const before = listing(base);
  const missing = join(base, 'elsewhere.secrets.yaml');
  const r = await k8sImage(['serve', '-c', config, '--secrets', missing, '--listen', '127.0.0.1:0'], base);
  assert.equal(r.code, 2, r.stderr);
  oneLineError(r.stderr, new RegExp(`no secrets file at ${missing.replace(/[.]/g, '\\.')}, so no node of cluster k8s-lab`));
  const empty = join(base, 'empty.secrets.yaml');
  writeFileSync(empty, '', { mode: 0o600 });
  const e = await k8sImage(['serve', '-c', config, '--listen', '127.0.0.1:0'], base, { K8S_IMAGE_SECRETS: empty });
  assert.equal(e.code, 2, e.stderr);
  oneLineError(e.stderr, /^error: secrets file .*empty\.secrets\.yaml: is empty/);
  rmSync(empty);
  assert.deepEqual(listing(base), before);
});
