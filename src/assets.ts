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

const assets = new Map<string, string>();

/** Read a text asset shipped with the package (templates, node files, examples); read once per process. */
export function readAsset(relativePath: string): string {
  let text = assets.get(relativePath);
  if (text === undefined) {
    text = readFileSync(join(packageRoot, relativePath), 'utf8');
    assets.set(relativePath, text);
  }
  return text;
}

export function toolVersion(): string {
  return (JSON.parse(readAsset('package.json')) as { version: string }).version;
}
