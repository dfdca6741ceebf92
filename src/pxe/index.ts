/**
 * PXE boot farms: per-MAC boot loader entries (pxelinux for BIOS, GRUB for UEFI, iPXE over HTTP),
 * dnsmasq and nginx configs, and per node the kickstart with a `url` source whose secret files come
 * from the farm server, plus the NoCloud files for `ds=nocloud-net`. Pure: Cluster + Secrets in,
 * files out. The same plan as every other path; only how the files reach the node differs.
 *
 * Layout (paths relative to the PXE tree):
 *   tftp/           dnsmasq's tftp-root: pxelinux.cfg/, grub.cfg*, the installer kernel under centos7/
 *   http/           what `k8s-image serve` (or nginx) serves: boot.ipxe, ipxe/, ks/, nocloud/, seed/
 *   cloud-image/    per node <node>.cmdline: the kernel arguments a netbooted cloud image needs (0644)
 *   dnsmasq.conf, dnsmasq-proxy.conf, pxe.json; nginx-k8s-image.conf, proxy-token, report-keys.json (0600)
 */
import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Artifact } from '../artifact.js';
import { textArtifact } from '../artifact.js';
import type { Cluster, Node } from '../config/index.js';
import * as net from '../config/net.js';
import { renderCloudInit } from '../cloudinit/index.js';
import { renderKickstart, SEED_FILES_DIR } from '../kickstart/index.js';
import { planNode, type NodePlan } from '../plan/index.js';
import { MAX_REPORT_BYTES, reportKey } from '../status/protocol.js';
import type { Secrets } from '../secrets/index.js';

export interface PxeOptions {
  /** host[:port] of the farm HTTP server, as the nodes reach it. */
  server: string;
  /** Install repository URL; defaults to the server's centos7/ tree (serve --installer). */
  repo?: string;
  /** Extra kernel arguments for every install entry (console=ttyS0,115200 ...). */
  kernelArgs: string[];
  /** dnsmasq's log-dhcp (off by default: about 10 lines per exchange). */
  logDhcp?: boolean;
  /** UEFI nodes with Secure Boot on: they keep shim + GRUB over TFTP instead of chaining iPXE ('all', or node names). */
  secureBoot?: 'all' | string[];
}

export const PXE_KERNEL = 'centos7/vmlinuz';
export const PXE_INITRD = 'centos7/initrd.img';

/** `aa:bb:cc:dd:ee:ff` as pxelinux and GRUB name per-MAC files: `01-aa-bb-cc-dd-ee-ff`. */
export const macFileName = (mac: string) => `01-${mac.toLowerCase().replaceAll(':', '-')}`;

function repoOf(cluster: Cluster, opts: PxeOptions): string {
  return opts.repo ?? `http://${opts.server}/centos7`;
}

/**
 * The kernel command line of a node's install entry (the loader adds nothing of its own).
 *
 * ip= names no device: the installer's kernel names the NIC ensN or enoN, not what the node's
 * config calls it (eth0), and dracut 033 (CentOS 7's; modules.d/40network) skips a static ip= for another
 * device. parse-ip-opts.sh puts BOOTIF's MAC first in IFACES; net-genrules.sh writes a udev rule
 * matching that MAC (ATTR{address}) that runs ifup for whatever the kernel named the NIC; ifup.sh
 * then applies every ip= whose device is empty or that interface (`[ -n "$dev" ] && [ "$dev" !=
 * "$netif" ] && continue`), and an interface left without one falls back to do_dhcp. So
 * `ip=<ip>::<gw>:<netmask>:<host>::none` + `BOOTIF=01-<mac>` configures exactly the NIC that booted.
 */
export function kernelCommandLine(cluster: Cluster, node: Node, opts: PxeOptions): string {
  return [
    `inst.ks=http://${opts.server}/ks/${node.name}.cfg`,
    `inst.repo=${repoOf(cluster, opts)}`,
    ...dracutNetworkArgs(node),
    'inst.text',
    ...opts.kernelArgs,
  ].join(' ');
}

