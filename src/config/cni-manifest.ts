import yaml from 'js-yaml';

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { template?: { spec?: { containers?: { name?: string; env?: { name: string; value?: string }[] }[] } } };
  [key: string]: unknown;
}

/** Every document of a multi-document manifest that is an object (empty documents dropped). */
export function manifestDocs(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => d !== null && typeof d === 'object' && !Array.isArray(d));
}

export function calicoNodeContainer(docs: K8sObject[]) {
  const ds = docs.find((d) => d.kind === 'DaemonSet' && d.metadata?.name === 'calico-node');
  return ds?.spec?.template?.spec?.containers?.find((c) => c.name === 'calico-node');
}

/** Why a user-supplied CNI manifest cannot be used, or undefined when it can. */
export function vendorManifestProblem(cni: 'flannel' | 'calico', text: string): string | undefined {
  let docs: K8sObject[];
  try {
    docs = manifestDocs(text);
  } catch (e) {
    const mark = (e as { mark?: { line: number } }).mark;
    return `is not valid YAML${mark ? ` (line ${mark.line + 1})` : ''}`;
  }
  if (docs.length === 0) return 'holds no Kubernetes objects';
  if (cni !== 'calico') return 'is only used with cluster.cni: calico (the flannel manifest is built in)';
  if (!calicoNodeContainer(docs)) return 'has no DaemonSet calico-node with a calico-node container: use the calico.yaml manifest of a Calico release (not the operator)';
  return undefined;
}
