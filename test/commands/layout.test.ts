// The layout docs/architecture.md draws: stages below commands, never the other way round.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/assets.js';

const src = join(packageRoot, 'src');
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

test('no stage imports a command (only cli.ts and commands/ do)', () => {
  const offenders = files(src)
    .filter((f) => !f.startsWith(join(src, 'commands')) && f !== join(src, 'cli.ts'))
    .filter((f) => /from '(\.\.\/)+commands\//.test(readFileSync(f, 'utf8')))
    .map((f) => relative(packageRoot, f));
  assert.deepEqual(offenders, []);
});

test('each stage folder is named in docs/architecture.md', () => {
  const doc = readFileSync(join(packageRoot, 'docs', 'architecture.md'), 'utf8');
  const stages = readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'commands').map((e) => e.name);
  for (const s of stages) assert.ok(doc.includes(`src/${s}/`), `docs/architecture.md names src/${s}/`);
});
