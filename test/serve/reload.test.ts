// `k8s-image serve` while `k8s-image pxe` rewrites the tree under it, as users do it (both whole
// processes, no restart): ownership, report keys and MACs follow the new tree at the next request;
// a tree that cannot be read whole is not half-used; an `installed` report waits for a pxe run's
// lock (bounded: 503, and the node's resend is taken) and leaves its entries 0644 whatever serve's
// umask; the installed markers live in serve's --state, which its startup line names.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { signedReportBody, type Stage } from '../../src/status/protocol.js';
import { tempDir } from '../helpers/tmp.js';
import { cli, freePort, get, labTree, MACS, NODES, startServe } from './lab.js';

const exec = promisify(execFile);
const [master, node01, node02] = NODES as [(typeof NODES)[0], (typeof NODES)[0], (typeof NODES)[0]];
// A worker's join token is in its kubeadm join configuration.
const TOKEN = 'k8s-image/etc/k8s-image/kubeadm.yaml';
const REPORT_KEY = 'k8s-image/etc/k8s-image/report.key';
const keysOf = (tree: string) => JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>;
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const report = (port: number, key: string, node: string, stage: Stage, from: string, nonce = randomBytes(16).toString('hex')) =>
  get(port, '/report', { method: 'POST', from, headers: form, body: signedReportBody(key, { node, stage, time: Math.floor(Date.now() / 1000), nonce }) });
const macFile = (mac: string) => `01-${mac.replace(/:/g, '-')}`;

test('pxe re-run while serve runs: two nodes\' addresses swapped, a new CA, a new MAC: followed at the next request, no restart; a tree that cannot be read whole is not used', { timeout: 120000 }, async () => {
  const base = tempDir('k8s-image-serve-reload-');
  const port = await freePort();
  const tree = await labTree(base, port);
  const serve = await startServe(tree, port);
  try {
    const old = { keys: keysOf(tree), node01Token: readFileSync(join(tree, 'http/seed/node01', TOKEN)) };
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 200);
    assert.equal((await report(port, old.keys.node02!, 'node02', 'installing', node02.ip)).status, 200);

    // The farm changes: node01 and node02 trade addresses, the CA is new (its secrets file gone), node02 has a new board.
    rmSync(join(base, 'k8s-lab.secrets.yaml'));
    const newMac = '52:54:00:00:00:99';
    await labTree(base, port, [master.ip, node02.ip, node01.ip], { macs: [MACS[0]!, MACS[1]!, newMac] });
    const keys = keysOf(tree);
    assert.notEqual(keys.node02, old.keys.node02, 'the new CA gave new report keys');
    const fresh = (node: string, rel: string) => readFileSync(join(tree, 'http/seed', node, rel));
    assert.notDeepEqual(fresh('node01', TOKEN), old.node01Token, 'a new join token');

    // node01 is now at .12 and node02 at .11: each address gets its own node's secrets, and only those.
    const a = await get(port, `/seed/node01/${TOKEN}`, { from: node02.ip });
    assert.equal(a.status, 200, 'node01 at its new address');
    assert.deepEqual(a.body, fresh('node01', TOKEN));
    const leak = await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip });
    assert.equal(leak.status, 403, 'node02 (now at node01\'s old address) does not get node01\'s join token');
    assert.ok(!leak.body.includes(fresh('node01', TOKEN)) && !leak.body.includes(old.node01Token));
    assert.equal((await get(port, `/seed/node02/${REPORT_KEY}`, { from: node01.ip })).status, 200);
    assert.equal((await get(port, `/seed/node02/${REPORT_KEY}`, { from: node02.ip })).status, 403);
    assert.equal((await get(port, '/nocloud/node02/user-data', { from: node02.ip })).status, 403);
    assert.match(serve.log(), /the tree changed \(k8s-image pxe ran\); now 3 nodes of cluster k8s-lab \(3 new or changed, 0 gone\)/);

    // Reports: the new keys are taken, the old CA's are not.
    assert.equal((await report(port, old.keys.node02!, 'node02', 'installing', node01.ip)).status, 403, 'signed with the old CA');
    const inst = await report(port, keys.node02!, 'node02', 'installed', node01.ip);
    assert.equal(inst.status, 200, inst.body.toString());
    // Its installed entries under its new MAC, and nothing written under the old one.
    const pxelinux = readFileSync(join(tree, 'tftp/pxelinux.cfg', macFile(newMac)), 'utf8');
    assert.match(pxelinux, /LOCALBOOT 0/);
    assert.match(pxelinux, new RegExp(`node02 \\(${newMac}\\)`));
    assert.ok(!existsSync(join(tree, 'tftp/pxelinux.cfg', macFile(MACS[2]!))), 'no entry for the board node02 had before');
    assert.match(readFileSync(join(tree, 'http/ipxe', `${macFile(newMac)}.ipxe`), 'utf8'), /node02 \(52:54:00:00:00:99\)/);
    const status = JSON.parse((await get(port, '/status.json')).body.toString()) as { nodes: { name: string; ip: string }[] };
    assert.equal(status.nodes.find((n) => n.name === 'node02')?.ip, node01.ip, 'the status page shows the new addresses');

    // A pxe.json that is not whole (here: garbage written in place): never half read; the last good
    // index stays in use, but no node's secrets go out until the tree can be read whole again.
    const pxeJson = readFileSync(join(tree, 'pxe.json'));
    writeFileSync(join(tree, 'pxe.json'), pxeJson.subarray(0, 40));
    for (const from of [node01.ip, node02.ip]) {
      const r = await get(port, `/seed/node01/${TOKEN}`, { from });
      assert.equal(r.status, 403, from);
      assert.ok(!r.body.includes(fresh('node01', TOKEN)));
    }
    assert.match((await get(port, `/seed/node01/${TOKEN}`, { from: node02.ip })).body.toString(), /the PXE tree changed and could not be read whole yet/);
    assert.equal((await get(port, '/ks/node01.cfg')).status, 200, 'the public files are still served');
    assert.equal((await get(port, '/status.json')).status, 200);
    assert.match(serve.log(), /the tree changed but could not be read whole \(.*\); still serving the previous one/);
    writeFileSync(join(tree, 'pxe.json'), pxeJson);
    await new Promise((r) => setTimeout(r, 1100)); // same size and maybe the same mtime: tried again within a second
    assert.equal((await get(port, `/seed/master/${REPORT_KEY}`, { from: master.ip })).status, 200);
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node02.ip })).status, 200);
    assert.ok(serve.alive());
  } finally {
    await serve.stop();
  }
});

