/**
 * The farm build's machinery, a stage below the commands: a cluster and its secrets in, a written
 * tree of every node's artifacts and seed ISOs out, rendered on the main thread and written by
 * threads (render-pool.ts). `build` and `golden` call it; commands stay parse, call, summarise.
 */
export { buildAll, renderThreads } from './render-pool.js';
export { nicKnown, nodeArtifacts, nodeFiles, seedIsos, type SeedOptions } from './node-artifacts.js';
export { checkTreeTarget, writeClusterTree, type TreeRequest, type TreeProgress, type TreeResult } from './tree.js';
