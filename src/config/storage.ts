import type { ClusterFile } from './schema.js';
import type { NodeStorage } from './types.js';

type StorageIn = NonNullable<ClusterFile['storage']>;

/** The smallest / the installer is given (what the single-disk layout always had). */
export const MIN_ROOT_MIB = 8192;
const MIN_VOLUME_MIB = 1024;

function mib(size: number | string | undefined): number | undefined {
  if (size === undefined) return undefined;
  if (typeof size === 'number') return size;
  const n = Number(/^[0-9]+/.exec(size)![0]);
  return size.endsWith('Ti') ? n * 1024 * 1024 : size.endsWith('Gi') ? n * 1024 : n;
}

const diskName = (d: string) => d.replace(/^\/dev\//, '');

/**
 * A node's disk layout, checked before anything is rendered: what anaconda would refuse (a mount point
 * twice, a member disk twice in the RAID, a partition on a disk outside ignoredisk) or could not fit
 * (a volume on the OS disk with nothing to size it against) is an error naming the field.
 */
export function resolveStorage(
  s: StorageIn | undefined,
  field: string,
  disk: string,
  diskGiven: boolean,
  runtime: 'docker' | 'containerd',
  errors: string[],
  warnings: string[],
): NodeStorage | undefined {
  if (!s) return undefined;
  const before = errors.length;
  if (s.raid1 && diskGiven) errors.push(`${field}.raid1: with the OS mirrored on ${s.raid1.join(' and ')}, leave out the node's disk (the RAID's first disk is the boot drive)`);
  const osDisks = s.raid1 ?? [disk];
  if (s.raid1 && diskName(s.raid1[0]!) === diskName(s.raid1[1]!)) errors.push(`${field}.raid1: "${s.raid1[0]}" twice; a mirror needs two different disks`);
  else if (s.raid1) {
    warnings.push(`${field}.raid1: a machine that boots with UEFI gets /boot/efi on ${s.raid1[0]} only (the EFI system partition is not mirrored; with BIOS each disk gets its biosboot and grub2): if ${s.raid1[0]} fails, it boots again only once an EFI partition is made on ${s.raid1[1]}`);
  }
  const rootMiB = mib(s.rootSize);
  if (rootMiB !== undefined && rootMiB < MIN_ROOT_MIB) errors.push(`${field}.rootSize: ${rootMiB} MiB is too small for CentOS 7 with Kubernetes; give / at least ${MIN_ROOT_MIB} MiB (8Gi)`);
  const volumes: NodeStorage['volumes'] = [];
  const used = new Map<string, string>();
  for (const use of ['containerData', 'log'] as const) {
    const v = s[use];
    if (!v) continue;
    const at = `${field}.${use}`;
    const mount = use === 'log' ? '/var/log' : runtime === 'docker' ? '/var/lib/docker' : '/var/lib/containerd';
    const sizeMiB = mib(v.size);
    if (v.disk !== undefined) {
      if (osDisks.some((d) => diskName(d) === diskName(v.disk!))) errors.push(`${at}.disk: "${v.disk}" holds the OS; for a volume on the OS disk give only ${at}.size`);
      else if (used.has(diskName(v.disk))) errors.push(`${at}.disk: "${v.disk}" already holds ${used.get(diskName(v.disk))}; a volume of its own takes the whole disk`);
      if (sizeMiB !== undefined) errors.push(`${at}.size: a volume on a disk of its own takes all of ${v.disk}; leave out size`);
      used.set(diskName(v.disk), `${field}.${use}`);
    } else if (sizeMiB === undefined) {
      errors.push(`${at}: give ${at}.disk (a disk of its own) or ${at}.size (a ${s.lvm ? 'logical volume' : 'partition'} of the OS disk${s.raid1 ? 's' : ''})`);
    } else if (sizeMiB < MIN_VOLUME_MIB) {
      errors.push(`${at}.size: ${sizeMiB} MiB is too small for ${mount}; give at least ${MIN_VOLUME_MIB} MiB (1Gi)`);
    } else {
      const w = `${at}: ${mount} as a ${s.lvm ? 'logical volume' : 'partition'} of the OS disk is laid out by the installer (kickstart) only; a node seeded by cidata (an installed clone) keeps its image's disk layout: give it a disk of its own to have it on both paths`;
      if (!warnings.includes(w)) warnings.push(w);
    }
    volumes.push({ use, mount, ...(v.disk !== undefined ? { disk: v.disk } : {}), ...(sizeMiB !== undefined && v.disk === undefined ? { sizeMiB } : {}) });
  }
  if (errors.length > before) return undefined;
  return { osDisks, raid1: s.raid1 !== undefined, lvm: s.lvm ?? false, ...(rootMiB !== undefined ? { rootMiB } : {}), volumes };
}
