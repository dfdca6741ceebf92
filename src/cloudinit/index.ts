import yaml from 'js-yaml';
import type { Artifact } from '../artifact.js';
import { textArtifact } from '../artifact.js';
import type { NodePlan } from '../plan/index.js';

const dump = (doc: object) => yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });

/**
 * NoCloud seed files for the node: user-data (#cloud-config), meta-data, network-config (v1).
 * Only modules and keys CentOS 7's cloud-init 19.4 runs: no ntp module (chrony is a file), no
 * write_files defer, no packages: (it cannot pin versions or pass yum options; install.sh does).
 */
export function renderCloudInit(plan: NodePlan): Artifact[] {
  const hasSecret = plan.files.some((f) => f.secret);
  const root: Record<string, unknown> = { name: 'root', lock_passwd: !plan.rootPasswordHash };
  if (plan.rootPasswordHash) root.hashed_passwd = plan.rootPasswordHash;
  if (plan.sshAuthorizedKeys.length) root.ssh_authorized_keys = plan.sshAuthorizedKeys;
  const userData: Record<string, unknown> = {
    hostname: plan.hostname,
    ...(plan.fqdn ? { fqdn: plan.fqdn } : {}),
    preserve_hostname: false,
    // /etc/hosts is one of the plan's files; cloud-init must not rewrite it every boot.
    manage_etc_hosts: false,
    timezone: plan.timezone,
    disable_root: false,
    ssh_pwauth: plan.sshAuthorizedKeys.length === 0,
    users: [root],
    write_files: plan.files.map((f) => ({
      path: f.path,
      owner: 'root:root',
      permissions: `0${f.mode.toString(8)}`,
      content: f.content,
    })),
    runcmd: [
      ['bash', plan.installScript],
      ['systemctl', 'daemon-reload'],
      // --no-block: a blocking start from runcmd deadlocks against units ordered after cloud-final.
      ...(plan.firstbootUnit ? [['systemctl', 'start', '--no-block', plan.firstbootUnit]] : []),
    ],
  };
  const userDataText = `#cloud-config\n# k8s-image: ${plan.hostname} (${plan.role}) of cluster ${plan.cluster}.${hasSecret ? ' Holds secrets: keep this seed private.' : ''}\n${dump(userData)}`;
  const metaData = dump({ 'instance-id': plan.instanceId, 'local-hostname': plan.hostname });
  const n = plan.network;
  const subnet: Record<string, unknown> = { type: 'static', address: `${n.ip}/${n.prefix}`, gateway: n.gateway, dns_nameservers: n.dns };
  if (n.search) subnet.dns_search = [n.search];
  const physical: Record<string, unknown> = { type: 'physical', name: n.device };
  if (n.mac) physical.mac_address = n.mac;
  physical.subnets = [subnet];
  const networkConfig = dump({ version: 1, config: [physical] });
  return [
    textArtifact('cloud-init/user-data', userDataText, hasSecret),
    textArtifact('cloud-init/meta-data', metaData),
    textArtifact('cloud-init/network-config', networkConfig),
  ];
}
