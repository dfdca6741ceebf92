import { createHash } from 'node:crypto';

/** Alphabet crypt(3) uses for its base64-like encoding (and that salts are drawn from). */
export const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

/** Byte triples of the final digest, in the order glibc's sha512-crypt encodes them. */
const ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `length` bytes made by repeating `block` (a 64-byte digest). */
function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; off += block.length) block.copy(out, off, 0, Math.min(block.length, length - off));
  return out;
}

function encode24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += CRYPT_ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

/**
 * glibc SHA-512 crypt ("$6$"), as written to /etc/shadow and by `openssl passwd -6`.
 *
 * `salt` is read the way crypt(3) reads its setting: an optional leading "$6$", an optional
 * "rounds=N$" (clamped to 1000..999999999; when present it is echoed in the result), then at
 * most 16 bytes up to the next "$". Password and salt are taken as UTF-8.
 */
export function sha512Crypt(password: string, salt: string): string {
  let setting = salt.startsWith('$6$') ? salt.slice(3) : salt;
  let rounds = ROUNDS_DEFAULT;
  let customRounds = false;
  const m = /^rounds=(\d+)\$/.exec(setting);
  if (m) {
    const n = Number(m[1]);
    rounds = Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, n));
    customRounds = true;
    setting = setting.slice(m[0].length);
  }
  const dollar = setting.indexOf('$');
  const saltStr = dollar === -1 ? setting : setting.slice(0, dollar);

  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(saltStr, 'utf8').subarray(0, SALT_MAX);

  // Digest B = H(P S P); digest A = H(P S B* (bits of len P)).
  const B = sha512(P, S, P);
  const a = createHash('sha512');
  a.update(P);
  a.update(S);
  a.update(repeatTo(B, P.length));
  for (let n = P.length; n > 0; n >>>= 1) a.update(n & 1 ? B : P);
  const A = a.digest();

  // P sequence: H(P repeated len(P) times), stretched to len(P) bytes.
  const dp = createHash('sha512');
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);

  // S sequence: H(S repeated 16 + A[0] times), stretched to len(S) bytes.
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);

  let C = A;
  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? Pseq : C);
    if (i % 3 !== 0) h.update(Sseq);
    if (i % 7 !== 0) h.update(Pseq);
    h.update(i & 1 ? C : Pseq);
    C = h.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += encode24(C[x]!, C[y]!, C[z]!, 4);
  out += encode24(0, 0, C[63]!, 2);

  const prefix = customRounds ? `$6$rounds=${rounds}$` : '$6$';
  return `${prefix}${S.toString('utf8')}$${out}`;
}
