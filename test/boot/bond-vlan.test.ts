/**
 * A node's cidata seed (network-config from the plan: two NICs by MAC, an active-backup bond, a
 * tagged VLAN on it with the node's address) booted for real: QEMU (TCG) runs a Debian guest kernel
 * (it has the bonding and 8021q drivers this machine's kernel may lack) whose root is a read-only 9p
 * view of this machine under a tmpfs overlay. There Debian's cloud-init (`init --local`, the NoCloud
 * seed) renames the NICs by MAC and writes the network, which ifupdown brings up as a Debian boot
 * does; the guest pings a responder on the test side that answers only 802.1Q-tagged frames of VLAN
 * 100, then QEMU's monitor takes the active NIC's link down (`set_link nic0 off`) and the ping must
 * go on through the other NIC. Debian's cloud-init renders ENI here, not CentOS 7's ifcfg: the ifcfg
 * side is test/render/bare-metal.test.ts (cloud-init's sysconfig renderer, field by field).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

/** Where scripts/install-test-tools.sh unpacks Debian's linux-image-amd64. */
const KERNEL_DIR = process.env.K8S_IMAGE_GUEST_KERNEL ?? '/var/cache/k8s-image-tests/linux-image';
/** In load order (each after what it depends on; `depends=` of each .ko). */
const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'overlay', 'failover', 'net_failover', 'virtio_net', 'tls', 'bonding', 'llc', 'stp', 'garp', 'mrp', '8021q'];
const HOST_IP = Buffer.from([10, 20, 100, 1]);
const HOST_MAC = Buffer.from('020000000001', 'hex');
const VLAN = 100;

const CLUSTER = `network: { gateway: 10.20.100.1 }
nodes:
  - name: rack1-w1
    role: master
    ip: 10.20.100.21/24
    interfaces: [{ name: eno1, mac: "52:54:00:12:00:01" }, { name: eno2, mac: "52:54:00:12:00:02" }]
    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup, miimon: 100, primary: eno1 }]
    vlans: [{ link: bond0, id: ${VLAN} }]
`;

/** Busybox PID 1: modules, the 9p root under a tmpfs overlay, then the guest script with bash. */
const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
RUN=$(/bin/busybox sed -n 's/.*k8simage.run=\\([^ ]*\\).*/\\1/p' /proc/cmdline | /bin/busybox tr , ' ')
for m in ${MODULES.join(' ')}; do
  opts=''
  # No bond0 of the driver's own: ifenslave makes it from the rendered network.
  if [ "$m" = bonding ]; then opts=max_bonds=0; fi
  /bin/busybox insmod /mods/$m.ko $opts || echo "K8S-IMAGE-BOOT: insmod $m failed"
done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /host || echo "K8S-IMAGE-BOOT: 9p mount failed"
/bin/busybox mount -t tmpfs tmpfs /up
/bin/busybox mkdir -p /up/u /up/w
/bin/busybox mount -t overlay overlay -o lowerdir=/host,upperdir=/up/u,workdir=/up/w /newroot || echo "K8S-IMAGE-BOOT: overlay failed"
/bin/busybox mount --move /proc /newroot/proc
/bin/busybox mount --move /sys /newroot/sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /bin/bash -c "$RUN"
`;

/** In the guest (this machine's files, the guest's kernel): cloud-init, ifup, then the checks the test reads. */
const GUEST = `#!/bin/bash
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
seed=$1
# The firmware's and the kernel's last line may have no newline: the test reads whole lines.
echo
mount -t tmpfs tmpfs /run
mkdir -p /run/lock
# A fresh instance: none of this machine's cloud-init state, network files or settings.
rm -rf /var/lib/cloud /var/log/cloud-init.log /etc/network/interfaces.d/* /etc/cloud/cloud.cfg.d/9*
mkdir -p /var/lib/cloud/seed/nocloud
cp "$seed"/meta-data "$seed"/user-data "$seed"/network-config /var/lib/cloud/seed/nocloud/
printf 'datasource_list: [NoCloud]\\n' >/etc/cloud/cloud.cfg.d/99-k8s-image-boot-test.cfg
if cloud-init init --local >/run/cloud-init.out 2>&1; then echo CLOUDINIT-LOCAL-OK; else echo CLOUDINIT-LOCAL-FAILED; tail -n 40 /run/cloud-init.out; fi
grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | head -n 20
echo "LINKS: $(ip -o link show | awk -F': ' '{ print $2 }' | tr '\\n' ' ')"
# What Debian's networking.service does after cloud-init's local stage.
ifup -a >/run/ifup.out 2>&1 || { echo IFUP-FAILED; cat /run/ifup.out; }
grep -E 'Bonding Mode|Currently Active Slave' /proc/net/bonding/bond0
echo "VLAN: $(ip -d link show bond0.${VLAN} | grep -o 'vlan protocol 802.1Q id [0-9]*')"
echo "ADDR: $(ip -4 -o addr show dev bond0.${VLAN} | awk '{ print $4 }')"
busybox ping -c 3 -W 2 ${[...HOST_IP].join('.')} >/run/ping1 2>&1 && echo PING1-OK || cat /run/ping1
echo SET-LINK-NOW
for i in $(seq 1 100); do [ "$(cat /sys/class/net/eno1/carrier 2>/dev/null)" = 0 ] && break; sleep 0.2; done
echo "CARRIER-eno1=$(cat /sys/class/net/eno1/carrier 2>/dev/null)"
# miimon 100: the bond notices within a few checks.
sleep 1
grep 'Currently Active Slave' /proc/net/bonding/bond0 | sed 's/^/AFTER: /'
busybox ping -c 3 -W 2 ${[...HOST_IP].join('.')} >/run/ping2 2>&1 && echo PING2-OK || cat /run/ping2
echo o >/proc/sysrq-trigger
`;

function internetChecksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/**
 * The test's side of the wire: QEMU hands it each Ethernet frame of the hub as a UDP datagram. It
 * answers ARP for HOST_IP and ICMP echo to it only when the frame carries the 802.1Q tag of VLAN 100,
 * and counts what it saw.
 */
