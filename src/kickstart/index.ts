import { createHash } from 'node:crypto';
import type { Artifact } from '../artifact.js';
import { sharedBytes, textArtifact } from '../artifact.js';
import { VOLUME_LABELS, type NodePlan, type PlanFile, type PlanNetDevice } from '../plan/index.js';
import { renderTemplate } from '../template.js';

/** Where secret files sit on the OEMDRV seed, mirroring their absolute path on the node. */
export const SEED_FILES_DIR = 'k8s-image';

const DELIMITER = 'K8S_IMAGE_EOF';
/** Stands in for the node files while the template renders; no validated value holds a NUL. */
const WRITE_FILES_MARK = '\u0000k8s-image:write-files\u0000';
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/**
 * Shell that writes one file byte-exact. A quoted heredoc keeps the text readable; content that a
 * heredoc cannot carry exactly (no trailing newline, a line equal to the delimiter, or a line whose first
 * non-blank is %: pykickstart's _readSection tests line.lstrip().startswith('%'), so an indented %end
 * ends %post and an indented %include includes; its preprocessor strips lines before %ksappend) goes
 * as base64 instead.
 */
export function writeFileShell(f: PlanFile): string {
  // The node files a farm shares (scripts, units, repo files) are escaped once per process; keyed by
  // the content string, whose hash V8 keeps, so a node's own files cost one short lookup each.
  let byContent = shellCache.get(f.content);
  if (!byContent) {
    if (shellCache.size >= 4096) shellCache.clear();
    shellCache.set(f.content, (byContent = new Map()));
  }
  const key = `${f.path}\0${f.mode}`;
  let text = byContent.get(key);
  if (text === undefined) byContent.set(key, (text = fileShell(f)));
  return text;
}

const shellCache = new Map<string, Map<string, string>>();

function fileShell(f: PlanFile): string {
  const dir = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
  const lines = [`mkdir -p ${dir}`];
  const heredocSafe = f.content.endsWith('\n') && !f.content.split('\n').some((l) => l === DELIMITER || l.trimStart().startsWith('%') || l.includes('\r'));
  if (heredocSafe) {
    lines.push(`cat > ${f.path} <<'${DELIMITER}'`, `${f.content}${DELIMITER}`);
  } else {
    const b64 = Buffer.from(f.content, 'utf8').toString('base64').replace(/.{1,76}/g, '$&\n');
    lines.push(`base64 -d > ${f.path} <<'${DELIMITER}'`, `${b64}${DELIMITER}`);
  }
  lines.push(`chmod ${octal(f.mode)} ${f.path}`);
  return lines.join('\n');
}

/**
 * Shell (run in the installer, %post --nochroot) that copies one secret file into the new system and
 * checks it. Not `install -D`: lorax removes /usr/bin/install from CentOS 7's install image
 * (share/runtime-cleanup.tmpl, `removefrom coreutils ... /usr/bin/install`); mkdir, cp, chmod and
 * sha256sum stay. The copy is made under umask 077, so it is never readable by others.
 */
function copySecretShell(f: PlanFile): string {
  const sha = createHash('sha256').update(f.content).digest('hex');
  const target = `/mnt/sysimage${f.path}`;
  return [
    `mkdir -p ${target.slice(0, target.lastIndexOf('/'))}`,
    `(umask 077 && cp "$seed/${SEED_FILES_DIR}${f.path}" ${target})`,
    `chmod ${octal(f.mode)} ${target}`,
    `echo "${sha}  ${target}" | sha256sum -c --quiet`,
  ].join('\n');
}

/**
 * The kickstart's network lines (pykickstart RHEL7 `network`; test/reference/kickstart-rhel7.json).
 * One NIC: one line, matched by MAC or name (`link`: the first NIC with a link). Several devices:
 * one line per device that carries an address: a NIC by MAC, a bond with --bondslaves/--bondopts,
 * a VLAN on its parent's line (--device=<parent> --vlanid --interfacename, a bond parent's
 * --bondslaves on the same line, as anaconda builds the bond and the VLAN on it from one line).
 * Only the Kubernetes device has the gateway, DNS and host name; the others --nodefroute.
 */
