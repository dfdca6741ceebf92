import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import yaml from 'js-yaml';
import { UserError } from '../../src/errors.js';
import { loadOrCreateSecrets, parseSecrets, planSecrets, serializeSecrets, type Secrets } from '../../src/secrets/index.js';
import { openssl, tempDir } from './_openssl.js';

const { dir, cleanup } = tempDir('secrets-store');
after(cleanup);

/** Assert `fn` throws a UserError whose every line matches `re`, and return its message. */
function userError(fn: () => unknown, re: RegExp): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    assert.match(e.message, re);
    for (const p of e.problems) assert.ok(!p.includes('\n'), `multi-line problem: ${p}`);
    return e.message;
  }
  assert.fail('expected a UserError');
}

async function userErrorAsync(p: Promise<unknown>, re: RegExp): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    assert.match(e.message, re);
    return e.message;
  }
  assert.fail('expected a UserError');
}

describe('loadOrCreateSecrets', () => {
  // Parent directories do not exist yet: loadOrCreateSecrets must create them.
  const path = join(dir, 'clusters', 'demo', 'secrets.yaml');
  let first: Secrets;
  let firstText: string;

  before(async () => {
    const r = await loadOrCreateSecrets({ path, cluster: 'demo', generateRootPassword: false });
    assert.equal(r.created, true);
    first = r.secrets;
    firstText = readFileSync(path, 'utf8');
  });

  test('mints well-formed token and certificate key for the cluster', () => {
    assert.equal(first.version, 1);
    assert.equal(first.cluster, 'demo');
    assert.match(first.bootstrapToken, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    assert.match(first.certificateKey, /^[0-9a-f]{64}$/);
    assert.equal(first.rootPassword, undefined);
    assert.equal(first.rootPasswordHash, undefined);
    assert.match(first.ca.key, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(first.serviceAccount.pub, /^-----BEGIN PUBLIC KEY-----\n/);
  });

  test('writes the file mode 0600 with a private-key warning, leaving no temp files', () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(firstText, /^# .*\n# PRIVATE: holds the cluster CA private keys/);
    assert.deepEqual(readdirSync(join(dir, 'clusters', 'demo')), ['secrets.yaml']);
    // The YAML body is exactly what was returned, keys in the documented order.
    const doc = yaml.load(firstText) as Record<string, unknown>;
    assert.deepEqual(doc, first);
    assert.deepEqual(Object.keys(doc), [
      'version', 'cluster', 'bootstrapToken', 'certificateKey', 'ca', 'frontProxyCa', 'etcdCa', 'serviceAccount',
    ]);
  });

  test('reuses the existing file: identical secrets, file not rewritten', async () => {
    const before = statSync(path);
    const again = await loadOrCreateSecrets({ path, cluster: 'demo', generateRootPassword: false });
    assert.equal(again.created, false);
    assert.deepEqual(again.secrets, first);
    const afterStat = statSync(path);
    assert.equal(afterStat.ino, before.ino);
    assert.equal(afterStat.mtimeMs, before.mtimeMs);
    assert.equal(readFileSync(path, 'utf8'), firstText);
  });

  test('refuses a secrets file that belongs to another cluster', async () => {
    await userErrorAsync(
      loadOrCreateSecrets({ path, cluster: 'other', generateRootPassword: false }),
      /secrets\.yaml holds secrets for cluster "demo", not "other"/,
    );
  });

  test('adds a root password later, keeping everything else, and then keeps it', async () => {
    const r = await loadOrCreateSecrets({ path, cluster: 'demo', generateRootPassword: true });
    assert.equal(r.created, false);
    const { rootPassword, rootPasswordHash, ...rest } = r.secrets;
    assert.deepEqual(rest, first);
    assert.ok(rootPassword && rootPasswordHash);
    assert.equal(rootPassword.length, 20);
    assert.match(rootPassword, /^[A-Za-z0-9]{20}$/);
    assert.doesNotMatch(rootPassword, /[0O1lI]/);
    const salt = /^\$6\$([a-zA-Z0-9./]{16})\$/.exec(rootPasswordHash)?.[1];
    assert.ok(salt, `unexpected hash shape ${rootPasswordHash}`);
    assert.equal(openssl(['passwd', '-6', '-salt', salt, rootPassword]).trim(), rootPasswordHash);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'clusters', 'demo')), ['secrets.yaml']);

    const text = readFileSync(path, 'utf8');
    const again = await loadOrCreateSecrets({ path, cluster: 'demo', generateRootPassword: true });
    assert.deepEqual(again.secrets, r.secrets);
    assert.equal(readFileSync(path, 'utf8'), text);
    // Not asking for one any more does not drop it either.
    const without = await loadOrCreateSecrets({ path, cluster: 'demo', generateRootPassword: false });
    assert.equal(without.secrets.rootPassword, rootPassword);
  });
});

