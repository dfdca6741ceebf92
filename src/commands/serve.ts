import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { installerProblem } from '../iso/installer.js';
import { bundleFilesProblem, bundleProblem, readBundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { PROXY_TOKEN_FILE, pxeTreeIndex, readProxyToken, startFarmServer, stateDirFor, type FarmIndex, type FarmServer } from '../serve/server.js';
import { deriveReportKeys } from '../serve/report-keys.js';
import { DEFAULT_MAX_INSTALLING, DEFAULT_RETRY_SECONDS } from '../serve/admission.js';
import { checkSecretsFile } from '../secrets/index.js';
import { readConfig, SECRETS_ENV, secretsPathFor, type Output } from './common.js';

export interface ServeCommandOptions { bundle?: string; dir?: string; config?: string; out?: string; listen?: string; state?: string; installer?: string; trustProxy?: boolean; secrets?: string; maxInstalling?: string; retryAfter?: string }

/** Why the socket could not be opened, as the one line that says what to do instead. */
function listenProblem(e: unknown, listen: string, host: string, port: number): string | undefined {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `--listen ${listen}: port ${port} is already in use on ${host} (another k8s-image serve or web server?); stop it, or choose another port`;
    case 'EADDRNOTAVAIL':
      return `--listen ${listen}: this host has no address ${host}; use one of its addresses (ip -br addr) or 0.0.0.0 for all`;
    case 'EACCES':
    case 'EPERM':
      return `--listen ${listen}: not allowed to listen on port ${port} (ports below 1024 need root or CAP_NET_BIND_SERVICE); choose a port from 1024 up, e.g. 8080`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `--listen ${listen}: ${host} is not an address of this host; give an IP address, like 0.0.0.0:8080`;
    case 'EAFNOSUPPORT':
      return `--listen ${listen}: this host has no ${host.includes(':') ? 'IPv6' : 'IPv4'}; listen on an address it has`;
    default:
      return undefined;
  }
}

/**
 * `k8s-image serve`: the farm's HTTP server, in the foreground until SIGINT/SIGTERM. With --dir, the
 * PXE tree and its nodes' status; with --config alone, only the status of a cluster whose nodes
 * were built with status.url (VMware, cloud-init).
 */
