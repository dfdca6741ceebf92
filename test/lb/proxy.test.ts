// The rendered lb configs, run for real on loopback in front of three HTTPS listeners standing in
// for the masters' kube-apiservers (127.42.x.11-13:6443, each answering /healthz and its own name).
// Shows connections are spread across all three and keep working when one master goes away.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { haproxyCfg, nginxConf } from '../../src/plan/lb.js';
import { freePort, haproxyForSandbox, lbCluster, nginxForDebian, requireFile, requireTool, startDaemon, startMaster, stopMaster, tempDir, whoAnswers, type Daemon, type FakeMaster } from './_lb.js';

const { dir, cleanup } = tempDir('lb-proxy');
after(cleanup);

async function countAnswers(port: number, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await whoAnswers(port);
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  return seen;
}

/** Retry until the proxy accepts and forwards (bounded): it has just been started. */
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
 * A master that went silent (powered off, cable pulled, a firewall dropping): its address takes no
 * connection and refuses none. A listening socket whose accept queue (backlog 0) is full and never
 * accepted: Linux then drops every SYN to it (tcp_conn_request: sk_acceptq_is_full), so a client's
 * connect neither completes nor fails until its own timeout. Python holds it; closing stdin ends it.
 */
async function silentMaster(m: FakeMaster): Promise<ChildProcess> {
  const script = [
    'import socket, sys',
    's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(("${m.ip}", 6443)); s.listen(0)`,
    `c = socket.create_connection(("${m.ip}", 6443))`,
    'sys.stdout.write("ready\\n"); sys.stdout.flush()',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'], cwd: '/' });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the silent master exited (${code})`)));
  });
  // It is silent: a connect neither completes nor is refused within a second.
  const outcome = await new Promise<string>((resolve) => {
    const s = connect(6443, m.ip);
    const timer = setTimeout(() => { s.destroy(); resolve('silent'); }, 1000);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected'); });
    s.once('error', (e) => { clearTimeout(timer); resolve(String(e)); });
  });
  assert.equal(outcome, 'silent', `${m.ip}:6443 is not silent`);
  return child;
}

/** New connections after a master went silent: each answered (not by it), the slowest within `boundMs`. */
async function answersDespiteSilence(port: number, n: number, boundMs: number): Promise<number[]> {
  const took: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const who = await whoAnswers(port);
    took.push(Date.now() - t0);
    assert.notEqual(who, 'master2');
  }
  assert.ok(Math.max(...took) < boundMs, `a new connection waited ${Math.max(...took)} ms (bound ${boundMs} ms): ${took.join(' ')}`);
  return took;
}

function fakeMasters(net: string): FakeMaster[] {
  return [1, 2, 3].map((i) => ({ name: `master${i}`, ip: `${net}.1${i}`, healthz: 0 }));
}

describe('nginx stream proxy on loopback', () => {
  test('spreads connections over three masters and survives one going away', async (t) => {
    const nginx = requireTool('nginx', 'nginx');
    requireFile('/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream');
    const masters = fakeMasters('127.42.1');
    const port = await freePort();
    const cluster = lbCluster({ kind: 'nginx', port, masters: masters.map((m) => m.ip) as [string, string, string] });
    const conf = nginxConf(cluster);
    for (const m of masters) assert.ok(conf.includes(`server ${m.ip}:6443 `), conf);
    const path = join(dir, 'nginx.conf');
    writeFileSync(path, nginxForDebian(conf, dir));

    let daemon: Daemon | undefined;
    t.after(async () => {
      await daemon?.stop();
      for (const m of masters) await stopMaster(m);
    });
    for (const m of masters) await startMaster(m);
    daemon = startDaemon(nginx, ['-c', path, '-p', dir, '-g', 'daemon off;']);
    await waitUntilForwarding(port, daemon);

    const before = await countAnswers(port, 12);
    assert.deepEqual([...before.keys()].sort(), ['master1', 'master2', 'master3'], `not spread: ${JSON.stringify([...before])}`);

    await stopMaster(masters[1]!);
    // Every connection still succeeds: a refused connect moves on to the next master
    // (proxy_next_upstream) and after max_fails the dead one is skipped for fail_timeout.
    const afterLoss = await countAnswers(port, 12);
    assert.deepEqual([...afterLoss.keys()].sort(), ['master1', 'master3'], `after master2 went away: ${JSON.stringify([...afterLoss])}`);
    const refused = readFileSync(join(dir, 'error.log'), 'utf8')
      .split('\n')
      .filter((l) => /connect\(\) failed \(111: Connection refused\) while connecting to upstream.*127\.42\.1\.12:6443/.test(l));
    // Passive check at work: after max_fails=2 refusals the dead master is skipped for
    // fail_timeout=10s by every worker (the upstream zone shares that state), so the 12
    // sequential connections meet it at most twice.
    assert.ok(refused.length >= 1 && refused.length <= 2, `nginx tried the dead master ${refused.length} times:\n${refused.join('\n')}`);
  });
});

