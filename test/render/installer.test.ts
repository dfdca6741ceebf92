/**
 * What the kickstart does in the installer itself, run for real in a sandbox with fake chronyd and
 * efibootmgr (test/node-files/fake-command.sh): the installer's clock set from the cluster's NTP
 * servers in %pre (a failure never stops the install), and on a netbooted UEFI node the entry it
 * booted from put first in BootOrder again after anaconda put "CentOS Linux" first. Every kickstart
 * line checks against the RHEL7 grammar and every script section passes bash -n and shellcheck.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Cluster } from '../../src/config/index.js';
import type { Secrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { renderKickstart, type KickstartOptions } from '../../src/kickstart/index.js';
import { checkKickstart, shellcheck } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { calls, callsOf, makeSandbox, type Sandbox } from '../node-files/sandbox.js';
import { labAndHa, postSections } from './fixtures.js';

let f: Awaited<ReturnType<typeof labAndHa>>;
before(async () => {
  f = await labAndHa();
});

const PXE: KickstartOptions = { source: 'url --url=http://10.0.1.1:8080/centos7', seedUrl: 'http://10.0.1.1:8080/seed/worker1' };

function ks(cluster: Cluster, secrets: Secrets, name: string, opts: KickstartOptions = {}): string {
  return Buffer.from(renderKickstart(planNode(cluster, secrets, name), opts).find((a) => a.path === 'ks.cfg')!.bytes).toString('utf8');
}

function section(text: string, header: RegExp): string | undefined {
  return postSections(text).find((s) => header.test(s.header))?.body;
}

/**
 * A PATH dir holding only what the installer's %pre and the installed system's %post use (and the
 * fakes: basename), so a
 * chronyd or efibootmgr of the machine running the tests can never be reached (nor set its clock).
 */
function minimalPath(extra: string[] = []): string {
  const dir = tempDir('k8s-image-path-');
  for (const tool of ['bash', 'sh', 'date', 'sed', 'grep', 'cat', 'mkdir', 'cp', 'chmod', 'rm', 'sleep', 'basename']) {
    const found = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    assert.ok(found, `${tool} not found`);
    symlinkSync(found, join(dir, tool));
  }
  for (const p of extra) symlinkSync(p, join(dir, p.split('/').pop()!));
  return dir;
}