/**
 * The installer's network as dracut 033 arguments (test/reference/dracut-033-network.md): the
 * Kubernetes device only, so the installer reaches the farm server the way the node will.
 * - One NIC: `ip=<ip>::<gw>:<mask>:<host>::none[:<mtu>]` and `BOOTIF` (see above).
 * - A bond: `bond=<bond>:<nic>,<nic>:<opt>,<opt>` (one bond= is read: getarg takes one), and ip= names
 *   the bond (field 6) with its MTU (field 8; the members follow the bond). No BOOTIF: dracut then
 *   brings up the bond's first member (net-genrules.sh), not the booting NIC on its own.
 * - A VLAN: `vlan=<name>:<parent>` (the id comes from the name: get_vid) and ip= names the VLAN;
 *   no MTU there (dracut cannot raise the parent's first; the installed system gets it from the
 *   kickstart), and the parent bond as above when it is one.
 */
export function dracutNetworkArgs(node: Node): string[] {
  const mask = net.prefixToNetmask(node.prefix);
  const dns = node.dns.map((d) => `nameserver=${d}`);
  const l = node.links;
  const k8s = node.interface;
  const nic = l?.interfaces.find((x) => x.name === k8s);
  if (!l || nic) {
    const mtu = l ? nic!.mtu : node.mtu;
    return [`ip=${node.ip}::${node.gateway}:${mask}:${node.name}::none${mtu !== undefined ? `:${mtu}` : ''}`, ...dns, `BOOTIF=${macFileName(node.mac!)}`];
  }
  const bondArg = (name: string) => {
    const b = l.bonds.find((x) => x.name === name)!;
    return `bond=${b.name}:${b.interfaces.join(',')}:${b.options.map(([k, v]) => `${k}=${v}`).join(',')}`;
  };
  const vlan = l.vlans.find((x) => x.name === k8s);
  if (!vlan) {
    const b = l.bonds.find((x) => x.name === k8s)!;
    return [bondArg(b.name), `ip=${node.ip}::${node.gateway}:${mask}:${node.name}:${b.name}:none${b.mtu !== undefined ? `:${b.mtu}` : ''}`, ...dns];
  }
  const onBond = l.bonds.some((x) => x.name === vlan.link);
  return [...(onBond ? [bondArg(vlan.link)] : []), `vlan=${vlan.name}:${vlan.link}`, `ip=${node.ip}::${node.gateway}:${mask}:${node.name}:${vlan.name}:none`, ...dns];
}

export interface BootEntries {
  pxelinux: string;
  grub: string;
  ipxe: string;
}

/**
 * The installed system's own UEFI loaders, tried in this order by the GRUB local entry: CentOS 7's
 * shim (which loads grubx64.efi beside it), then the removable-media path. The DVD has only
 * \\EFI\\BOOT, so a DVD left in the drive does not win over the installed disk.
 */
export const LOCAL_EFI_LOADERS = ['/EFI/centos/shimx64.efi', '/EFI/BOOT/BOOTX64.EFI'] as const;

/** The local-disk entries: for a MAC k8s-image does not know, and for a node whose install was reported. */
export function localEntries(clusterName: string, node?: { name: string; mac?: string }): BootEntries {
  const who = node ? `${node.name} (${node.mac}) of cluster ${clusterName}` : `machines k8s-image does not know (cluster ${clusterName})`;
  const why = node ? `installed: boot the local disk (\`k8s-image pxe --reinstall ${node.name}\` to install again)` : 'unknown MAC: boot the local disk';
  return {
    pxelinux: [`# k8s-image: ${who}`, `# ${why}`, 'DEFAULT local', 'PROMPT 0', 'TIMEOUT 1', 'LABEL local', '  LOCALBOOT 0', ''].join('\n'),
    // GRUB chainloads the disk's own loader itself rather than handing back to the firmware: an
    // image that returns EFI_SUCCESS makes edk2's BDS (BootBootOptions) open its boot manager menu
    // instead of trying the next boot option, and upstream GRUB before 2.12 (Debian 12's too)
    // exits with EFI_SUCCESS. Only commands CentOS 7's signed grubx64.efi registers
    // (test/reference/grub2-rhel7.9.json). `exit 1` last: on rhel-7.9 exit returns
    // EFI_LOAD_ERROR (plain exit too), so BDS goes on to the next boot option.
    grub: [
      `# k8s-image: ${who}`,
      `# ${why}`,
      'set timeout=0',
      ...LOCAL_EFI_LOADERS.flatMap((l) => [
        `if search --no-floppy --file --set=k8s_esp ${l}; then`,
        `  echo "k8s-image: booting the local disk: ($k8s_esp)${l}"`,
        `  chainloader ($k8s_esp)${l}`,
        '  boot',
        'fi',
      ]),
      "echo 'k8s-image: no EFI loader on a local disk; back to the firmware'",
      'exit 1',
      '',
    ].join('\n'),
    // iPXE: BIOS: exit goes back to the BIOS, which boots the next device (the disk). UEFI (iPXE's
    // EFI ROM): the NIC's boot option then ends with an error status (not EFI_SUCCESS), so BDS
    // tries the next boot option (the disk); the exit status 1 keeps it an error in any iPXE.
    ipxe: ['#!ipxe', `# k8s-image: ${who}`, `# ${why}`, 'exit 1', ''].join('\n'),
  };
}

