// The lb role's rendered configs, checked by the real servers (Debian's nginx + libnginx-mod-stream,
// haproxy, keepalived), and the lb node's plan checked for secrets.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { haClusterYaml, loadCluster } from '../../src/config/index.js';
import { planNode } from '../../src/plan/index.js';
import { haproxyCfg, keepalivedConf, lbFiles, lbFirewallProtocols, lbPackages, lbServices, nginxConf, virtualRouterId } from '../../src/plan/lb.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { haproxyForSandbox, lbCluster, nginxForDebian, requireFile, requireTool, run, streamBlock, tempDir } from './_lb.js';

const { dir, cleanup } = tempDir('lb-config');
after(cleanup);

describe('nginx stream config', () => {
  test('the HA example renders a stream proxy to all three masters that `nginx -t` accepts', () => {
    const nginx = requireTool('nginx', 'nginx');
    requireFile('/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream');
    const cluster = loadCluster(haClusterYaml(), 'ha.yaml').cluster;
    const conf = nginxConf(cluster);
    for (const ip of ['10.0.11.18', '10.0.12.55', '10.0.13.22']) assert.match(conf, new RegExp(`server ${ip.replace(/\./g, '\\.')}:6443 max_fails=2 fail_timeout=10s;`));
    assert.match(conf, /^ {8}listen 6443;$/m);
    // CentOS 7 (EPEL) specifics the test adapts: prove they are what the node gets.
    assert.match(conf, /^user nginx;$/m);
    assert.match(conf, /^include \/usr\/share\/nginx\/modules\/\*\.conf;$/m);
    assert.match(conf, /^pid \/run\/nginx\.pid;$/m);
    const adapted = nginxForDebian(conf, dir);
    assert.equal(streamBlock(adapted), streamBlock(conf));
    const path = join(dir, 'nginx.conf');
    writeFileSync(path, adapted);
    const r = run(nginx, ['-t', '-c', path]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /test is successful/);
    assert.doesNotMatch(r.output, /\[warn\]/, r.output);
  });

  test('loadBalancer.port sets the listen port; masters stay on 6443', () => {
    const conf = nginxConf(lbCluster({ kind: 'nginx', port: 16443 }));
    assert.match(conf, /^ {8}listen 16443;$/m);
    assert.equal((conf.match(/:6443 /g) ?? []).length, 3);
  });
});

describe('haproxy config', () => {
  test('the HA example with kind haproxy passes `haproxy -c` unchanged', () => {
    const haproxy = requireTool('haproxy', 'haproxy');
    const cfg = haproxyCfg(lbCluster({ kind: 'haproxy' }));
    assert.match(cfg, /^ {4}option httpchk GET \/healthz$/m);
    for (const [i, ip] of ['10.0.11.18', '10.0.12.55', '10.0.13.22'].entries()) {
      assert.ok(cfg.includes(`    server master${i + 1} ${ip}:6443 check check-ssl verify none\n`), cfg);
    }
    const path = join(dir, 'haproxy.cfg');
    writeFileSync(path, cfg);
    const r = run(haproxy, ['-c', '-f', path]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Configuration file is valid/);
    assert.doesNotMatch(r.output, /WARNING|ALERT/, r.output);
    // The sandbox variant the proxy test runs differs only in the log line.
    const sandbox = haproxyForSandbox(cfg);
    assert.deepEqual(
      cfg.split('\n').filter((l, i) => l !== sandbox.split('\n')[i]),
      ['    log /dev/log local0'],
    );
  });

  test('uses only haproxy 1.5 syntax (CentOS 7 base ships 1.5.18)', () => {
    const cfg = haproxyCfg(lbCluster({ kind: 'haproxy' }));
    // Added after 1.5: tcp-check connect/send rules (1.6 for most), http-check send (2.2),
    // check-sni (1.8), `log stdout` (1.9), `timeout tunnel` is 1.5 but unused; guard the common slips.
    for (const newer of [/http-check send/, /check-sni/, /\bhealth-check\b/, /log stdout/, /\binit-addr\b/, /\bresolvers\b/]) assert.doesNotMatch(cfg, newer);
  });
});