async function responder(): Promise<{ port: number; peerPort: number; stats: { tagged: number; untagged: number; arp: number; echo: number; from: Set<string> }; close(): void }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
  const peerPort = probe.address().port;
  probe.close();
  const stats = { tagged: 0, untagged: 0, arp: 0, echo: 0, from: new Set<string>() };
  sock.on('message', (f) => {
    if (f.length < 14) return;
    let off = 12;
    let tag: Buffer | undefined;
    if (f.readUInt16BE(12) === 0x8100) {
      tag = f.subarray(14, 16);
      off = 16;
      stats.tagged++;
    } else stats.untagged++;
    if (!tag || (tag.readUInt16BE(0) & 0xfff) !== VLAN) return;
    const type = f.readUInt16BE(off);
    const p = f.subarray(off + 2);
    const head = (dst: Buffer) => Buffer.concat([dst, HOST_MAC, Buffer.from([0x81, 0x00]), tag!]);
    if (type === 0x0806 && p.readUInt16BE(6) === 1 && p.subarray(24, 28).equals(HOST_IP)) {
      stats.arp++;
      const a = Buffer.alloc(28);
      p.copy(a, 0, 0, 6);
      a.writeUInt16BE(2, 6);
      HOST_MAC.copy(a, 8);
      HOST_IP.copy(a, 14);
      p.copy(a, 18, 8, 18);
      sock.send(Buffer.concat([head(p.subarray(8, 14)), Buffer.from([0x08, 0x06]), a]), peerPort, '127.0.0.1');
    } else if (type === 0x0800 && p[9] === 1 && p.subarray(16, 20).equals(HOST_IP)) {
      const ihl = (p[0]! & 15) * 4;
      const ip = Buffer.from(p.subarray(0, p.readUInt16BE(2)));
      if (ip[ihl] !== 8) return;
      stats.echo++;
      stats.from.add([...ip.subarray(12, 16)].join('.'));
      const src = Buffer.from(ip.subarray(12, 16));
      ip.copy(ip, 12, 16, 20);
      src.copy(ip, 16);
      ip[ihl] = 0;
      ip.writeUInt16BE(0, ihl + 2);
      ip.writeUInt16BE(internetChecksum(ip.subarray(ihl)), ihl + 2);
      sock.send(Buffer.concat([head(f.subarray(6, 12)), Buffer.from([0x08, 0x00]), ip]), peerPort, '127.0.0.1');
    }
  });
  return { port: sock.address().port, peerPort, stats, close: () => sock.close() };
}

/** The guest kernel and its modules, as scripts/install-test-tools.sh unpacks them (a missing one fails the test). */
function guestKernel(): { vmlinuz: string; modules: string } {
  const boot = join(KERNEL_DIR, 'boot');
  const vmlinuz = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (!vmlinuz) throw new Error(`no Debian guest kernel in ${KERNEL_DIR}: run scripts/install-test-tools.sh (it unpacks linux-image-amd64 there), or set K8S_IMAGE_GUEST_KERNEL`);
  return { vmlinuz: join(boot, vmlinuz), modules: join(KERNEL_DIR, 'lib', 'modules', vmlinuz.slice('vmlinuz-'.length), 'kernel') };
}

function findModule(dir: string, name: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const hit = findModuleOrUndefined(p, name);
      if (hit) return hit;
    } else if (e.name === `${name}.ko`) return p;
  }
  throw new Error(`the guest kernel has no ${name}.ko under ${dir}`);
}
function findModuleOrUndefined(dir: string, name: string): string | undefined {
  try {
    return findModule(dir, name);
  } catch {
    return undefined;
  }
}