/** Run a script section as anaconda does (its own file, bash), output as its --log would get it. */
function runSection(sb: Sandbox, body: string, path: string): { code: number | null; out: string } {
  const file = join(sb.root, 'section.sh');
  writeFileSync(file, body);
  const r = spawnSync('bash', [file], { env: { ...sb.env, PATH: path, LANG: 'C', LC_ALL: 'C' }, encoding: 'utf8', timeout: 20000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the kickstart, line by line and section by section', () => {
  it('every kickstart (cdrom, OEMDRV with reports, PXE) passes the RHEL7 grammar; timezone names the NTP servers', async () => {
    const cases: [string, string, string[]][] = [
      ['lab master (cdrom)', ks(f.lab, f.labSecrets, 'master'), f.lab.os.ntpServers],
      ['ha worker1 (reports)', ks(f.ha, f.haSecrets, 'worker1'), f.ha.os.ntpServers],
      ['ha worker1 (PXE)', ks(f.ha, f.haSecrets, 'worker1', PXE), f.ha.os.ntpServers],
    ];
    for (const [what, text, servers] of cases) {
      assert.deepEqual(checkKickstart(text), [], what);
      assert.ok(servers.length > 0);
      assert.match(text, new RegExp(`^timezone \\S+ --isUtc --ntpservers=${servers.join(',').replaceAll('.', '\\.')}$`, 'm'), what);
      const pre = section(text, /^%pre /)!;
      assert.ok(pre, `${what}: a %pre`);
      // The clock comes first: before the "installing" report (whose time the server checks).
      const sync = pre.indexOf('chronyd -q');
      assert.ok(sync >= 0, what);
      if (pre.includes('report.py')) assert.ok(sync < pre.indexOf('report.py'), `${what}: clock before the report`);
      for (const s of postSections(text)) assert.deepEqual(await shellcheck(`#!/bin/bash\n${s.body}`, `${what} ${s.header}`), [], `${what}: ${s.header}`);
    }
  });

  it('only a netbooted kickstart touches BootOrder', () => {
    assert.equal(section(ks(f.lab, f.labSecrets, 'master'), /bootorder/), undefined, 'cdrom');
    assert.equal(section(ks(f.ha, f.haSecrets, 'worker1'), /bootorder/), undefined, 'OEMDRV');
    assert.equal(section(ks(f.ha, f.haSecrets, 'worker1', { seedDir: '/run/install/repo' }), /bootorder/), undefined, 'remastered DVD');
    assert.ok(section(ks(f.ha, f.haSecrets, 'worker1', PXE), /bootorder/));
  });
});

describe("%pre: the installer's clock", () => {
  const pre = () => section(ks(f.lab, f.labSecrets, 'master'), /^%pre /)!;

  it('sets it with chronyd -q from every NTP server, bounded by -t', () => {
    const sb = makeSandbox('join');
    try {
      const r = runSection(sb, pre(), `${join(sb.root, 'bin')}:${minimalPath()}`);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(callsOf(sb, 'chronyd'), [['chronyd', '-q', '-t', '30', ...f.lab.os.ntpServers.map((s) => `server ${s} iburst`)]]);
      assert.match(r.out, /k8s-image: setting the installer's clock from ntp\.aliyun\.com,ntp1\.aliyun\.com\n/);
      assert.match(r.out, /k8s-image: the installer's clock is set from NTP\n/);
    } finally {
      sb.cleanup();
    }
  });

  it('goes on, saying so in its log, when no NTP server answers', () => {
    const sb = makeSandbox('join');
    try {
      const failing = runSection({ ...sb, env: { ...sb.env, FAKE_CHRONYD_RC: '1' } }, pre(), `${join(sb.root, 'bin')}:${minimalPath()}`);
      assert.equal(failing.code, 0, 'a failed sync never stops the install');
      assert.match(failing.out, /k8s-image: WARNING: could not set the installer's clock from ntp\.aliyun\.com,ntp1\.aliyun\.com \(chronyd exit 1: no NTP server reachable\?\); the install goes on/);
      assert.doesNotMatch(failing.out, /clock is set from NTP/);
    } finally {
      sb.cleanup();
    }
  });

  it('goes on, saying so, in an installer without chronyd', () => {
    const sb = makeSandbox('join');
    try {
      const r = runSection(sb, pre(), minimalPath());
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /WARNING: no chronyd in this installer; the install goes on with this clock/);
      assert.deepEqual(calls(sb), []);
    } finally {
      sb.cleanup();
    }
  });

  it('the %pre log is copied to the installed system (0600); without one, nothing happens', () => {
    const body = section(ks(f.lab, f.labSecrets, 'master'), /^%post --nochroot$/)!;
    const root = tempDir('k8s-image-sysimage-');
    const tmp = tempDir('k8s-image-installer-tmp-');
    const run = () => spawnSync('bash', ['-c', body.replaceAll('/mnt/sysimage/', `${root}/`).replaceAll('/tmp/k8s-image-pre.log', join(tmp, 'k8s-image-pre.log'))], { encoding: 'utf8' });
    assert.equal(run().status, 0);
    assert.ok(!existsSync(join(root, 'var/log/k8s-image/installer-pre.log')));
    writeFileSync(join(tmp, 'k8s-image-pre.log'), 'k8s-image: WARNING: could not set the installer\'s clock\n');
    assert.equal(run().status, 0);
    assert.match(readFileSync(join(root, 'var/log/k8s-image/installer-pre.log'), 'utf8'), /could not set/);
  });
});

/**
 * What efibootmgr 17 (CentOS 7's efibootmgr-17) prints with no argument, per its source (tag 17,
 * src/efibootmgr.c: main prints "BootNext: %04X", "BootCurrent: %04X", "Timeout: %u seconds",
 * show_order/print_order "BootOrder: " + "%04X" joined by ",", show_vars "Boot%04X" + '*' when active
 * (else ' ') + ' ' + description). The entries are an OVMF VM's after a PXE install.
 */
function efibootmgrOutput(current: string | undefined, order: string): string {
  return [
    ...(current ? [`BootCurrent: ${current}`] : []),
    'Timeout: 0 seconds',
    `BootOrder: ${order}`,
    'Boot0000* UiApp',
    'Boot0001* CentOS Linux',
    'Boot0002* UEFI QEMU DVD-ROM QM00003 ',
    'Boot0003* UEFI PXEv4 (MAC:525400000012)',
    'Boot0004* UEFI PXEv4 (MAC:525400000011)',
    'Boot0005* EFI Internal Shell',
    '',
  ].join('\n');
}

describe('%post on a netbooted node: the network boot entry first in BootOrder (UEFI)', () => {
  const post = () => section(ks(f.ha, f.haSecrets, 'worker1', PXE), /bootorder/)!;

  /** Run it with `efi` as /sys/firmware/efi (made when uefi) and the fake efibootmgr showing `out`. */
  function boot(out: string | undefined, opts: { uefi?: boolean; env?: Record<string, string>; noEfibootmgr?: boolean } = {}) {
    const sb = makeSandbox('join');
    const efi = join(sb.root, 'sys/firmware/efi');
    if (opts.uefi !== false) mkdirSync(efi, { recursive: true });
    if (out !== undefined) writeFileSync(join(sb.fake, 'efibootmgr.out'), out);
    const path = opts.noEfibootmgr ? minimalPath() : `${join(sb.root, 'bin')}:${minimalPath()}`;
    const r = runSection({ ...sb, env: { ...sb.env, ...opts.env } }, post().replaceAll('/sys/firmware/efi', efi), path);
    const setOrder = callsOf(sb, 'efibootmgr', '-o').map((c) => c[2]);
    const order = out === undefined ? undefined : /^BootOrder: (.*)$/m.exec(readFileSync(join(sb.fake, 'efibootmgr.out'), 'utf8'))?.[1];
    const all = calls(sb);
    sb.cleanup();
    return { ...r, setOrder, order, calls: all };
  }

  it('puts BootCurrent (the PXE entry) first and keeps the others in their order', () => {
    const r = boot(efibootmgrOutput('0004', '0001,0004,0000'));
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.setOrder, ['0004,0001,0000']);
    assert.equal(r.order, '0004,0001,0000');
    assert.match(r.out, /k8s-image: BootOrder 0001,0004,0000 -> 0004,0001,0000: Boot0004, the entry this installer was netbooted from \(Boot0004\* UEFI PXEv4 \(MAC:525400000011\)\), first/);
  });

  it('an entry the firmware booted that BootOrder lacks goes first too; one already first is left alone', () => {
    const missing = boot(efibootmgrOutput('0003', '0001,0000,0005'));
    assert.deepEqual(missing.setOrder, ['0003,0001,0000,0005']);
    const first = boot(efibootmgrOutput('0004', '0004,0001,0000'));
    assert.equal(first.code, 0);
    assert.deepEqual(first.setOrder, []);
    assert.match(first.out, /BootOrder 0004,0001,0000 already starts with Boot0004/);
  });

  it('a BIOS machine, a missing efibootmgr, no BootCurrent or a failing efibootmgr: no change, exit 0, said in the log', () => {
    const bios = boot(efibootmgrOutput('0004', '0001,0004,0000'), { uefi: false });
    assert.equal(bios.code, 0);
    assert.deepEqual(bios.calls, [], 'efibootmgr not even run');
    assert.match(bios.out, /BIOS boot \(no \S+\/sys\/firmware\/efi\)/);

    const none = boot(undefined, { noEfibootmgr: true });
    assert.equal(none.code, 0);
    assert.match(none.out, /WARNING: no efibootmgr on the installed system/);

    const novars = boot(undefined);
    assert.equal(novars.code, 0);
    assert.match(novars.out, /WARNING: efibootmgr cannot read the EFI variables/);

    const nocurrent = boot(efibootmgrOutput(undefined, '0001,0004,0000'));
    assert.equal(nocurrent.code, 0);
    assert.deepEqual(nocurrent.setOrder, []);
    assert.match(nocurrent.out, /WARNING: the firmware set no BootCurrent: BootOrder stays 0001,0004,0000/);

    const failing = boot(efibootmgrOutput('0004', '0001,0004,0000'), { env: { FAKE_EFIBOOTMGR_RC: '5' } });
    assert.equal(failing.code, 0, 'not --erroronfail: the node is installed either way');
    assert.deepEqual(failing.setOrder, ['0004,0001,0000']);
    assert.equal(failing.order, '0001,0004,0000');
    assert.match(failing.out, /WARNING: efibootmgr -o 0004,0001,0000 failed: BootOrder stays 0001,0004,0000/);
  });
});

describe('%post --nochroot runs with the tools the install image keeps', () => {
  it('copies and checks the secret files without /usr/bin/install (lorax removes it from the install image)', () => {
    const artifacts = renderKickstart(planNode(f.lab, f.labSecrets, 'master'));
    const text = Buffer.from(artifacts.find((a) => a.path === 'ks.cfg')!.bytes).toString('utf8');
    const body = section(text, /^%post --nochroot --erroronfail/)!;
    const seed = tempDir('k8s-image-oemdrv-');
    for (const a of artifacts.filter((x) => x.path.startsWith('oemdrv/'))) {
      const p = join(seed, a.path.slice('oemdrv/'.length));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, a.bytes);
    }
    const root = tempDir('k8s-image-sysimage-');
    const script = body
      .split('\n')
      .filter((l) => !/^(mount|umount) /.test(l))
      .join('\n')
      .replace(/^seed=.*$/m, `seed=${seed}`)
      .replaceAll('/mnt/sysimage/', `${root}/`);
    // What lorax's runtime-cleanup.tmpl (lorax-19.7.28-1) leaves of coreutils: no install, no base64.
    const path = minimalPath(['/usr/bin/sha256sum']);
    assert.ok(!existsSync(join(path, 'install')));
    const r = spawnSync('bash', ['-c', script], { env: { PATH: path }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const plan = planNode(f.lab, f.labSecrets, 'master');
    const secret = plan.files.filter((x) => x.secret);
    assert.ok(secret.length > 0);
    for (const file of secret) {
      assert.equal(readFileSync(join(root, file.path), 'utf8'), file.content, file.path);
      assert.equal(statSync(join(root, file.path)).mode & 0o777, file.mode, file.path);
    }
  });
});
