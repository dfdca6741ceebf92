import { loadCluster, haClusterYaml, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';

/** The MACs a user of the lab gives its VMs (VMware's manual range 00:50:56:00-3f:xx:xx). */
export const LAB_MACS: Record<string, string> = { master: '00:50:56:3f:00:64', node01: '00:50:56:3f:00:65', node02: '00:50:56:3f:00:66' };

/**
 * RSA key generation is slow: each test file makes the lab's and the HA cluster's secrets once.
 * `lab` is the embedded lab with the MACs set (as its comments suggest); `labAsShipped` names the
 * NIC ens33 and has no MAC; `labNoNic` has neither; `ha` names its NIC eth0, has no MAC, and its
 * nodes report their progress to a status server (so every reader also sees what that adds).
 */
export async function labAndHa(): Promise<{ lab: Cluster; labAsShipped: Cluster; labNoNic: Cluster; labSecrets: Secrets; ha: Cluster; haSecrets: Secrets }> {
  const labAsShipped = loadCluster(undefined).cluster;
  const lab = { ...labAsShipped, nodes: labAsShipped.nodes.map((n) => ({ ...n, mac: LAB_MACS[n.name] })) };
  const labNoNic = { ...labAsShipped, nodes: labAsShipped.nodes.map((n) => ({ ...n, interface: undefined })) };
  const ha = { ...loadCluster(haClusterYaml(), 'ha.yaml').cluster, status: { url: 'http://10.0.1.1:8080' } };
  const [labSecrets, haSecrets] = await Promise.all([
    generateSecrets({ cluster: lab.name, generateRootPassword: true }),
    generateSecrets({ cluster: ha.name, generateRootPassword: false }),
  ]);
  return { lab, labAsShipped, labNoNic, labSecrets, ha, haSecrets };
}

/** The script sections of a kickstart (%pre and %post), each header with its body. */
export function postSections(ks: string): { header: string; body: string }[] {
  const out: { header: string; body: string }[] = [];
  const lines = ks.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('%post') && !lines[i]!.startsWith('%pre')) continue;
    const body: string[] = [];
    let j = i + 1;
    while (lines[j] !== '%end') body.push(lines[j++]!);
    out.push({ header: lines[i]!, body: `${body.join('\n')}\n` });
    i = j;
  }
  return out;
}
