export { loadCluster, needsGeneratedRootPassword, durationSeconds, formatPath, PRESETS, DEFAULTS } from './load.js';
export { defaultClusterYaml, haClusterYaml } from './defaults.js';
export { ClusterFileSchema } from './schema.js';
export type { Cluster, Node, Mirrors, LoadedCluster } from './types.js';
export * as net from './net.js';
export * as patterns from './patterns.js';
export { URL_USERINFO } from './patterns.js';
export { manifestDocs, calicoNodeContainer, type K8sObject } from './cni-manifest.js';
export type { LoadOptions } from './load.js';
