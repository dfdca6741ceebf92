import { UserError } from '../errors.js';
import { endpointText } from '../plan/index.js';
import { joinCommand } from '../secrets/index.js';
import { checkSecretsWritable, parseSecrets, readSecretsFile, writeBootstrapToken } from '../secrets/store.js';
import { createBootstrapToken, DEFAULT_TTL_SECONDS, parseTtl } from '../day2/token.js';
import { readConfig, secretsLocation, type Output } from './common.js';

export interface TokenCreateOptions { config?: string; out?: string; secrets?: string; ttl?: string; write?: boolean; server?: string; json?: boolean }

/** `k8s-image token create`: a new bootstrap token in the running cluster, and with --write in the secrets file. */
export async function tokenCreate(opts: TokenCreateOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  const ttlSeconds = opts.ttl === undefined ? DEFAULT_TTL_SECONDS : parseTtl(opts.ttl);
  const server = opts.server ?? `https://${endpointText(loaded.cluster)}`;
  if (!/^https:\/\/[^\s/?#@]+(:[0-9]{1,5})?\/?$/.test(server)) throw new UserError(`--server ${server}: expected the API server as https://host:port, like https://192.168.108.100:6443`);
  const where = secretsLocation(loaded, opts.out ?? 'outputs', opts.secrets);
  const file = readSecretsFile(where.path);
  // Never minted here: a token made with a new CA would be trusted by no cluster.
  if (!file) throw new UserError(`${where.path} (${where.why}): no secrets file; token create needs the one the cluster was built with (its CA signs the admin credentials)`);
  const secrets = parseSecrets(file.text, where.path);
  if (secrets.cluster !== loaded.cluster.name) throw new UserError(`${where.path} holds secrets for cluster "${secrets.cluster}", not "${loaded.cluster.name}"`);
  // Before the POST: a token the cluster trusts but nobody was shown would stay live (--ttl 0: for ever).
  if (opts.write) checkSecretsWritable(where.path);
  const { signClientCert } = await import('../secrets/pki.js');
  const client = await signClientCert({ ca: secrets.ca, subject: [{ O: ['system:masters'] }, { CN: ['kubernetes-admin'] }], now: new Date(), years: 1 });
  const created = await createBootstrapToken({ server, secrets, client, ttlSeconds });
  if (opts.write) {
    try {
      writeBootstrapToken(where.path, loaded.cluster.name, created.token);
    } catch (e) {
      // The token is live in the cluster: say what it is rather than lose it.
      const why = e instanceof Error ? e.message : String(e);
      throw new UserError(`token create: created token ${created.token} (Secret kube-system/${created.secretName}, ${created.expiration ? `expires ${created.expiration}` : 'never expires'}) but could not write it into ${where.path}: ${why}. Use it by hand (kubeadm join ... --token ${created.token}), or delete it: kubectl -n kube-system delete secret ${created.secretName}`);
    }
  }
  const join = joinCommand({ ...secrets, bootstrapToken: created.token }, endpointText(loaded.cluster));
  if (opts.json) {
    out.result(JSON.stringify({ token: created.token, secret: `kube-system/${created.secretName}`, expiration: created.expiration ?? null, written: Boolean(opts.write), secretsFile: where.path, joinCommand: join }, null, 2));
    return;
  }
  out.result(created.token);
  out.info(`created bootstrap token ${created.token.slice(0, 6)}.*** (Secret kube-system/${created.secretName}) on ${server}: ${created.expiration ? `expires ${created.expiration}` : 'never expires (delete it with kubectl -n kube-system delete secret ' + created.secretName + ' when done)'}`);
  if (opts.write) {
    const cfg = loaded.source ? ` -c ${loaded.source}` : '';
    out.info(`wrote it into ${where.path} (mode 0600): the next \`k8s-image build${cfg} -n NODE\` seeds join with it; boot them before it expires`);
  } else {
    out.info(`not written anywhere (--write puts it into ${where.path} for the next builds); join by hand: ${join}`);
  }
}
