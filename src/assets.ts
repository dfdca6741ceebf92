import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), found from this module whether it runs from src/ or dist/src/. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('k8s-image: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/** Read a text asset shipped with the package (templates under kickstart/ and cloud-init/, examples). */
export function readAsset(relativePath: string): string {
  return readFileSync(join(packageRoot, relativePath), 'utf8');
}

export function toolVersion(): string {
  return (JSON.parse(readAsset('package.json')) as { version: string }).version;
}