test('installed while pxe holds its lock: not recorded until pxe is done (503 after a bounded wait; the resend is taken), then entries 0644 under umask 077', { timeout: 120000 }, async () => {
  const base = tempDir('k8s-image-serve-lock-');
  const port = await freePort();
  const tree = await labTree(base, port);
  const keys = keysOf(tree);
  const serve = await startServe(tree, port, { umask: '077' });
  const lock = join(base, 'out', '.k8s-lab-pxe.lock');
  const marker = join(`${tree}.state`, 'installed', 'node01');
  const entry = join(tree, 'tftp/pxelinux.cfg', macFile(MACS[1]!));
  const before = readFileSync(entry, 'utf8');
  // A pxe run in progress (this process, alive): its lock, as acquireLock writes it.
  const hold = () => writeFileSync(lock, `${JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() })}\n`, { flag: 'wx', mode: 0o600 });
  try {
    hold();
    const body = signedReportBody(keys.node01!, { node: 'node01', stage: 'installed', time: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('hex') });
    const post = () => get(port, '/report', { method: 'POST', from: node01.ip, headers: form, body });
    const t0 = Date.now();
    const first = post();
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(!existsSync(marker), 'no installed marker while pxe holds its lock');
    assert.equal(readFileSync(entry, 'utf8'), before, 'the entries untouched while pxe holds its lock');
    const r1 = await first;
    assert.equal(r1.status, 503, r1.body.toString());
    assert.ok(Date.now() - t0 < 4900, `answered before the reporter's 5 s timeout (${Date.now() - t0} ms)`);
    assert.match(r1.head, /retry-after: 5/i);
    assert.ok(!existsSync(marker));
    assert.match(serve.log(), /report: node01 installed not taken yet: k8s-image pxe is writing/);
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 200, 'secrets still served');
    // The node sends it again (same bytes); pxe finishes a second later.
    const second = post();
    setTimeout(() => rmSync(lock), 1000);
    const r2 = await second;
    assert.equal(r2.status, 200, `the resend is taken, not a replay: ${r2.body}`);
    assert.ok(existsSync(marker));
    assert.ok(!existsSync(lock), 'serve released the lock');
    for (const f of [entry, join(tree, `tftp/grub.cfg-${macFile(MACS[1]!)}`), join(tree, `http/ipxe/${macFile(MACS[1]!)}.ipxe`)]) {
      assert.equal(statSync(f).mode & 0o777, 0o644, `${f}: readable by dnsmasq and nginx`);
      assert.match(readFileSync(f, 'utf8'), /node01 \(52:54:00:00:00:11\) of cluster k8s-lab/);
    }
    assert.match(readFileSync(entry, 'utf8'), /LOCALBOOT 0/);
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 403);
    // The next pxe run (it takes the lock serve released) keeps node01 on its local disk.
    await labTree(base, port);
    assert.match(readFileSync(entry, 'utf8'), /LOCALBOOT 0/);
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 403);
    assert.equal((await report(port, keys.node01!, 'node01', 'firstboot', node01.ip)).status, 200, 'other stages do not wait for the lock');
  } finally {
    rmSync(lock, { force: true });
    await serve.stop();
  }
});

test('serve --state DIR: installed markers live in DIR, which the startup line names (for pxe --state); clearing the marker there serves the secrets again', { timeout: 120000 }, async () => {
  const base = tempDir('k8s-image-serve-state-');
  const port = await freePort();
  const tree = await labTree(base, port);
  const keys = keysOf(tree);
  const state = join(base, 'elsewhere');
  const serve = await startServe(tree, port, { args: ['--state', state] });
  try {
    assert.match(serve.log(), new RegExp(`reports and installed markers kept in ${resolve(state).replaceAll('.', '\\.')}/ \\(not the default \\S+\\.state: give k8s-image pxe the same --state ${state.replaceAll('.', '\\.')}, so --reinstall clears the marker this server reads\\)`));
    assert.equal((await report(port, keys.node01!, 'node01', 'installed', node01.ip)).status, 200);
    assert.ok(existsSync(join(state, 'installed', 'node01')));
    assert.ok(!existsSync(join(`${tree}.state`, 'installed', 'node01')));
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 403);
    // What `pxe --reinstall node01 --state DIR` does; with a pxe that has --state, that command itself.
    const help = (await exec(process.execPath, [cli, 'pxe', '--help'])).stdout;
    if (/--state/.test(help)) await exec(process.execPath, [cli, 'pxe', '-c', 'lab.yaml', '-o', 'out', '--server', `10.20.0.1:${port}`, '--state', state, '--reinstall', 'node01'], { cwd: base });
    else rmSync(join(state, 'installed', 'node01'));
    assert.equal((await get(port, `/seed/node01/${TOKEN}`, { from: node01.ip })).status, 200);
  } finally {
    await serve.stop();
  }
});
