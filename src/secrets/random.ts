import { randomBytes, randomInt } from 'node:crypto';
import { CRYPT_ALPHABET, sha512Crypt } from './sha512crypt.js';

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** No 0/O, 1/l/I: easy to read off a console and type at a login prompt. */
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export const BOOTSTRAP_TOKEN_RE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
export const CERTIFICATE_KEY_RE = /^[0-9a-f]{64}$/;

/** `length` characters drawn uniformly (crypto.randomInt, no modulo bias) from `alphabet`. */
export function randomString(alphabet: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** A kubeadm bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}. */
export function generateBootstrapToken(): string {
  return `${randomString(TOKEN_ALPHABET, 6)}.${randomString(TOKEN_ALPHABET, 16)}`;
}

/** kubeadm's --certificate-key: 32 random bytes as 64 hex characters (AES-256 key for uploaded certs). */
export function generateCertificateKey(): string {
  return randomBytes(32).toString('hex');
}

/** A 20-character root password and its SHA-512 crypt hash with a fresh 16-character salt. */
export function generateRootPassword(): { password: string; hash: string } {
  const password = randomString(PASSWORD_ALPHABET, 20);
  const salt = randomString(CRYPT_ALPHABET, 16);
  return { password, hash: sha512Crypt(password, salt) };
}

/** A random positive certificate serial number (16 bytes, top bit clear, never leading zero byte), hex. */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}
