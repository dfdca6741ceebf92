/** A build thread (see render-pool.ts): the job once, then node names; each node is rendered and written here. */
import { parentPort, workerData } from 'node:worker_threads';
import { buildNode, type RenderJob } from './render-pool.js';

const job = workerData as RenderJob;
parentPort!.on('message', (m: { index: number; node: string }) => {
  const node = job.cluster.nodes.find((n) => n.name === m.node)!;
  buildNode(job, node).then(
    (built) => parentPort!.postMessage({ index: m.index, built }),
    (e: unknown) => {
      // A file-system error keeps its code and path across the thread boundary (the CLI reports it as the user's).
      const err = e as NodeJS.ErrnoException;
      parentPort!.postMessage({ index: m.index, error: err instanceof Error ? err.message : String(e), built: { code: err?.code, path: err?.path, syscall: err?.syscall } });
    },
  );
});
