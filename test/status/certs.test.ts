// Certificate expiry on the farm's status: serve takes the masters' signed certificate reports (and
// refuses malformed or tampered ones), keeps them beside the bootstrap stage, and /status.json,
// `k8s-image status` and the page in Debian's Chromium show each master's earliest expiry and the
// CA's, warning within 30 days or after a failed renewal. Screenshot: test-output/status-page-certs.png.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../src/assets.js';
import { startFarmServer, type FarmIndex, type FarmServer } from '../../src/serve/server.js';
import { certsField, reportKey, reportSignature, signedReportBody, type CertKind, type Stage } from '../../src/status/protocol.js';
import { certsOf, certsText, type StatusDocument } from '../../src/status/view.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const CA_KEY = 'certs test CA key';
const SHOTS = join(packageRoot, 'test-output');
const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);
let browser: Browser;
let nonce = 0;

const INDEX: FarmIndex = {
  cluster: 'k8s-ha',
  nodes: [
    { name: 'master1', role: 'master', ip: '10.0.11.18' },
    { name: 'master2', role: 'master', ip: '10.0.12.55' },
    { name: 'master3', role: 'master', ip: '10.0.13.7' },
    { name: 'worker1', role: 'node', ip: '10.0.21.3' },
  ],
  keys: Object.fromEntries(['master1', 'master2', 'master3', 'worker1'].map((n) => [n, reportKey(CA_KEY, n)])),
};

async function serve(stateDir = tempDir('k8s-image-certs-')): Promise<{ server: FarmServer; url: string; stateDir: string; post: (node: string, stage: Stage | CertKind, extra?: { log?: string; certs?: string }) => Promise<Response> }> {
  const server = await startFarmServer({ index: INDEX, stateDir, log: () => undefined }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  const post = (node: string, stage: Stage | CertKind, extra: { log?: string; certs?: string } = {}) =>
    fetch(`${url}/report`, { method: 'POST', body: signedReportBody(reportKey(CA_KEY, node), { node, stage, time: now(), nonce: (nonce++).toString(16).padStart(32, '0'), ...extra }) });
  return { server, url, stateDir, post };
}

const certs = (leafDays: number, file = 'apiserver.crt', caDays = 3650) => certsField({ notAfter: now() + leafDays * DAY + 3600, cert: file, caNotAfter: now() + caDays * DAY + 3600 });

async function bootstrapped(farm: Awaited<ReturnType<typeof serve>>): Promise<void> {
  for (const n of ['master1', 'master2', 'master3', 'worker1']) {
    for (const s of ['installing', 'installed', 'firstboot', 'runtime'] as Stage[]) assert.equal((await farm.post(n, s)).status, 200);
    assert.equal((await farm.post(n, n === 'master1' ? 'init' : 'join')).status, 200);
  }
  // A master's `ready` carries its expiry (report.py adds it on a master); a worker's does not.
  assert.equal((await farm.post('master1', 'ready', { certs: certs(364) })).status, 200);
  assert.equal((await farm.post('master2', 'ready', { certs: certs(364, 'admin.conf') })).status, 200);
  assert.equal((await farm.post('master3', 'ready', { certs: certs(364) })).status, 200);
  assert.equal((await farm.post('worker1', 'ready')).status, 200);
  for (const n of ['master1', 'master2', 'master3', 'worker1']) assert.equal((await farm.post(n, 'done')).status, 200);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: requireTool('chromium'), args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
});

