/**
 * Every unit in node-files (first boot, golden, token keeper, certificate renewal) held to the systemd
 * 219 subset of test/reference/systemd-219.json: each directive exists in 219, the calendar
 * expressions and time spans are 219's syntax. (systemd-analyze verify in units.test.ts is Debian's
 * newer systemd, which accepts more.)
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { loadCluster } from '../../src/config/index.js';
import { renewSlot } from '../../src/plan/certs.js';
import { planNode } from '../../src/plan/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { nodeFiles } from './sandbox.js';
import { calendarProblem, directives, SYSTEMD_219, systemd219Keys, timespanProblem } from './systemd219.js';

/** Everything 219 would not take in a unit's text (empty: fine). */
function problems(name: string, text: string): string[] {
  const known = systemd219Keys();
  const out: string[] = [];
  for (const d of directives(text)) {
    const id = `${d.section}.${d.key}`;
    if (!(d.section in known)) out.push(`${name}: [${d.section}] is not a section these units may use`);
    else if (!known[d.section]!.includes(d.key)) out.push(`${name}: ${id} is not in systemd 219${SYSTEMD_219.not_in_219[id] ? ` (added in ${SYSTEMD_219.not_in_219[id]})` : ''}`);
    if (d.section === 'Timer' && d.key === 'OnCalendar') {
      const p = calendarProblem(d.value);
      if (p) out.push(`${name}: OnCalendar=${d.value}: ${p}`);
    }
    if (d.section === 'Timer' && /^On(Boot|Startup|Active|UnitActive|UnitInactive)Sec$|^AccuracySec$/.test(d.key)) {
      const p = timespanProblem(d.value);
      if (p) out.push(`${name}: ${id}=${d.value}: ${p}`);
    }
  }
  return out;
}

const UNITS = readdirSync(nodeFiles).filter((n) => /\.(service|timer)$/.test(n)).sort();

describe('node-files units against systemd 219 (test/reference/systemd-219.json)', () => {
  it('the units are there: first boot, golden, token keeper, certificate renewal', () => {
    assert.deepEqual(UNITS, [
      'k8s-image-cert-renew.service',
      'k8s-image-cert-renew.timer',
      'k8s-image-firstboot.service',
      'k8s-image-golden.service',
      'k8s-image-token-keeper.service',
      'k8s-image-token-keeper.timer',
    ]);
  });

  for (const name of UNITS) {
    it(`${name}: every directive and value is 219's`, () => {
      assert.deepEqual(problems(name, readFileSync(join(nodeFiles, name), 'utf8')), []);
    });
  }

  it('the renewal timer, as the plan renders it for each master of a 5-master cluster: its own time of night (02:00, 02:30, ...), Persistent, no randomized delay, all 219\'s', async () => {
    const doc = yaml.load(readFileSync(join(packageRoot, 'examples/ha.yaml'), 'utf8')) as { nodes: { name: string; role: string; ip: string }[] };
    const masters = doc.nodes.filter((n) => n.role === 'master');
    // Two more masters (addresses beside the example's), five in all.
    const base = masters[masters.length - 1]!;
    for (const k of [1, 2]) {
      const ip = base.ip.replace(/\.(\d+)(\/\d+)?$/, (_m, last: string, len: string | undefined) => `.${Number(last) + 100 + k}${len ?? ''}`);
      doc.nodes.splice(doc.nodes.indexOf(base) + k, 0, { ...base, name: `master${masters.length + k}`, ip });
    }
    const cluster = loadCluster(yaml.dump(doc)).cluster;
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
    const calendars: string[] = [];
    for (const n of cluster.nodes.filter((x) => x.role === 'master')) {
      const text = planNode(cluster, secrets, n.name).files.find((f) => f.path === '/etc/systemd/system/k8s-image-cert-renew.timer')!.content;
      assert.deepEqual(problems(`${n.name}: k8s-image-cert-renew.timer`, text), []);
      const d = directives(text);
      const get = (k: string) => d.filter((x) => x.section === 'Timer' && x.key === k).map((x) => x.value);
      calendars.push(...get('OnCalendar'));
      assert.deepEqual(get('Persistent'), ['true']);
      assert.deepEqual(get('Unit'), ['k8s-image-cert-renew.service']);
      assert.deepEqual(get('RandomizedDelaySec'), []);
      assert.deepEqual(d.filter((x) => x.section === 'Install').map((x) => `${x.key}=${x.value}`), ['WantedBy=timers.target']);
    }
    assert.deepEqual(calendars, ['*-*-* 02:00:00', '*-*-* 02:30:00', '*-*-* 03:00:00', '*-*-* 03:30:00', '*-*-* 04:00:00']);
    assert.deepEqual(Array.from({ length: 10 }, (_, i) => renewSlot(i)), ['02:00', '02:30', '03:00', '03:30', '04:00', '04:30', '05:00', '05:30', '02:00', '02:30']);
  });

  it('the check refuses what 219 does not take (so it can fail)', () => {
    const bad = '[Unit]\nDescription=x\nStartLimitIntervalSec=5\n[Timer]\nOnCalendar=Mon..Fri 02:00\nRandomizedDelaySec=1h\nOnBootSec=5 fortnights\n[Install]\nWantedBy=timers.target\n';
    assert.deepEqual(problems('bad.timer', bad), [
      'bad.timer: Unit.StartLimitIntervalSec is not in systemd 219 (added in 230)',
      `bad.timer: OnCalendar=Mon..Fri 02:00: "..": ${SYSTEMD_219.calendar.forbidden['..']}`,
      'bad.timer: Timer.RandomizedDelaySec is not in systemd 219 (added in 229)',
      `bad.timer: Timer.OnBootSec=5 fortnights: not a time span in ${SYSTEMD_219.timespan_units.join('|')}`,
    ]);
    assert.equal(calendarProblem('*-*-* 03:00:00'), undefined);
    assert.equal(calendarProblem('Mon,Fri *-*-* 03:00'), undefined);
    assert.equal(calendarProblem('*:0/15'), undefined);
    assert.match(calendarProblem('*-*~01') ?? '', /v233/);
    assert.match(calendarProblem('quarterly') ?? '', /not a shorthand/);
  });
});
