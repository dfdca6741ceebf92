/**
 * Builds a farm on every core. The main thread renders each node's files (planNode, kickstart,
 * cloud-init: the JavaScript-heavy part), and write threads turn them into the seed ISOs, write and
 * hash them into the staging tree. One isolate compiles the render code: with a render thread per
 * core, V8's optimizing compiler took a third of all CPU on two cores, each isolate compiling the
 * same functions, and the thread that waited for the disk left its core to that compiler. Rendering
 * and the ISO writer are pure, so the bytes do not depend on which thread made them
 * (test/commands/perf.test.ts compares with a one-thread build).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Cluster, Node } from '../config/index.js';
import type { Secrets } from '../secrets/index.js';
import type { IsoTool } from '../iso/index.js';
import { isShared, type Artifact } from '../artifact.js';
import { writeArtifactsSync, type ManifestEntry } from '../output/index.js';
import { nodeArtifacts, nodeFiles, type SeedOptions } from './node-artifacts.js';

export interface RenderJob {
  cluster: Cluster;
  secrets: Secrets;
  staged: string;
  opts: SeedOptions;
}

/** What a built node reports back: its manifest entries and, for the summary, its files. */
export interface BuiltNode {
  entries: ManifestEntry[];
  files: { path: string; secret: boolean }[];
}

/** What the main thread sends a write thread: one node's rendered files and how to make its seeds. */
export interface WriteJob {
  index: number;
  node: Pick<Node, 'name' | 'mac' | 'interface'>;
  dir: string;
  files: Artifact[];
  opts: SeedOptions;
}

/** Render one node and write it under the staging tree, all on this thread. */
export async function buildNode(job: RenderJob, node: Node): Promise<BuiltNode> {
  const artifacts = await nodeArtifacts(job.cluster, job.secrets, node, job.opts);
  const entries = writeArtifactsSync(join(job.staged, node.name), artifacts, `${node.name}/`);
  return { entries, files: artifacts.map((a) => ({ path: a.path, secret: a.secret })) };
}

/**
 * Write threads to build with: for big builds with the built-in ISO writer, one per core besides the
 * main thread's (at least one), else none and all is done on the main thread. K8S_IMAGE_THREADS
 * overrides (0: one thread). On 2 cores, 1000 nodes, seven interleaved runs each: one write thread
 * 2.39 s median, two 2.56 s (a third thread only competes for the two cores).
 */
export function renderThreads(nodes: number, isoTool: IsoTool, env: NodeJS.ProcessEnv = process.env): number {
  const asked = env.K8S_IMAGE_THREADS === undefined || env.K8S_IMAGE_THREADS === '' ? undefined : Number(env.K8S_IMAGE_THREADS);
  if (asked !== undefined && Number.isInteger(asked) && asked >= 0) return Math.min(asked, 16);
  if (isoTool !== 'builtin' || nodes < 48) return 0;
  return Math.max(1, Math.min(availableParallelism() - 1, 8));
}

/**
 * The node's big buffers move to the write thread instead of being copied (copying them was a fifth
 * of the main thread's time). Only buffers that are wholly this node's: small ones share Node's
 * pool, and text every node shares (sharedBytes) is only ever copied into an artifact.
 */
function transferable(artifacts: Artifact[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const { bytes } of artifacts) {
    const buf = bytes.buffer;
    if (buf instanceof ArrayBuffer && bytes.byteLength >= 4096 && bytes.byteOffset === 0 && buf.byteLength === bytes.byteLength && !isShared(bytes)) out.add(buf);
  }
  return [...out];
}

/** Nodes rendered but not yet written, at most: bounds what a slow disk makes the build hold. */
const IN_FLIGHT = 16;

/** Build every node; `done` sees each in node order. `checkpoint` throws when a signal asked to stop. */
export async function buildAll(job: RenderJob, nodes: Node[], threads: number, done: (node: Node, index: number, built: BuiltNode) => void, checkpoint: () => void): Promise<void> {
  if (threads === 0) {
    for (const [i, node] of nodes.entries()) {
      checkpoint();
      done(node, i, await buildNode(job, node));
    }
    return;
  }
  const writers = Array.from({ length: threads }, () => new Worker(new URL('./write-worker.js', import.meta.url)));
  const rendered = new Map<number, BuiltNode['files']>();
  const written = new Map<number, BuiltNode>();
  let reported = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const event = () => new Promise<void>((resolve) => (wake = resolve));
  try {
    for (const w of writers) {
      w.on('message', (m: { index: number; entries?: ManifestEntry[]; isos?: BuiltNode['files']; error?: string; built?: object }) => {
        if (m.error !== undefined) failure ??= Object.assign(new Error(m.error), m.built);
        else written.set(m.index, { entries: m.entries!, files: [...rendered.get(m.index)!, ...m.isos!] });
        while (written.has(reported)) {
          done(nodes[reported]!, reported, written.get(reported)!);
          written.delete(reported);
          rendered.delete(reported++);
        }
        wake?.();
      });
      w.on('error', (e) => {
        failure ??= e;
        wake?.();
      });
      // A thread that ends without an error event (killed, out of memory) must not leave the build waiting.
      w.on('exit', (code) => {
        if (reported < nodes.length) failure ??= new Error(`a write thread stopped before the build was done (exit code ${code})`);
        wake?.();
      });
    }
    for (const [i, node] of nodes.entries()) {
      checkpoint();
      if (failure) throw failure;
      const files = nodeFiles(job.cluster, job.secrets, node);
      rendered.set(i, files.map((a) => ({ path: a.path, secret: a.secret })));
      const message: WriteJob = { index: i, node: { name: node.name, mac: node.mac, interface: node.interface }, dir: join(job.staged, node.name), files, opts: job.opts };
      writers[i % threads]!.postMessage(message, transferable(files));
      while (rendered.size >= IN_FLIGHT && !failure) await event();
    }
    while (reported < nodes.length && !failure) await event();
    if (failure) throw failure;
  } finally {
    await Promise.all(writers.map((w) => w.terminate()));
  }
}
