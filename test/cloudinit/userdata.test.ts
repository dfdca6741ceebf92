// The user-data text is assembled from cached js-yaml pieces for speed: it must be the very bytes
// one js-yaml dump of the whole document gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { dumpUserData } from '../../src/cloudinit/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { planNode } from '../../src/plan/index.js';
import { labAndHa } from '../render/fixtures.js';

test('assembled user-data equals a single dump of the whole document, for every node kind', async () => {
  const f = await labAndHa();
  for (const [cluster, secrets] of [[f.lab, f.labSecrets], [f.ha, f.haSecrets]] as const) {
    for (const node of cluster.nodes) {
      const ud = Buffer.from(renderCloudInit(planNode(cluster, secrets, node.name)).find((a) => a.path === 'cloud-init/user-data')!.bytes).toString();
      const body = ud.split('\n').slice(2).join('\n');
      const doc = yaml.load(body) as Record<string, unknown>;
      assert.equal(body, yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false }), node.name);
      // Twice (from the cache) the same.
      assert.equal(dumpUserData(doc), body);
    }
  }
});
