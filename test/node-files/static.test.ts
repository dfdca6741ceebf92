// The node files as text: bash syntax, shellcheck, and the systemd units' keys (systemd 219, CentOS 7).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { nodeFiles, script } from './sandbox.js';
import { FIRSTBOOT_PARTS } from '../../src/plan/node-scripts.js';
import { directives, systemd219Keys } from './systemd219.js';

const exec = promisify(execFile);
const SCRIPTS = ['firstboot.sh', 'install.sh', 'token-keeper.sh', 'golden.sh', 'seal.sh', 'cert-renew.sh'];

async function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(cmd, args);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${cmd} is not installed: apt-get install ${cmd}`);
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

type Unit = Record<string, Record<string, string[]>>;

/** A unit file as sections of keys (repeated keys collect), from the one unit reader the 219 checks use; each section once. */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let last = '';
  for (const d of directives(text)) {
    if (d.section !== last) assert.ok(!(d.section in unit), `section [${d.section}] once`);
    last = d.section;
    ((unit[d.section] ??= {})[d.key] ??= []).push(d.value);
  }
  return unit;
}

const unitFile = (name: string): Unit => parseUnit(readFileSync(join(nodeFiles, name), 'utf8'));
const one = (u: Unit, section: string, key: string): string | undefined => {
  const v = u[section]?.[key];
  if (v === undefined) return undefined;
  assert.equal(v.length, 1, `${section}.${key} set once`);
  return v[0];
};

/** Keys systemd 219 knows in the sections these units use (anything else would be ignored with a warning): test/reference/systemd-219.json. */
const KNOWN: Record<string, string[]> = systemd219Keys();

describe('node-files scripts', () => {
  for (const s of SCRIPTS) {
    it(`${s}: bash -n, shellcheck -S style clean, #!/bin/bash and set -euo pipefail`, async () => {
      const text = readFileSync(script(s), 'utf8');
      assert.ok(text.startsWith('#!/bin/bash\n'));
      assert.match(text, /^set -euo pipefail$/m);
      const syntax = await tool('bash', ['-n', script(s)]);
      assert.equal(syntax.code, 0, syntax.out);
      const sc = await tool('shellcheck', ['-s', 'bash', '-S', 'style', '-f', 'gcc', script(s)]);
      assert.equal(sc.code, 0, sc.out);
    });
  }

  it('the scripts avoid tools and flags CentOS 7 lacks', () => {
    for (const s of SCRIPTS) {
      const text = readFileSync(script(s), 'utf8');
      for (const bad of ['--retry-all-errors', '--fail-with-body', '--retry-connrefused', 'EPOCHSECONDS', 'wait -n', 'local -n', 'declare -n', 'readarray -d', 'mapfile -d']) {
        assert.ok(!text.includes(bad), `${s} uses ${bad} (not in CentOS 7's bash 4.2 / curl 7.29)`);
      }
      assert.doesNotMatch(text, /\$\{[A-Za-z_]+@[QEPAa]\}/, `${s}: \${var@Q} needs bash 4.4`);
    }
  });

  it('the test fake commands are shellcheck-clean too', async () => {
    const sc = await tool('shellcheck', ['-s', 'bash', '-S', 'warning', '-f', 'gcc', join(nodeFiles, '..', 'test', 'node-files', 'fake-command.sh')]);
    assert.equal(sc.code, 0, sc.out);
  });
});

