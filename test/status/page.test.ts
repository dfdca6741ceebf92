// The status page in Debian's Chromium (headless, driven by playwright-core): the table, the failure
// log on click, live updates with no reload, a farm of 1000 nodes, and the page with JavaScript off.
// Screenshots go to test-output/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../src/assets.js';
import { startFarmServer, type FarmIndex, type FarmServer } from '../../src/serve/server.js';
import { reportKey, signedReportBody, type Stage } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const CA_KEY = 'page test CA key';
const SHOTS = join(packageRoot, 'test-output');
let browser: Browser;
let nonce = 0;

function indexOf(names: [string, string, string, string?][]): FarmIndex {
  return {
    cluster: 'k8s-lab',
    nodes: names.map(([name, role, ip, mac]) => ({ name, role, ip, ...(mac ? { mac } : {}) })),
    keys: Object.fromEntries(names.map(([n]) => [n, reportKey(CA_KEY, n)])),
  };
}

async function serve(index: FarmIndex): Promise<{ server: FarmServer; url: string; post: (node: string, stage: Stage, log?: string) => Promise<void> }> {
  const server = await startFarmServer({ index, stateDir: tempDir('k8s-image-page-'), log: () => undefined }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  const post = async (node: string, stage: Stage, log?: string) => {
    const body = signedReportBody(reportKey(CA_KEY, node), { node, stage, time: Math.floor(Date.now() / 1000), nonce: (nonce++).toString(16).padStart(32, '0'), log });
    const res = await fetch(`${url}/report`, { method: 'POST', body });
    assert.equal(res.status, 200, await res.text());
  };
  return { server, url, post };
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: requireTool('chromium'), args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
});

test('the lab: rows, the failure log on click, live updates without a reload; a screenshot', async (t) => {
  const farm = await serve(indexOf([['master', 'master', '192.168.108.100', '00:50:56:3f:00:64'], ['node01', 'node', '192.168.108.101'], ['node02', 'node', '192.168.108.102']]));
  t.after(() => farm.server.close());
  for (const s of ['installing', 'installed', 'firstboot', 'runtime', 'init', 'ready', 'done'] as Stage[]) await farm.post('master', s);
  for (const s of ['installing', 'installed', 'firstboot', 'runtime', 'join'] as Stage[]) await farm.post('node01', s);
  await farm.post('node02', 'failed', 'firstboot[join]: + kubeadm join --config /etc/k8s-image/kubeadm.yaml\nerror: unable to fetch the kubeadm-config ConfigMap');
  const page = await browser.newPage({ viewport: { width: 1200, height: 420 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${farm.url}/status`);
  await page.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
  const rows = await page.$$eval('#rows tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent)));
  assert.deepEqual(rows, [
    ['master', 'master', '192.168.108.100', '00:50:56:3f:00:64', 'bootstrap done'],
    ['node01', 'node', '192.168.108.101', '', 'kubeadm join started'],
    ['node02', 'node', '192.168.108.102', '', 'failed'],
  ]);
  assert.match((await page.textContent('#counts'))!, /bootstrap done: 1.*kubeadm join started: 1.*failed: 1/);
  // The failure log opens in place.
  await page.click('#n-node02 a.log');
  await page.waitForSelector('#panel', { state: 'visible' });
  assert.match((await page.textContent('#panel-log'))!, /unable to fetch the kubeadm-config ConfigMap/);
  assert.equal(await page.textContent('#panel-title'), 'node02: failure log');
  await page.screenshot({ path: join(SHOTS, 'status-page-failure-log.png') });
  await page.click('#panel-close');
  // Live: the page is not reloaded (a marker set now survives), the row changes by itself.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await farm.post('node01', 'ready');
  await page.waitForFunction(() => document.querySelector('#n-node01 td.stage')!.textContent === 'node Ready', undefined, { timeout: 5000 });
  await farm.post('node02', 'join');
  await page.waitForFunction(() => document.querySelector('#n-node02 td.stage')!.textContent === 'kubeadm join started', undefined, { timeout: 5000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42, 'no reload');
  assert.equal(await page.textContent('#n-node02 a.log'), 'earlier failure', 'a node that moved on keeps its last failure log');
  assert.match((await page.textContent('#n-master td.since'))!, /^\d+s$/);
  await page.screenshot({ path: join(SHOTS, 'status-page.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('1000 nodes: the page loads, filters and follows a burst of reports', async (t) => {
  const names: [string, string, string][] = [['master', 'master', '10.20.0.10']];
  for (let i = 1; i <= 1000; i++) names.push([`node${String(i).padStart(4, '0')}`, 'node', `10.20.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`]);
  const farm = await serve(indexOf(names));
  t.after(() => farm.server.close());
  for (let i = 1; i <= 300; i++) await farm.post(names[i]![0], 'join');
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${farm.url}/status`);
  await page.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
  assert.equal(await page.$$eval('#rows tr', (trs) => trs.length), 1001);
  assert.match((await page.textContent('h1'))!, /1001 nodes/);
  // A burst the size of a rack booting at once: every row follows.
  await Promise.all(names.slice(1, 201).map(([n]) => farm.post(n, 'done')));
  await page.waitForFunction(() => /bootstrap done: 200/.test(document.getElementById('counts')!.textContent!), undefined, { timeout: 15000 });
  assert.equal(await page.textContent('#n-node0200 td.stage'), 'bootstrap done');
  await page.fill('#filter', 'node0999');
  assert.equal(await page.$$eval('#rows tr:not([hidden])', (trs) => trs.length), 1);
  await page.fill('#filter', 'kubeadm join');
  assert.equal(await page.$$eval('#rows tr:not([hidden])', (trs) => trs.length), 100);
  await page.screenshot({ path: join(SHOTS, 'status-page-1000.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('with JavaScript off the server-rendered table is there and the page refreshes itself', async (t) => {
  const farm = await serve(indexOf([['master', 'master', '192.168.108.100'], ['node01', 'node', '192.168.108.101']]));
  t.after(() => farm.server.close());
  await farm.post('master', 'init');
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${farm.url}/status`);
  assert.equal(await page.textContent('#n-master td.stage'), 'kubeadm init started');
  assert.equal(await page.textContent('#n-node01 td.stage'), 'no report yet');
  // With scripting off the browser parses <noscript>: the refresh applies there only.
  assert.equal(await page.getAttribute('noscript meta[http-equiv="refresh"]', 'content'), '10');
  assert.match((await page.textContent('#live'))!, /JavaScript off/);
  await context.close();
});
