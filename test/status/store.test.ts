// The status store on its own: a report whose write fails is not taken (its resend is not a replay),
// and what is on disk is what a new store reads back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusStore, type StatusEvent } from '../../src/status/store.js';
import { tempDir } from '../helpers/tmp.js';

const event = (nonce: string, stage: StatusEvent['stage'] = 'firstboot'): StatusEvent => ({ node: 'node01', stage, time: 1796166000, nonce, received: Date.now(), ip: '10.0.0.11' });

test('a report the disk did not take can be sent again', async () => {
  const dir = tempDir('k8s-image-store-');
  const s = new StatusStore(dir);
  await s.append(event('a'.repeat(32)));
  s.close();
  // The file descriptor is gone: the write fails as a full or failing disk would.
  await assert.rejects(s.append(event('b'.repeat(32), 'runtime')));
  assert.equal(s.seen('node01', 'b'.repeat(32)), false, 'not taken, so its resend is no replay');
  assert.equal(s.seen('node01', 'a'.repeat(32)), true);
  const again = new StatusStore(dir);
  assert.equal(again.get('node01')!.stage, 'firstboot');
  assert.equal(again.seen('node01', 'a'.repeat(32)), true);
  assert.equal(again.seen('node01', 'b'.repeat(32)), false);
  await again.append(event('b'.repeat(32), 'runtime'));
  assert.deepEqual(again.get('node01')!.history.map((h) => h.stage), ['firstboot', 'runtime']);
  again.close();
});
