/**
 * The per-node report keys of `serve -c`, derived in a short-lived child process
 * (report-keys-child.ts) that reads the secrets file and prints only the keys: the cluster CA key
 * (from which they are derived) never enters the memory of the process that faces the network.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

const CHILD = fileURLToPath(new URL('./report-keys-child.js', import.meta.url));

export function deriveReportKeys(config: string | undefined, out: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, config ?? '', out], { maxBuffer: 16 << 20, timeout: 60000 }, (err, stdout, stderr) => {
      let doc: { keys?: Record<string, string>; problems?: string[] } = {};
      try {
        doc = JSON.parse(stdout) as typeof doc;
      } catch {
        /* a crash: reported below */
      }
      if (doc.problems) return reject(new UserError(doc.problems));
      if (err || !doc.keys) return reject(new Error(`deriving the report keys failed: ${err ? err.message : 'no keys'}\n${stderr}`));
      resolve(new Map(Object.entries(doc.keys)));
    });
  });
}