export function networkLines(plan: Pick<NodePlan, 'network' | 'hostname'>): string[] {
  const n = plan.network;
  const tail = '--onboot=yes --activate --noipv6';
  if (n.dhcp) return [`network --bootproto=dhcp --device=${n.mac ?? n.device ?? 'link'} --hostname=${plan.hostname} ${tail}`];
  const k8sArgs = `--ip=${n.ip} --netmask=${n.netmask} --gateway=${n.gateway} --nameserver=${n.dns.join(',')} --hostname=${plan.hostname}`;
  const mtu = (m?: number) => (m !== undefined ? ` --mtu=${m}` : '');
  if (!n.devices) return [`network --bootproto=static --device=${n.mac ?? n.device ?? 'link'}${mtu(n.mtu)} ${k8sArgs} ${tail}`];
  const byName = new Map(n.devices.map((d) => [d.name, d]));
  const bondArgs = (b: PlanNetDevice) => ` --bondslaves=${b.members!.join(',')} --bondopts=${b.bondOptions!.map(([k, v]) => `${k}=${v}`).join(',')}`;
  const lines: string[] = [];
  // The Kubernetes device first: its line has the host name, the gateway and DNS.
  for (const d of [...n.devices.filter((x) => x.kubernetes), ...n.devices.filter((x) => !x.kubernetes)]) {
    if (!d.kubernetes && !d.address) continue; // a bond member or a VLAN's parent: described on the line that uses it
    const ipArgs = d.kubernetes ? k8sArgs : `--ip=${d.address!.ip} --netmask=${d.address!.netmask} --nodefroute`;
    let dev: string;
    if (d.kind === 'physical') dev = `--device=${d.mac ?? d.name}`;
    else if (d.kind === 'bond') dev = `--device=${d.name}${bondArgs(d)}`;
    else {
      const parent = byName.get(d.link!)!;
      dev = `--device=${parent.name}${parent.kind === 'bond' ? bondArgs(parent) : ''} --vlanid=${d.vlanId} --interfacename=${d.name}`;
    }
    // One --mtu a line: a VLAN's line carries its parent's when it has none of its own.
    const m = d.mtu ?? (d.kind === 'vlan' ? byName.get(d.link!)!.mtu : undefined);
    lines.push(`network --bootproto=static ${dev}${mtu(m)} ${ipArgs} ${tail}`);
  }
  return lines;
}

/** Where the mirror's %pre writes the firmware's boot partition lines (storageLines). */
export const BOOT_PARTS_KS = '/tmp/k8s-image-bootparts.ks';

/**
 * The installer's disk layout from plan.storage (pykickstart RHEL7 ignoredisk, clearpart, reqpart,
 * part, raid, volgroup, logvol), or none (the template's one-disk layout). The OS on its disk, or
 * mirrored on two (RAID1 /boot and /, or a RAID1 physical volume with lvm); each volume on a disk of
 * its own (all of it) or a partition / logical volume of the OS disk(s). Never swap.
 */
export function storageLines(plan: Pick<NodePlan, 'storage'>): string[] {
  const s = plan.storage;
  if (!s) return [];
  const disks = [...s.osDisks, ...s.volumes.flatMap((v) => (v.disk ? [v.disk] : []))];
  const boot = s.osDisks[0]!;
  const lines = [
    `# Only these disks are touched (the OS on ${s.osDisks.join(s.raid1 ? ' and ' : '')}${s.volumes.some((v) => v.disk) ? ', volumes on disks of their own' : ''}); others are left alone.`,
    `ignoredisk --only-use=${disks.join(',')}`,
    'zerombr',
    // A mirror: GPT on every disk whatever the firmware, so the biosboot partitions below are valid with BIOS too.
    `clearpart --all --initlabel${s.raid1 ? ' --disklabel=gpt' : ''} --drives=${disks.join(',')}`,
    `bootloader --location=mbr --boot-drive=${boot}`,
  ];
  const root = `--size=${s.rootMiB ?? 8192}${s.rootMiB === undefined ? ' --grow' : ''}`;
  const onOs = s.volumes.filter((v) => !v.disk);
  let n = 0;
  /** A RAID1 of one partition on each OS disk: the member lines, then the raid line. */
  const mirror = (target: string, device: string, size: string, fs: string) => {
    const members = s.osDisks.map((d) => ({ name: `raid.${String(++n).padStart(2, '0')}`, d }));
    return [...members.map((m) => `part ${m.name} ${size} --ondisk=${m.d}`), `raid ${target} --level=1 --device=${device}${fs} ${members.map((m) => m.name).join(' ')}`];
  };
  const label = (v: (typeof s.volumes)[number]) => ` --label=${VOLUME_LABELS[v.use]}`;
  if (!s.raid1) {
    lines.push('# reqpart adds /boot and biosboot or /boot/efi as the firmware needs; no swap (kubelet refuses it).', 'reqpart --add-boot');
  } else {
    // Not reqpart: it puts biosboot on the boot drive only, but anaconda's GRUB2 installs grub2 on every
    // RAID member and, with BIOS on GPT, fails on a disk without one. The firmware is known only on the
    // machine: a %pre writes the lines (biosboot on each disk with BIOS, /boot/efi on the first with UEFI).
    const parts = `${BOOT_PARTS_KS}`;
    lines.push(
      '# The firmware\'s boot partitions, by the %pre below: biosboot on each mirror disk with BIOS (grub2 goes on every RAID member),',
      '# /boot/efi on the first disk only with UEFI (not mirrored). /boot and / are mirrored; no swap.',
      '%pre --log=/tmp/k8s-image-bootparts.log',
      'if [ -d /sys/firmware/efi ]; then',
      `  echo 'part /boot/efi --fstype=efi --size=200 --ondisk=${boot}' >${parts}`,
      'else',
      `  printf 'part biosboot --fstype=biosboot --size=1 --ondisk=%s\\n' ${s.osDisks.map((d) => `'${d}'`).join(' ')} >${parts}`,
      'fi',
      '%end',
      `%include ${parts}`,
      ...mirror('/boot', 'boot', '--size=1024', ' --fstype=xfs'),
    );
  }
  if (s.lvm) {
    if (s.raid1) lines.push(...mirror('pv.01', 'pv00', '--size=1 --grow', ''));
    else lines.push(`part pv.01 --size=1 --grow --ondisk=${boot}`);
    lines.push('volgroup vg_os pv.01', `logvol / --vgname=vg_os --name=root --fstype=xfs ${root}`);
    for (const v of onOs) lines.push(`logvol ${v.mount} --vgname=vg_os --name=${v.use === 'log' ? 'log' : 'data'} --fstype=xfs --size=${v.sizeMiB}${label(v)}`);
  } else if (s.raid1) {
    lines.push(...mirror('/', 'root', root, ' --fstype=xfs'));
    for (const v of onOs) lines.push(...mirror(v.mount, v.use === 'log' ? 'log' : 'data', `--size=${v.sizeMiB}`, ` --fstype=xfs${label(v)}`));
  } else {
    lines.push(`part / --fstype=xfs ${root} --ondisk=${boot}`);
    for (const v of onOs) lines.push(`part ${v.mount} --fstype=xfs --size=${v.sizeMiB}${label(v)} --ondisk=${boot}`);
  }
  for (const v of s.volumes.filter((x) => x.disk)) lines.push(`part ${v.mount} --fstype=xfs --size=1024 --grow${label(v)} --ondisk=${v.disk}`);
  return lines;
}

