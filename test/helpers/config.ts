import assert from 'node:assert/strict';
import { UserError } from '../../src/errors.js';
import { loadCluster } from '../../src/config/index.js';

/** The problems loadCluster reports for a config that must be refused. */
export function configProblems(text: string): string[] {
  try {
    loadCluster(text, 'test.yaml');
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error).stack}`);
    // The line each problem ends with is checked in test/config/where.test.ts; these tests compare the rest.
    return e.problems.map((p) => p.replace(/ \(line \d+\)$/, ''));
  }
  assert.fail('expected the config to be refused');
}
