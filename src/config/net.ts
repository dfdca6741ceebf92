import { IPV4 } from './patterns.js';

/** IPv4 arithmetic on unsigned 32-bit numbers. */
export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr { network: number; prefix: number }

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!m || !IPV4.test(m[1]!)) return undefined;
  const prefix = Number(m[2]);
  if (prefix > 32) return undefined;
  return { network: ipToInt(m[1]!), prefix };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function networkOf(ip: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return Math.floor(ip / size) * size;
}

export function isAligned(c: Cidr): boolean {
  return networkOf(c.network, c.prefix) === c.network;
}

export function contains(c: Cidr, ip: number): boolean {
  return networkOf(ip, c.prefix) === networkOf(c.network, c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const aStart = networkOf(a.network, a.prefix);
  const bStart = networkOf(b.network, b.prefix);
  return aStart < bStart + cidrSize(b) && bStart < aStart + cidrSize(a);
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(networkOf(c.network, c.prefix))}/${c.prefix}`;
}

export function prefixToNetmask(prefix: number): string {
  return intToIp(2 ** 32 - 2 ** (32 - prefix));
}