describe('keepalived', () => {
  const cluster = lbCluster({ kind: 'nginx', virtualIP: '10.0.1.150', secondLb: true });
  const lb1 = cluster.nodes.find((n) => n.name === 'lb')!;
  const lb2 = cluster.nodes.find((n) => n.name === 'lb2')!;

  test('two lb nodes and a virtual IP: each gets a config `keepalived -t` accepts, priority by order', () => {
    const keepalived = requireTool('keepalived', 'keepalived');
    const [c1, c2] = [keepalivedConf(cluster, lb1), keepalivedConf(cluster, lb2)];
    assert.match(c1, /^ {4}priority 150$/m);
    assert.match(c2, /^ {4}priority 140$/m);
    assert.match(c1, /unicast_src_ip 10\.0\.1\.157\n {4}unicast_peer {\n {8}10\.0\.1\.158\n/);
    assert.match(c2, /unicast_src_ip 10\.0\.1\.158\n {4}unicast_peer {\n {8}10\.0\.1\.157\n/);
    for (const c of [c1, c2]) {
      assert.match(c, /^ {8}10\.0\.1\.150\/16 dev eth0$/m);
      assert.match(c, /^ {4}virtual_router_id 150$/m);
      assert.match(c, /script "\/usr\/bin\/pgrep -x nginx"/);
      const path = join(dir, 'keepalived.conf');
      writeFileSync(path, c);
      // -l: log to the console, so a parse problem shows up in the output as well as the status.
      const r = run(keepalived, ['-t', '-l', '-f', path]);
      assert.equal(r.status, 0, r.output);
      assert.doesNotMatch(r.output, /Unknown keyword|invalid|not valid|WARNING/i, r.output);
    }
  });

  test('a single lb node with a virtual IP: no unicast block, `keepalived -t` accepts it', () => {
    const keepalived = requireTool('keepalived', 'keepalived');
    const one = lbCluster({ kind: 'nginx', virtualIP: '10.0.1.150' });
    const c = keepalivedConf(one, one.nodes.find((n) => n.role === 'lb')!);
    assert.doesNotMatch(c, /unicast/);
    assert.match(c, /^ {4}priority 150$/m);
    const path = join(dir, 'keepalived-single.conf');
    writeFileSync(path, c);
    const r = run(keepalived, ['-t', '-l', '-f', path]);
    assert.equal(r.status, 0, r.output);
  });

  test('the haproxy variant checks the haproxy process', () => {
    const c = keepalivedConf(lbCluster({ kind: 'haproxy', virtualIP: '10.0.1.150', secondLb: true }), lb1);
    assert.match(c, /script "\/usr\/bin\/pgrep -x haproxy"/);
  });

  test('lbFiles, lbPackages, lbServices and lbFirewallProtocols add keepalived/VRRP only with a virtual IP', () => {
    assert.deepEqual(
      lbFiles(cluster, lb2).map((f) => f.path),
      ['/etc/nginx/nginx.conf', '/etc/keepalived/keepalived.conf'],
    );
    assert.deepEqual(lbPackages(cluster), ['nginx', 'nginx-mod-stream', 'keepalived']);
    assert.deepEqual(lbServices(cluster), ['nginx', 'keepalived']);
    const plain = lbCluster({ kind: 'haproxy' });
    const lb = plain.nodes.find((n) => n.role === 'lb')!;
    assert.deepEqual(
      lbFiles(plain, lb).map((f) => f.path),
      ['/etc/haproxy/haproxy.cfg'],
    );
    assert.deepEqual(lbPackages(plain), ['haproxy']);
    assert.deepEqual(lbServices(plain), ['haproxy']);
    assert.deepEqual(lbFirewallProtocols(cluster), ['vrrp']);
    assert.deepEqual(lbFirewallProtocols(plain), []);
  });

  test('virtual router id is the virtual IP\'s last octet', () => {
    assert.equal(virtualRouterId('10.0.1.150'), 150);
    assert.equal(virtualRouterId('10.0.2.0'), 1);
  });
});

describe('the lb node carries no secrets', () => {
  let secrets: Secrets;
  before(async () => {
    // RSA keygen is slow: once for this file.
    secrets = await generateSecrets({ cluster: 'k8s-ha', generateRootPassword: false });
  });

  for (const variant of [
    { name: 'nginx', cluster: () => lbCluster({ kind: 'nginx' }) },
    { name: 'haproxy', cluster: () => lbCluster({ kind: 'haproxy' }) },
    { name: 'nginx with keepalived', cluster: () => lbCluster({ kind: 'nginx', virtualIP: '10.0.1.150', secondLb: true }) },
  ]) {
    test(`${variant.name}: planNode(cluster, secrets, 'lb') has no private key, token or certificate key`, () => {
      const cluster = variant.cluster();
      const plan = planNode(cluster, secrets, 'lb');
      const text = JSON.stringify(plan);
      assert.doesNotMatch(text, /PRIVATE KEY/);
      assert.ok(!text.includes(secrets.bootstrapToken), 'bootstrap token in the lb plan');
      assert.ok(!text.includes(secrets.bootstrapToken.split('.')[1]!), 'bootstrap token secret in the lb plan');
      assert.ok(!text.includes(secrets.certificateKey), 'certificate key in the lb plan');
      assert.equal(plan.bootstrap, 'none');
      assert.ok(plan.files.every((f) => !f.secret), 'an lb file is marked secret');
      // And the proxy config it carries is the one checked above.
      const proxyPath = cluster.loadBalancer.kind === 'nginx' ? '/etc/nginx/nginx.conf' : '/etc/haproxy/haproxy.cfg';
      const proxyFile = plan.files.find((f) => f.path === proxyPath);
      assert.ok(proxyFile, `${proxyPath} missing from the lb plan`);
      // Nothing of the keepalived files (whether or not planNode includes them yet) is secret either.
      const lb = cluster.nodes.find((n) => n.name === 'lb')!;
      assert.doesNotMatch(JSON.stringify(lbFiles(cluster, lb)), /PRIVATE KEY/);
    });
  }
});
