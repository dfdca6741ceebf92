// loadBalancer.kind local: no lb nodes; the control-plane endpoint is a name each node resolves in its
// own /etc/hosts (workers: 127.0.0.1, their own proxy; masters: themselves, then the other masters).
// The worker's proxy config, as its plan holds it, runs for real on loopback (haproxy and nginx) in
// front of three HTTPS listeners standing in for the masters' apiservers (127.42.4.11-13:6443); one
// master goes away while requests flow and every request started after that still succeeds. The
// apiserver certificate the kubeadm config asks for covers the name, 127.0.0.1 and every master (real
// kubeadm's ValidateCertSANs rules from test/reference, and openssl verifying a certificate with them).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import yaml from 'js-yaml';
import { loadCluster, type Cluster } from '../../src/config/index.js';
import { planNode, type NodePlan } from '../../src/plan/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { kubeadmConfigProblems } from '../helpers/readers.js';
import { configProblems } from '../helpers/config.js';
import { freePort, haproxyForSandbox, nginxForDebian, requireFile, requireTool, run, startDaemon, startMaster, stopMaster, streamBlock, tempDir, whoAnswers, type Daemon, type FakeMaster } from './_lb.js';

const { dir, cleanup } = tempDir('lb-local');
after(cleanup);

const NET = '127.42.4';
function localYaml(proxy: 'haproxy' | 'nginx', extra = ''): string {
  return `cluster: { name: edge, kubernetesVersion: 1.33.2, kubeProxyMode: iptables }
loadBalancer: { kind: local, proxy: ${proxy} }
network: { prefix: 8, gateway: 127.0.0.254, interface: eth0 }
os: { kernel: lt, sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM test@lab"] }
mirrors: { elrepo: https://mirror.example.com/elrepo/kernel/el7/x86_64 }
${extra}nodes:
  - { name: master1, role: master, ip: ${NET}.11 }
  - { name: master2, role: master, ip: ${NET}.12 }
  - { name: master3, role: master, ip: ${NET}.13 }
  - { name: worker1, role: node,   ip: ${NET}.21 }
`;
}

