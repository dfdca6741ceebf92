import { existsSync, statSync } from 'node:fs';
import { openIso } from '../iso/reader.js';
import { UserError } from '../errors.js';
import { startFarmServer, stateDirFor } from '../serve/server.js';
import type { Output } from './common.js';

export interface ServeCommandOptions { dir?: string; listen?: string; installer?: string }

/** `k8s-image serve`: the farm's HTTP server, in the foreground until SIGINT/SIGTERM. */
export async function serve(opts: ServeCommandOptions, out: Output): Promise<void> {
  const dir = (opts.dir ?? '').replace(/\/+$/, '');
  const problems: string[] = [];
  if (!dir) problems.push('--dir: missing: the PXE tree k8s-image pxe wrote (outputs/<cluster>-pxe)');
  else if (!existsSync(`${dir}/pxe.json`)) problems.push(`--dir ${dir}: no pxe.json there; run k8s-image pxe --server ... first`);
  const m = /^(.+):([0-9]{1,5})$/.exec(opts.listen ?? '0.0.0.0:8080');
  if (!m || Number(m[2]) > 65535) problems.push(`--listen ${opts.listen}: expected ADDR:PORT, like 0.0.0.0:8080`);
  if (opts.installer) {
    const ok = !existsSync(opts.installer)
      ? false
      : statSync(opts.installer).isDirectory()
        ? existsSync(`${opts.installer}/images/pxeboot/vmlinuz`)
        : (() => {
            try {
              const iso = openIso(opts.installer!);
              const hit = iso.lookup('images/pxeboot/vmlinuz');
              iso.close();
              return hit !== undefined;
            } catch {
              return false;
            }
          })();
    if (!ok) problems.push(`--installer ${opts.installer}: not a CentOS 7 DVD (no images/pxeboot/vmlinuz in it); pass the DVD image or its extracted tree`);
  }
  if (problems.length) throw new UserError(problems);
  const s = await startFarmServer({ dir, stateDir: stateDirFor(dir), installer: opts.installer, log: (l) => out.info(l) }, { host: m![1]!.replace(/^\[|\]$/g, ''), port: Number(m![2]) });
  const addr = s.server.address();
  out.info(`serving ${dir}/http${opts.installer ? ` and ${opts.installer} as /centos7/` : ''} on ${typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : opts.listen}; reported installs in ${stateDirFor(dir)}/installed/ (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      out.info(`${sig}: stopping`);
      s.close().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