export async function serve(opts: ServeCommandOptions, out: Output): Promise<void> {
  const dir = opts.dir?.replace(/\/+$/, '');
  const problems: string[] = [];
  if (dir && opts.config) problems.push('--dir and --config: give one; a PXE tree already names its nodes and their report keys (pxe.json, report-keys.json)');
  else if (!dir && !opts.config) problems.push('--dir or --config: give the PXE tree k8s-image pxe wrote (--dir outputs/<cluster>-pxe), or the cluster whose status to serve (--config cluster.yaml)');
  else if (dir && !existsSync(`${dir}/pxe.json`)) problems.push(`--dir ${dir}: no pxe.json there; run k8s-image pxe --server ... first`);
  const m = /^(.+):([0-9]{1,5})$/.exec(opts.listen ?? '0.0.0.0:8080');
  if (!m || Number(m[2]) > 65535) problems.push(`--listen ${opts.listen}: expected ADDR:PORT, like 0.0.0.0:8080`);
  if (opts.installer && !dir) problems.push('--installer: needs --dir (the DVD is the PXE install repository)');
  else if (opts.installer) {
    const p = installerProblem(opts.installer);
    if (p) problems.push(p);
  }
  if (opts.trustProxy && !dir) problems.push('--trust-proxy: needs --dir (the PXE tree k8s-image pxe wrote: its proxy-token is what the nginx site sends, and only requests carrying it may name the client in X-Real-IP)');
  else if (opts.trustProxy && dir && existsSync(`${dir}/pxe.json`)) {
    const t = readProxyToken(dir);
    if ('problem' in t) problems.push(`--trust-proxy: ${t.problem}`);
  }
  if (opts.bundle) {
    // The bundle is checked whole before anything is served; with --config, against the cluster's version.
    const b = readBundleManifest(opts.bundle);
    if ('problem' in b) problems.push(`--bundle ${opts.bundle}: ${b.problem}`);
    else if (bundleFilesProblem(opts.bundle, b.manifest)) problems.push(`--bundle ${bundleFilesProblem(opts.bundle, b.manifest)}`);
    else if (opts.config) {
      const { cluster } = readConfig(opts.config);
      const { bundleWant } = await import('../bundle/index.js');
      const why = bundleProblem(b.manifest, bundleWant(cluster), opts.bundle);
      if (why) problems.push(`--bundle ${why}`);
    }
  }
  const maxInstalling = opts.maxInstalling === undefined ? DEFAULT_MAX_INSTALLING : /^[0-9]{1,6}$/.test(opts.maxInstalling) ? Number(opts.maxInstalling) : NaN;
  if (!(maxInstalling >= 0)) problems.push(`--max-installing ${opts.maxInstalling}: expected a whole number of nodes, like 500 (0: no limit)`);
  else if (opts.maxInstalling !== undefined && !dir) problems.push('--max-installing: needs --dir (nodes are admitted at their iPXE entry in the PXE tree)');
  const retry = opts.retryAfter === undefined ? DEFAULT_RETRY_SECONDS : /^[0-9]{1,4}$/.test(opts.retryAfter) ? Number(opts.retryAfter) : NaN;
  if (!(retry >= 1 && retry <= 3600)) problems.push(`--retry-after ${opts.retryAfter}: expected whole seconds from 1 to 3600, like 30`);
  if (problems.length) throw new UserError(problems);

  let index: FarmIndex;
  let stateDir: string;
  if (dir) {
    index = pxeTreeIndex(dir);
    stateDir = opts.state ?? stateDirFor(dir);
  } else {
    const loaded = readConfig(opts.config);
    for (const w of loaded.warnings) out.warn(w);
    // The nodes' report keys come from the secrets their seeds were built with: never mint new ones here.
    const path = secretsPathFor(loaded, opts.out ?? 'outputs', opts.secrets);
    // The child finds the file as this process does: --secrets reaches it as K8S_IMAGE_SECRETS.
    if (opts.secrets !== undefined) process.env[SECRETS_ENV] = opts.secrets;
    if (!checkSecretsFile(path)) throw new UserError(`--config ${opts.config}: no secrets file at ${path}, so no node of cluster ${loaded.cluster.name} could have a report key this server knows; build the nodes first (k8s-image build -c ${opts.config} --status URL), or pass the -o (or --secrets) their build used`);
    // Derived in a short-lived child that reads the secrets and prints only the keys: the CA key
    // never enters this process, which faces the network.
    const keys = await deriveReportKeys(opts.config, opts.out ?? 'outputs');
    const { cluster } = loaded;
    index = {
      cluster: cluster.name,
      nodes: cluster.nodes.map((n) => ({ name: n.name, role: n.role, ip: n.ip, ...(n.mac ? { mac: n.mac } : {}) })),
      keys,
    };
    stateDir = opts.state ?? join(opts.out ?? 'outputs', `${cluster.name}-status`);
  }
  const host = m![1]!.replace(/^\[|\]$/g, '');
  const port = Number(m![2]);
  let s: FarmServer;
  try {
    // With --dir the server reads the tree itself, and again whenever k8s-image pxe rewrites it.
    const admission = dir && maxInstalling > 0 ? { admission: { max: maxInstalling, retrySeconds: retry } } : {};
    s = await startFarmServer({ dir, ...(dir ? {} : { index }), stateDir, installer: opts.installer, bundle: opts.bundle, trustProxy: opts.trustProxy, log: (l) => out.info(l), ...admission }, { host, port });
  } catch (e) {
    const p = listenProblem(e, opts.listen ?? '0.0.0.0:8080', host, port);
    if (p) throw new UserError(p);
    throw e;
  }
  const addr = s.server.address();
  const where = typeof addr === 'object' && addr ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : opts.listen;
  const state = resolve(stateDir);
  const stateNote = !dir
    ? `reports kept in ${state}/`
    : `reports and installed markers kept in ${state}/${opts.state && resolve(opts.state) !== resolve(stateDirFor(dir)) ? ` (not the default ${stateDirFor(dir)}: give k8s-image pxe the same --state ${opts.state}, so --reinstall clears the marker this server reads)` : ''}`;
  const proxyNote = opts.trustProxy ? `; X-Real-IP trusted only from loopback peers that send X-K8s-Image-Proxy with the token in ${join(dir!, PROXY_TOKEN_FILE)} (--trust-proxy)` : '';
  out.info(
    `serving ${dir ? `${dir}/http${opts.installer ? ` and ${opts.installer} as /centos7/` : ''}` : `the status of cluster ${index.cluster} (${index.nodes.length} nodes)`}${opts.bundle ? `, the bundle ${opts.bundle} as /bundle/` : ''} on ${where}; live status at http://${where}/status; ${stateNote}; at most ${s.budget.connections} connections (open-file limit ${s.budget.fileLimit})${s.admission ? `; at most ${s.admission.max} nodes install at once (--max-installing), the others wait in iPXE and ask again every ${retry}-${retry * 2 - 1} s (--retry-after)` : dir ? '; no limit on nodes installing at once (--max-installing 0)' : ''}${proxyNote}${dir ? `; follows ${dir} when k8s-image pxe rewrites it` : ''} (Ctrl-C stops)`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      out.info(`${sig}: stopping`);
      s.close().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
