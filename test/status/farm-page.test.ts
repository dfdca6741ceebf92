// The farm at a glance (issue 26) in Debian's Chromium (playwright-core): 5,000 nodes mid-wave, read
// back from serve's own status log as after a restart (some done, some joining, some stuck installing
// for two hours, some failed): the progress bars, one square per node grouped by role and subnet on
// one screen, failed then stuck nodes first, a click that shows the node's row and failure log, live
// updates without a reload. Screenshot in test-output/.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { packageRoot } from '../../src/assets.js';
import { startFarmServer, type FarmIndex } from '../../src/serve/server.js';
import { reportKey, signedReportBody, type Stage } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const CA_KEY = 'farm page test CA key';
const SHOTS = join(packageRoot, 'test-output');
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: requireTool('chromium'), args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
});

const N = 5000;
const name = (i: number) => `n${String(i).padStart(4, '0')}`;
/** Racks of 200 on their own /24s. */
const ipOf = (i: number) => `10.40.${Math.floor(i / 200)}.${10 + (i % 200)}`;
/** Mid-wave: 0-1999 done, 2000-2999 joining, 3000-3499 installing for 2 h (stuck), 3500-3519 failed, the rest not reported yet. */
const stageOf = (i: number): Stage | undefined => (i < 2000 ? 'done' : i < 3000 ? 'join' : i < 3500 ? 'installing' : i < 3520 ? 'failed' : undefined);

test('5,000 nodes: bars, a grid on one screen grouped by subnet, failed then stuck first, click to the row and log, live', async (t) => {
  const index: FarmIndex = {
    cluster: 'farm',
    nodes: Array.from({ length: N }, (_, i) => ({ name: name(i), role: i < 3 ? 'master' : 'node', ip: ipOf(i) })),
    keys: Object.fromEntries(Array.from({ length: N }, (_, i) => [name(i), reportKey(CA_KEY, name(i))])),
  };
  const state = tempDir('k8s-image-farm-page-');
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const s = stageOf(i);
    if (!s) continue;
    const received = s === 'installing' ? now - 2 * 3600_000 : now - 60_000;
    lines.push(JSON.stringify({ node: name(i), stage: s, time: Math.floor(received / 1000), nonce: `seed${i}`, received, ip: ipOf(i), ...(s === 'failed' ? { log: `${name(i)}: kubeadm join: connection refused` } : {}) }));
  }
  writeFileSync(join(state, 'status.log'), `${lines.join('\n')}\n`);
  const server = await startFarmServer({ index, stateDir: state, log: () => undefined }, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  let nonce = 0;
  const post = async (i: number, stage: Stage) => {
    const body = signedReportBody(reportKey(CA_KEY, name(i)), { node: name(i), stage, time: Math.floor(Date.now() / 1000), nonce: (nonce++).toString(16).padStart(32, '0') });
    assert.equal((await fetch(`${url}/report`, { method: 'POST', body })).status, 200);
  };

  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${url}/status`);
  await page.waitForFunction(() => document.getElementById('live')!.textContent === 'live');
  assert.equal(await page.$$eval('#grid i', (q) => q.length), N, 'one square per node');
  assert.equal(await page.$$eval('#rows tr', (q) => q.length), N, 'the table stays, for search');
  const groups = await page.$$eval('#grid .gh', (g) => g.map((x) => x.textContent));
  assert.equal(groups.length, 26, 'masters, then one group per rack subnet');
  assert.equal(groups[0], 'master · 10.40.0.0/24 (3)');
  assert.equal(groups[1], 'node · 10.40.0.0/24 (197)');
  // One screen: the whole grid fits in the viewport's height at 1600 px wide.
  const box = (await (await page.$('#grid'))!.boundingBox())!;
  assert.ok(box.height < 1000, `grid height ${box.height}px`);
  assert.equal(await page.textContent('#att-n'), '520', 'failed and stuck');
  const first = await page.$$eval('#attention i', (q) => q.slice(0, 21).map((x) => [x.textContent, x.className]));
  assert.deepEqual(first[0], ['n3500', 'failed']);
  assert.equal(first[19]![1], 'failed');
  assert.deepEqual(first[20], ['n3000', 'installing stuck'], 'then the nodes stuck past their stage\'s deadline');
  assert.match((await page.textContent('#pb-overall .pn'))!, /^2000 \/ 5000$/);
  assert.match((await page.textContent('#pb-installing .pn'))!, /^3500 \/ 5000$/, 'reached at least "installing": done, joining, installing');
  assert.equal(await page.getAttribute('#q-n3001', 'class'), 'installing stuck');
  await page.screenshot({ path: join(SHOTS, 'status-farm-5000.png'), fullPage: false });

  // Click a failed node in the attention list: its row, highlighted, and its failure log.
  await page.click('#attention i[data-n="n3505"]');
  await page.waitForSelector('#panel', { state: 'visible' });
  assert.match((await page.textContent('#panel-log'))!, /n3505: kubeadm join: connection refused/);
  assert.equal(await page.getAttribute('#n-n3505', 'class'), 'failed hl');
  await page.click('#panel-close');

  // Live, no reload: a stuck node moves on, a rack finishes; squares and bars follow.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  await post(3001, 'installed');
  await Promise.all(Array.from({ length: 200 }, (_, k) => post(2000 + k, 'done')));
  await page.waitForFunction(() => document.querySelector('#pb-overall .pn')!.textContent === '2200 / 5000', undefined, { timeout: 10000 });
  assert.equal(await page.getAttribute('#q-n3001', 'class'), 'installed');
  assert.equal(await page.getAttribute('#q-n2100', 'class'), 'done');
  await page.waitForFunction(() => document.getElementById('att-n')!.textContent === '519', undefined, { timeout: 10000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 7, 'no reload');
  assert.deepEqual(errors, []);
  await page.close();
});
