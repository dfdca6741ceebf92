/**
 * The systemd units a node gets, read by a real systemd: `systemd-analyze verify` in a root holding
 * exactly the plan's files (scripts, units and the proxy drop-ins), plus the host's stock units that
 * ours order against. Debian's systemd is 252 and CentOS 7's 219; static.test.ts keeps the keys to
 * those 219 knows, this test catches what systemd itself refuses or ignores.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planGolden, planNode, type NodePlan } from '../../src/plan/index.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

let secrets: Secrets;
let plan: NodePlan;
before(async () => {
  const doc = yaml.load(defaultClusterYaml()) as any;
  doc.proxy = { http: 'http://proxy.example.com:3128', https: 'http://proxy.example.com:3128', noProxy: ['.example.com'] };
  const { cluster } = loadCluster(yaml.dump(doc));
  secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  plan = planNode(cluster, secrets, 'master');
});

function rootWith(files: { path: string; content: string; mode: number }[]): string {
  const root = tempDir('k8s-image-units-');
  cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
  for (const f of files) {
    mkdirSync(join(root, dirname(f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
    chmodSync(join(root, f.path), f.mode);
  }
  return root;
}

function verify(root: string, units: string[]): { status: number | null; out: string } {
  const r = spawnSync(requireTool('systemd-analyze'), ['verify', `--root=${root}`, '--man=no', ...units.map((u) => join(root, 'etc/systemd/system', u))], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' },
  });
  // Container noise is not about our units.
  const out = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.trim() && !/container|PID 1|PR_SET_MM/.test(l))
    .join('\n');
  return { status: r.status, out };
}

test('systemd-analyze verify accepts the first-boot, token-keeper and certificate-renewal units with their scripts and proxy drop-in', () => {
  const units = plan.files.filter((f) => f.path.startsWith('/etc/systemd/system/') && /\.(service|timer)$/.test(f.path)).map((f) => f.path.split('/').pop()!);
  assert.deepEqual(units.sort(), ['k8s-image-cert-renew.service', 'k8s-image-cert-renew.timer', 'k8s-image-firstboot.service', 'k8s-image-token-keeper.service', 'k8s-image-token-keeper.timer']);
  assert.ok(plan.files.some((f) => f.path === '/etc/systemd/system/k8s-image-firstboot.service.d/http-proxy.conf'));
  const r = verify(rootWith(plan.files), units);
  assert.equal(r.out, '', r.out);
  assert.equal(r.status, 0);
});

test('systemd-analyze verify accepts the golden image\'s units with their scripts', async () => {
  const golden = planGolden(loadCluster(undefined).cluster, await generateSecrets({ cluster: 'k8s-lab', generateRootPassword: false }));
  const units = golden.files.filter((f) => f.path.startsWith('/etc/systemd/system/') && f.path.endsWith('.service')).map((f) => f.path.split('/').pop()!);
  assert.deepEqual(units.sort(), ['k8s-image-firstboot.service', 'k8s-image-golden.service']);
  const r = verify(rootWith(golden.files), units);
  assert.equal(r.out, '', r.out);
  assert.equal(r.status, 0);
});

test('the same check refuses a broken unit (so it can fail)', () => {
  const unit = plan.files.find((f) => f.path.endsWith('k8s-image-firstboot.service'))!;
  const broken = { ...unit, content: unit.content.replace('RemainAfterExit=yes', 'RemainAfterExits=yes').replace('ExecStart=/usr/local/lib/k8s-image/firstboot.sh', 'ExecStart=/usr/local/lib/k8s-image/missing.sh') };
  const r = verify(rootWith(plan.files.map((f) => (f === unit ? broken : f))), ['k8s-image-firstboot.service']);
  assert.match(r.out, /Unknown key 'RemainAfterExits'/);
  assert.match(r.out, /missing\.sh is not executable/);
});