describe('haproxy on loopback', () => {
  test('spreads connections, health checks take a dead master out and bring it back', async (t) => {
    const haproxy = requireTool('haproxy', 'haproxy');
    const masters = fakeMasters('127.42.2');
    const port = await freePort();
    const cluster = lbCluster({ kind: 'haproxy', port, masters: masters.map((m) => m.ip) as [string, string, string] });
    const path = join(dir, 'haproxy.cfg');
    writeFileSync(path, haproxyForSandbox(haproxyCfg(cluster)));

    let daemon: Daemon | undefined;
    t.after(async () => {
      await daemon?.stop();
      for (const m of masters) await stopMaster(m);
    });
    for (const m of masters) await startMaster(m);
    // -db: foreground, no daemon; warnings (server state changes) go to stderr.
    daemon = startDaemon(haproxy, ['-db', '-f', path]);
    await waitUntilForwarding(port, daemon);

    const spread = await countAnswers(port, 12);
    assert.deepEqual([...spread.keys()].sort(), ['master1', 'master2', 'master3'], `not spread: ${JSON.stringify([...spread])}`);

    // The active check is GET /healthz over TLS.
    const checks = async () => masters.every((m) => (m.healthz ?? 0) > 0);
    const checkDeadline = Date.now() + 10_000;
    while (!(await checks()) && Date.now() < checkDeadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(await checks(), `not every master got a /healthz check: ${masters.map((m) => `${m.name}=${m.healthz}`).join(' ')}`);

    await stopMaster(masters[1]!);
    // Before the checks notice, retries + redispatch already keep clients away from the failure.
    const meanwhile = await countAnswers(port, 6);
    assert.ok(!meanwhile.has('master2'), JSON.stringify([...meanwhile]));
    // fall 2 x inter 3s: the checks mark it DOWN within a few seconds.
    await daemon.waitForOutput(/Server kube_apiserver\/master2 is DOWN/, 20_000);
    const down = await countAnswers(port, 12);
    assert.deepEqual([...down.entries()].sort(), [['master1', 6], ['master3', 6]], `after master2 went DOWN: ${JSON.stringify([...down])}`);

    // rise 2: it comes back by itself once it answers /healthz again.
    await startMaster(masters[1]!);
    await daemon.waitForOutput(/Server kube_apiserver\/master2 is UP/, 20_000);
    const back = await countAnswers(port, 12);
    assert.deepEqual([...back.keys()].sort(), ['master1', 'master2', 'master3'], `after master2 came back: ${JSON.stringify([...back])}`);
  });
});

describe('a master that goes silent (SYNs dropped, nothing refused)', () => {
  // haproxy: an attempt on the silent master waits the whole `timeout connect`, then retries.
  // CentOS 7's haproxy 1.5 redispatches only the last retry (1.5 src/session.c, sess_update_st_cer:
  // conn_retries == 0), so there a connection waits retries x timeout connect: 2 x 2s now, 3 x 5s
  // (15s) before. Debian's 2.6, the stand-in, redispatches already the first retry with roundrobin
  // (src/stream.c: !SF_DIRECT && srv_act > 1 && not a hash algorithm), so here a connection waits one
  // `timeout connect`: 2s now, 5s before (past the bound). The 1.5 wait is checked from the config.
  // nginx: `proxy_connect_timeout 2s`, then the next master (proxy_next_upstream): about 2s.
  const BOUND_MS = 3_500;
  test('haproxy 1.5: retries x timeout connect, what a silent master costs a new connection there, is at most 4s', () => {
    const cfg = haproxyCfg(lbCluster({ kind: 'haproxy', port: 6443, masters: ['127.42.5.11', '127.42.5.12', '127.42.5.13'] }));
    const retries = Number(/^ {4}retries (\d+)$/m.exec(cfg)?.[1]);
    const connect = Number(/^ {4}timeout connect (\d+)s$/m.exec(cfg)?.[1]);
    assert.match(cfg, /^ {4}option redispatch$/m);
    assert.ok(retries >= 1 && retries * connect <= 4, `retries ${retries} x timeout connect ${connect}s`);
  });
  for (const kind of ['haproxy', 'nginx'] as const) {
    test(`${kind}: every new connection is answered by another master within ${BOUND_MS / 1000}s`, async (t) => {
      const bin = requireTool(kind, kind);
      if (kind === 'nginx') requireFile('/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream');
      const masters = fakeMasters(kind === 'haproxy' ? '127.42.5' : '127.42.6');
      const port = await freePort();
      const cluster = lbCluster({ kind, port, masters: masters.map((m) => m.ip) as [string, string, string] });
      const path = join(dir, `silent-${kind}.conf`);
      writeFileSync(path, kind === 'haproxy' ? haproxyForSandbox(haproxyCfg(cluster)) : nginxForDebian(nginxConf(cluster), dir));
      let daemon: Daemon | undefined;
      let silent: ChildProcess | undefined;
      t.after(async () => {
        await daemon?.stop();
        silent?.stdin?.end();
        for (const m of masters) await stopMaster(m);
      });
      for (const m of masters) await startMaster(m);
      daemon = kind === 'haproxy' ? startDaemon(bin, ['-db', '-f', path]) : startDaemon(bin, ['-c', path, '-p', dir, '-g', 'daemon off;']);
      await waitUntilForwarding(port, daemon);
      await stopMaster(masters[1]!);
      silent = await silentMaster(masters[1]!);
      // Some of the first connections are handed to master2: they must not stall past the bound.
      const took = await answersDespiteSilence(port, 6, BOUND_MS);
      assert.ok(took.some((ms) => ms >= 1_500), `no connection met the silent master (${took.join(' ')} ms): the test proved nothing`);
    });
  }
});
