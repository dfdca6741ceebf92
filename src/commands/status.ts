import { UserError } from '../errors.js';
import { STAGE_TEXT } from '../status/protocol.js';
import { ago, certsText, CERT_WARN_DAYS, type StatusDocument } from '../status/view.js';
import { readConfig, type Output } from './common.js';
import { table } from './validate.js';

export interface StatusCommandOptions { config?: string; server?: string; watch?: boolean; failed?: boolean; json?: boolean }

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

async function get(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new UserError(`--server: cannot reach ${url} (${cause}); is k8s-image serve running there, and is this the address it listens on?`);
  }
  if (!res.ok) throw new UserError(`--server: ${url} answered ${res.status}; is that k8s-image serve?`);
  return res;
}

/** More than any farm's status (1000 nodes are about 300 KB): a server streaming without end is cut off. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The body, read up to the bound whatever the server sends. */
async function boundedText(res: Response, url: string): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read().catch((e: unknown) => {
      throw new UserError(`--server: ${url} stopped in the middle of its answer (${(e as Error).name ?? String(e)}); is k8s-image serve still running there?`);
    });
    if (done) break;
    total += value.length;
    if (total > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new UserError(`--server: ${url} sent more than ${MAX_ANSWER_BYTES} bytes; is that k8s-image serve?`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What a value looks like, shortly, for a message. */
const glimpse = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);

/** serve's status document, or a UserError saying what came instead. */
async function statusDocumentFrom(res: Response, url: string): Promise<StatusDocument> {
  const text = await boundedText(res, url);
  const notStatus = (what: string) => new UserError(`--server: ${url} answered ${what}, not the status of k8s-image serve; give the URL serve prints (http://<server>:<port>, or its /status page)`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw notStatus(`something that is not JSON (${glimpse(text.trim())})`);
  }
  const d = doc as Partial<StatusDocument> | null;
  const rowOk = (r: unknown) => {
    const x = r as Record<string, unknown> | null;
    return x !== null && typeof x === 'object' && typeof x.name === 'string' && typeof x.role === 'string' && typeof x.ip === 'string';
  };
  if (
    d === null ||
    typeof d !== 'object' ||
    typeof d.cluster !== 'string' ||
    typeof d.now !== 'number' ||
    d.counts === null ||
    typeof d.counts !== 'object' ||
    !Array.isArray(d.nodes) ||
    !d.nodes.every(rowOk)
  ) {
    throw notStatus(`JSON of another kind (${glimpse(text.trim())})`);
  }
  return d as StatusDocument;
}

/**
 * The server's base URL from what people paste: the page's URL (/status), the data's
 * (/status.json), with or without a trailing slash.
 */
export function serverBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/status(\.json)?$/, '').replace(/\/+$/, '');
}

function statusText(doc: StatusDocument): string {
  const rows = doc.nodes.map((r) => [
    r.name,
    r.role,
    r.ip,
    r.mac || '-',
    r.stage ? STAGE_TEXT[r.stage] : 'no report yet',
    r.since === null ? '-' : ago(doc.now - r.since),
    r.lastReport === null ? '-' : `${ago(doc.now - r.lastReport)} ago`,
    // Older servers send no certs: nothing to show.
    certsText(r.certs ?? null, CERT_WARN_DAYS) || '-',
  ]);
  const warn = doc.nodes.filter((r) => r.certs?.warn);
  const counts = Object.entries(doc.counts)
    .map(([k, v]) => `${k === 'none' ? 'no report' : k} ${v}`)
    .join(', ');
  const warning = warn.length
    ? `\nWARNING: certificates of ${warn.map((r) => r.name).join(', ')} need attention (a failed renewal, or less than ${CERT_WARN_DAYS} days left): read /var/log/k8s-image/cert-renew.log on ${warn.length === 1 ? 'that master' : 'those masters'}`
    : '';
  return `cluster ${doc.cluster}: ${doc.nodes.length} nodes (${counts})\n${table(['NODE', 'ROLE', 'IP', 'MAC', 'STAGE', 'IN STAGE', 'LAST REPORT', 'CERTIFICATES'], rows)}${warning}`;
}

/** `k8s-image status`: the table the status page shows, from the server's /status.json. */
export async function status(opts: StatusCommandOptions, out: Output): Promise<void> {
  let server = opts.server ?? (opts.config ? readConfig(opts.config).cluster.status?.url : undefined) ?? DEFAULT_SERVER;
  server = serverBase(server);
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(server)) throw new UserError(`--server ${server}: expected the URL of k8s-image serve, like http://192.168.108.1:8080`);
  const show = async () => {
    const doc = await statusDocumentFrom(await get(`${server}/status.json`), `${server}/status.json`);
    if (opts.json) return out.result(JSON.stringify(doc, null, 2));
    let text = statusText(doc);
    if (opts.failed) {
      for (const r of doc.nodes.filter((n) => n.stage === 'failed' && n.hasFailureLog)) text += `\n\n${await boundedText(await get(`${server}/status/log/${r.name}`), `${server}/status/log/${r.name}`)}`;
    }
    out.result(out.isTTY && opts.watch ? `\x1b[H\x1b[2J${text}\n(watching ${server}; Ctrl-C stops)` : text);
  };
  if (!opts.watch) return show();
  // The live feed first, so no report falls between the first table and the subscription; then a
  // redraw at every report, at most twice a second, and every 10 s for the clock.
  const res = await get(`${server}/status/events`);
  await show();
  let pending: NodeJS.Timeout | undefined;
  const redraw = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      show().catch((e: unknown) => out.warn(String(e)));
    }, 500);
  };
  const tick = setInterval(redraw, 10000);
  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const feed = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new UserError(`--server: ${server} closed the live feed (stopped?)`);
      if (decoder.decode(value, { stream: true }).includes('event: node')) redraw();
    }
  })();
  try {
    await Promise.race([stop, feed]);
  } finally {
    clearInterval(tick);
    clearTimeout(pending);
    await reader.cancel().catch(() => undefined);
  }
}
