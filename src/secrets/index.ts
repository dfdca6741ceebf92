/**
 * Cluster secrets: the only place in k8s-image that draws randomness. Everything random a
 * build needs (CAs, service-account key, bootstrap token, certificate key, root password) is
 * minted here once, kept in a 0600 secrets file, and read back on every later build.
 */
export type { KeyPairPem } from './pki.js';
export { discoveryHash } from './discovery.js';
export type { PlannedSecrets, Secrets } from './store.js';
export { generateSecrets, parseSecrets, serializeSecrets, loadOrCreateSecrets, planSecrets, readSecretsFile, checkSecretsFile } from './store.js';
export { joinCommand, adminKubeconfig } from './kubeconfig.js';
export { sha512Crypt } from './sha512crypt.js';
