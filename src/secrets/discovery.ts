import { createHash, X509Certificate } from 'node:crypto';

// Node's own X.509 parser, not @peculiar/x509: the plan needs this on every node, in every render
// thread, and the library costs a fifth of a second to load.
/**
 * kubeadm's --discovery-token-ca-cert-hash for a CA certificate:
 * "sha256:" + hex SHA-256 of the certificate's DER SubjectPublicKeyInfo.
 */
export function discoveryHash(caCertPem: string): string {
  // Every node's kubeadm config asks for it: parse the certificate once per process.
  let hash = discoveryHashes.get(caCertPem);
  if (hash === undefined) {
    const spki = new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' });
    hash = 'sha256:' + createHash('sha256').update(spki).digest('hex');
    discoveryHashes.set(caCertPem, hash);
  }
  return hash;
}
const discoveryHashes = new Map<string, string>();
