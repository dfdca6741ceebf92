import { loadCluster, haClusterYaml, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';

/** RSA key generation is slow: each test file makes the lab's and the HA cluster's secrets once. */
export async function labAndHa(): Promise<{ lab: Cluster; labSecrets: Secrets; ha: Cluster; haSecrets: Secrets }> {
  const lab = loadCluster(undefined).cluster;
  const ha = loadCluster(haClusterYaml(), 'ha.yaml').cluster;
  const [labSecrets, haSecrets] = await Promise.all([
    generateSecrets({ cluster: lab.name, generateRootPassword: true }),
    generateSecrets({ cluster: ha.name, generateRootPassword: false }),
  ]);
  return { lab, labSecrets, ha, haSecrets };
}

/** The body lines of every `%post` section of a kickstart, with its header. */
export function postSections(ks: string): { header: string; body: string }[] {
  const out: { header: string; body: string }[] = [];
  const lines = ks.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('%post')) continue;
    const body: string[] = [];
    let j = i + 1;
    while (lines[j] !== '%end') body.push(lines[j++]!);
    out.push({ header: lines[i]!, body: `${body.join('\n')}\n` });
    i = j;
  }
  return out;
}
