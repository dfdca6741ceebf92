/**
 * A PXE ROM's first DHCP step, as a script the netns tests run inside the client's namespace
 * (`K8S_IMAGE_DHCP_PROBE=1 ip netns exec <ns> node _dhcp.js <mac> <arch> [ms]`): one DHCPDISCOVER with the PXEClient vendor
 * class, client arch (0 BIOS, 7 UEFI x64) and GUID, chaddr = <mac>, broadcast to port 67; prints as
 * JSON every answer heard within [ms] (default 2000): who sent it, yiaddr, siaddr, the boot file, the
 * vendor class and the PXE menu (option 43) as text. chaddr is what dnsmasq's dhcp-host matches, so
 * one interface can speak for any MAC. The socket needs an address on the interface to send from.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface DhcpAnswer {
  from: string;
  type: number;
  yiaddr: string;
  siaddr: string;
  file: string;
  vendorClass: string;
  /** Option 43 (PXE vendor options: menu, prompt, boot servers) as latin1 text. */
  pxe: string;
}

function discover(mac: string, arch: number, xid: Buffer): Buffer {
  const p = Buffer.alloc(240);
  p[0] = 1; // BOOTREQUEST
  p[1] = 1; // Ethernet
  p[2] = 6;
  xid.copy(p, 4);
  p.writeUInt16BE(0x8000, 10); // broadcast flag: the client has no address yet
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(p, 28);
  Buffer.from([99, 130, 83, 99]).copy(p, 236);
  const vendor = Buffer.from(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`);
  const opts = Buffer.concat([
    Buffer.from([53, 1, 1]), // DHCPDISCOVER
    Buffer.from([60, vendor.length]),
    vendor,
    Buffer.from([93, 2, arch >> 8, arch & 0xff]), // client system architecture
    Buffer.from([94, 3, 1, 2, 1]), // UNDI 2.1
    Buffer.from([97, 17, 0]),
    randomBytes(16), // client machine GUID
    Buffer.from([55, 5, 1, 3, 43, 60, 66]),
    Buffer.from([255]),
  ]);
  const out = Buffer.concat([p, opts]);
  return out.length < 300 ? Buffer.concat([out, Buffer.alloc(300 - out.length)]) : out;
}

function parse(b: Buffer, from: string): DhcpAnswer {
  const ip = (o: number) => [...b.subarray(o, o + 4)].join('.');
  const cstr = (o: number, n: number) => b.subarray(o, o + n).toString('latin1').replace(/\0.*$/s, '');
  const a: DhcpAnswer = { from, type: 0, yiaddr: ip(16), siaddr: ip(20), file: cstr(108, 128), vendorClass: '', pxe: '' };
  for (let i = 240; i < b.length && b[i] !== 255; ) {
    const code = b[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    const len = b[i + 1]!;
    const v = b.subarray(i + 2, i + 2 + len);
    if (code === 53) a.type = v[0]!;
    if (code === 60) a.vendorClass = v.toString('latin1');
    if (code === 43) a.pxe = v.toString('latin1');
    if (code === 67 && !a.file) a.file = cstr(i + 2, len);
    i += 2 + len;
  }
  return a;
}

/** Send one DISCOVER and collect the answers to it for `ms`. */
export function pxeDiscover(mac: string, arch: number, ms = 2000): Promise<DhcpAnswer[]> {
  const xid = randomBytes(4);
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  const answers: DhcpAnswer[] = [];
  return new Promise((resolve, reject) => {
    sock.on('error', reject);
    sock.on('message', (msg, rinfo) => {
      if (msg.length >= 240 && msg[0] === 2 && msg.subarray(4, 8).equals(xid)) answers.push(parse(msg, rinfo.address));
    });
    sock.bind(68, () => {
      sock.setBroadcast(true);
      sock.send(discover(mac, arch, xid), 67, '255.255.255.255');
      setTimeout(() => sock.close(() => resolve(answers)), ms);
    });
  });
}

// Only when a test runs it as a probe: node --test may load every file under test/ on its own.
if (process.env.K8S_IMAGE_DHCP_PROBE === '1') {
  const [mac, arch, ms] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(await pxeDiscover(mac!, Number(arch ?? 0), Number(ms ?? 2000)))}\n`);
}