/** busybox, the libraries it links, the modules and /init, as a gzipped newc cpio. */
function initramfs(dir: string, modulesDir: string): string {
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'mods', 'proc', 'sys', 'dev', 'host', 'newroot', 'up']) mkdirSync(join(root, d), { recursive: true });
  const busybox = requireTool('busybox');
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  for (const lib of execFileSync('ldd', [busybox], { encoding: 'utf8' }).matchAll(/(\/\S+\.so[.0-9]*)/g)) {
    mkdirSync(join(root, lib[1]!.slice(0, lib[1]!.lastIndexOf('/'))), { recursive: true });
    copyFileSync(lib[1]!, join(root, lib[1]!));
  }
  for (const m of MODULES) copyFileSync(findModule(modulesDir, m), join(root, 'mods', `${m}.ko`));
  writeFileSync(join(root, 'init'), INIT, { mode: 0o755 });
  requireTool('cpio');
  const out = join(dir, 'initrd.gz');
  execFileSync('bash', ['-c', 'set -o pipefail; cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 >"$2"', 'initramfs', root, out]);
  return out;
}

test('the guest\'s cloud-init brings up the bond and the tagged VLAN from the seed; one NIC\'s link going down keeps traffic flowing', { timeout: 150_000 }, async () => {
  const qemu = requireTool('qemu-system-x86_64');
  for (const [tool, pkg] of [['/sbin/ifup', 'ifupdown'], ['/etc/network/if-pre-up.d/ifenslave', 'ifenslave'], ['/usr/bin/cloud-init', 'cloud-init']] as const) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: install the Debian package ${pkg} (scripts/install-test-tools.sh)`);
  }
  const kernel = guestKernel();
  const dir = tempDir('k8s-image-boot-');
  const initrd = initramfs(dir, kernel.modules);
  // The seed, from the plan, as `build` writes it.
  const cluster = loadCluster(CLUSTER, 'boot.yaml').cluster;
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const seed = join(dir, 'seed');
  mkdirSync(seed);
  for (const a of renderCloudInit(planNode(cluster, secrets, 'rack1-w1'))) writeFileSync(join(seed, a.path.replace('cloud-init/', '')), a.bytes);
  writeFileSync(join(dir, 'guest.sh'), GUEST, { mode: 0o755 });

  const wire = await responder();
  const monitor = join(dir, 'monitor.sock');
  const args = [
    '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', kernel.vmlinuz, '-initrd', initrd,
    '-append', `console=ttyS0 quiet panic=-1 k8simage.run=${join(dir, 'guest.sh')},${seed}`,
    '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    '-monitor', `unix:${monitor},server,nowait`,
    '-netdev', `socket,id=wire,udp=127.0.0.1:${wire.port},localaddr=127.0.0.1:${wire.peerPort}`,
    // One hub: both NICs and the test's side on one L2, as two switch ports of one VLAN trunk.
    '-netdev', 'hubport,id=hp0,hubid=0', '-device', 'virtio-net-pci,netdev=hp0,id=nic0,mac=52:54:00:12:00:01,romfile=',
    '-netdev', 'hubport,id=hp1,hubid=0', '-device', 'virtio-net-pci,netdev=hp1,id=nic1,mac=52:54:00:12:00:02,romfile=',
    '-netdev', 'hubport,id=hp2,hubid=0,netdev=wire',
  ];
  let out = '';
  let linkDown = false;
  const code = await new Promise<number | null>((resolve) => {
    const q = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => q.kill('SIGKILL'), 140_000);
    q.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (!linkDown && out.includes('SET-LINK-NOW')) {
        linkDown = true;
        const c = net.connect(monitor, () => {
          c.write('set_link nic0 off\n');
          setTimeout(() => c.end(), 300);
        });
        c.on('error', (e) => {
          out += `\nmonitor: ${e.message}\n`;
        });
      }
    });
    q.stderr.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    q.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  wire.close();
  const log = out.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])/g, '');
  const say = `guest output:\n${log.split('\n').filter((l) => !/^\[ *[0-9.]+\] {2}/.test(l)).join('\n')}`;
  const expect = (re: RegExp, why = '') => assert.match(log, re, `expected ${re}${why ? ` (${why})` : ''} in the ${say}`);
  assert.equal(code, 0, `QEMU exit ${code}; ${say}`);
  expect(/^CLOUDINIT-LOCAL-OK$/m);
  expect(/^LINKS: lo eno1 eno2 /m, 'cloud-init named the NICs by their MACs');
  expect(/^Bonding Mode: fault-tolerance \(active-backup\)$/m);
  expect(/^Currently Active Slave: eno1$/m);
  expect(new RegExp(`^VLAN: vlan protocol 802\\.1Q id ${VLAN}$`, 'm'));
  expect(/^ADDR: 10\.20\.100\.21\/24$/m);
  expect(/^PING1-OK$/m);
  expect(/^CARRIER-eno1=0$/m, "set_link nic0 off took eno1's link down");
  expect(/^AFTER: Currently Active Slave: eno2$/m);
  expect(/^PING2-OK$/m);
  // Only tagged VLAN 100 frames are answered: the replies prove the traffic went out tagged, from the node's address.
  assert.ok(wire.stats.echo >= 6, JSON.stringify({ ...wire.stats, from: [...wire.stats.from] }));
  assert.ok(wire.stats.arp >= 1);
  assert.deepEqual([...wire.stats.from], ['10.20.100.21']);
});
