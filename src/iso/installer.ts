/**
 * Is this a CentOS 7 DVD (its ISO image, read in place, or its extracted tree)? `pxe --installer`
 * and `serve --installer` ask before anything is made or served: the installer kernel is the mark.
 */
import { existsSync, statSync } from 'node:fs';
import { openIso } from './reader.js';

/** Why `installer` is not a CentOS 7 DVD, as the one line a command prints; undefined when it is one. */
export function installerProblem(installer: string): string | undefined {
  const ok = !existsSync(installer)
    ? false
    : statSync(installer).isDirectory()
      ? existsSync(`${installer}/images/pxeboot/vmlinuz`)
      : statSync(installer).isFile() &&
        (() => {
          try {
            const iso = openIso(installer);
            const hit = iso.lookup('images/pxeboot/vmlinuz');
            iso.close();
            return hit !== undefined;
          } catch {
            return false;
          }
        })();
  if (ok) return undefined;
  if (!existsSync(installer)) return `--installer ${installer}: no such file or directory`;
  return `--installer ${installer}: not a CentOS 7 DVD (no images/pxeboot/vmlinuz in it); pass the DVD image or its extracted tree`;
}
