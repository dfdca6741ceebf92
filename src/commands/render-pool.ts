/**
 * Builds nodes on every core: worker threads each render their share of the nodes with the same pure
 * nodeArtifacts() and write them into the staging tree themselves; the main thread only hands out
 * node names and collects manifest entries. Rendering is pure, so the bytes do not depend on which
 * thread made them (test/commands/perf.test.ts compares with a one-thread build).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Cluster, Node } from '../config/index.js';
import type { Secrets } from '../secrets/index.js';
import type { IsoTool } from '../iso/index.js';
import { writeArtifactsSync, type ManifestEntry } from '../output/index.js';
import { nodeArtifacts } from './node-artifacts.js';

export interface RenderJob {
  cluster: Cluster;
  secrets: Secrets;
  staged: string;
  opts: { isos: boolean; seed: 'cidata' | 'oemdrv' | 'both'; isoTool: IsoTool; epoch: number };
}

/** What a built node reports back: its manifest entries and, for the summary, its files. */
export interface BuiltNode {
  entries: ManifestEntry[];
  files: { path: string; secret: boolean }[];
}

/** Render one node and write it under the staging tree (the work of one thread, or of the main one). */
export async function buildNode(job: RenderJob, node: Node): Promise<BuiltNode> {
  const artifacts = await nodeArtifacts(job.cluster, job.secrets, node, job.opts);
  const entries = writeArtifactsSync(join(job.staged, node.name), artifacts, `${node.name}/`);
  return { entries, files: artifacts.map((a) => ({ path: a.path, secret: a.secret })) };
}

/** Threads to build with: one per core for big builds with the built-in ISO writer, else none (K8S_IMAGE_THREADS overrides). */
export function renderThreads(nodes: number, isoTool: IsoTool, env: NodeJS.ProcessEnv = process.env): number {
  const asked = env.K8S_IMAGE_THREADS === undefined || env.K8S_IMAGE_THREADS === '' ? undefined : Number(env.K8S_IMAGE_THREADS);
  if (asked !== undefined && Number.isInteger(asked) && asked >= 0) return Math.min(asked, 16);
  if (isoTool !== 'builtin' || nodes < 48) return 0;
  // One per core: measured against two per core (1000 nodes, 2 cores, interleaved runs) one was
  // faster in every round (2.15 s vs 3.28 s in the best): a second thread per core mostly adds its
  // start-up and contention for the directory locks, more than it gains while the other waits on
  // the disk.
  return Math.min(availableParallelism(), 8);
}

const IN_FLIGHT = 4;

/** Build every node; `done` sees each in node order. `checkpoint` throws when a signal asked to stop. */
export async function buildAll(job: RenderJob, nodes: Node[], threads: number, done: (node: Node, index: number, built: BuiltNode) => void, checkpoint: () => void): Promise<void> {
  if (threads === 0) {
    for (const [i, node] of nodes.entries()) {
      checkpoint();
      done(node, i, await buildNode(job, node));
    }
    return;
  }
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./render-worker.js', import.meta.url), { workerData: job }));
  try {
    await new Promise<void>((resolve, reject) => {
      const results = new Map<number, BuiltNode>();
      let next = 0;
      let reported = 0;
      let failed = false;
      const fail = (e: unknown) => {
        if (!failed) (failed = true), reject(e);
      };
      const feed = (w: Worker) => {
        try {
          checkpoint();
        } catch (e) {
          return fail(e);
        }
        if (next < nodes.length) w.postMessage({ index: next, node: nodes[next++]!.name });
      };
      for (const w of workers) {
        w.on('message', (m: { index: number; built?: BuiltNode; error?: string }) => {
          if (failed) return;
          if (m.error !== undefined) return fail(Object.assign(new Error(m.error), m.built));
          results.set(m.index, m.built!);
          while (results.has(reported)) {
            done(nodes[reported]!, reported, results.get(reported)!);
            results.delete(reported++);
          }
          if (reported === nodes.length) resolve();
          else feed(w);
        });
        w.on('error', fail);
        // A few nodes queued per thread: a thread that waited for the main thread's answer after each
        // node sat idle a sixth of the build (the round trip through two event loops).
        for (let i = 0; i < IN_FLIGHT; i++) feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