/** A node's install entries for the three loaders. */
export function installEntries(cluster: Cluster, node: Node, opts: PxeOptions): BootEntries {
  const who = `# k8s-image: ${node.name} (${node.mac}) of cluster ${cluster.name}: install`;
  const cmdline = kernelCommandLine(cluster, node, opts);
  const http = `http://${opts.server}`;
  return {
    pxelinux: [who, 'DEFAULT install', 'PROMPT 0', 'TIMEOUT 1', 'LABEL install', `  KERNEL ${PXE_KERNEL}`, `  INITRD ${PXE_INITRD}`, `  APPEND ${cmdline}`, ''].join('\n'),
    // linuxefi/initrdefi: CentOS 7's signed grubx64.efi has no `linux` module (and rhel-7.9 does not
    // register `linux` under Secure Boot); linuxefi verifies the kernel through shim.
    grub: [who, 'set timeout=1', 'set default=0', `menuentry 'Install ${node.name} (k8s-image)' {`, `  linuxefi /${PXE_KERNEL} ${cmdline}`, `  initrdefi /${PXE_INITRD}`, '}', ''].join('\n'),
    // Over HTTP, far faster than TFTP when many machines boot at once; initrd= for iPXE on UEFI.
    // The DVD's own paths: the same URL works with `serve --installer DVD` and with the copied files.
    ipxe: ['#!ipxe', who, `kernel ${http}/centos7/images/pxeboot/vmlinuz initrd=initrd.img ${cmdline}`, `initrd ${http}/centos7/images/pxeboot/initrd.img`, 'boot', ''].join('\n'),
  };
}

/** Paths of a node's three entries in the tree. */
export function entryPaths(node: { mac?: string }): { pxelinux: string; grub: string; ipxe: string } {
  return {
    pxelinux: `tftp/pxelinux.cfg/${macFileName(node.mac!)}`,
    grub: `tftp/grub.cfg-${macFileName(node.mac!)}`,
    ipxe: `http/ipxe/${macFileName(node.mac!)}.ipxe`,
  };
}

/**
 * The plan of a PXE node: the shared plan, reporting to the farm server itself, whose "installed"
 * switches the node's entries to the local disk (install once).
 */
export function pxePlan(cluster: Cluster, secrets: Secrets, node: Node, opts: PxeOptions): NodePlan {
  return planNode({ ...cluster, status: { url: `http://${opts.server}` } }, secrets, node.name);
}

/**
 * Sizing of dnsmasq for a farm that powers on at once (issue 26):
 *  - dhcp-lease-max: dnsmasq's default is 1,000 leases, after which it refuses; a node may hold two
 *    (its PXE ROM and iPXE can send different client identifiers), so twice the nodes, at least 1,000.
 *  - leasefile-ro: every address is reserved (dhcp-host), so the lease file holds nothing worth
 *    keeping, and rewriting it at every exchange is what limits dnsmasq in a boot storm;
 *    dhcp-authoritative lets a node that REQUESTs its reserved address after a dnsmasq restart (no
 *    leases remembered) have it at once instead of a NAK and a new DISCOVER.
 *  - log-dhcp is off (about 10 lines per exchange); `pxe --log-dhcp` turns it on.
 *  - tftp-max: dnsmasq serves 50 TFTP transfers at once by default; only loaders go over TFTP (and
 *    the Secure Boot clients' kernel and initrd), so one per node up to DNSMASQ_TFTP_MAX. dnsmasq
 *    does not raise its open-file limit: it clamps tftp-max to the limit minus 50 and logs
 *    "restricting maximum simultaneous TFTP transfers" (dnsmasq.c, v2.76 and v2.90), so under
 *    systemd's soft limit of 1024 it serves 974 at once (a LimitNOFILE= drop-in lifts that).
 */
