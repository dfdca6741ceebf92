// Progress reports from the node's side, run for real: report.py (python 3, and python 2.7 where
// this machine has one, as CentOS 7 does) against loopback servers that take, refuse, ignore or
// hang; install.sh and firstboot.sh in the sandbox reporting to the real status server, and keeping
// their timings when it is down or hangs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/assets.js';
import { startFarmServer, type FarmServer } from '../../src/serve/server.js';
import { reportKey, reportSignature, type Stage } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { TOKEN, makeSandbox, run, setCounter, until, type Sandbox } from './sandbox.js';

const REPORTER = join(packageRoot, 'node-files/report.py');
const PY27 = '/root/.pyenv/versions/2.7.18/bin/python2.7';
const PYTHONS = [requireTool('/usr/bin/python3'), ...(existsSync(PY27) ? [PY27] : [])];

interface Capture {
  url: string;
  bodies: URLSearchParams[];
  /** What to answer next (200 by default). */
  status: number;
  /** The answer's body (the server's reason). */
  reason: string;
  /** Answers to give first, one per request, before `status`. */
  script: number[];
  close(): Promise<void>;
}

async function capture(): Promise<Capture> {
  const c = { bodies: [] as URLSearchParams[], status: 200, reason: 'x', script: [] as number[] } as Capture;
  const server: Server = createHttpServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    c.bodies.push(new URLSearchParams(body));
    res.writeHead(c.script.shift() ?? c.status).end(`${c.reason}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`;
  c.close = () => new Promise((r) => server.close(() => r()));
  return c;
}

/** A server that accepts connections and never answers. */
async function hanging(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createTcpServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * A server that answers every request with `status` and a Content-Length its body never reaches:
 * the connection closes after a few bytes, or is reset after the headers, so reading the error's
 * body fails (IncompleteRead, ECONNRESET).
 */
async function truncating(status: number, reset: boolean): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = createTcpServer((s) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      const head = got.indexOf('\r\n\r\n');
      const len = /content-length: *(\d+)/i.exec(got);
      if (head < 0 || !len || got.length - head - 4 < Number(len[1])) return;
      state.hits++;
      const head2 = `HTTP/1.1 ${status} Whatever\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n`;
      // Either a body cut short (FIN), or headers and then a connection reset (RST): reading fails.
      if (!reset) s.end(`${head2}only this`);
      else s.write(head2, () => setTimeout(() => s.resetAndDestroy(), 50));
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`,
    get hits() {
      return state.hits;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A port nothing listens on. */
async function closedUrl(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/report`;
}

function reporter(python: string, dir: string, key: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; ms: number }> {
  const keyFile = join(dir, 'report.key');
  writeFileSync(keyFile, `${key}\n`);
  const t0 = Date.now();
  const child = spawn(python, [REPORTER, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', K8S_IMAGE_REPORT_KEY: keyFile, K8S_IMAGE_REPORT_SPOOL: join(dir, 'spool'), K8S_IMAGE_REPORT_TRIES: '1', K8S_IMAGE_REPORT_PAUSE: '0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - t0 })));
}

const queued = (dir: string) => (existsSync(join(dir, 'spool')) ? readdirSync(join(dir, 'spool')).filter((n) => n.endsWith('.report')) : []);
const KEY = 'ab'.repeat(32);

