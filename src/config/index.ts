export { loadCluster, needsGeneratedRootPassword, durationSeconds, formatPath, PRESETS, DEFAULTS } from './load.js';
export { defaultClusterYaml, haClusterYaml } from './defaults.js';
export { ClusterFileSchema } from './schema.js';
export type { Cluster, Node, Mirrors, LoadedCluster } from './types.js';
export * as net from './net.js';
export * as patterns from './patterns.js';
