// Helpers for the lb tests: clusters on loopback, the minimal Debian adaptation of the CentOS 7
// configs, tool lookup, free ports, child processes. Not a test file itself.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { haClusterYaml, loadCluster, type Cluster } from '../../src/config/index.js';
import { tempDir as makeTemp } from '../helpers/tmp.js';

/**
 * The absolute path of `bin`, or a failure naming the Debian package to install (.ci/run installs
 * it; locally the test fails instead of silently skipping).
 */
export function requireTool(bin: string, debianPackage: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // try the next directory
    }
  }
  throw new Error(`${bin} not found: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`);
}

/** `path` must exist (a module, a data file), or fail naming the Debian package that ships it. */
export function requireFile(path: string, debianPackage: string): string {
  try {
    accessSync(path, constants.R_OK);
    return path;
  } catch {
    throw new Error(`${path} not found: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`);
  }
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = makeTemp(`k8s-image-${prefix}-`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LbClusterOptions {
  kind: 'nginx' | 'haproxy';
  /** Port the lb listens on (loadBalancer.port). */
  port?: number;
  /** The three masters' addresses (default: the seed-004 ones). */
  masters?: [string, string, string];
  /** With a virtual IP and a second lb node, keepalived is rendered. */
  virtualIP?: string;
  secondLb?: boolean;
}

/**
 * The HA example (examples/ha.yaml, what `init --ha` writes) with the few fields a test needs
 * changed. With loopback masters, every address moves into 127.0.0.0/8 so validation still holds.
 */
export function lbCluster(o: LbClusterOptions): Cluster {
  let y = haClusterYaml();
  const swap = (from: string, to: string) => {
    if (!y.includes(from)) throw new Error(`examples/ha.yaml changed: "${from}" not found`);
    y = y.split(from).join(to);
  };
  swap('kind: nginx ', `kind: ${o.kind} `);
  if (o.port !== undefined) swap('  kind: ', `  port: ${o.port}\n  kind: `);
  if (o.masters) {
    const [a, b, c] = o.masters;
    swap('10.0.11.18', a);
    swap('10.0.12.55', b);
    swap('10.0.13.22', c);
    swap('10.0.12.16', '127.0.0.21');
    swap('10.0.13.37', '127.0.0.22');
    swap('10.0.1.157', '127.0.0.1');
    swap('prefix: 16 ', 'prefix: 8 ');
    swap('gateway: 10.0.0.1', 'gateway: 127.0.0.254');
    swap('dns: [10.0.0.2]', 'dns: [127.0.0.253]');
  }
  if (o.virtualIP) {
    swap('# virtualIP: 10.0.1.150', `virtualIP: ${o.virtualIP}`);
    swap('controlPlaneEndpoint: 10.0.1.157:6443', `controlPlaneEndpoint: ${o.virtualIP}:6443`);
  }
  if (o.secondLb) y += '  - { name: lb2,     role: lb,     ip: 10.0.1.158, cpus: 1, memory: 1Gi }\n';
  return loadCluster(y, 'lb-test.yaml').cluster;
}

/** Replace exactly one occurrence of the line `from` (whole line), so a drifting config fails loudly. */
function replaceLine(text: string, from: RegExp, to: string): string {
  const lines = text.split('\n');
  const hits = lines.filter((l) => from.test(l)).length;
  if (hits !== 1) throw new Error(`expected exactly one line matching ${from} in the rendered config, found ${hits}`);
  return lines.map((l) => (from.test(l) ? to : l)).join('\n');
}

/** The `stream { ... }` block of an nginx config, verbatim (it is the last top-level block). */
export function streamBlock(conf: string): string {
  const i = conf.indexOf('\nstream {');
  if (i < 0) throw new Error('no stream block');
  return conf.slice(i + 1);
}

/**
 * The rendered CentOS 7 nginx.conf, adapted to run on Debian. Only the main-context lines that are
 * paths or accounts specific to EPEL's packaging change; the events and stream blocks are kept
 * byte for byte (the caller asserts that):
 * - `include /usr/share/nginx/modules/*.conf;` (EPEL's nginx-mod-stream drops mod-stream.conf there)
 *   becomes `load_module` of Debian's libnginx-mod-stream .so;
 * - `user nginx;` is dropped: Debian has no `nginx` account (its workers run as www-data);
 *   a root master then runs workers as nobody;
 * - `pid` and `error_log` go into the test's temp dir so the test touches no system nginx state.
 */
export function nginxForDebian(conf: string, dir: string): string {
  let out = conf;
  out = replaceLine(out, /^include \/usr\/share\/nginx\/modules\/\*\.conf;$/, 'load_module /usr/lib/nginx/modules/ngx_stream_module.so; # test: Debian path');
  out = replaceLine(out, /^user nginx;$/, '# test: user nginx; dropped (no such account on Debian)');
  out = replaceLine(out, /^pid \/run\/nginx\.pid;$/, `pid ${dir}/nginx.pid; # test: temp dir`);
  out = replaceLine(out, /^error_log \/var\/log\/nginx\/error\.log;$/, `error_log ${dir}/error.log; # test: temp dir`);
  if (streamBlock(out) !== streamBlock(conf)) throw new Error('the Debian adaptation changed the stream block');
  return out;
}

/**
 * The rendered haproxy.cfg, adapted to run in a sandbox: `log /dev/log local0` is commented out,
 * because a container may have no syslog socket (/dev/log) and haproxy would then complain about
 * every log line. This is the only change; `user haproxy` works
 * because Debian's haproxy package creates the account, and `daemon` is overridden by `-db`.
 */
export function haproxyForSandbox(cfg: string): string {
  return replaceLine(cfg, /^ {4}log \/dev\/log local0$/, '    # test: log /dev/log local0 dropped (no syslog socket in the sandbox)');
}

/** A TCP port nobody listens on (on any address), for the lb's wildcard bind. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Run a tool to completion; returns status and combined output. */
export function run(bin: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A server process started by a test; `stderr` accumulates its output; `stop()` is idempotent. */
export interface Daemon {
  child: ChildProcess;
  output: () => string;
  waitForOutput: (re: RegExp, timeoutMs: number) => Promise<void>;
  stop: () => Promise<void>;
}

export function startDaemon(bin: string, args: string[]): Daemon {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (b: Buffer) => {
    out += b.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  return {
    child,
    output: () => out,
    waitForOutput: async (re, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} in ${bin} output:\n${out}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 250));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      })();
      return stopped;
    },
  };
}