describe('node-files systemd units', () => {
  it('only keys systemd 219 knows', () => {
    for (const f of readdirSync(nodeFiles).filter((n) => /\.(service|timer)$/.test(n))) {
      const u = unitFile(f);
      for (const [section, keys] of Object.entries(u)) {
        assert.ok(section in KNOWN, `${f}: section [${section}]`);
        for (const k of Object.keys(keys)) assert.ok(KNOWN[section]!.includes(k), `${f}: ${section}.${k}`);
      }
    }
  });

  it('k8s-image-firstboot.service: simple (a days-long wait never holds the boot), no Restart=, after network and runtimes, skipped once bootstrapped', () => {
    const u = unitFile('k8s-image-firstboot.service');
    // A oneshot unit stays "activating" until the script exits: multi-user.target (and
    // `systemctl is-system-running`) would wait for a worker that waits days for its master.
    assert.equal(one(u, 'Service', 'Type'), 'simple');
    assert.equal(one(u, 'Service', 'RemainAfterExit'), 'yes');
    assert.equal(one(u, 'Service', 'Restart'), undefined, 'the script retries itself; a restart loop would rerun kubeadm');
    assert.equal(one(u, 'Service', 'ExecStart'), '/usr/local/lib/k8s-image/firstboot.sh');
    assert.equal(one(u, 'Service', 'StandardOutput'), 'journal+console');
    assert.equal(one(u, 'Unit', 'Wants'), 'network-online.target');
    assert.deepEqual(one(u, 'Unit', 'After')?.split(/\s+/).sort(), ['chronyd.service', 'containerd.service', 'docker.service', 'network-online.target']);
    assert.equal(one(u, 'Unit', 'ConditionPathExists'), '!/var/lib/k8s-image/bootstrap-success.complete');
    assert.equal(one(u, 'Install', 'WantedBy'), 'multi-user.target');
  });

  it('k8s-image-token-keeper.service and .timer: oneshot every 10 minutes, no Restart=', () => {
    const s = unitFile('k8s-image-token-keeper.service');
    assert.equal(one(s, 'Service', 'Type'), 'oneshot');
    assert.equal(one(s, 'Service', 'Restart'), undefined);
    assert.equal(one(s, 'Service', 'ExecStart'), '/usr/local/lib/k8s-image/token-keeper.sh');
    assert.equal(one(s, 'Unit', 'ConditionPathExists'), '!/var/lib/k8s-image/token-keeper.done');
    assert.equal(s.Install, undefined, 'started by its timer only');
    const t = unitFile('k8s-image-token-keeper.timer');
    assert.equal(one(t, 'Timer', 'OnBootSec'), '5min');
    assert.equal(one(t, 'Timer', 'OnUnitActiveSec'), '10min');
    assert.equal(one(t, 'Timer', 'Unit'), 'k8s-image-token-keeper.service');
    assert.equal(one(t, 'Install', 'WantedBy'), 'timers.target');
  });

  it('the scripts name the same units and state files as the units', () => {
    const fb = readFileSync(script('firstboot.sh'), 'utf8');
    const tk = readFileSync(script('token-keeper.sh'), 'utf8');
    assert.match(fb, /KEEPER_TIMER=k8s-image-token-keeper\.timer/);
    assert.match(tk, /TIMER=k8s-image-token-keeper\.timer/);
    assert.match(fb, /SENTINEL=\$STATE_DIR\/bootstrap-success\.complete/);
    assert.match(tk, /DONE_FILE=\$STATE_DIR\/token-keeper\.done/);
    assert.match(fb, /STATE_DIR=\$\{STATE_DIR:-\/var\/lib\/k8s-image\}/);
  });
});

describe('node-files/firstboot/: one concern a file', () => {
  const dir = join(nodeFiles, 'firstboot');
  const onDisk = [...readdirSync(dir).filter((n) => n.endsWith('.sh')), ...readdirSync(join(dir, 'stages')).map((n) => `stages/${n}`)].sort();

  it('every part is assembled, once, and nothing else is there', () => {
    assert.deepEqual([...FIRSTBOOT_PARTS].sort(), onDisk);
  });

  it("each stages/NAME.sh defines stage_NAME and nothing else at the top level; the driver's main() runs each", () => {
    const driver = readFileSync(join(dir, 'driver.sh'), 'utf8');
    for (const part of onDisk.filter((p) => p.startsWith('stages/'))) {
      const name = part.slice('stages/'.length, -'.sh'.length);
      const text = readFileSync(join(dir, part), 'utf8');
      const fns = [...text.matchAll(/^([a-z_]+)\(\) \{$/gm)].map((m) => m[1]);
      assert.ok(fns.includes(`stage_${name}`), `${part} defines stage_${name}`);
      for (const fn of fns) assert.ok(fn === `stage_${name}` || !driver.includes(`stage_${fn}`), `${part}: ${fn}`);
      assert.match(driver, new RegExp(`^ +stage ${name}$`, 'm'), `driver.sh's main() runs stage ${name}`);
      assert.match(text, /^#: Stage /, `${part} starts with a note saying what the stage does`);
    }
  });
});

describe('node-files/README.md', () => {
  it('documents every variable the scripts read from their env files', () => {
    const readme = readFileSync(join(nodeFiles, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
    for (const s of SCRIPTS) {
      const text = readFileSync(script(s), 'utf8');
      // Every `${NAME:-default}` / `$NAME` in upper case that is not set by the script itself.
      const used = new Set([...text.matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
      const assigned = new Set([...text.matchAll(/^\s*(?:local\s+)?([A-Z][A-Z0-9_]+)=(?!\$\{\1:-)/gm)].map((m) => m[1]!));
      const env = new Set(['K8S_IMAGE_ENV', 'K8S_IMAGE_INSTALL_ENV', 'K8S_IMAGE_GOLDEN_ENV', 'K8S_IMAGE_CERT_ENV', 'PATH', 'TMPDIR']);
      for (const v of used) {
        if (assigned.has(v) || env.has(v)) continue;
        assert.ok(documented.has(v), `${s} reads ${v}: add it to node-files/README.md`);
      }
    }
  });
});
