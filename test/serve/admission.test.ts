/**
 * Admission (issue 26): `k8s-image serve --max-installing N` as users run it, on loopback (a node is
 * its address). Nodes past N get an iPXE script that sleeps and asks for the same entry again; they
 * are admitted in the order they first asked once an install is reported (installed or failed); a
 * node that fetches its kickstart (a Secure Boot node, booted over TFTP) is installing whatever the
 * count; /status.json and the summary line show the figures. The deadlines are checked on the
 * Admission itself with a clock the test moves.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admission, waitScript } from '../../src/serve/admission.js';
import { signedReportBody, type Stage } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort, get, labTree, MACS, NODES, startServe, type Serve } from './lab.js';

const entry = (i: number) => `/ipxe/01-${MACS[i]!.replaceAll(':', '-')}.ipxe`;
let serve: Serve | undefined;
after(() => serve?.stop());

test('serve --max-installing 1: the second and third node wait in iPXE and are admitted in order as installs are reported; a kickstart fetch is admitted whatever the count', async () => {
  const base = tempDir('k8s-image-admission-');
  const port = await freePort();
  const tree = await labTree(base, port);
  serve = await startServe(tree, port, { args: ['--max-installing', '1', '--retry-after', '5'] });
  assert.match(serve.log(), /at most 1 nodes install at once \(--max-installing\), the others wait in iPXE and ask again every 5-9 s/);
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  let nonce = 0;
  const report = async (i: number, stage: Stage) => {
    const n = NODES[i]!;
    const body = signedReportBody(keys[n.name]!, { node: n.name, stage, time: Math.floor(Date.now() / 1000), nonce: (nonce++).toString(16).padStart(32, '0') });
    const r = await get(port, '/report', { from: n.ip, method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 200, r.body.toString());
  };
  const admission = async () => (JSON.parse((await get(port, '/status.json')).body.toString()) as { admission: { max: number; installing: number; waiting: number; waited: number } }).admission;
  const ask = async (i: number) => (await get(port, entry(i), { from: NODES[i]!.ip })).body.toString();

  const first = await ask(0);
  assert.equal(first, readFileSync(join(tree, 'http', entry(0)), 'utf8'), 'a free slot: the install entry itself');
  const wait1 = await ask(1);
  assert.match(wait1, /^#!ipxe\n/);
  assert.match(wait1, /^sleep ([5-9])$/m, 'sleeps the retry time plus its own spread');
  assert.match(wait1, new RegExp(`^chain --replace --autofree ${entry(1).replaceAll('.', '\\.')} \\|\\| exit 1$`, 'm'), 'and asks for its own entry again, replacing itself (a plain chain nests a stack level per retry)');
  // Anyone else asking for node02's public entry, or fetching its kickstart, holds no slot.
  const stranger = NODES[0]!.ip;
  assert.equal((await get(port, entry(2), { from: stranger })).body.toString(), readFileSync(join(tree, 'http', entry(2)), 'utf8'));
  assert.equal((await get(port, '/ks/node01.cfg', { from: stranger })).status, 200);
  assert.equal((await admission()).installing, 1, 'a stranger took no slot');
  assert.doesNotMatch(wait1, /kernel|inst\.ks/);
  assert.match(await ask(2), /^sleep \d+$/m);
  assert.deepEqual({ ...(await admission()), waited: undefined }, { max: 1, installing: 1, waiting: 2, waited: undefined, retrySeconds: 5, admitted: 1, longestWaitSeconds: 0 });
  // Asking again while full: still waiting, its place in the queue kept.
  assert.match(await ask(2), /^sleep/m);
  // A node the farm cannot hold back (its kickstart comes after the kernel, over TFTP with Secure Boot): installing.
  assert.equal((await get(port, '/ks/node02.cfg', { from: NODES[2]!.ip })).status, 200);
  assert.equal((await admission()).installing, 2);
  // node02's install fails: its slot is freed, but the master still holds the only one.
  await report(2, 'failed');
  assert.match(await ask(1), /^sleep/m, 'the master still installs');
  await report(0, 'installed');
  // The first in the queue (node01) goes next.
  assert.equal(await ask(1), readFileSync(join(tree, 'http', entry(1)), 'utf8'));
  const a = await admission();
  assert.equal(a.installing, 1);
  assert.equal(a.waited, 2, 'node02 (by its kickstart) and node01 waited, then were admitted');
  // The master's entry now boots the local disk, which nobody waits for.
  assert.match(await ask(0), /^exit 1$/m);
  assert.ok((await get(port, '/status')).body.toString().includes('installing now'), 'the page shows the admission');
  await serve.stop();
});

test('a restarted serve keeps the count: a node whose last report says installing holds its slot again', async () => {
  const base = tempDir('k8s-image-admission-restart-');
  const port = await freePort();
  const tree = await labTree(base, port);
  const keys = JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
  serve = await startServe(tree, port, { args: ['--max-installing', '1'] });
  const n = NODES[0]!;
  const body = signedReportBody(keys[n.name]!, { node: n.name, stage: 'installing', time: Math.floor(Date.now() / 1000), nonce: '0'.repeat(31) + '1' });
  assert.equal((await get(port, '/report', { from: n.ip, method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 200);
  await serve.stop();
  serve = await startServe(tree, port, { args: ['--max-installing', '1'] });
  assert.match((await get(port, entry(1), { from: NODES[1]!.ip })).body.toString(), /^sleep \d+$/m, 'the master still installs: node01 waits');
  await serve.stop();
});

test('Admission: FIFO among waiters, a slot freed at the deadline or when a granted node fetches nothing, a waiter that stops asking leaves the queue', () => {
  let t = 0;
  const a = new Admission({ max: 2, retrySeconds: 10, deadlineMs: 1000_000, grantMs: 60_000, now: () => t });
  assert.equal(a.enter('a'), true);
  assert.equal(a.enter('b'), true);
  assert.equal(a.enter('c'), false);
  t += 1000;
  assert.equal(a.enter('d'), false);
  a.touch('a');
  a.leave('b');
  // One slot: d asks first, but c is ahead of it.
  assert.equal(a.enter('d'), false);
  assert.equal(a.enter('c'), true);
  assert.equal(a.snapshot().longestWaitSeconds, 1);
  // c never fetches its kickstart: its grant lapses and d gets the slot.
  t += 61_000;
  assert.equal(a.enter('d'), true);
  assert.equal(a.snapshot().installing, 2, 'a (confirmed) and d');
  // a's install runs past the deadline: freed.
  t += 1000_000;
  a.touch('d');
  assert.equal(a.snapshot().installing, 1);
  // A waiter that stops asking (powered off) does not block the queue.
  assert.equal(a.enter('x'), true);
  assert.equal(a.enter('y'), false);
  t += 100_000;
  a.leave('x');
  assert.equal(a.snapshot().waiting, 0);
  assert.ok(a.sleepFor('y') >= 10 && a.sleepFor('y') < 20);
  // d's install ran past the deadline meanwhile: nobody installs.
  assert.match(waitScript('y', '/ipxe/01-aa-bb-cc-dd-ee-ff.ipxe', 12, a.snapshot()), /^echo k8s-image: 0 of at most 2 nodes installing, 0 waiting: y asks again in 12 s$/m);
});