describe('loadOrCreateSecrets with a missing file and existing artifacts', () => {
  const artifactsDir = join(dir, 'outputs', 'prod');
  const path = join(dir, 'prod-secrets.yaml');
  before(() => {
    mkdirSync(artifactsDir, { recursive: true });
    writeFileSync(join(artifactsDir, 'node-1.ks.cfg'), '# built earlier\n');
  });

  test('refuses to mint a new CA', async () => {
    const msg = await userErrorAsync(
      loadOrCreateSecrets({ path, cluster: 'prod', generateRootPassword: false, artifactsDir }),
      /holds artifacts built with a CA whose secrets file .*prod-secrets\.yaml is missing/,
    );
    assert.ok(msg.startsWith(artifactsDir), msg);
    assert.match(msg, /Restore the file \(or point --secrets or K8S_IMAGE_SECRETS at it\), or pass --new-ca to a full build to start over\.$/);
    assert.throws(() => statSync(path), { code: 'ENOENT' });
  });

  test('mints one when allowNewCa is set', async () => {
    const r = await loadOrCreateSecrets({ path, cluster: 'prod', generateRootPassword: true, artifactsDir, allowNewCa: true });
    assert.equal(r.created, true);
    assert.equal(r.secrets.cluster, 'prod');
    assert.equal(r.secrets.rootPassword?.length, 20);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  test('an empty artifacts directory is no obstacle', async () => {
    const empty = join(dir, 'outputs', 'empty');
    mkdirSync(empty);
    const r = await loadOrCreateSecrets({
      path: join(dir, 'fresh', 'secrets.yaml'),
      cluster: 'fresh',
      generateRootPassword: false,
      artifactsDir: empty,
    });
    assert.equal(r.created, true);
  });
});

describe('parseSecrets', () => {
  let good: Secrets;
  let goodText: string;
  before(async () => {
    ({ secrets: good } = await loadOrCreateSecrets({
      path: join(dir, 'clusters', 'demo', 'secrets.yaml'),
      cluster: 'demo',
      generateRootPassword: true,
    }));
    goodText = serializeSecrets(good);
  });
  const mutate = (f: (doc: Record<string, any>) => void): string => {
    const doc = yaml.load(goodText) as Record<string, any>;
    f(doc);
    return yaml.dump(doc);
  };

  test('round-trips serializeSecrets output', () => {
    assert.deepEqual(parseSecrets(goodText, 'x.yaml'), good);
    assert.equal(serializeSecrets(parseSecrets(goodText, 'x.yaml')), goodText);
  });

  test('names the file and the field', () => {
    userError(
      () => parseSecrets(mutate((d) => (d.bootstrapToken = 'ABCDEF.0123456789abcdef')), 'site/secrets.yaml'),
      /^site\/secrets\.yaml: bootstrapToken: must look like/,
    );
    userError(() => parseSecrets(mutate((d) => delete d.ca.key), 'f.yaml'), /^f\.yaml: ca\.key: missing$/);
    userError(() => parseSecrets(mutate((d) => (d.certificateKey = 'abc')), 'f.yaml'), /^f\.yaml: certificateKey: /);
    userError(() => parseSecrets(mutate((d) => (d.version = 2)), 'f.yaml'), /^f\.yaml: version: /);
    userError(() => parseSecrets(mutate((d) => (d.extra = 1)), 'f.yaml'), /^f\.yaml: \(top level\): unknown field\(s\): extra$/);
    userError(() => parseSecrets(mutate((d) => (d.etcdCa.cert = 'not a cert')), 'f.yaml'), /^f\.yaml: etcdCa\.cert: must be a PEM certificate/);
    userError(() => parseSecrets('version: [1\n', 'f.yaml'), /^f\.yaml: not valid YAML: /);
    userError(() => parseSecrets('just a string\n', 'f.yaml'), /^f\.yaml: expected a YAML mapping/);
  });

  test('reports every problem, one per line', () => {
    const msg = userError(
      () => parseSecrets(mutate((d) => { d.bootstrapToken = 'x'; delete d.cluster; }), 'f.yaml'),
      /bootstrapToken/,
    );
    assert.equal(msg.split('\n').length, 2);
    assert.match(msg, /^f\.yaml: cluster: missing$/m);
  });

  test('catches keys that do not belong to their certificates or to each other', () => {
    userError(
      () => parseSecrets(mutate((d) => (d.ca.key = d.etcdCa.key)), 'f.yaml'),
      /^f\.yaml: ca\.key: does not match ca\.cert$/,
    );
    userError(
      () => parseSecrets(mutate((d) => (d.serviceAccount.key = d.frontProxyCa.key)), 'f.yaml'),
      /^f\.yaml: serviceAccount\.pub: is not the public half of serviceAccount\.key$/,
    );
    userError(
      () => parseSecrets(mutate((d) => (d.rootPassword = 'changed-by-hand')), 'f.yaml'),
      /^f\.yaml: rootPasswordHash: is not the hash of rootPassword$/,
    );
    userError(
      () => parseSecrets(mutate((d) => delete d.rootPasswordHash), 'f.yaml'),
      /^f\.yaml: rootPasswordHash: missing: /,
    );
  });

  test('a broken file on disk stops loadOrCreateSecrets with the same message', async () => {
    const p = join(dir, 'broken.yaml');
    writeFileSync(p, mutate((d) => (d.bootstrapToken = 'nope')), { mode: 0o600 });
    await userErrorAsync(loadOrCreateSecrets({ path: p, cluster: 'demo', generateRootPassword: false }), /broken\.yaml: bootstrapToken: /);
  });
});

describe('planSecrets: minted in memory, written only by persist()', () => {
  test('nothing on disk (not even the directory) until persist; persist writes once, 0600', async () => {
    const path = join(dir, 'planned', 'sub', 'x.secrets.yaml');
    const p = await planSecrets({ path, cluster: 'x', generateRootPassword: false, config: '../cluster.yaml' });
    assert.equal(p.state, 'minted');
    assert.throws(() => statSync(join(dir, 'planned')), { code: 'ENOENT' });
    p.persist();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(parseSecrets(readFileSync(path, 'utf8'), path).config, '../cluster.yaml');
    p.persist();
    assert.deepEqual(readdirSync(join(dir, 'planned', 'sub')), ['x.secrets.yaml']);
  });

  test('a file another run wrote meanwhile is never overwritten: persist refuses', async () => {
    const path = join(dir, 'race.secrets.yaml');
    const mine = await planSecrets({ path, cluster: 'race', generateRootPassword: false });
    const theirs = await planSecrets({ path, cluster: 'race', generateRootPassword: false });
    theirs.persist();
    const text = readFileSync(path, 'utf8');
    assert.throws(() => mine.persist(), (e: unknown) => e instanceof UserError && /another k8s-image run created this secrets file/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), text);
  });
});
