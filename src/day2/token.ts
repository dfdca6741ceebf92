/**
 * A new bootstrap token for nodes added after the shared one was deleted (`k8s-image token create`):
 * the Secret exactly as kubeadm makes it (test/reference/kubeadm-bootstrap-token.json), created
 * through the cluster's API over HTTPS with an admin client certificate signed offline by the
 * cluster CA. Never through SSH, never with a copy of admin.conf.
 */
import { request } from 'node:https';
import { UserError } from '../errors.js';
import { generateBootstrapToken, BOOTSTRAP_TOKEN_RE } from '../secrets/random.js';
import type { Secrets } from '../secrets/store.js';

/** kubeadm's constants: NodeBootstrapTokenAuthGroup, DefaultTokenUsages (KnownTokenUsages), DefaultTokenDuration. */
export const NODE_BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
export const TOKEN_USAGES = ['signing', 'authentication'] as const;
export const DEFAULT_TTL_SECONDS = 86400;
export const TOKEN_DESCRIPTION = 'k8s-image token create: for nodes added to the cluster later';

/** --ttl: Go-style durations as kubeadm takes them (24h, 1h30m, 45m), also days (7d); 0 = never expires. */
export function parseTtl(text: string): number {
  if (text === '0') return 0;
  if (!/^(?:[0-9]{1,6}[dhms])+$/.test(text)) throw new UserError(`--ttl ${text}: expected a duration like 24h, 1h30m, 2d (or 0: never expires)`);
  const units: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)([dhms])/g)) total += Number(m[1]) * units[m[2]!]!;
  if (total < 60) throw new UserError(`--ttl ${text}: at least 1m (a node needs time to install and join), or 0 for never`);
  if (total > 366 * 86400) throw new UserError(`--ttl ${text}: at most a year; use 0 for a token that never expires (and delete it yourself)`);
  return total;
}

/** Go's time.RFC3339 of a UTC time: whole seconds, "Z". */
export function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

export interface BootstrapTokenSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: 'kube-system' };
  type: 'bootstrap.kubernetes.io/token';
  /** Values base64, as the API takes Secret.data. */
  data: Record<string, string>;
}

/** The Secret kubeadm's BootstrapToken.ToSecret makes (encodeTokenSecretData), for `token` valid `ttlSeconds` from `now`. */
export function bootstrapTokenSecret(token: string, ttlSeconds: number, now: Date, description = TOKEN_DESCRIPTION): BootstrapTokenSecret {
  if (!BOOTSTRAP_TOKEN_RE.test(token)) throw new Error(`not a bootstrap token: ${token.slice(0, 6)}...`);
  const [id, secret] = token.split('.') as [string, string];
  const data: Record<string, string> = { 'token-id': id, 'token-secret': secret };
  if (description) data.description = description;
  if (ttlSeconds > 0) data.expiration = rfc3339(new Date(now.getTime() + ttlSeconds * 1000));
  for (const u of TOKEN_USAGES) data[`usage-bootstrap-${u}`] = 'true';
  data['auth-extra-groups'] = NODE_BOOTSTRAP_GROUP;
  const b64: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) b64[k] = Buffer.from(v, 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' }, type: 'bootstrap.kubernetes.io/token', data: b64 };
}

export interface CreatedToken {
  token: string;
  secretName: string;
  /** RFC 3339, or undefined: never expires. */
  expiration?: string;
}

/** The API's answer, as a reason for people: its Status message, else the status line. */
function apiReason(status: number, body: string): string {
  try {
    const s = JSON.parse(body) as { message?: unknown };
    if (typeof s.message === 'string') return `${status} ${s.message}`;
  } catch {
    // not JSON: the status alone
  }
  return `${status}`;
}

/**
 * Create a new token's Secret in the cluster at `server` (https://host:port), authenticated as
 * `client` (an admin certificate signed by the cluster CA), trusting only the cluster CA.
 */
export async function createBootstrapToken(opts: {
  server: string;
  secrets: Secrets;
  client: { cert: string; key: string };
  ttlSeconds: number;
  now?: Date;
  token?: string;
  timeoutMs?: number;
}): Promise<CreatedToken> {
  const token = opts.token ?? generateBootstrapToken();
  const secret = bootstrapTokenSecret(token, opts.ttlSeconds, opts.now ?? new Date());
  const url = new URL('/api/v1/namespaces/kube-system/secrets', opts.server);
  const body = JSON.stringify(secret);
  const where = `${opts.server}`;
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: opts.secrets.ca.cert,
        cert: opts.client.cert,
        key: opts.client.key,
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'k8s-image' },
        timeout: opts.timeoutMs ?? 15000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 64 * 1024) text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within the timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  }).catch((e: NodeJS.ErrnoException) => {
    const code = e.code ?? e.message;
    if (/CERT|SSL|TLS|SELF_SIGNED|ALTNAME|VERIFY|ISSUER/i.test(String(code))) {
      throw new UserError(`token create: ${where}: the server is not one the cluster CA vouches for (${code}): another cluster, or a wrong --server? Nothing was sent`);
    }
    throw new UserError(`token create: cannot reach the API server at ${where} (${code}); is the cluster up and is this its control-plane endpoint? (--server overrides it)`);
  });
  if (answer.status === 201 || answer.status === 200) {
    return { token, secretName: secret.metadata.name, expiration: opts.ttlSeconds > 0 ? Buffer.from(secret.data.expiration!, 'base64').toString('utf8') : undefined };
  }
  if (answer.status === 401 || answer.status === 403) {
    throw new UserError(`token create: the API server at ${where} refused the admin credentials signed by this secrets file's CA (${apiReason(answer.status, answer.body)}): is this the secrets file of that cluster?`);
  }
  if (answer.status === 409) throw new UserError(`token create: a token with id ${token.slice(0, 6)} already exists (${apiReason(answer.status, answer.body)}); run the command again for another`);
  throw new UserError(`token create: the API server at ${where} answered ${apiReason(answer.status, answer.body)}; nothing was created`);
}
