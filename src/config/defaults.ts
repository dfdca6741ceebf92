import { readAsset } from '../assets.js';

/** The embedded default cluster is the lab (one master, two workers, 192.168.108.0/24); `k8s-image init` writes the same file. */
export function defaultClusterYaml(): string {
  return readAsset('examples/lab.yaml');
}

export function haClusterYaml(): string {
  return readAsset('examples/ha.yaml');
}