test('serve takes certificate reports without moving the bootstrap stage, and refuses malformed or tampered ones; they survive a restart', async (t) => {
  const farm = await serve();
  let open = true;
  t.after(() => (open ? farm.server.close() : undefined));
  await bootstrapped(farm);
  // A check without expiry, a malformed field, a field changed after signing: refused.
  const noCerts = await farm.post('master1', 'certs-checked');
  assert.equal(noCerts.status, 400);
  assert.match(await noCerts.text(), /certs: a certs-checked report carries the certificates' expiry/);
  const bad = await farm.post('master1', 'certs-checked', { certs: '12 ../../x 13' });
  assert.equal(bad.status, 400);
  const body = new URLSearchParams(signedReportBody(reportKey(CA_KEY, 'master1'), { node: 'master1', stage: 'certs-renewed', time: now(), nonce: (nonce++).toString(16).padStart(32, '0'), certs: certs(364) }));
  body.set('certs', certs(3000));
  const tampered = await fetch(`${farm.url}/report`, { method: 'POST', body: body.toString() });
  assert.equal(tampered.status, 403, 'the signature covers the expiry');
  // Accepted: expiry in /status.json, the stage stays "done".
  assert.equal((await farm.post('master2', 'certs-renewed', { certs: certs(365, 'front-proxy-client.crt') })).status, 200);
  assert.equal((await farm.post('master3', 'certs-failed', { log: 'cert-renew: ERROR: kubeadm certs renew all failed', certs: certs(20) })).status, 200);
  const doc = (await (await fetch(`${farm.url}/status.json`)).json()) as StatusDocument;
  const row = (n: string) => doc.nodes.find((r) => r.name === n)!;
  assert.equal(row('master2').stage, 'done');
  assert.equal(row('master2').certs!.cert, 'front-proxy-client.crt');
  assert.equal(row('master2').certs!.daysLeft, 365);
  assert.equal(row('master2').certs!.caDaysLeft, 3650);
  assert.equal(row('master2').certs!.last, 'certs-renewed');
  assert.equal(row('master2').certs!.warn, false);
  assert.equal(row('master3').stage, 'done');
  assert.equal(row('master3').certs!.failed, true);
  assert.equal(row('master3').certs!.warn, true);
  assert.equal(row('worker1').certs, null);
  assert.deepEqual(doc.counts, { done: 4 }, 'certificate reports are not bootstrap stages');
  assert.match(await (await fetch(`${farm.url}/status/log/master3`)).text(), /kubeadm certs renew all failed/);
  // A later success clears the failure.
  assert.equal((await farm.post('master3', 'certs-renewed', { certs: certs(365) })).status, 200);
  const doc2 = (await (await fetch(`${farm.url}/status.json`)).json()) as StatusDocument;
  assert.equal(doc2.nodes.find((r) => r.name === 'master3')!.certs!.failed, false);
  // Kept across a restart (status.log).
  await farm.server.close();
  open = false;
  const again = await serve(farm.stateDir);
  t.after(() => again.server.close());
  const doc3 = (await (await fetch(`${again.url}/status.json`)).json()) as StatusDocument;
  assert.deepEqual(doc3.nodes.map((r) => [r.name, r.stage, r.certs?.cert ?? null, r.certs?.last ?? null]), [
    ['master1', 'done', 'apiserver.crt', null],
    ['master2', 'done', 'front-proxy-client.crt', 'certs-renewed'],
    ['master3', 'done', 'apiserver.crt', 'certs-renewed'],
    ['worker1', 'done', null, null],
  ]);
});

test('the page shows the certificates column in Chromium, warns within 30 days, updates live; k8s-image status shows it too; a screenshot', async (t) => {
  const farm = await serve();
  t.after(() => farm.server.close());
  await bootstrapped(farm);
  assert.equal((await farm.post('master2', 'certs-checked', { certs: certs(12, 'apiserver-etcd-client.crt') })).status, 200);
  assert.equal((await farm.post('master3', 'certs-failed', { log: 'cert-renew: ERROR: kubeadm certs renew all failed (output above)', certs: certs(61) })).status, 200);
  const page = await browser.newPage({ viewport: { width: 1500, height: 300 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${farm.url}/status`);
  await page.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
  const cells = await page.$$eval('#rows tr', (trs) => trs.map((tr) => ({ text: tr.querySelector('td.certs')!.textContent, warn: tr.querySelector('td.certs')!.classList.contains('warn') })));
  assert.match(cells[0]!.text!, /^\d{4}-\d{2}-\d{2} \(364d, apiserver\.crt\) · CA \d{4}-\d{2}-\d{2} \(3650d\)$/);
  assert.equal(cells[0]!.warn, false);
  assert.match(cells[1]!.text!, /^expires in 12d: \d{4}-\d{2}-\d{2} \(apiserver-etcd-client\.crt\)/);
  assert.equal(cells[1]!.warn, true);
  assert.match(cells[2]!.text!, /^RENEWAL FAILED · \d{4}-\d{2}-\d{2} \(61d, apiserver\.crt\)/);
  assert.equal(cells[2]!.warn, true);
  assert.deepEqual(cells[3], { text: '', warn: false }, 'a worker has no kubeadm PKI');
  assert.equal(await page.textContent('thead th:last-child'), 'certificates (earliest expiry · CA)');
  await page.screenshot({ path: join(SHOTS, 'status-page-certs.png') });
  // Live: master2 renews; its cell changes with no reload.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  assert.equal((await farm.post('master2', 'certs-renewed', { certs: certs(365, 'apiserver-etcd-client.crt') })).status, 200);
  await page.waitForFunction(() => /\(365d, apiserver-etcd-client\.crt\)/.test(document.querySelector('#n-master2 td.certs')!.textContent!), undefined, { timeout: 5000 });
  assert.equal(await page.$eval('#n-master2 td.certs', (td) => td.classList.contains('warn')), false);
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 7, 'no reload');
  assert.deepEqual(errors, []);
  // The CLI's table, from the same /status.json.
  const cli = join(packageRoot, 'dist', 'src', 'cli.js');
  const r = await promisify(execFile)(process.execPath, [cli, 'status', '-s', farm.url]);
  assert.match(r.stdout, /CERTIFICATES/);
  assert.match(r.stdout, /^master1 .* \d{4}-\d{2}-\d{2} \(364d, apiserver\.crt\) · CA /m);
  assert.match(r.stdout, /^master3 .*RENEWAL FAILED/m);
  assert.match(r.stdout, /^worker1 .* -$/m);
  assert.match(r.stdout, /^WARNING: certificates of master3 need attention/m);
});

test('a CA ending within 30 days is a warning of its own, and an expired leaf says so', () => {
  const t0 = Date.now();
  const status = (leafDays: number, caDays: number) => ({ node: 'm', stage: 'done' as const, since: t0, lastReport: t0, lastIp: '', history: [], certs: { expiry: { notAfter: Math.floor(t0 / 1000) + leafDays * DAY + 60, cert: 'apiserver.crt', caNotAfter: Math.floor(t0 / 1000) + caDays * DAY + 60 } } });
  const caSoon = certsOf(status(200, 20), t0)!;
  assert.equal(caSoon.warn, true);
  assert.match(certsText(caSoon), /· CA EXPIRES \d{4}-\d{2}-\d{2} \(20d\): rotate it \(README\)$/);
  const expired = certsOf(status(-3, 3000), t0)!;
  assert.equal(expired.warn, true);
  assert.match(certsText(expired), /^EXPIRED \d{4}-\d{2}-\d{2} \(apiserver\.crt\)/);
  const fine = certsOf(status(200, 3000), t0)!;
  assert.equal(fine.warn, false);
  assert.equal(certsOf(undefined, t0), null);
});

test('only masters report certificates: a worker-signed certs report, or a certs field on a worker\'s report, is refused with the reason; a certificate report before any bootstrap stage makes up no stage', async (t) => {
  const farm = await serve();
  t.after(() => farm.server.close());
  const kinds: CertKind[] = ['certs-checked', 'certs-renewed', 'certs-failed'];
  for (const kind of kinds) {
    const r = await farm.post('worker1', kind, { certs: certs(1), ...(kind === 'certs-failed' ? { log: 'x' } : {}) });
    assert.equal(r.status, 403, kind);
    assert.equal(await r.text(), `worker1 is a node, not a master: only masters report certificates (${kind} refused)\n`);
  }
  const ready = await farm.post('worker1', 'ready', { certs: certs(1) });
  assert.equal(ready.status, 403);
  assert.match(await ready.text(), /only masters report certificates \(the certs field refused\)/);
  // The worker's reports without certs are taken as ever.
  assert.equal((await farm.post('worker1', 'ready')).status, 200);
  // A master's first report is a certificate check (status.log lost, or serve started late): the
  // expiry is kept, the bootstrap stage stays unknown (not a made-up "done").
  assert.equal((await farm.post('master2', 'certs-checked', { certs: certs(300) })).status, 200);
  const doc = (await (await fetch(`${farm.url}/status.json`)).json()) as StatusDocument;
  const row = (n: string) => doc.nodes.find((r) => r.name === n)!;
  assert.equal(row('worker1').stage, 'ready');
  assert.equal(row('worker1').certs, null);
  assert.equal(row('master2').stage, null);
  assert.equal(row('master2').stageText, 'no bootstrap report yet (certificates only)');
  assert.equal(row('master2').certs!.daysLeft, 300);
  assert.deepEqual(doc.counts, { ready: 1, none: 3 });
});

test('the signature is unambiguous between the log and the certs: log "tail|X" without certs does not sign log "tail" with certs "X"', async (t) => {
  const key = reportKey(CA_KEY, 'master1');
  const c = certs(365);
  const base = { node: 'master1', stage: 'failed', time: String(now()), nonce: 'ab'.repeat(16) };
  assert.notEqual(reportSignature(key, { ...base, log: 'tail', certs: c }), reportSignature(key, { ...base, log: `tail|${c}` }));
  assert.notEqual(reportSignature(key, { ...base, log: 'tail', certs: c }), reportSignature(key, { ...base, log: `${c}|tail` }));
  // Reports without certs sign exactly as before (nodes installed earlier keep reporting).
  assert.equal(reportSignature(key, { ...base, log: 'tail' }), createHmac('sha256', key).update(`master1|failed|${base.time}|${base.nonce}|tail`).digest('hex'));
  // On the wire: a signed certs-less report whose log ends in "|<certs>", re-sent split into log and certs, is refused.
  const farm = await serve();
  t.after(() => farm.server.close());
  const signed = new URLSearchParams(signedReportBody(key, { node: 'master1', stage: 'certs-failed', time: now(), nonce: (nonce++).toString(16).padStart(32, '0'), log: `tail|${c}` }));
  signed.set('log', 'tail');
  signed.set('certs', c);
  const r = await fetch(`${farm.url}/report`, { method: 'POST', body: signed.toString() });
  assert.equal(r.status, 403);
  assert.equal(await r.text(), 'signature does not match this node\n');
});
