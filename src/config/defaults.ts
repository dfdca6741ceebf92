import { readAsset } from '../assets.js';

/** The embedded default cluster is the seed-000 lab; `k8s-image init` writes the same file. */
export function defaultClusterYaml(): string {
  return readAsset('examples/lab.yaml');
}

export function haClusterYaml(): string {
  return readAsset('examples/ha.yaml');
}