// --- fake apiservers, shared by proxy.test.ts (lb nodes) and local.test.ts (each worker's proxy) ---

/** A fake kube-apiserver on ip:6443 (TLS): /healthz answers ok (what haproxy checks), anything else its name. */
export interface FakeMaster {
  name: string;
  ip: string;
  server?: HttpsServer;
  /** /healthz requests seen. */
  healthz?: number;
}

let fakeTls: { key: Buffer; cert: Buffer } | undefined;
/** A throwaway self-signed certificate for the fake apiservers (EC keygen is instant). */
function fakeMasterTls(): { key: Buffer; cert: Buffer } {
  if (!fakeTls) {
    const d = mkdtempSync(join(tmpdir(), 'k8s-image-fake-apiserver-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=fake-apiserver', '-days', '1', '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')], { stdio: 'pipe' });
    fakeTls = { key: readFileSync(join(d, 'key.pem')), cert: readFileSync(join(d, 'cert.pem')) };
    rmSync(d, { recursive: true, force: true });
  }
  return fakeTls;
}

/** Start m's listener; `delayMs` holds each non-/healthz answer so requests are in flight when a master goes away. */
export async function startMaster(m: FakeMaster, delayMs = 0): Promise<void> {
  const server = createHttpsServer(fakeMasterTls(), (req, res) => {
    if (req.url === '/healthz') m.healthz = (m.healthz ?? 0) + 1;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(req.url === '/healthz' ? 'ok' : m.name);
    }, req.url === '/healthz' ? 0 : delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(6443, m.ip, () => resolve());
  });
  m.server = server;
}

/** The master goes away: listener closed and every open connection dropped (connections are then refused). */
export async function stopMaster(m: FakeMaster): Promise<void> {
  const server = m.server;
  if (!server) return;
  m.server = undefined;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** One new TCP+TLS connection through the proxy at 127.0.0.1:port; resolves to the name of the master that answered. */
export function whoAnswers(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/whoami', rejectUnauthorized: false, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out through the proxy')));
    req.on('error', reject);
    req.end();
  });
}
