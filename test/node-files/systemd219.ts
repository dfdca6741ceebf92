/**
 * CentOS 7's systemd 219 as test/reference/systemd-219.json describes it: the directives of the unit
 * sections our units use, and the OnCalendar= / time-span syntax it accepts. Not a test file itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';

interface Reference {
  sections: Record<string, Record<string, string[]>>;
  not_in_219: Record<string, string>;
  calendar: { shorthands: string[]; weekdays: string[]; forbidden: Record<string, string>; pattern: string };
  timespan_units: string[];
}

export const SYSTEMD_219: Reference = JSON.parse(readFileSync(join(packageRoot, 'test/reference/systemd-219.json'), 'utf8')) as Reference;

/** Section -> every directive 219 knows there (the 208 base and what 209..219 added; never a later release). */
export function systemd219Keys(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [section, byRelease] of Object.entries(SYSTEMD_219.sections)) {
    out[section] = Object.entries(byRelease)
      .filter(([release]) => Number(release) <= 219)
      .flatMap(([, keys]) => keys);
  }
  return out;
}

/** Why 219 would refuse this OnCalendar= value, or undefined when it accepts it. */
export function calendarProblem(value: string): string | undefined {
  const v = value.trim();
  for (const [token, why] of Object.entries(SYSTEMD_219.calendar.forbidden)) if (v.includes(token)) return `"${token}": ${why}`;
  if (SYSTEMD_219.calendar.shorthands.includes(v)) return undefined;
  if (new RegExp(SYSTEMD_219.calendar.pattern).test(v)) return undefined;
  return `not a shorthand (${SYSTEMD_219.calendar.shorthands.join(', ')}) nor "[Weekday,...] [Y-M-D] H:M[:S]"`;
}

/** Why 219 would refuse this time span (OnBootSec=5min, AccuracySec=1h), or undefined. */
export function timespanProblem(value: string): string | undefined {
  const units = SYSTEMD_219.timespan_units.join('|');
  return new RegExp(`^(?:[0-9]+(?:\\.[0-9]+)?\\s*(?:${units})?\\s*)+$`).test(value.trim()) ? undefined : `not a time span in ${units}`;
}

/** [Section] Key=Value lines; comments skipped. */
export function directives(text: string): { section: string; key: string; value: string }[] {
  const out: { section: string; key: string; value: string }[] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([A-Za-z]+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `not a unit line: ${line}`);
    out.push({ section, key: kv[1]!, value: kv[2]! });
  }
  return out;
}
