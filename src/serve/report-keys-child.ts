/**
 * Run by `serve -c` as a short-lived child process (see report-keys.ts): reads the cluster's
 * secrets file, prints only the per-node report keys as JSON on stdout, and exits, so the cluster CA
 * key never enters the network-facing process. argv: <config or ""> <out dir>.
 * Exit 0 with {"keys": {...}}; exit 2 with {"problems": [...]} for a problem the user can fix.
 */
import { readFileSync } from 'node:fs';
import { UserError, fileSystemProblem } from '../errors.js';
import { readConfig } from '../config/read.js';
import { secretsPathFor } from '../secrets/location.js';
import { parseSecrets } from '../secrets/index.js';
import { reportKey } from '../status/protocol.js';

const [config, out] = process.argv.slice(2);
try {
  const loaded = readConfig(config || undefined);
  const path = secretsPathFor(loaded, out!);
  // Read only: serve never mints or rewrites secrets.
  const secrets = parseSecrets(readFileSync(path, 'utf8'), path);
  if (secrets.cluster !== loaded.cluster.name) throw new UserError(`${path} holds secrets for cluster "${secrets.cluster}", not "${loaded.cluster.name}"`);
  const keys = Object.fromEntries(loaded.cluster.nodes.map((n) => [n.name, reportKey(secrets.ca.key, n.name)]));
  process.stdout.write(JSON.stringify({ keys }));
} catch (e) {
  const fs = fileSystemProblem(e);
  if (e instanceof UserError || fs) {
    process.stdout.write(JSON.stringify({ problems: e instanceof UserError ? e.problems : [fs!.message] }));
    process.exitCode = 2;
  } else {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
