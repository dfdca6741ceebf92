/**
 * Golden images: the kickstart (and OEMDRV seed) that installs a cluster's golden image, and a
 * Packer template that builds it unattended on QEMU or vSphere. Pure: Cluster + Secrets in, files out.
 */
import type { Artifact } from '../artifact.js';
import { textArtifact } from '../artifact.js';
import type { Cluster } from '../config/index.js';
import { writeIso } from '../iso/index.js';
import { renderKickstart } from '../kickstart/index.js';
import { planGolden } from '../plan/index.js';
import type { Secrets } from '../secrets/index.js';
import { UserError } from '../errors.js';

/** `<out>/<cluster>-golden/`: ks.cfg, oemdrv/ and the OEMDRV ISO a VM boots the CentOS 7 DVD with. */
export function renderGolden(cluster: Cluster, secrets: Secrets, epoch: number): Artifact[] {
  const files = renderKickstart(planGolden(cluster, secrets));
  const seed = files.filter((a) => a.path.startsWith('oemdrv/'));
  const secret = seed.some((a) => a.secret);
  const iso = writeIso({ label: 'OEMDRV', epoch, files: seed.map((a) => ({ path: a.path.slice('oemdrv/'.length), bytes: a.bytes, mode: a.secret ? 0o600 : a.mode })) });
  return [...files, { path: 'golden-oemdrv.iso', bytes: iso, mode: secret ? 0o600 : 0o644, secret }];
}

/** Packer (1.6+, JSON template) on the CentOS 7 DVD's BIOS menu: Tab edits the default entry. */
const BOOT_COMMAND = ['<up><tab> text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<enter><wait>'];

/**
 * `<out>/<cluster>-packer/`: golden.json and http/ks.cfg. The template has a qemu and a
 * vsphere-iso builder; both serve the kickstart from Packer's own HTTP server, boot the DVD with
 * `inst.ks=` typed at its menu, and wait (no SSH) for the golden VM to power itself off after the
 * seal. vSphere then converts it to a template.
 */
export function renderPacker(cluster: Cluster, secrets: Secrets): Artifact[] {
  const files = renderKickstart(planGolden(cluster, secrets));
  const secret = files.filter((a) => a.secret);
  if (secret.length) {
    throw new UserError(
      `the golden image carries secret files (${secret.map((a) => a.path.replace(/^oemdrv\/k8s-image/, '')).join(', ')}: a proxy or mirror password): Packer's http_directory would serve them to anyone on the network. Use k8s-image golden and its OEMDRV ISO, or a proxy without credentials`,
    );
  }
  const ks = files.find((a) => a.path === 'ks.cfg')!;
  const name = `${cluster.name}-golden`;
  const common = {
    http_directory: 'http',
    boot_wait: '10s',
    boot_command: BOOT_COMMAND,
    communicator: 'none',
    // The install, the image pulls and the seal; the VM powers itself off at the end.
    shutdown_timeout: '{{user `shutdown_timeout`}}',
  };
  const template = {
    description: `k8s-image golden image of cluster ${cluster.name}: CentOS 7, Kubernetes ${cluster.kubernetesVersion}, ${cluster.runtime.kind} ${cluster.runtime.version}; sealed for cloning (give each clone its own cidata seed)`,
    variables: {
      iso_url: 'CentOS-7-x86_64-DVD-2009.iso',
      iso_checksum: '',
      shutdown_timeout: '90m',
      disk_size_mb: '40960',
      vcenter_server: '',
      vcenter_username: '',
      vcenter_password: '',
      vcenter_insecure: 'false',
      vcenter_datacenter: '',
      vcenter_cluster: '',
      vcenter_datastore: '',
      vcenter_folder: '',
      vcenter_network: 'VM Network',
      vcenter_iso_path: '',
    },
    'sensitive-variables': ['vcenter_password'],
    builders: [
      {
        type: 'qemu',
        name: 'qemu',
        iso_url: '{{user `iso_url`}}',
        iso_checksum: '{{user `iso_checksum`}}',
        ...common,
        vm_name: `${name}.qcow2`,
        output_directory: `output-${name}`,
        format: 'qcow2',
        disk_size: '{{user `disk_size_mb`}}',
        disk_interface: 'virtio-scsi',
        net_device: 'virtio-net',
        memory: 4096,
        cpus: 2,
        headless: true,
      },
      {
        type: 'vsphere-iso',
        name: 'vsphere',
        vcenter_server: '{{user `vcenter_server`}}',
        username: '{{user `vcenter_username`}}',
        password: '{{user `vcenter_password`}}',
        insecure_connection: '{{user `vcenter_insecure`}}',
        datacenter: '{{user `vcenter_datacenter`}}',
        cluster: '{{user `vcenter_cluster`}}',
        datastore: '{{user `vcenter_datastore`}}',
        folder: '{{user `vcenter_folder`}}',
        vm_name: name,
        guest_os_type: 'centos7_64Guest',
        CPUs: 2,
        RAM: 4096,
        disk_controller_type: ['pvscsi'],
        storage: [{ disk_size: '{{user `disk_size_mb`}}', disk_thin_provisioned: true }],
        network_adapters: [{ network: '{{user `vcenter_network`}}', network_card: 'vmxnet3' }],
        iso_paths: ['{{user `vcenter_iso_path`}}'],
        ...common,
        convert_to_template: true,
      },
    ],
  };
  return [textArtifact('golden.json', `${JSON.stringify(template, null, 2)}\n`), { ...ks, path: 'http/ks.cfg' }];
}

/** Every vCenter value the vsphere-iso builder requires; `...` is where the user's own goes. */
const VSPHERE_VARS = '-var vcenter_server=... -var vcenter_username=... -var vcenter_password=... -var vcenter_datacenter=... -var vcenter_cluster=... -var vcenter_datastore=... -var "vcenter_iso_path=[ds] iso/CentOS-7-x86_64-DVD-2009.iso"';
/** The vault's published sums for the 7.9.2009 ISOs: Packer picks the DVD's line by its file name. */
export const DVD_SUMS = 'https://vault.centos.org/7.9.2009/isos/x86_64/sha256sum.txt';

/**
 * What `k8s-image packer` tells the user to run, each command as it runs (the tests run the
 * validate lines with the packer they install). Packer up to 1.6 bundles the qemu and vsphere-iso
 * builders; later ones load them as plugins, which a JSON template cannot `packer init`:
 * `packer plugins install` (1.8+) puts them in place once per machine.
 */
export function packerNextSteps(tree: string): string[] {
  return [
    'Packer 1.10 or newer bundles no builders (1.6 to 1.9 have these two built in): install the plugins once per machine:',
    '  packer plugins install github.com/hashicorp/qemu',
    '  packer plugins install github.com/hashicorp/vsphere',
    `check the template for the builder you use (vsphere: replace each ... with your vCenter's values):`,
    `  cd ${/^[\w@%+=:,./-]+$/.test(tree) ? tree : `'${tree.replace(/'/g, `'\\''`)}'`}`,
    '  packer validate -only=qemu -var iso_checksum=none golden.json',
    `  packer validate -only=vsphere ${VSPHERE_VARS} golden.json`,
    'build (qemu: the DVD beside golden.json, checked against the CentOS vault\'s published sums):',
    `  packer build -only=qemu -var iso_url=CentOS-7-x86_64-DVD-2009.iso -var iso_checksum=file:${DVD_SUMS} golden.json`,
    `  packer build -only=vsphere ${VSPHERE_VARS} golden.json`,
  ];
}
