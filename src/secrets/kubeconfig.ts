import yaml from 'js-yaml';
import { discoveryHash } from './discovery.js';
import type { Secrets } from './store.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** "kubeadm join <endpoint> --token <token> --discovery-token-ca-cert-hash sha256:<hex>". */
export function joinCommand(secrets: Secrets, endpoint: string): string {
  return `kubeadm join ${endpoint} --token ${secrets.bootstrapToken} --discovery-token-ca-cert-hash ${discoveryHash(secrets.ca.cert)}`;
}

/**
 * An admin.conf-style kubeconfig for `server` (https://host:port): the cluster CA as
 * certificate-authority-data and user kubernetes-admin with a fresh client certificate
 * (CN=kubernetes-admin, O=system:masters, clientAuth, 1 year) signed by the cluster CA.
 * Each call mints a new client key, so the text differs from call to call.
 */
export async function adminKubeconfig(opts: {
  secrets: Secrets;
  clusterName: string;
  server: string;
  now?: Date;
}): Promise<string> {
  const { signClientCert } = await import('./pki.js');
  const client = await signClientCert({
    ca: opts.secrets.ca,
    subject: [{ O: ['system:masters'] }, { CN: ['kubernetes-admin'] }],
    now: opts.now ?? new Date(),
    years: 1,
  });
  const user = 'kubernetes-admin';
  const context = `${user}@${opts.clusterName}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: opts.clusterName,
        cluster: { 'certificate-authority-data': b64(opts.secrets.ca.cert), server: opts.server },
      },
    ],
    contexts: [{ name: context, context: { cluster: opts.clusterName, user } }],
    'current-context': context,
    preferences: {},
    users: [
      {
        name: user,
        user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) },
      },
    ],
  };
  return yaml.dump(config, { lineWidth: -1, noRefs: true, sortKeys: false });
}