for (const python of PYTHONS) {
  describe(`report.py with ${python}`, () => {
    it('signs what the server checks, and masks the secrets of a failure log on the node', async () => {
      const dir = tempDir('k8s-image-report-');
      const c = await capture();
      const log = join(dir, 'firstboot.log');
      const lines = Array.from({ length: 60 }, (_, i) => `line ${i}`);
      lines.push(
        `kubeadm join 10.0.0.1:6443 --token ${TOKEN} --discovery-token-ca-cert-hash sha256:${'c'.repeat(64)}`,
        `--certificate-key ${'d'.repeat(64)}`,
        'proxy http://alice:s3cret@proxy.example.com:3128 refused',
        'password: hunter2',
        '-----BEGIN RSA PRIVATE KEY-----',
        'MIIEowIBAAKCAQEA',
        '-----END RSA PRIVATE KEY-----',
        'the last line',
      );
      writeFileSync(log, `${lines.join('\n')}\n`);
      const r = await reporter(python, dir, KEY, ['--log', log, '--sync', '5', c.url, 'node01', 'failed']);
      await c.close();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(c.bodies.length, 1);
      const b = c.bodies[0]!;
      const sent = b.get('log')!;
      assert.equal(b.get('sig'), reportSignature(KEY, { node: 'node01', stage: 'failed', time: b.get('time')!, nonce: b.get('nonce')!, log: sent }));
      assert.ok(sent.startsWith('line 18\n'), 'the last 50 lines (the private key block masked into one)');
      assert.match(sent, /the last line$/);
      for (const secret of [TOKEN, 'd'.repeat(64), 's3cret', 'hunter2', 'MIIEowIBAAKCAQEA']) assert.ok(!sent.includes(secret), `${secret} masked`);
      assert.ok(sent.includes(`sha256:${'c'.repeat(64)}`), 'a public CA hash stays readable');
      assert.match(sent, /--token <bootstrap-token>/);
      assert.match(sent, /alice:\*\*\*@proxy/);
      assert.deepEqual(queued(dir), [], 'nothing left in the queue');
    });

    it('cuts a log of very long lines to what the server takes, keeping its end', async () => {
      const dir = tempDir('k8s-image-report-');
      const c = await capture();
      const log = join(dir, 'firstboot.log');
      writeFileSync(log, `${Array.from({ length: 50 }, (_, i) => `${i} ${'x'.repeat(4000)}`).join('\n')}\nthe end\n`);
      const r = await reporter(python, dir, KEY, ['--log', log, '--sync', '5', c.url, 'node01', 'failed']);
      await c.close();
      assert.equal(r.code, 0, r.stderr);
      const sent = c.bodies[0]!.get('log')!;
      assert.ok(Buffer.byteLength(sent) < 49 * 1024);
      assert.match(sent, /^\(cut to its last 49152 bytes\)\n/);
      assert.match(sent, /the end$/);
    });

    it('keeps reports while the server is down and sends them in order later; drops what the server refuses', async () => {
      const dir = tempDir('k8s-image-report-');
      const down = await closedUrl();
      const r1 = await reporter(python, dir, KEY, [down, 'node01', 'firstboot']);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /unreachable .*kept for the next try/);
      await reporter(python, dir, KEY, [down, 'node01', 'runtime']);
      assert.equal(queued(dir).length, 2);
      const c = await capture();
      const r3 = await reporter(python, dir, KEY, ['--sync', '5', c.url, 'node01', 'join']);
      assert.equal(r3.code, 0, r3.stderr);
      assert.deepEqual(c.bodies.map((b) => b.get('stage')), ['firstboot', 'runtime', 'join'], 'oldest first');
      assert.deepEqual(queued(dir), []);
      c.status = 403;
      const r4 = await reporter(python, dir, KEY, ['--sync', '5', c.url, 'node01', 'done']);
      await c.close();
      assert.equal(r4.code, 3, 'refused: its own status, not "sent"');
      assert.match(r4.stderr, /report 'done' .*REFUSED by .*403.*dropped/);
      assert.deepEqual(queued(dir), [], 'a refused report is not sent again and again');
    });

    it("a refused 'installed' is logged as refused with the server's reason, and --sync exits 3", async () => {
      const dir = tempDir('k8s-image-report-');
      const c = await capture();
      c.status = 403;
      c.reason = "report time 2026-12-04T16:00:00.000Z is more than 43200s off this server's clock";
      const r = await reporter(python, dir, KEY, ['--sync', '5', c.url, 'node01', 'installed']);
      await c.close();
      assert.equal(r.code, 3, r.stderr);
      assert.equal(c.bodies.length, 1, 'sent once: a refusal is final');
      assert.match(r.stderr, /report 'installed' \(\d+\.report\) REFUSED by http:\/\/127\.0\.0\.1:\d+\/report: 403 report time 2026-12-04T16:00:00\.000Z is more than 43200s off this server's clock; dropped/);
      assert.doesNotMatch(r.stderr, /Traceback/);
      assert.deepEqual(queued(dir), []);
    });

    for (const status of [408, 429, 500, 503]) {
      it(`${status} is not final: the report is kept, logged as kept, and retried until the server takes it`, async () => {
        const dir = tempDir('k8s-image-report-');
        const c = await capture();
        c.status = status;
        c.reason = `busy (${status})`;
        const r1 = await reporter(python, dir, KEY, [c.url, 'node01', 'installing']);
        assert.equal(r1.code, 1, r1.stderr);
        assert.match(r1.stderr, new RegExp(`report 'installing' \\(\\d+\\.report\\): \\S+ answered ${status} busy \\(${status}\\); kept for the next try`));
        assert.equal(queued(dir).length, 1, 'kept');
        // Retried within one run (3 tries), taken at the third.
        c.script = [status];
        c.status = 200;
        const before = c.bodies.length;
        const r2 = await reporter(python, dir, KEY, [c.url, 'node01', 'installed'], { K8S_IMAGE_REPORT_TRIES: '3' });
        assert.equal(r2.code, 0, r2.stderr);
        assert.deepEqual(c.bodies.slice(before).map((b) => b.get('stage')), ['installing', 'installing', 'installed'], 'the kept one again, then in order');
        assert.deepEqual(queued(dir), []);
        // --sync retries too, within its bound.
        c.script = [status, status];
        const r3 = await reporter(python, dir, KEY, ['--sync', '5', c.url, 'node01', 'firstboot']);
        await c.close();
        assert.equal(r3.code, 0, r3.stderr);
        assert.equal((r3.stderr.match(/kept for the next try/g) ?? []).length, 2);
      });
    }

    it('an HTTP error whose body cannot be read is kept, logged, never a traceback', async () => {
      for (const [status, reset] of [[408, false], [408, true], [503, true], [403, false], [403, true]] as const) {
        const dir = tempDir('k8s-image-report-');
        const t = await truncating(status, reset);
        const r = await reporter(python, dir, KEY, ['--sync', '1', t.url, 'node01', 'installed']);
        await t.close();
        assert.doesNotMatch(r.stderr, /Traceback/, r.stderr);
        assert.ok(t.hits >= 1);
        if (status === 403) {
          assert.equal(r.code, 3, r.stderr);
          assert.match(r.stderr, /REFUSED by \S+: 403 (only this|Whatever); dropped/);
        } else {
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, new RegExp(`answered ${status} ${reset ? 'Whatever' : '(only this|Whatever)'}; kept for the next try`));
          assert.equal(queued(dir).length, 1);
        }
      }
    });

    it('gives up on a server that hangs within its bound, keeping the report', async () => {
      const dir = tempDir('k8s-image-report-');
      const h = await hanging();
      const r = await reporter(python, dir, KEY, ['--sync', '1', h.url, 'node01', 'failed']);
      await h.close();
      assert.equal(r.code, 1);
      assert.ok(r.ms < 8000, `bounded by the 5 s request timeout (${r.ms} ms)`);
      assert.equal(queued(dir).length, 1);
      assert.match(r.stderr, /report 'failed' \(\d+\.report\): \S+ unreachable \(.*timed out.*\); kept for the next try/);
      // Retried: the next report to a server that answers sends the timed-out one first.
      const c = await capture();
      const again = await reporter(python, dir, KEY, ['--sync', '5', c.url, 'node01', 'done']);
      await c.close();
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(c.bodies.map((b) => b.get('stage')), ['failed', 'done']);
      assert.deepEqual(queued(dir), []);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The scripts, reporting to the real status server
// ---------------------------------------------------------------------------------------------

interface Farm {
  server: FarmServer;
  url: string;
  stages: (node: string) => Stage[];
  logOf: (node: string) => string | undefined;
}

const CA_KEY = 'test CA key';

/** The real status server; `caKey` other than the nodes' own: a server of a rebuilt CA, which refuses their signatures. */
async function farm(caKey = CA_KEY): Promise<Farm> {
  const stateDir = tempDir('k8s-image-status-state-');
  const index = { cluster: 'lab', nodes: [{ name: 'master', role: 'master', ip: '127.0.0.1' }, { name: 'node01', role: 'node', ip: '127.0.0.1' }], keys: { master: reportKey(caKey, 'master'), node01: reportKey(caKey, 'node01') } };
  const server = await startFarmServer({ index, stateDir, log: () => undefined }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  // The log on disk is the truth, as the server reads it after a restart.
  const stages = (node: string) => readLog(stateDir).filter((e) => e.node === node).map((e) => e.stage);
  const logOf = (node: string) => readLog(stateDir).filter((e) => e.node === node && e.stage === 'failed').pop()?.log;
  return { server, url, stages, logOf };
}

function readLog(stateDir: string): { node: string; stage: Stage; log?: string }[] {
  const p = join(stateDir, 'status.log');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The sandbox with reporting on: the node's key, its queue and python 3 in place of CentOS 7's python. */
function reportingSandbox(role: 'init' | 'join', statusUrl: string, vars: Record<string, string> = {}): Sandbox {
  const sb = makeSandbox(role, { STATUS_URL: statusUrl, REPORTER, REPORT_PYTHON: PYTHONS[0]!, ...vars });
  const node = role === 'init' ? 'master' : 'node01';
  writeFileSync(join(sb.p.etc, 'report.key'), `${reportKey(CA_KEY, node)}\n`, { mode: 0o600 });
  Object.assign(sb.env, { K8S_IMAGE_REPORT_KEY: join(sb.p.etc, 'report.key'), K8S_IMAGE_REPORT_SPOOL: join(sb.p.state, 'reports'), K8S_IMAGE_REPORT_TRIES: '2', K8S_IMAGE_REPORT_PAUSE: '0.2' });
  return sb;
}

describe('install.sh and firstboot.sh report to the status server', () => {
  it('install.sh --live: installing, installed; a failed install: failed with its log', async (t) => {
    const f = await farm();
    t.after(() => f.server.close());
    const sb = reportingSandbox('init', `${f.url}/report`);
    t.after(() => sb.cleanup());
    rmSync(sb.p.installMarker);
    const installLog = join(sb.root, 'var/log/k8s-image/install.log');
    const env = (packages: string) =>
      writeFileSync(
        sb.p.installEnv,
        [`PACKAGES="${packages}"`, 'FIRSTBOOT_UNIT=k8s-image-firstboot.service', `INSTALL_MARKER=${sb.p.installMarker}`, `INSTALL_LOG=${installLog}`, `FSTAB=${join(sb.root, 'fstab')}`, `SELINUX_CONFIG=${join(sb.root, 'selinux')}`, 'YUM_RETRIES=1', 'YUM_BACKOFF=0', 'NODE_NAME=master', `STATUS_URL=${f.url}/report`, `REPORTER=${REPORTER}`, `REPORT_PYTHON=${PYTHONS[0]}`, ''].join('\n'),
      );
    env('chrony');
    const ok = await run(sb, 'install.sh', {}, 20000, ['--live']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.ok(await until(() => f.stages('master').includes('installed'), 10000), f.stages('master').join(' '));
    assert.deepEqual(f.stages('master'), ['installing', 'installed']);
    env('chrony no-such-package');
    const bad = await run(sb, 'install.sh', { FAKE_YUM_SKIP: 'no-such-package' }, 20000, ['--live']);
    assert.notEqual(bad.code, 0);
    assert.ok(await until(() => f.stages('master').includes('failed'), 10000));
    assert.match(f.logOf('master')!, /packages not installed after 1 attempts/);
  });

  it("install.sh in the installer: its log says whether 'installed' was taken, refused (with the server's reason) or kept", async (t) => {
    const installLog = (sb: Sandbox) => join(sb.root, 'var/log/k8s-image/install.log');
    const install = async (url: string, python: string) => {
      const sb = reportingSandbox('init', url);
      t.after(() => sb.cleanup());
      writeFileSync(
        sb.p.installEnv,
        ['PACKAGES="chrony"', 'FIRSTBOOT_UNIT=k8s-image-firstboot.service', `INSTALL_MARKER=${sb.p.installMarker}`, `INSTALL_LOG=${installLog(sb)}`, `FSTAB=${join(sb.root, 'fstab')}`, `SELINUX_CONFIG=${join(sb.root, 'selinux')}`, 'YUM_RETRIES=1', 'YUM_BACKOFF=0', 'NODE_NAME=master', `STATUS_URL=${url}`, `REPORTER=${REPORTER}`, `REPORT_PYTHON=${python}`, 'REPORT_WAIT=2', ''].join('\n'),
      );
      // The installer's chroot: no --live, "installed" waited for (bounded).
      const r = await run(sb, 'install.sh', {}, 60000);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      return readFileSync(installLog(sb), 'utf8');
    };
    // A node seeded before its cluster's CA was made again: the real server refuses its signature
    // (a node's clock no longer matters to the server: its reports are never refused for their time).
    const skewed = await farm('a newer CA key');
    t.after(() => skewed.server.close());
    const c = await capture();
    t.after(() => c.close());
    c.status = 503;
    c.reason = 'overloaded';
    const f = await farm();
    t.after(() => f.server.close());
    // CentOS 7's python 2.7 sends them in the installer; python 3 elsewhere.
    for (const python of PYTHONS) {
      const refused = await install(`${skewed.url}/report`, python);
      assert.match(refused, /k8s-image install: WARNING: 'installed' REFUSED by http:\S+ \(403 signature does not match this node\); it is dropped, not retried/);
      assert.doesNotMatch(refused, /reported 'installed'/);
      assert.ok(!skewed.stages('master').includes('installed'));

      const kept = await install(c.url, python);
      assert.match(kept, /report 'install(ing|ed)' \(\d+\.report\): \S+ answered 503 overloaded; kept for the next try/);
      assert.match(kept, /WARNING: could not report 'installed' to \S+ \(not taken in 2 s: it stays queued and goes at first boot\)/);
      assert.doesNotMatch(kept, /reported 'installed'|REFUSED/);

      const taken = await install(`${f.url}/report`, python);
      assert.match(taken, /reported 'installed' to \S+ \(the server took it\)/);
      assert.ok(f.stages('master').includes('installed'));
    }
  });

  it('first boot reports every stage of an init in order; a failure carries its log, token masked', async (t) => {
    const f = await farm();
    t.after(() => f.server.close());
    const sb = reportingSandbox('init', `${f.url}/report`);
    t.after(() => sb.cleanup());
    const r = await run(sb, 'firstboot.sh');
    assert.equal(r.code, 0, r.stdout);
    assert.ok(await until(() => f.stages('master').includes('done'), 10000), f.stages('master').join(' '));
    assert.deepEqual(f.stages('master'), ['firstboot', 'runtime', 'init', 'ready', 'done']);

    const failing = reportingSandbox('join', `${f.url}/report`, { WAIT_FOR: '' });
    t.after(() => failing.cleanup());
    setCounter(failing, 'join-fails', 10);
    const bad = await run(failing, 'firstboot.sh');
    assert.notEqual(bad.code, 0);
    // The failure report is waited for (bounded), so it is there when the script has ended.
    assert.deepEqual(f.stages('node01'), ['firstboot', 'runtime', 'join', 'failed']);
    const log = f.logOf('node01')!;
    assert.match(log, /couldn't validate the identity of the API Server/);
    assert.match(log, /FAILED in stage join/);
    assert.ok(!log.includes(TOKEN));
  });

  it('keeps the same timings when the status server is down or hangs, and sends what it missed later', async (t) => {
    const f = await farm();
    t.after(() => f.server.close());
    const h = await hanging();
    t.after(() => h.close());
    const timed = async (url: string) => {
      const sb = reportingSandbox('init', url);
      t.after(() => sb.cleanup());
      const r = await run(sb, 'firstboot.sh', {}, 30000);
      assert.equal(r.code, 0, r.stdout);
      return { ms: r.ms, sb };
    };
    const up = await timed(`${f.url}/report`);
    const down = await timed(await closedUrl());
    const hang = await timed(h.url);
    assert.ok(down.ms < up.ms + 1500, `server down: ${down.ms} ms vs ${up.ms} ms with it up`);
    assert.ok(hang.ms < up.ms + 1500, `server hanging: ${hang.ms} ms vs ${up.ms} ms with it up`);
    // What the down server missed is queued on the node; the next boot sends it, in order.
    const spool = join(down.sb.p.state, 'reports');
    assert.ok(await until(() => readdirSync(spool).filter((n) => n.endsWith('.report')).length === 5, 15000), 'five reports queued');
    writeFileSync(down.sb.envFile, readFileSync(down.sb.envFile, 'utf8').replace(/^STATUS_URL=.*$/m, `STATUS_URL=${f.url}/report`));
    const again = await run(down.sb, 'firstboot.sh');
    assert.match(again.stdout, /bootstrap already complete/);
    assert.ok(await until(() => f.stages('master').length === 10, 10000), f.stages('master').join(' '));
    assert.deepEqual(f.stages('master').slice(5), ['firstboot', 'runtime', 'init', 'ready', 'done']);
  });
});