let secretsPromise: Promise<Secrets> | undefined;
const secrets = () => (secretsPromise ??= generateSecrets({ cluster: 'edge', generateRootPassword: false }));
const fileOf = (plan: NodePlan, path: string) => {
  const f = plan.files.find((x) => x.path === path);
  assert.ok(f, `${path} not in the plan of ${plan.hostname}: ${plan.files.map((x) => x.path).join(', ')}`);
  return f.content;
};
const envOf = (plan: NodePlan, path: string, key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(fileOf(plan, path))?.[1]?.replace(/^"|"$/g, '');

describe('config', () => {
  test('the endpoint defaults to api.<cluster>.internal:6443; lb nodes, a virtual IP, an address or another port are refused', () => {
    const c = loadCluster(localYaml('haproxy'), 'edge.yaml').cluster;
    assert.deepEqual(c.controlPlaneEndpoint, { host: 'api.edge.internal', port: 6443 });
    assert.deepEqual(c.loadBalancer, { kind: 'haproxy', mode: 'local', port: 6443 });
    assert.deepEqual(loadCluster(localYaml('nginx').replace('name: edge,', 'name: edge, controlPlaneEndpoint: k8s.example.internal:6443,'), 'x.yaml').cluster.controlPlaneEndpoint, { host: 'k8s.example.internal', port: 6443 });
    assert.deepEqual(configProblems(localYaml('haproxy').replace('name: edge,', 'name: edge, controlPlaneEndpoint: 127.42.4.11:6443,')), [
      'cluster.controlPlaneEndpoint: "127.42.4.11:6443" is an address; with loadBalancer.kind: local it must be a name that each node resolves itself (workers to 127.0.0.1, masters to themselves), like api.edge.internal:6443, or leave it out for that default',
    ]);
    assert.deepEqual(configProblems(localYaml('haproxy').replace('name: edge,', 'name: edge, controlPlaneEndpoint: api.edge.internal:8443,')), [
      'cluster.controlPlaneEndpoint: port 8443 with loadBalancer.kind: local: the name reaches the masters\' API servers (or the local proxy) on 6443; use api.edge.internal:6443',
    ]);
    const withLb = `${localYaml('haproxy')}  - { name: lb1, role: lb, ip: ${NET}.30 }\n`;
    assert.deepEqual(configProblems(withLb), [
      'nodes[4].role: "lb" (lb1) with loadBalancer.kind: local, where every worker runs its own proxy; remove the lb node, or set loadBalancer.kind to nginx or haproxy to proxy through it',
    ]);
    assert.deepEqual(configProblems(localYaml('haproxy').replace('proxy: haproxy }', 'proxy: haproxy, virtualIP: 127.42.4.100, port: 7443 }')), [
      'loadBalancer.virtualIP: "127.42.4.100" with loadBalancer.kind: local: no keepalived runs without lb nodes; remove it, or use lb nodes (kind nginx or haproxy)',
      'loadBalancer.port: 7443 with loadBalancer.kind: local: the name resolves to the masters themselves, whose API servers listen on 6443, so the local proxies listen there too; remove loadBalancer.port',
    ]);
    // A node's FQDN (<name>.<network.searchDomain>, what every /etc/hosts lists) is refused like its short
    // name: workers would resolve it to that master, past their proxy.
    const domain = (y: string) => y.replace('interface: eth0 }', 'interface: eth0, searchDomain: edge.internal }');
    assert.deepEqual(configProblems(domain(localYaml('haproxy')).replace('name: edge,', 'name: edge, controlPlaneEndpoint: master2.edge.internal:6443,')), [
      "cluster.controlPlaneEndpoint: \"master2.edge.internal:6443\" is master2's FQDN (master2.edge.internal, network.searchDomain), which every node's /etc/hosts maps to 127.42.4.12: workers would reach master2 directly, past their local proxy; with loadBalancer.kind: local the endpoint needs a name of its own, like api.edge.internal",
    ]);
    assert.deepEqual(configProblems(domain(localYaml('haproxy')).replace('name: master1,', 'name: api,')), [
      "network.searchDomain: \"edge.internal\" makes nodes[0] (api) api.edge.internal, the name loadBalancer.kind: local gives the endpoint; every node's /etc/hosts would send it to api instead of the local proxy; set cluster.controlPlaneEndpoint to a name of its own, or rename the node",
    ]);
    assert.deepEqual(loadCluster(domain(localYaml('haproxy')), 'edge.yaml').cluster.controlPlaneEndpoint, { host: 'api.edge.internal', port: 6443 });
    // validate names the line of the field.
    const file = join(dir, 'fqdn.yaml');
    writeFileSync(file, domain(localYaml('haproxy')).replace('name: edge,', 'name: edge, controlPlaneEndpoint: MASTER2.edge.internal:6443,'));
    const v = spawnSync(process.execPath, [new URL('../../src/cli.js', import.meta.url).pathname, 'validate', '-c', file], { encoding: 'utf8' });
    assert.notEqual(v.status, 0);
    assert.match(v.stderr, /^error: cluster\.controlPlaneEndpoint: "MASTER2\.edge\.internal:6443" is master2's FQDN .* \(line 1\)$/m);
    assert.deepEqual(configProblems(localYaml('haproxy').replace('kind: local, ', 'kind: nginx, ')), [
      'loadBalancer.proxy: "haproxy" is only for loadBalancer.kind: local; on lb nodes loadBalancer.kind itself names the proxy (nginx or haproxy)',
      'cluster.controlPlaneEndpoint: missing: with 3 masters, set it to a load balancer, virtual IP or DNS name (host:6443), or add one node with role lb',
    ]);
  });
});

describe('examples/ha-local.yaml', () => {
  test('loads without a warning, and with its kernel-lt lines uncommented too', () => {
    const text = readFileSync(new URL('../../../examples/ha-local.yaml', import.meta.url), 'utf8');
    const plain = loadCluster(text, 'ha-local.yaml');
    assert.deepEqual(plain.warnings, []);
    assert.equal(plain.cluster.loadBalancer.mode, 'local');
    assert.equal(plain.cluster.nodes.filter((n) => n.role === 'lb').length, 0);
    const uncommented = text.replace('  # elrepo: ', '  elrepo: ').replace('  # kernel: lt', '  kernel: lt').replace('  # kernelVersion: ', '  kernelVersion: ');
    assert.notEqual(uncommented, text);
    const lt = loadCluster(uncommented.replace('kubernetesVersion: 1.17.4', 'kubernetesVersion: 1.34.1').replace('runtime: { kind: docker }', 'runtime: { kind: containerd }'), 'ha-local.yaml').cluster;
    assert.deepEqual(lt.os.kernel, { kind: 'lt', version: '5.4.278-1.el7.elrepo' });
  });
});

describe('the plan', () => {
  test('hosts, proxy, units, waits and kubeadm configs carry the name; nothing differs after the join', async () => {
    const cluster = loadCluster(localYaml('haproxy'), 'edge.yaml').cluster;
    const s = await secrets();
    const plans = Object.fromEntries(['master1', 'master2', 'master3', 'worker1'].map((n) => [n, planNode(cluster, s, n)]));
    const endpointLines = (p: NodePlan) => fileOf(p, '/etc/hosts').split('\n').filter((l) => l.endsWith(' api.edge.internal'));
    assert.deepEqual(endpointLines(plans.worker1!), ['127.0.0.1 api.edge.internal']);
    assert.deepEqual(endpointLines(plans.master2!), [`${NET}.12 api.edge.internal`, `${NET}.11 api.edge.internal`, `${NET}.13 api.edge.internal`]);
    assert.deepEqual(endpointLines(plans.master1!), [`${NET}.11 api.edge.internal`, `${NET}.12 api.edge.internal`, `${NET}.13 api.edge.internal`]);

    // Only the worker runs the proxy, on loopback, ordered before first boot.
    const cfg = fileOf(plans.worker1!, '/etc/haproxy/haproxy.cfg');
    assert.match(cfg, /^ {4}bind 127\.0\.0\.1:6443$/m);
    for (const [i, m] of [11, 12, 13].entries()) assert.ok(cfg.includes(`    server master${i + 1} ${NET}.${m}:6443 check check-ssl verify none\n`), cfg);
    assert.match(fileOf(plans.worker1!, '/etc/systemd/system/haproxy.service.d/k8s-image-local-endpoint.conf'), /^\[Unit\]\nBefore=k8s-image-firstboot\.service$/m);
    assert.ok(!plans.master1!.files.some((f) => f.path.includes('haproxy')), 'masters run no proxy');
    const install = '/etc/k8s-image/install.env';
    assert.match(envOf(plans.worker1!, install, 'PACKAGES')!, / haproxy$/);
    assert.match(envOf(plans.worker1!, install, 'ENABLE_SERVICES')!, / haproxy$/);
    assert.equal(envOf(plans.worker1!, install, 'START_SERVICES'), 'chronyd haproxy');

    // First boot: the worker waits for its own proxy; the init master waits for no proxy.
    const fb = '/etc/k8s-image/firstboot.env';
    assert.equal(envOf(plans.worker1!, fb, 'WAIT_FOR'), 'https://127.0.0.1:6443/healthz');
    assert.equal(envOf(plans.master1!, fb, 'WAIT_TCP'), '');
    assert.equal(envOf(plans.master1!, fb, 'CONFIRM_URLS'), '');
    assert.equal(envOf(plans.master2!, fb, 'WAIT_FOR'), `https://${NET}.11:6443/healthz`);
    for (const p of Object.values(plans)) assert.equal(envOf(p, fb, 'ENDPOINT'), 'api.edge.internal:6443');

    // kubeadm: the name is the endpoint of init (so kubelet.conf, admin.conf and kube-proxy's kubeconfig
    // carry it) and of every join; kubeadm's own reference data accepts every document.
    const init = yaml.loadAll(fileOf(plans.master1!, '/etc/k8s-image/kubeadm.yaml')) as any[];
    const cc = init.find((d) => d.kind === 'ClusterConfiguration');
    assert.equal(cc.controlPlaneEndpoint, 'api.edge.internal:6443');
    assert.deepEqual(cc.apiServer.certSANs, ['api.edge.internal', `${NET}.11`, 'master1', `${NET}.12`, 'master2', `${NET}.13`, 'master3', '127.0.0.1']);
    assert.deepEqual(kubeadmConfigProblems(fileOf(plans.master1!, '/etc/k8s-image/kubeadm.yaml'), cluster.kubernetesVersion), []);
    for (const n of ['master2', 'worker1']) {
      const text = fileOf(plans[n]!, '/etc/k8s-image/kubeadm.yaml');
      assert.deepEqual(kubeadmConfigProblems(text, cluster.kubernetesVersion), [], n);
      assert.equal((yaml.load(text) as any).discovery.bootstrapToken.apiServerEndpoint, 'api.edge.internal:6443', n);
    }
  });

  test('systemd-analyze verify: the proxy unit with the drop-in that orders it before first boot', async () => {
    // The host's (Debian's) proxy units stand in for CentOS 7's; the drop-in and first boot are the plan's.
    for (const kind of ['haproxy', 'nginx'] as const) {
      const worker = planNode(loadCluster(localYaml(kind), 'edge.yaml').cluster, await secrets(), 'worker1');
      const root = join(dir, `units-${kind}`);
      cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
      for (const f of worker.files) {
        mkdirSync(join(root, dirname(f.path)), { recursive: true });
        writeFileSync(join(root, f.path), f.content, { mode: f.mode });
      }
      const bin = requireTool(kind, kind);
      mkdirSync(join(root, dirname(bin)), { recursive: true });
      cpSync(bin, join(root, bin));
      const r = spawnSync(requireTool('systemd-analyze', 'systemd'), ['verify', `--root=${root}`, '--man=no', join(root, 'usr/lib/systemd/system', `${kind}.service`), join(root, 'etc/systemd/system/k8s-image-firstboot.service')], {
        encoding: 'utf8',
        env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' },
      });
      const out = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !/container|PID 1|PR_SET_MM/.test(l)).join('\n');
      assert.equal(out, '', out);
      assert.equal(r.status, 0);
      const deps = spawnSync(requireTool('systemd-analyze', 'systemd'), ['--root', root, 'cat-config', `systemd/system/${kind}.service.d/k8s-image-local-endpoint.conf`], { encoding: 'utf8' });
      assert.match(`${deps.stdout}`, /^Before=k8s-image-firstboot\.service$/m, deps.stderr);
    }
  });

  test('nginx as the local proxy: EPEL enabled on the worker only, `nginx -t` accepts the stream block unchanged', async () => {
    const nginx = requireTool('nginx', 'nginx');
    requireFile('/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream');
    const cluster = loadCluster(localYaml('nginx'), 'edge.yaml').cluster;
    const s = await secrets();
    const worker = planNode(cluster, s, 'worker1');
    const master = planNode(cluster, s, 'master1');
    assert.match(fileOf(worker, '/etc/yum.repos.d/epel.repo'), /^enabled=1$/m);
    assert.match(fileOf(master, '/etc/yum.repos.d/epel.repo'), /^enabled=0$/m);
    assert.match(envOf(worker, '/etc/k8s-image/install.env', 'PACKAGES')!, / nginx nginx-mod-stream$/);
    assert.ok(worker.files.some((f) => f.path === '/etc/systemd/system/nginx.service.d/k8s-image-local-endpoint.conf'));
    const conf = fileOf(worker, '/etc/nginx/nginx.conf');
    assert.match(conf, /^ {8}listen 127\.0\.0\.1:6443;$/m);
    const path = join(dir, 'nginx-t.conf');
    writeFileSync(path, nginxForDebian(conf, dir));
    const r = run(nginx, ['-t', '-c', path]);
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /\[warn\]/, r.output);
  });

  test('the certificate kubeadm is asked for: every SAN passes kubeadm\'s ValidateCertSANs, and openssl accepts the name and 127.0.0.1', async () => {
    const ref = JSON.parse(readFileSync(new URL('../../../test/reference/kubeadm-endpoint.json', import.meta.url), 'utf8'));
    const dns1123 = new RegExp(ref.certSANs.dns1123Subdomain.regex);
    const cluster = loadCluster(localYaml('haproxy'), 'edge.yaml').cluster;
    const s = await secrets();
    const cc = (yaml.loadAll(fileOf(planNode(cluster, s, 'master1'), '/etc/k8s-image/kubeadm.yaml')) as any[]).find((d) => d.kind === 'ClusterConfiguration');
    const sans: string[] = cc.apiServer.certSANs;
    for (const san of sans) {
      const ok = (san.length <= ref.certSANs.dns1123Subdomain.maxLength && dns1123.test(san)) || /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(san);
      assert.ok(ok, `kubeadm would refuse certSAN ${san}: ${ref.certSANs.message}`);
    }
    // A serving certificate with exactly these SANs, signed by the cluster CA: what workers check.
    writeFileSync(join(dir, 'ca.crt'), s.ca.cert);
    writeFileSync(join(dir, 'ca.key'), s.ca.key);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${sans.map((x) => (/^[0-9.]+$/.test(x) ? `IP:${x}` : `DNS:${x}`)).join(',')}\nextendedKeyUsage=serverAuth\n`);
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
    ssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=kube-apiserver']);
    ssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1', '-extfile', 'ext.cnf']);
    assert.match(ssl(['verify', '-CAfile', 'ca.crt', '-verify_hostname', 'api.edge.internal', 'srv.crt']), /srv\.crt: OK/);
    assert.match(ssl(['verify', '-CAfile', 'ca.crt', '-verify_ip', '127.0.0.1', 'srv.crt']), /srv\.crt: OK/);
    assert.throws(() => ssl(['verify', '-CAfile', 'ca.crt', '-verify_hostname', 'api.other.internal', 'srv.crt']), /hostname mismatch/);
  });
});

// --- the proxy for real -----------------------------------------------------------------------------

async function waitUntilForwarding(port: number, daemon: Daemon): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await whoAnswers(port);
      return;
    } catch (e) {
      if (daemon.child.exitCode !== null) throw new Error(`the proxy exited (${daemon.child.exitCode}):\n${daemon.output()}`);
      if (Date.now() > deadline) throw new Error(`the proxy never forwarded on 127.0.0.1:${port}: ${String(e)}\n${daemon.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Four clients send requests back to back through the proxy for `ms`; master2 is killed a third of the
 * way in. Requests that were already in flight on master2 may fail with it; every request started after
 * the kill must succeed, answered by master1 or master3.
 */
async function trafficThroughLoss(port: number, masters: FakeMaster[], ms: number): Promise<{ before: Map<string, number>; after: Map<string, number>; failedAfter: string[] }> {
  const start = Date.now();
  let killedAt = Infinity;
  const before = new Map<string, number>();
  const afterKill = new Map<string, number>();
  const failedAfter: string[] = [];
  const client = async () => {
    while (Date.now() - start < ms) {
      const t0 = Date.now();
      try {
        const who = await whoAnswers(port);
        const m = t0 > killedAt ? afterKill : before;
        m.set(who, (m.get(who) ?? 0) + 1);
      } catch (e) {
        if (t0 > killedAt) failedAfter.push(String(e));
      }
    }
  };
  const killer = (async () => {
    await new Promise((r) => setTimeout(r, ms / 3));
    await stopMaster(masters[1]!);
    killedAt = Date.now();
  })();
  await Promise.all([client(), client(), client(), client(), killer]);
  return { before, after: afterKill, failedAfter };
}

/** The worker's proxy as its plan holds it, but on a free port (127.0.0.1:6443 may be taken on a test host). */
function onPort(text: string, from: RegExp, to: string): string {
  const lines = text.split('\n');
  assert.equal(lines.filter((l) => from.test(l)).length, 1, `one listen line in:\n${text}`);
  return lines.map((l) => (from.test(l) ? to : l)).join('\n');
}

describe('the local proxy on loopback, in front of three masters', () => {
  const masters: FakeMaster[] = [1, 2, 3].map((i) => ({ name: `master${i}`, ip: `${NET}.1${i}` }));

  for (const kind of ['haproxy', 'nginx'] as const) {
    test(`${kind}: traffic keeps flowing while a master dies`, async (t) => {
      const bin = requireTool(kind, kind);
      if (kind === 'nginx') requireFile('/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream');
      const cluster: Cluster = loadCluster(localYaml(kind), 'edge.yaml').cluster;
      const worker = planNode(cluster, await secrets(), 'worker1');
      const port = await freePort();
      let daemon: Daemon | undefined;
      t.after(async () => {
        await daemon?.stop();
        for (const m of masters) await stopMaster(m);
      });
      for (const m of masters) await startMaster(m, 20);
      if (kind === 'haproxy') {
        const cfg = onPort(haproxyForSandbox(fileOf(worker, '/etc/haproxy/haproxy.cfg')), /^ {4}bind 127\.0\.0\.1:6443$/, `    bind 127.0.0.1:${port}`);
        const path = join(dir, 'local-haproxy.cfg');
        writeFileSync(path, cfg);
        const check = run(bin, ['-c', '-f', path]);
        assert.equal(check.status, 0, check.output);
        daemon = startDaemon(bin, ['-db', '-f', path]);
      } else {
        const original = fileOf(worker, '/etc/nginx/nginx.conf');
        const conf = onPort(nginxForDebian(original, dir), /^ {8}listen 127\.0\.0\.1:6443;$/, `        listen 127.0.0.1:${port};`);
        assert.equal(streamBlock(conf).replace(`127.0.0.1:${port};`, '127.0.0.1:6443;'), streamBlock(original), 'only the port differs');
        const path = join(dir, 'local-nginx.conf');
        writeFileSync(path, conf);
        const check = run(bin, ['-t', '-c', path]);
        assert.equal(check.status, 0, check.output);
        daemon = startDaemon(bin, ['-c', path, '-p', dir, '-g', 'daemon off;']);
      }
      await waitUntilForwarding(port, daemon);
      const r = await trafficThroughLoss(port, masters, 3000);
      assert.deepEqual([...r.before.keys()].sort(), ['master1', 'master2', 'master3'], `not spread before the loss: ${JSON.stringify([...r.before])}`);
      assert.deepEqual(r.failedAfter, [], 'a request started after master2 died failed');
      assert.deepEqual([...r.after.keys()].sort(), ['master1', 'master3'], JSON.stringify([...r.after]));
      assert.ok([...r.after.values()].reduce((a, b) => a + b, 0) >= 20, `too little traffic after the loss: ${JSON.stringify([...r.after])}`);
      // Only loopback: the proxy does not listen on the node's address.
      assert.throws(() => execFileSync('bash', ['-c', `exec 3<>/dev/tcp/${NET}.21/${port}`], { stdio: 'pipe' }));
    });
  }
});
