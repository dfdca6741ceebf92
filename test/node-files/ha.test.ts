/**
 * The HA bootstrap end to end in a sandbox: the five first-boot scripts of the rendered seed-004
 * layout (three masters, two workers) run at once with their rendered env, kubeadm config and CA
 * material, against fake kubeadm/kubectl/systemctl and real HTTPS /healthz stubs (certificates
 * signed by the cluster CA) standing in for each master's API server and for the load balancer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { planNode, PATHS, type NodePlan } from '../../src/plan/index.js';
import { callsOf, makeSandbox, start, type Role, type Sandbox } from './sandbox.js';
import { tempDir } from '../helpers/tmp.js';

const NET = '127.42.3';
const CONFIG = `
cluster: { name: ha-sandbox, controlPlaneEndpoint: ${NET}.30:6443 }
network: { prefix: 24, gateway: ${NET}.1, interface: eth0 }
os: { sshAuthorizedKeys: [] , rootPasswordHash: "$6$saltsalt$${'a'.repeat(86)}" }
nodes:
  - { name: master1, role: master, ip: ${NET}.11 }
  - { name: master2, role: master, ip: ${NET}.12 }
  - { name: master3, role: master, ip: ${NET}.13 }
  - { name: worker1, role: node,   ip: ${NET}.21 }
  - { name: worker2, role: node,   ip: ${NET}.22 }
  - { name: lb,      role: lb,     ip: ${NET}.30 }
`;

const cleanups: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function envOf(plan: NodePlan): Record<string, string> {
  const text = plan.files.find((f) => f.path === PATHS.firstbootEnv)!.content;
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

const content = (plan: NodePlan, path: string) => plan.files.find((f) => f.path === path)?.content;

test('HA: one init, control-plane joins one after another, workers join through the endpoint', { timeout: 60000 }, async () => {
  const { cluster } = loadCluster(CONFIG, 'ha-sandbox.yaml');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const work = tempDir('k8s-image-ha-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));

  // A server certificate for every master and the LB address, signed by the cluster CA, as the real
  // apiservers' are: the scripts verify /healthz with the CA from their seed.
  writeFileSync(join(work, 'ca.crt'), secrets.ca.cert);
  writeFileSync(join(work, 'ca.key'), secrets.ca.key);
  writeFileSync(join(work, 'ext.cnf'), `subjectAltName=${[11, 12, 13, 30].map((i) => `IP:${NET}.${i}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });
  ssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=kube-apiserver']);
  ssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf']);
  const tls = { key: readFileSync(join(work, 'srv.key')), cert: readFileSync(join(work, 'srv.crt')) };

  // Every kubeadm call from every node, with a nanosecond timestamp, in one file.
  const order = join(work, 'kubeadm-order.log');
  writeFileSync(order, '');
  const wrap = join(work, 'wrap');
  mkdirSync(wrap);
  writeFileSync(join(wrap, 'kubeadm'), '#!/bin/bash\necho "$(date +%s%N) $NODE_TAG $*" >>"$ORDER_LOG"\nexec "$REAL_KUBEADM" "$@"\n');
  chmodSync(join(wrap, 'kubeadm'), 0o755);

  const nodes = cluster.nodes.filter((n) => n.role !== 'lb');
  const sandboxes = new Map<string, Sandbox>();
  const plans = new Map<string, NodePlan>();
  for (const n of nodes) {
    const plan = planNode(cluster, secrets, n.name);
    const env = envOf(plan);
    // The rendered paths are the standard ones; the sandbox moves exactly those into its root.
    assert.equal(env.KUBEADM_CONFIG, PATHS.kubeadmConfig);
    assert.equal(env.PKI_BACKUP, PATHS.pkiBackup);
    assert.equal(env.CA_CERT, PATHS.caCert);
    const keep = ['ROLE', 'NODE_NAME', 'NODE_IP', 'ENDPOINT', 'WAIT_FOR', 'WAIT_TCP', 'CONFIRM_URLS', 'EXPECTED_NODES', 'RUNTIME_SERVICE'];
    const sb = makeSandbox(env.ROLE as Role, Object.fromEntries(keep.map((k) => [k, env[k] ?? ''])));
    cleanups.push(() => sb.cleanup());
    writeFileSync(sb.p.kubeadmConfig, content(plan, PATHS.kubeadmConfig)!, { mode: 0o600 });
    writeFileSync(sb.p.caCert, content(plan, PATHS.caCert)!);
    for (const f of plan.files.filter((x) => x.path.startsWith(`${PATHS.pkiBackup}/`))) {
      writeFileSync(join(sb.p.pkiBackup, f.path.slice(PATHS.pkiBackup.length + 1)), f.content, { mode: f.mode });
    }
    writeFileSync(join(sb.p.modulesLoad, 'k8s.conf'), content(plan, '/etc/modules-load.d/k8s.conf')!);
    if (content(plan, PATHS.cniManifest)) writeFileSync(sb.p.cni, content(plan, PATHS.cniManifest)!);
    sandboxes.set(n.name, sb);
    plans.set(n.name, plan);
  }

  // /healthz of a master answers 200 once its (fake) kubeadm wrote admin.conf; the LB's once any
  // master does, like an L4 proxy in front of them.
  const healthyAt = new Map<string, number>();
  const masterHealthy = (name: string) => existsSync(join(sandboxes.get(name)!.p.kubeDir, 'admin.conf'));
  const serve = (who: string, ip: string, healthy: () => boolean) =>
    new Promise<Server>((resolve) => {
      const s = createServer(tls, (req, res) => {
        const ok = req.url === '/healthz' && healthy();
        if (ok && !healthyAt.has(who)) healthyAt.set(who, Date.now());
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? 'ok' : 'not yet');
      });
      s.listen(6443, ip, () => resolve(s));
    });
  const servers = await Promise.all([
    serve('master1', `${NET}.11`, () => masterHealthy('master1')),
    serve('master2', `${NET}.12`, () => masterHealthy('master2')),
    serve('master3', `${NET}.13`, () => masterHealthy('master3')),
    serve('lb', `${NET}.30`, () => ['master1', 'master2', 'master3'].some(masterHealthy)),
  ]);
  cleanups.push(() => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined));

  // Workers and the last master first: order of start must not matter.
  const runs = ['worker2', 'master3', 'worker1', 'master2', 'master1'].map((name) => {
    const sb = sandboxes.get(name)!;
    return { name, run: start(sb, 'firstboot.sh', { PATH: `${wrap}:${sb.env.PATH}`, REAL_KUBEADM: join(sb.root, 'bin', 'kubeadm'), NODE_TAG: name, ORDER_LOG: order }, 45000) };
  });
  const results = await Promise.all(runs.map(async ({ name, run }) => ({ name, r: await run.done })));
  for (const { name, r } of results) assert.equal(r.code, 0, `${name} failed:\n${r.stdout}\n${r.stderr}`);

  const events = readFileSync(order, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [ns, node, ...args] = l.split(' ');
      return { ms: Number(BigInt(ns!) / 1000000n), node: node!, args: args.join(' ') };
    });
  const inits = events.filter((e) => e.args.startsWith('init '));
  assert.deepEqual(inits.map((e) => e.node), ['master1'], 'exactly one kubeadm init, on the first master');
  const joins = events.filter((e) => e.args.startsWith('join '));
  assert.deepEqual(joins.map((e) => e.node).sort(), ['master2', 'master3', 'worker1', 'worker2']);
  const joinOf = (n: string) => joins.find((e) => e.node === n)!;
  // Serial control-plane joins: master2 only after master1 answered, master3 only after master2 did.
  assert.ok(joinOf('master2').ms >= healthyAt.get('master1')!, 'master2 joined before master1 was healthy');
  assert.ok(joinOf('master3').ms >= healthyAt.get('master2')!, 'master3 joined before master2 was healthy');
  for (const w of ['worker1', 'worker2']) assert.ok(joinOf(w).ms >= healthyAt.get('lb')!, `${w} joined before the endpoint answered`);
  for (const n of ['master2', 'master3']) {
    assert.ok(readFileSync(sandboxes.get(n)!.p.kubeadmConfig, 'utf8').includes('controlPlane:'));
    // What kubeadm join found in PKI_DIR is the cluster CA from the secrets file.
    assert.equal(readFileSync(join(sandboxes.get(n)!.fake, 'ca.key.seen-by-join'), 'utf8'), secrets.ca.key);
  }
  assert.equal(readFileSync(join(sandboxes.get('master1')!.fake, 'ca.key.seen-by-init'), 'utf8'), secrets.ca.key);
  // The first master confirmed the endpoint forwards to it before reporting success.
  assert.match(readFileSync(sandboxes.get('master1')!.p.log, 'utf8'), new RegExp(`ready: https://${NET.replaceAll('.', '\\.')}\\.30:6443/healthz`));
  for (const n of nodes) assert.ok(existsSync(join(sandboxes.get(n.name)!.p.state, 'bootstrap-success.complete')), `${n.name} did not complete`);
  assert.equal(callsOf(sandboxes.get('master1')!, 'kubectl').filter((c) => c.includes('apply')).length, 1, 'CNI applied once');
});