export const DNSMASQ_DEFAULT_LEASE_MAX = 1000;
export const DNSMASQ_TFTP_MAX = 1000;
export const dnsmasqLeaseMax = (nodes: number) => Math.max(DNSMASQ_DEFAULT_LEASE_MAX, nodes * 2);
export const dnsmasqTftpMax = (nodes: number) => Math.min(DNSMASQ_TFTP_MAX, Math.max(50, nodes));

/** A node's DHCP network: its subnet, router and DNS servers, which a dnsmasq tag names. */
interface DhcpNet {
  tag: string;
  subnet: string;
  gateway: string;
  dns: string[];
  nodes: number;
}

/**
 * The nodes' networks, in the order they first appear: one tag per distinct subnet + router + DNS
 * servers (a rack behind a DHCP relay is a subnet of its own, with its own router). The tag rides on
 * each node's dhcp-host line, so a node gets its own router wherever its request comes from (directly,
 * or relayed by its rack's switch with giaddr in its subnet).
 */
export function dhcpNets(nodes: Node[]): { nets: DhcpNet[]; of: Map<Node, DhcpNet> } {
  const nets: DhcpNet[] = [];
  const byKey = new Map<string, DhcpNet>();
  const of = new Map<Node, DhcpNet>();
  for (const n of nodes) {
    const subnet = net.formatCidr({ network: net.networkOf(net.ipToInt(n.ip), n.prefix), prefix: n.prefix });
    const key = `${subnet} ${n.gateway} ${n.dns.join(',')}`;
    let d = byKey.get(key);
    if (!d) {
      d = { tag: `net${nets.length + 1}`, subnet, gateway: n.gateway, dns: n.dns, nodes: 0 };
      nets.push(d);
      byKey.set(key, d);
    }
    d.nodes++;
    of.set(n, d);
  }
  return { nets, of };
}

/** Which UEFI nodes keep the signed shim + GRUB chain (Secure Boot on): their dhcp-host lines carry tag sb. */
const secureBootSet = (nodes: Node[], opts: PxeOptions): Set<string> => new Set(opts.secureBoot === 'all' ? nodes.map((n) => n.name) : (opts.secureBoot ?? []));

