// token-keeper.sh run for real against fake kubectl/kubeadm/systemctl.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TOKEN, calls, callsOf, exists, makeSandbox, run, setCounter, type Sandbox } from './sandbox.js';

const TK = 'token-keeper.sh';
const SECRET = `bootstrap-token-${TOKEN.split('.')[0]}`;

function keeper(vars: Record<string, string> = {}): Sandbox {
  const sb = makeSandbox('init', vars);
  writeFileSync(join(sb.fake, 'secret-name'), `${SECRET}\n`);
  return sb;
}
const withSecret = (sb: Sandbox) => writeFileSync(join(sb.fake, 'secret'), '');
const nodes = (sb: Sandbox, names: string[]) => writeFileSync(join(sb.fake, 'nodes'), names.map((n) => `node/${n}\n`).join(''));
const now = () => Math.floor(Date.now() / 1000);
/** As if the keeper's first run was at `start` (seconds since the epoch). */
function startedAt(sb: Sandbox, start: number): void {
  mkdirSync(sb.p.state, { recursive: true });
  writeFileSync(join(sb.p.state, 'keeper-start'), `${start}\n`);
}

/** The expiration a `kubectl patch` call set, in seconds since the epoch. */
function patchedExpiration(call: string[]): number {
  const payload = call[call.indexOf('-p') + 1]!;
  const text = (JSON.parse(payload) as { stringData: { expiration: string } }).stringData.expiration;
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339 UTC');
  return Date.parse(text) / 1000;
}

describe('token-keeper.sh', () => {
  it('extends the token to about now + TOKEN_TTL while nodes are missing', async (t) => {
    const sb = keeper({ TOKEN_TTL: '3600' });
    t.after(() => sb.cleanup());
    withSecret(sb);
    nodes(sb, ['master', 'node01']);
    const r = await run(sb, TK);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const admin = join(sb.p.kubeDir, 'admin.conf');
    const patches = callsOf(sb, 'kubectl', '--kubeconfig', admin, '-n', 'kube-system', 'patch', 'secret', SECRET, '--type', 'merge');
    assert.equal(patches.length, 1);
    const exp = patchedExpiration(patches[0]!);
    assert.ok(Math.abs(exp - (now() + 3600)) <= 60, `expiration ${exp} ≈ now + 3600`);
    assert.ok(exp > now(), 'in the future');
    assert.equal(callsOf(sb, 'kubeadm', 'token').length, 0);
    assert.equal(calls(sb).filter((c) => c.includes('delete')).length, 0);
    assert.equal(callsOf(sb, 'systemctl').length, 0);
    assert.match(r.stdout, /waiting for: node02; extended the token abcdef to /);
    assert.match(readFileSync(join(sb.p.state, 'keeper-start'), 'utf8'), /^\d+\n$/);
    assert.match(readFileSync(join(sb.p.log, '..', 'token-keeper.log'), 'utf8'), /extended the token/);
    assert.ok(!r.stdout.includes(TOKEN), 'the secret half of the token is never logged');
  });

  it('never extends past the join deadline', async (t) => {
    const sb = keeper({ TOKEN_TTL: '3600', JOIN_DEADLINE: '1200' });
    t.after(() => sb.cleanup());
    withSecret(sb);
    const start = now() - 600;
    startedAt(sb, start);
    assert.equal((await run(sb, TK)).code, 0);
    const patches = calls(sb).filter((c) => c.includes('patch'));
    assert.equal(patches.length, 1);
    assert.equal(patchedExpiration(patches[0]!), start + 1200);
  });

  it('recreates the token with kubeadm token create when its Secret is gone', async (t) => {
    const sb = keeper({ TOKEN_TTL: '3600' });
    t.after(() => sb.cleanup());
    const r = await run(sb, TK);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const creates = callsOf(sb, 'kubeadm', 'token', 'create', TOKEN);
    assert.equal(creates.length, 1);
    assert.equal(creates[0]![creates[0]!.indexOf('--ttl') + 1], '3600s');
    assert.equal(calls(sb).filter((c) => c.includes('patch')).length, 0, 'nothing to patch');
    assert.match(r.stdout, /was gone: recreated it/);
    // The next run finds the Secret and extends it instead.
    assert.equal((await run(sb, TK)).code, 0);
    assert.equal(callsOf(sb, 'kubeadm', 'token', 'create').length, 1);
    assert.equal(calls(sb).filter((c) => c.includes('patch')).length, 1);
  });

  it('once every EXPECTED_NODES joined: deletes the token, disables the timer, stops', async (t) => {
    const sb = keeper();
    t.after(() => sb.cleanup());
    withSecret(sb);
    nodes(sb, ['master', 'node01', 'node02']);
    const r = await run(sb, TK);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(callsOf(sb, 'kubectl', '--kubeconfig', join(sb.p.kubeDir, 'admin.conf'), '-n', 'kube-system', 'delete', 'secret', SECRET, '--ignore-not-found').length, 1);
    assert.deepEqual(callsOf(sb, 'systemctl'), [['systemctl', 'disable', '--now', 'k8s-image-token-keeper.timer']]);
    assert.equal(calls(sb).filter((c) => c.includes('patch')).length, 0);
    assert.ok(!exists(join(sb.fake, 'secret')));
    assert.ok(exists(join(sb.p.state, 'token-keeper.done')));
    assert.match(r.stdout, /every expected node joined/);
    const n = calls(sb).length;
    assert.equal((await run(sb, TK)).code, 0);
    assert.equal(calls(sb).length, n, 'a run after done does nothing');
  });

  it('after the join deadline: deletes the token even though nodes are missing', async (t) => {
    const sb = keeper({ JOIN_DEADLINE: '600' });
    t.after(() => sb.cleanup());
    withSecret(sb);
    nodes(sb, ['master']);
    startedAt(sb, now() - 601);
    const r = await run(sb, TK);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(calls(sb).filter((c) => c[0] === 'kubectl' && c.includes('delete')).length, 1);
    assert.deepEqual(callsOf(sb, 'systemctl'), [['systemctl', 'disable', '--now', 'k8s-image-token-keeper.timer']]);
    assert.match(r.stdout, /join deadline passed .*never joined: node01 node02/);
    assert.ok(exists(join(sb.p.state, 'token-keeper.done')));
  });

  it('TOKEN_TTL=0: exits 0 without a single call', async (t) => {
    const sb = keeper({ TOKEN_TTL: '0' });
    t.after(() => sb.cleanup());
    withSecret(sb);
    const r = await run(sb, TK);
    assert.equal(r.code, 0);
    assert.equal(calls(sb).length, 0);
    assert.match(r.stdout, /never expires/);
  });

  it('API server down: fails (the timer retries), touches nothing', async (t) => {
    const sb = keeper();
    t.after(() => sb.cleanup());
    withSecret(sb);
    setCounter(sb, 'api-down', 1);
    const r = await run(sb, TK);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /cannot list nodes/);
    assert.deepEqual(calls(sb).map((c) => c.slice(3).join(' ')), ['get nodes -o name'], 'no patch, create or delete');
    assert.ok(!exists(join(sb.p.state, 'token-keeper.done')));
  });
});
