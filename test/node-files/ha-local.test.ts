/**
 * loadBalancer.kind local end to end in the sandbox: three masters and two workers run their rendered
 * first-boot scripts at once (fake kubeadm/kubectl/systemctl, as test/node-files/ha.test.ts), the
 * masters' API servers are HTTPS /healthz stubs signed by the cluster CA, and the workers reach them
 * the way a node does: through the worker's own haproxy on 127.0.0.1:6443, the plan's haproxy.cfg run
 * for real. No lb node exists. Every kubeadm config, every env file and /etc/hosts keep the endpoint
 * name from the first boot to the end: nothing is rewritten after a join.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { planNode, PATHS, type NodePlan } from '../../src/plan/index.js';
import { makeSandbox, start, type Role, type Sandbox } from './sandbox.js';
import { haproxyForSandbox, requireTool, startDaemon, type Daemon } from '../lb/_lb.js';
import { tempDir } from '../helpers/tmp.js';

const NET = '127.42.5';
const NAME = 'api.edge-sandbox.internal';
const CONFIG = `
cluster: { name: edge-sandbox }
loadBalancer: { kind: local }
network: { prefix: 8, gateway: 127.0.0.254, interface: eth0 }
os: { sshAuthorizedKeys: [] , rootPasswordHash: "$6$saltsalt$${'a'.repeat(86)}" }
nodes:
  - { name: master1, role: master, ip: ${NET}.11 }
  - { name: master2, role: master, ip: ${NET}.12 }
  - { name: master3, role: master, ip: ${NET}.13 }
  - { name: worker1, role: node,   ip: ${NET}.21 }
  - { name: worker2, role: node,   ip: ${NET}.22 }
`;

const cleanups: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function envOf(plan: NodePlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of plan.files.find((f) => f.path === PATHS.firstbootEnv)!.content.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}
const content = (plan: NodePlan, path: string) => plan.files.find((f) => f.path === path)?.content;

test('local endpoint: init, serial control-plane joins, workers join through their own proxy; the name stays', { timeout: 90000 }, async () => {
  const haproxy = requireTool('haproxy', 'haproxy');
  const { cluster } = loadCluster(CONFIG, 'edge-sandbox.yaml');
  assert.equal(cluster.nodes.filter((n) => n.role === 'lb').length, 0);
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const work = tempDir('k8s-image-ha-local-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));

  // The serving certificate the plan asks kubeadm for (its certSANs), signed by the cluster CA.
  const init = yaml.loadAll(content(planNode(cluster, secrets, 'master1'), PATHS.kubeadmConfig)!) as any[];
  const sans: string[] = init.find((d) => d.kind === 'ClusterConfiguration').apiServer.certSANs;
  writeFileSync(join(work, 'ca.crt'), secrets.ca.cert);
  writeFileSync(join(work, 'ca.key'), secrets.ca.key);
  writeFileSync(join(work, 'ext.cnf'), `subjectAltName=${sans.map((s) => (/^[0-9.]+$/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',')}\nextendedKeyUsage=serverAuth\n`);
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });
  ssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=kube-apiserver']);
  ssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf']);
  const tls = { key: readFileSync(join(work, 'srv.key')), cert: readFileSync(join(work, 'srv.crt')) };

  const order = join(work, 'kubeadm-order.log');
  writeFileSync(order, '');
  const wrap = join(work, 'wrap');
  mkdirSync(wrap);
  writeFileSync(join(wrap, 'kubeadm'), '#!/bin/bash\necho "$(date +%s%N) $NODE_TAG $*" >>"$ORDER_LOG"\nexec "$REAL_KUBEADM" "$@"\n');
  chmodSync(join(wrap, 'kubeadm'), 0o755);

  const sandboxes = new Map<string, Sandbox>();
  const plans = new Map<string, NodePlan>();
  for (const n of cluster.nodes) {
    const plan = planNode(cluster, secrets, n.name);
    const env = envOf(plan);
    assert.equal(env.ENDPOINT, `${NAME}:6443`, n.name);
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
  const before = new Map([...plans].map(([n, p]) => [n, { kubeadm: content(p, PATHS.kubeadmConfig)!, hosts: content(p, '/etc/hosts')! }]));

  // Masters answer /healthz once their (fake) kubeadm wrote admin.conf.
  const healthyAt = new Map<string, number>();
  const masterHealthy = (name: string) => existsSync(join(sandboxes.get(name)!.p.kubeDir, 'admin.conf'));
  const serve = (who: string, ip: string) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer(tls, (req, res) => {
        const ok = req.url === '/healthz' && masterHealthy(who);
        if (ok && !healthyAt.has(who)) healthyAt.set(who, Date.now());
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? 'ok' : 'not yet');
      });
      s.once('error', reject);
      s.listen(6443, ip, () => resolve(s));
    });
  const servers = await Promise.all(['master1', 'master2', 'master3'].map((m, i) => serve(m, `${NET}.1${i + 1}`)));
  cleanups.push(() => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined));

  // The workers' proxy: the worker plan's haproxy.cfg (only the syslog line dropped), on 127.0.0.1:6443
  // as on the node. Both workers' plans hold the same file; one process stands for both.
  const cfg = content(plans.get('worker1')!, '/etc/haproxy/haproxy.cfg')!;
  assert.equal(cfg, content(plans.get('worker2')!, '/etc/haproxy/haproxy.cfg'));
  const cfgPath = join(work, 'haproxy.cfg');
  writeFileSync(cfgPath, haproxyForSandbox(cfg));
  const proxy: Daemon = startDaemon(haproxy, ['-db', '-f', cfgPath]);
  cleanups.push(() => proxy.stop());
  await proxy.waitForOutput(/Server kube_apiserver\/master[123] is DOWN|Proxy kube_apiserver started|kube_apiserver/, 10_000).catch(() => undefined);
  if (proxy.child.exitCode !== null) assert.fail(`haproxy could not start on 127.0.0.1:6443 (in use on this host?):\n${proxy.output()}`);

  const runs = ['worker2', 'master3', 'worker1', 'master2', 'master1'].map((name) => {
    const sb = sandboxes.get(name)!;
    return { name, run: start(sb, 'firstboot.sh', { PATH: `${wrap}:${sb.env.PATH}`, REAL_KUBEADM: join(sb.root, 'bin', 'kubeadm'), NODE_TAG: name, ORDER_LOG: order }, 75000) };
  });
  const results = await Promise.all(runs.map(async ({ name, run }) => ({ name, r: await run.done })));
  for (const { name, r } of results) assert.equal(r.code, 0, `${name} failed:\n${r.stdout}\n${r.stderr}`);

  const events = readFileSync(order, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [ns, node, ...args] = l.split(' ');
    return { ms: Number(BigInt(ns!) / 1000000n), node: node!, args: args.join(' ') };
  });
  assert.deepEqual(events.filter((e) => e.args.startsWith('init ')).map((e) => e.node), ['master1']);
  const joins = events.filter((e) => e.args.startsWith('join '));
  assert.deepEqual(joins.map((e) => e.node).sort(), ['master2', 'master3', 'worker1', 'worker2']);
  const joinOf = (n: string) => joins.find((e) => e.node === n)!;
  assert.ok(joinOf('master2').ms >= healthyAt.get('master1')!, 'master2 joined before master1 was healthy');
  assert.ok(joinOf('master3').ms >= healthyAt.get('master2')!, 'master3 joined before master2 was healthy');
  // Workers joined only once their proxy forwarded to a healthy master (they waited on 127.0.0.1).
  for (const w of ['worker1', 'worker2']) {
    assert.ok(joinOf(w).ms >= healthyAt.get('master1')!, `${w} joined before any master answered`);
    assert.match(readFileSync(sandboxes.get(w)!.p.log, 'utf8'), /https:\/\/127\.0\.0\.1:6443\/healthz/);
  }
  // The first master is its own endpoint: no proxy to wait for before init, none to confirm through.
  assert.deepEqual([envOf(plans.get('master1')!).WAIT_TCP, envOf(plans.get('master1')!).CONFIRM_URLS], ['', '']);
  assert.doesNotMatch(readFileSync(sandboxes.get('master1')!.p.log, 'utf8'), new RegExp(`https://${NAME.replaceAll('.', '\\.')}`));
  // The name everywhere, and nothing rewritten: every kubeadm config and hosts file is what the plan wrote.
  for (const [n, sb] of sandboxes) {
    const text = readFileSync(sb.p.kubeadmConfig, 'utf8');
    assert.equal(text, before.get(n)!.kubeadm, `${n}: kubeadm config changed`);
    const doc = (yaml.loadAll(text) as any[])[n === 'master1' ? 1 : 0];
    assert.equal(n === 'master1' ? doc.controlPlaneEndpoint : doc.discovery.bootstrapToken.apiServerEndpoint, `${NAME}:6443`, n);
    assert.ok(existsSync(join(sb.p.state, 'bootstrap-success.complete')), `${n} did not complete`);
  }
  assert.deepEqual(before.get('worker1')!.hosts.split('\n').filter((l) => l.endsWith(NAME)), [`127.0.0.1 ${NAME}`]);
  assert.deepEqual(before.get('master3')!.hosts.split('\n').filter((l) => l.endsWith(NAME)), [`${NET}.13 ${NAME}`, `${NET}.11 ${NAME}`, `${NET}.12 ${NAME}`]);
});