function dnsmasqConf(cluster: Cluster, nodes: Node[], opts: PxeOptions, tftpRoot: string, proxy: boolean): string {
  const { nets, of } = dhcpNets(nodes);
  const sb = secureBootSet(nodes, opts);
  const lines = [
    `# k8s-image PXE for cluster ${cluster.name} (${nodes.length} nodes): ${proxy ? 'proxy DHCP (an office DHCP server hands out the addresses; this one only adds the boot files)' : 'DHCP with one reserved address per node'} and TFTP.`,
    '# Check: dnsmasq --test -C <this file>. Run: dnsmasq -k -C <this file> (set interface= to the farm NIC; -k drops root,',
    '# as the Debian service does with -u dnsmasq; -d, for debugging, stays root and would hide a tree its user cannot read).',
    '# dnsmasq reads tftp-root as its own user (dnsmasq or nobody): every directory above it must be searchable by others (not under /root).',
    '# Only the boot loader goes over TFTP: BIOS gets undionly.kpxe, UEFI ipxe.efi (iPXE), which asks again with user class',
    '# "iPXE" (option 175) and is given boot.ipxe over HTTP: kernel, initrd and the install come from the HTTP server.',
    '# UEFI machines with Secure Boot on (pxe --secure-boot) keep the signed chain, shim + GRUB, and fetch the kernel over TFTP.',
    ...(proxy ? PROXY_NOTES : []),
    'port=0',
    '# interface=eth1',
    'bind-dynamic',
    ...(opts.logDhcp ? ['log-dhcp'] : ['# log-dhcp is off: about 10 log lines per exchange in a boot storm (k8s-image pxe --log-dhcp turns it on).']),
    'enable-tftp',
    `tftp-root=${tftpRoot}`,
    `# At most this many TFTP transfers at once (dnsmasq's default is 50): one per node, up to ${DNSMASQ_TFTP_MAX}.`,
    `tftp-max=${dnsmasqTftpMax(nodes.length)}`,
  ];
  if (!proxy) {
    lines.push(
      `# Leases: twice the nodes (a PXE ROM and iPXE may each hold one), never below dnsmasq's default ${DNSMASQ_DEFAULT_LEASE_MAX}.`,
      `dhcp-lease-max=${dnsmasqLeaseMax(nodes.length)}`,
      '# Every address is reserved below: no lease file is written (a rewrite per exchange is what slows a boot storm),',
      '# and a node asking for its reserved address after a restart gets it at once.',
      'leasefile-ro',
      'dhcp-authoritative',
      '# One range per subnet, static (only the reserved addresses). A rack on another subnet reaches this server through a',
      "# DHCP relay (its switch's ip helper-address / dhcrelay), whose giaddr picks the subnet's range; the node's own tag",
      '# (on its dhcp-host line) gives it its router and DNS servers. The server needs a route back to each relayed subnet.',
    );
  }
  const subnets = [...new Set(nets.map((d) => d.subnet))];
  for (const s of subnets) {
    const { network, prefix } = net.parseCidr(s)!;
    lines.push(proxy ? `dhcp-range=${net.intToIp(network)},proxy` : `dhcp-range=${net.intToIp(network)},static,${net.prefixToNetmask(prefix)},12h`);
  }
  if (!proxy) {
    for (const d of nets) {
      lines.push(`# ${d.tag}: ${d.subnet}, router ${d.gateway}${d.dns.length ? `, DNS ${d.dns.join(', ')}` : ''} (${d.nodes} node${d.nodes === 1 ? '' : 's'})`);
      lines.push(`dhcp-option=tag:${d.tag},option:router,${d.gateway}`);
      if (d.dns.length) lines.push(`dhcp-option=tag:${d.tag},option:dns-server,${d.dns.join(',')}`);
    }
  }
  for (const n of nodes) {
    const sbTag = sb.has(n.name) ? ',set:sb' : '';
    lines.push(proxy ? `dhcp-host=${n.mac},set:k8s-image${sbTag}` : `dhcp-host=${n.mac},set:${of.get(n)!.tag}${sbTag},${n.ip},${n.name}`);
  }
  lines.push(
    '# Boot file by client: iPXE (user class iPXE, or its option 175): boot.ipxe over HTTP; UEFI x64 (arch 7, 9): ipxe.efi,',
    '# or shim (which loads grubx64.efi) for Secure Boot nodes (tag sb); BIOS: undionly.kpxe.',
    'dhcp-userclass=set:ipxe,iPXE',
    'dhcp-match=set:ipxe,175',
    'dhcp-match=set:efi64,option:client-arch,7',
    'dhcp-match=set:efi64,option:client-arch,9',
  );
  const boot = `http://${opts.server}/boot.ipxe`;
  if (proxy) {
    lines.push(
      'pxe-prompt="k8s-image",0',
      `pxe-service=tag:ipxe,x86PC,"k8s-image iPXE",${boot}`,
      'pxe-service=tag:!ipxe,x86PC,"k8s-image BIOS",undionly.kpxe',
      'pxe-service=tag:!ipxe,tag:sb,X86-64_EFI,"k8s-image UEFI",shimx64.efi',
      'pxe-service=tag:!ipxe,tag:!sb,X86-64_EFI,"k8s-image UEFI",ipxe.efi',
      `dhcp-boot=tag:ipxe,${boot}`,
    );
  } else {
    lines.push(`dhcp-boot=tag:ipxe,${boot}`, 'dhcp-boot=tag:efi64,tag:sb,tag:!ipxe,shimx64.efi', 'dhcp-boot=tag:efi64,tag:!sb,tag:!ipxe,ipxe.efi', 'dhcp-boot=tag:!efi64,tag:!ipxe,undionly.kpxe');
  }
  // A proxy shares its segment with machines that are not the farm's: it answers only the farm's
  // MACs (dhcp-host set:k8s-image), whatever boot file each line names.
  const onlyFarm = (l: string) => (proxy ? l.replace(/^(pxe-service|pxe-prompt|dhcp-boot)=/, '$1=tag:k8s-image,') : l);
  // Without it dnsmasq still sends any other PXE client an offer with an empty menu (BIOS) or this
  // server as next-server (UEFI), which holds up or misleads machines that are not the farm's.
  if (proxy) lines.push('# Any other MAC: no answer at all ("proxy-ignored" in the log).', 'dhcp-ignore=tag:!k8s-image');
  return `${lines.map(onlyFarm).join('\n')}\n`;
}

/**
 * What proxy DHCP cannot do, said where the user reads it (rhboot/grub2#56, rhboot/shim#165): the
 * firmware loads the UEFI loader from this server, but rhel-7.9's GRUB and shim 15 then configure
 * themselves from the office DHCP server's ACK only, and look for their files there.
 */