export interface KickstartOptions {
  /** Install source line: `cdrom` for the VMware ISO flow; the PXE flow passes a `url --url=...` line. */
  source?: string;
  /** Fetch the secret files from this URL (`<url>/<path under k8s-image/>`) instead of the OEMDRV seed. */
  seedUrl?: string;
  /** Copy them from this mounted directory (the install DVD itself, remastered) instead of the OEMDRV seed. */
  seedDir?: string;
}

/** ks.cfg for the node plus the OEMDRV seed tree (ks.cfg at its root and the secret files). Pure. */
export function renderKickstart(plan: NodePlan, opts: KickstartOptions = {}): Artifact[] {
  const secret = plan.files.filter((f) => f.secret);
  const plain = plan.files.filter((f) => !f.secret);
  const ks = renderTemplate('kickstart/ks.cfg.mustache', {
    cluster: plan.cluster,
    role: plan.role,
    hostname: plan.hostname,
    source: opts.source ?? 'cdrom',
    timezone: plan.timezone,
    // Validated host names and IPv4 addresses: safe in the kickstart and in shell words.
    ntpServers: plan.ntpServers.join(','),
    ntpServerList: plan.ntpServers,
    // Anaconda matches --device by MAC or name; with neither known, `link` takes the first NIC with a link.
    networkLines: networkLines(plan),
    storageLines: storageLines(plan),
    rootPasswordHash: plan.rootPasswordHash,
    sshKeys: plan.sshAuthorizedKeys,
    selinux: plan.selinux,
    firewallOpen: plan.firewall === 'open',
    disk: plan.disk,
    // Validated constants (src/plan/kernel.ts): no quotes or spaces inside one argument.
    kernelArgs: plan.boot.args.join(' '),
    packages: plan.basePackages,
    hasSecretFiles: secret.length > 0,
    copySecretFiles: secret.map(copySecretShell).join('\n'),
    seedUrl: opts.seedUrl,
    seedDir: opts.seedDir,
    oemdrv: !opts.seedUrl && !opts.seedDir,
    seedFiles: secret.map((f) => `${SEED_FILES_DIR}${f.path}`).join(' '),
    status: plan.status !== undefined,
    reportUrl: plan.status?.reportUrl,
    reporter: plan.status?.reporter,
    key: plan.status?.key,
    seedPrefix: SEED_FILES_DIR,
    writeFiles: WRITE_FILES_MARK,
    installScript: plan.installScript,
  });
  // The node files go in as bytes: the big ones (the shared scripts) are encoded once per process.
  const [head, tail, ...extra] = ks.split(WRITE_FILES_MARK);
  if (tail === undefined || extra.length) throw new Error('ks.cfg template: expected {{{writeFiles}}} exactly once');
  const files = plain.flatMap((f, i) => {
    const shell = writeFileShell(f);
    return [i === 0 ? '' : '\n', shell.length >= 4096 ? sharedBytes(shell) : shell];
  });
  // One encoding for both copies (and one hash in the manifest).
  const ksArtifact = textArtifact('ks.cfg', [head!, ...files, tail]);
  return [
    ksArtifact,
    { ...ksArtifact, path: 'oemdrv/ks.cfg' },
    ...secret.map((f) => textArtifact(`oemdrv/${SEED_FILES_DIR}${f.path}`, f.content, true, 0o600)),
    // The %pre reports "installing" before the files land: it takes the sender from the seed too.
    ...plain.filter((f) => f.path === plan.status?.reporter).map((f) => textArtifact(`oemdrv/${SEED_FILES_DIR}${f.path}`, f.content, false, 0o755)),
  ];
}
