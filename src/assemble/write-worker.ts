/** A write thread (see render-pool.ts): makes a rendered node's seed ISOs, writes and hashes its files. */
import { parentPort } from 'node:worker_threads';
import { writeArtifactsSync } from '../output/index.js';
import { seedIsos } from './seeds.js';
import type { WriteJob } from './render-pool.js';

parentPort!.on('message', (m: WriteJob) => {
  seedIsos(m.node, m.files, m.opts)
    .then((isos) => {
      const entries = writeArtifactsSync(m.dir, [...m.files, ...isos], `${m.node.name}/`);
      parentPort!.postMessage({ index: m.index, entries, isos: isos.map((a) => ({ path: a.path, secret: a.secret })) });
    })
    .catch((e: unknown) => {
      // A file-system error keeps its code and path across the thread boundary (the CLI reports it as the user's).
      const err = e as NodeJS.ErrnoException;
      parentPort!.postMessage({ index: m.index, error: err instanceof Error ? err.message : String(e), built: { code: err?.code, path: err?.path, syscall: err?.syscall } });
    });
});