export const PROXY_UEFI_LIMIT =
  "proxy DHCP (dnsmasq-proxy.conf) boots BIOS and UEFI clients through iPXE (undionly.kpxe, ipxe.efi), which honours proxy DHCP; UEFI clients with Secure Boot on (pxe --secure-boot) cannot boot from it: CentOS 7's shim and GRUB take the TFTP server from the office DHCP server's answer, not from this proxy (rhboot/shim#165, rhboot/grub2#56). For them run dnsmasq.conf (full DHCP on the farm segment)";
const PROXY_NOTES = [
  '# Answers only the MACs listed below (tag:k8s-image on every boot line); other PXE clients on the segment get nothing from it.',
  ...PROXY_UEFI_LIMIT.match(/.{1,110}(\s|$)/g)!.map((l) => `# ${l.trim()}`),
];

/**
 * Where `k8s-image serve` listens behind nginx: loopback, the server's port + 1 (- 1 at 65535), so
 * one farm server host runs both without the user picking a port.
 */
export function serveBehindNginx(server: string): { port: number; listen: string } {
  const port = Number(server.split(':')[1] ?? '80');
  const back = port === 65535 ? port - 1 : port + 1;
  return { port: back, listen: `127.0.0.1:${back}` };
}

/**
 * An nginx site for farms that serve the bulk with nginx: its workers (www-data) read the public
 * files (0644, directories 0755); what only serve can do (a node's secrets by its address, the
 * install reports, the status page) is proxied to serve on loopback, which trusts X-Real-IP there.
 */
