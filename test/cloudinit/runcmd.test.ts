/**
 * What cloud-init really runs: the rendered user-data's runcmd turned into a script by cloud-init's
 * own `cloudinit.util.shellify` (a `#!/bin/sh` script with no `set -e`: only the last command's
 * status reaches cloud-init), executed with the real install.sh against fake yum/systemctl. A failed
 * install must fail the script, so `config-scripts-user` and `cloud-init status` report an error.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { planNode, PATHS, type NodePlan } from '../../src/plan/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { requireTool } from '../helpers/tools.js';
import { STOCK_KERNEL, callsOf, makeSandbox, script, setCounter, type Sandbox } from '../node-files/sandbox.js';
import { labAndHa } from '../render/fixtures.js';

let plans: { master: NodePlan; lb: NodePlan };
before(async () => {
  const f = await labAndHa();
  plans = { master: planNode(f.lab, f.labSecrets, 'master'), lb: planNode(f.ha, f.haSecrets, 'lb') };
});

function runcmdOf(plan: NodePlan): unknown[] {
  const ud = Buffer.from(renderCloudInit(plan).find((a) => a.path === 'cloud-init/user-data')!.bytes).toString('utf8');
  return (yaml.load(ud) as { runcmd: unknown[] }).runcmd;
}

/** cloud-init's own shellify (Debian's cloud-init; the function is unchanged since 19.4). */
function shellify(runcmd: unknown[]): string {
  return execFileSync(requireTool('/usr/bin/python3'), ['-c', 'import json,sys; from cloudinit.util import shellify; sys.stdout.write(shellify(json.loads(sys.argv[1])))', JSON.stringify(runcmd)], {
    cwd: tmpdir(),
    encoding: 'utf8',
  });
}

/** A sandbox holding the plan's install.env, re-pointed into the sandbox root. */
function installSandbox(plan: NodePlan): Sandbox {
  const sb = makeSandbox('init');
  rmSync(sb.p.installMarker);
  const env = plan.files.find((f) => f.path === PATHS.installEnv)!.content;
  writeFileSync(join(sb.root, 'etc/fstab'), '/dev/sda2 swap swap defaults 0 0\n');
  writeFileSync(join(sb.root, 'etc/selinux-config'), 'SELINUX=enforcing\n');
  writeFileSync(
    sb.p.installEnv,
    `${env}# sandbox paths\nFSTAB=${join(sb.root, 'etc/fstab')}\nSELINUX_CONFIG=${join(sb.root, 'etc/selinux-config')}\nINSTALL_LOG=${join(sb.root, 'install.log')}\nINSTALL_MARKER=${sb.p.installMarker}\nYUM_RETRIES=1\nYUM_BACKOFF=0\n`,
  );
  // This boot already has the plan's kernel arguments (the lab's 1.17 gets cgroup.memory=nokmem);
  // without them install.sh reboots instead of starting first boot (test/node-files/kernel.test.ts).
  writeFileSync(sb.env.PROC_CMDLINE!, `BOOT_IMAGE=/vmlinuz-${STOCK_KERNEL} ro ${plan.boot.args.join(' ')}\n`);
  return sb;
}

/** Run the shellified runcmd with sh, as cloud-init's scripts-user does. */
function runScript(sb: Sandbox, text: string): { status: number | null; out: string } {
  const file = join(sb.root, 'runcmd');
  writeFileSync(file, text.replaceAll(PATHS.installScript, script('install.sh')), { mode: 0o755 });
  const r = spawnSync('sh', [file], { env: { ...process.env, ...sb.env, LANG: 'C' }, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('runcmd: a failing install fails the script cloud-init runs; the first-boot unit is enabled anyway, but not started', () => {
  const text = shellify(runcmdOf(plans.master));
  assert.match(text, /^#!\/bin\/sh\n/);
  const sb = installSandbox(plans.master);
  try {
    setCounter(sb, 'yum-fails', 5);
    const r = runScript(sb, text);
    assert.notEqual(r.status, 0, `cloud-init would log SUCCESS: ${r.out}`);
    assert.ok(callsOf(sb, 'systemctl', 'enable', PATHS.firstbootUnit).length, 'enabled, so a reboot reruns the install');
    assert.equal(callsOf(sb, 'systemctl', 'start').length, 0, 'first boot does not start on a half-installed node');
    assert.ok(!existsSync(sb.p.installMarker));
  } finally {
    sb.cleanup();
  }
});

test('runcmd: the same script succeeds once yum works, restarts chronyd and starts first boot', () => {
  const sb = installSandbox(plans.master);
  try {
    const r = runScript(sb, shellify(runcmdOf(plans.master)));
    assert.equal(r.status, 0, r.out);
    assert.ok(existsSync(sb.p.installMarker));
    assert.ok(callsOf(sb, 'systemctl', 'restart', 'chronyd').length, 'chronyd reads the chrony.conf write_files replaced');
    for (const u of ['firewalld', 'iptables', 'ip6tables']) assert.ok(callsOf(sb, 'systemctl', 'stop', u).length, `${u} stopped, not only disabled`);
    assert.deepEqual(callsOf(sb, 'systemctl', 'start'), [['systemctl', 'start', '--no-block', PATHS.firstbootUnit]]);
  } finally {
    sb.cleanup();
  }
});

test('runcmd: an lb node starts its proxy now (SELinux permissive first), not at the next reboot', () => {
  const sb = installSandbox(plans.lb);
  try {
    const r = runScript(sb, shellify(runcmdOf(plans.lb)));
    assert.equal(r.status, 0, r.out);
    const systemctl = callsOf(sb, 'systemctl').map((c) => c.slice(1).join(' '));
    assert.ok(systemctl.includes('restart nginx'), systemctl.join(', '));
    assert.deepEqual(callsOf(sb, 'setenforce'), [['setenforce', '0']]);
  } finally {
    sb.cleanup();
  }
});

test('runcmd: a network-config naming a NIC the image lacks (ens33 on GenericCloud) fails the install loudly, naming the fix', () => {
  const sb = installSandbox(plans.master);
  try {
    sb.env.FAKE_IP_ADDRS = '10.0.2.15';
    const r = runScript(sb, shellify(runcmdOf(plans.master)));
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no interface with the node's address 192\.168\.108\.100 \(the seed configures NIC '00:50:56:3f:00:64'; this machine has: eth0 \)/);
    assert.match(r.out, /set the node's mac/);
    assert.equal(callsOf(sb, 'yum').length, 0, 'stops before yum, which has no network anyway');
  } finally {
    sb.cleanup();
  }
});

test('control: the old three-command runcmd reports success for the same failed install (so the test can fail)', () => {
  const sb = installSandbox(plans.master);
  try {
    setCounter(sb, 'yum-fails', 5);
    const old = shellify([['bash', PATHS.installScript], ['systemctl', 'daemon-reload'], ['systemctl', 'start', '--no-block', PATHS.firstbootUnit]]);
    assert.equal(runScript(sb, old).status, 0);
  } finally {
    sb.cleanup();
  }
});