function nginxSite(cluster: Cluster, nodes: Node[], opts: PxeOptions, httpRoot: string, token: string): string {
  const port = opts.server.includes(':') ? opts.server.split(':')[1] : '80';
  const tree = httpRoot.replace(/\/http$/, '');
  const back = serveBehindNginx(opts.server).listen;
  // The token tells serve this request came through this site (serve --trust-proxy believes X-Real-IP
  // only with it): another local user's process on the loopback cannot claim a node's address.
  const proxy = (extra: string[] = []) => [`        proxy_pass http://${back};`, '        proxy_set_header X-Real-IP $remote_addr;', `        proxy_set_header ${PROXY_TOKEN_HEADER} ${token};`, '        proxy_set_header Host $host;', ...extra];
  const lines = [
    `# k8s-image PXE HTTP for cluster ${cluster.name} (${nodes.length} nodes): include it in nginx's http {} block`,
    '# (Debian: /etc/nginx/sites-enabled/, CentOS: /etc/nginx/conf.d/). Check: nginx -t.',
    '# nginx serves ks/, boot.ipxe and centos7/ (the bulk) itself; ipxe/ (the per-MAC entries: serve admits at most',
    '# --max-installing nodes at once), seed/ and nocloud/ (a node\'s secrets, 0600, to its own address only),',
    '# /report (install reports) and /status go to k8s-image serve, run as the user who ran pxe:',
    `#   k8s-image serve --dir ${tree} --listen ${back} --trust-proxy`,
    '# nginx\'s workers (www-data) must be able to traverse to the tree: keep it out of /root and other 0700 homes.',
    `# This file holds the proxy token (${PROXY_TOKEN_HEADER}, the tree's proxy-token) serve checks: it is 0600, which`,
    '# nginx reads as root (its master reads the config); include it in place, or copy it keeping it 0600 (root-owned).',
    ...(opts.repo
      ? [`# The install repository is ${opts.repo} (--repo).`]
      : [
          `# centos7/ is the install repository: nginx serves ${httpRoot}/centos7/, where --installer put only the`,
          '# kernel and initrd; extract the DVD there, or mount it (mount -o loop,ro CentOS-7-x86_64-DVD-2009.iso /mnt/centos7)',
          '# and write "alias /mnt/centos7/;" between the braces of location /centos7/ below.',
        ]),
    'server {',
    `    listen ${port};`,
    `    root ${httpRoot};`,
    '    autoindex off;',
    '    location / { return 404; }',
    '    location = /boot.ipxe { }',
    '    location /ks/ { default_type text/plain; }',
    // The per-MAC iPXE entries go through serve: it admits at most --max-installing nodes at once
    // and gives the others a script that waits and asks again (a few hundred bytes each).
    '    location /ipxe/ {',
    ...proxy(),
    '    }',
    '    location /centos7/ { }',
    '    location /seed/ {',
    ...proxy(),
    '    }',
    '    location /nocloud/ {',
    ...proxy(),
    '    }',
    '    location = /report {',
    // What serve takes (MAX_REPORT_BYTES: a failure's log, URL-encoded): nginx must not refuse less.
    ...proxy([`        client_max_body_size ${nginxReportLimit()};`]),
    '    }',
    '    # /status, /status/, /status.json and /status/events (a stream: unbuffered, long-lived).',
    '    location /status {',
    ...proxy(['        proxy_http_version 1.1;', '        proxy_set_header Connection "";', '        proxy_buffering off;', '        proxy_cache off;', '        proxy_read_timeout 1h;']),
    '    }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** The header nginx names itself with to serve --trust-proxy (its value: the tree's proxy-token). */
export const PROXY_TOKEN_HEADER = 'X-K8s-Image-Proxy';

/**
 * The secret nginx sends serve with every proxied request: derived from the cluster CA key (as the
 * report keys are), so the same inputs give the same tree; 64 lowercase hex digits.
 */
export function proxyToken(caKey: string, cluster: string): string {
  return createHmac('sha256', caKey).update(`k8s-image proxy token ${cluster}`).digest('hex');
}

/** nginx's client_max_body_size for /report: serve's own limit, in nginx's units. */
export function nginxReportLimit(): string {
  return MAX_REPORT_BYTES % 1024 === 0 ? `${MAX_REPORT_BYTES / 1024}k` : String(MAX_REPORT_BYTES);
}

/**
 * x86's COMMAND_LINE_SIZE in CentOS 7's kernel (3.10: arch/x86/include/asm/setup.h, 2048 bytes, the
 * terminating NUL included); the kernel cuts a longer command line. A cloud image's own arguments
 * (root=, console=, crashkernel=, ...) need their share: a node's cloud-image arguments may take half.
 */
export const COMMAND_LINE_SIZE = 2048;
export const CLOUD_IMAGE_ARGS_MAX = COMMAND_LINE_SIZE / 2;

/**
 * gzip with a fixed header: zlib's gzip wrapper writes no name and mtime 0; its OS byte is the build's
 * OS_CODE (3 on Unix, another on Windows), so it is set to 3 here: the same bytes on every host.
 */
export function deterministicGzip(data: Uint8Array): Buffer {
  const z = gzipSync(data, { level: 9 });
  if (z[0] !== 0x1f || z[1] !== 0x8b || z[3] !== 0 || z.readUInt32LE(4) !== 0) throw new Error('zlib wrote an unexpected gzip header');
  z[9] = 3;
  return z;
}

/**
 * The kernel arguments a cloud image (GenericCloud) that netboots needs: its NoCloud seed from the farm
 * server, and its static network as `network-config=<base64 of gzipped v1 YAML>`. On CentOS 7,
 * cloud-init 19.4 reads the command line first (net/cmdline.py read_kernel_cmdline_config) in
 * init-local, before network.service, at every boot; the URL seed's meta-data network is rendered
 * but never brought up on RHEL (test/reference/cloud-init-centos7.md, section 3b).
 */
export function cloudImageArgs(server: string, node: string, networkConfigYaml: Uint8Array): string {
  return [`ds=nocloud-net;s=http://${server}/nocloud/${node}/`, `network-config=${deterministicGzip(networkConfigYaml).toString('base64')}`].join(' ');
}

export interface PxeTree {
  artifacts: Artifact[];
  /** Nodes left out, each with the reason (no MAC: DHCP cannot reserve an address for it). */
  skipped: { node: Node; reason: string }[];
  /** Nodes whose cloud-image kernel arguments are longer than CLOUD_IMAGE_ARGS_MAX, each with why. */
  tooLong: { node: Node; reason: string }[];
}

/**
 * The whole tree. `absRoot` is where it will live (dnsmasq's tftp-root and nginx's root are
 * absolute); `installed` lists nodes whose install was reported, which get local-boot entries.
 */
export function renderPxe(cluster: Cluster, secrets: Secrets, opts: PxeOptions, absRoot: string, installed: ReadonlySet<string> = new Set()): PxeTree {
  const out: Artifact[] = [];
  const skipped: PxeTree['skipped'] = [];
  const nodes: Node[] = [];
  for (const n of cluster.nodes) {
    if (!n.mac) skipped.push({ node: n, reason: `nodes[${cluster.nodes.indexOf(n)}].mac is not set: DHCP cannot reserve ${n.ip} for it and no per-MAC boot entry can name it` });
    else nodes.push(n);
  }
  const url = `http://${opts.server}`;
  const tooLong: PxeTree['tooLong'] = [];
  const cloudArgs = new Map<string, string>();
  for (const node of nodes) {
    const plan = pxePlan(cluster, secrets, node, opts);
    const source = `url --url=${repoOf(cluster, opts)}`;
    const ks = renderKickstart(plan, { source, seedUrl: `${url}/seed/${node.name}` });
    out.push({ ...ks.find((a) => a.path === 'ks.cfg')!, path: `http/ks/${node.name}.cfg` });
    for (const a of ks.filter((x) => x.path.startsWith(`oemdrv/${SEED_FILES_DIR}/`))) out.push({ ...a, path: `http/seed/${node.name}/${a.path.slice('oemdrv/'.length)}` });
    const ci = renderCloudInit(plan, { seed: 'nocloud-net' });
    for (const a of ci) out.push({ ...a, path: `http/nocloud/${node.name}/${a.path.slice('cloud-init/'.length)}` });
    // Not a secret (the network only): outside http/seed and http/nocloud, 0644.
    const args = cloudImageArgs(opts.server, node.name, ci.find((a) => a.path === 'cloud-init/network-config')!.bytes);
    const bytes = Buffer.byteLength(args);
    if (bytes > CLOUD_IMAGE_ARGS_MAX) {
      tooLong.push({ node, reason: `its cloud-image kernel arguments (ds= and network-config=) are ${bytes} bytes, more than ${CLOUD_IMAGE_ARGS_MAX} (half of the x86 kernel's ${COMMAND_LINE_SIZE}-byte command line; the image's own root=, console= need the rest): shorten its network (fewer DNS servers, a shorter search domain) or --server` });
    }
    cloudArgs.set(node.name, args);
    out.push(textArtifact(`cloud-image/${node.name}.cmdline`, `${args}\n`));
    const e = installed.has(node.name) ? localEntries(cluster.name, node) : installEntries(cluster, node, opts);
    const p = entryPaths(node);
    out.push(textArtifact(p.pxelinux, e.pxelinux), textArtifact(p.grub, e.grub), textArtifact(p.ipxe, e.ipxe));
  }
  const fallback = localEntries(cluster.name);
  out.push(textArtifact('tftp/pxelinux.cfg/default', fallback.pxelinux));
  // GRUB reads grub.cfg-01-<mac> by itself when it exists (CentOS 7's and upstream's netboot GRUB); this is the rest.
  out.push(textArtifact('tftp/grub.cfg', fallback.grub));
  // netX: the NIC iPXE opened last, i.e. the one that booted (net0 is merely the first NIC found).
  out.push(textArtifact('http/boot.ipxe', ['#!ipxe', `# k8s-image: the entry of this machine's MAC, or the local disk (cluster ${cluster.name})`, `chain --autofree ${url}/ipxe/01-\${netX/mac:hexhyp}.ipxe || exit 1`, ''].join('\n')));
  out.push(textArtifact('dnsmasq.conf', dnsmasqConf(cluster, nodes, opts, `${absRoot}/tftp`, false)));
  out.push(textArtifact('dnsmasq-proxy.conf', dnsmasqConf(cluster, nodes, opts, `${absRoot}/tftp`, true)));
  const token = proxyToken(secrets.ca.key, cluster.name);
  // The site holds the token: 0600 (nginx's master, root, reads it); serve reads proxy-token.
  out.push(textArtifact('nginx-k8s-image.conf', nginxSite(cluster, nodes, opts, `${absRoot}/http`, token), true, 0o600));
  out.push(textArtifact('proxy-token', `${token}\n`, true, 0o600));
  const index = {
    cluster: cluster.name,
    server: opts.server,
    repo: repoOf(cluster, opts),
    kernelArgs: opts.kernelArgs,
    nodes: nodes.map((n) => ({ name: n.name, role: n.role, ip: n.ip, mac: n.mac, cloudImageCmdline: cloudArgs.get(n.name) })),
  };
  out.push(textArtifact('pxe.json', `${JSON.stringify(index, null, 2)}\n`));
  const keys = Object.fromEntries(nodes.map((n) => [n.name, reportKey(secrets.ca.key, n.name)]));
  out.push(textArtifact('report-keys.json', `${JSON.stringify(keys, null, 2)}\n`, true, 0o600));
  return { artifacts: out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), skipped, tooLong };
}

