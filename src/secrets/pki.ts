import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { randomSerial } from './random.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const subtle = webcrypto.subtle;
const DAY_MS = 24 * 60 * 60 * 1000;
const RSA_SIGN: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
};

/** A certificate and its private key, both PEM; the key is PKCS#1 ("BEGIN RSA PRIVATE KEY"), as kubeadm writes it. */
export interface KeyPairPem {
  cert: string;
  key: string;
}

/** Normalise PEM text to LF line endings and exactly one trailing newline. */
function tidyPem(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trimEnd() + '\n';
}

async function generateRsaKeys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(RSA_SIGN, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey));
  const pem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs1', format: 'pem' });
  return tidyPem(pem.toString());
}

async function publicKeyPem(key: CryptoKey): Promise<string> {
  const spki = await subtle.exportKey('spki', key as unknown as webcrypto.CryptoKey);
  return tidyPem(x509.PemConverter.encode(spki, 'PUBLIC KEY'));
}

/** Import a PEM RSA private key (PKCS#1 or PKCS#8) as a WebCrypto signing key. */
async function importSigningKey(pem: string): Promise<CryptoKey> {
  const pkcs8 = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return (await subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, [
    'sign',
  ])) as unknown as CryptoKey;
}

function addYears(d: Date, years: number): Date {
  const r = new Date(d.getTime());
  r.setUTCFullYear(r.getUTCFullYear() + years);
  return r;
}

/**
 * A self-signed CA like kubeadm's: RSA 2048 / SHA-256, BasicConstraints CA:TRUE (critical),
 * KeyUsage digitalSignature|keyEncipherment|keyCertSign (critical), SubjectKeyIdentifier,
 * valid from a day before `now` for 10 years.
 */
export async function generateCa(commonName: string, now: Date): Promise<KeyPairPem> {
  const keys = await generateRsaKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: addYears(now, 10),
    keys,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: tidyPem(cert.toString('pem')), key: await privateKeyPem(keys.privateKey) };
}

/** The service-account signing key pair: sa.key (PKCS#1 PEM) and sa.pub ("PUBLIC KEY" PEM). */
export async function generateServiceAccountKey(): Promise<{ key: string; pub: string }> {
  const keys = await generateRsaKeys();
  return { key: await privateKeyPem(keys.privateKey), pub: await publicKeyPem(keys.publicKey) };
}

/**
 * A fresh RSA 2048 client certificate signed by `ca`: ExtKeyUsage clientAuth, KeyUsage
 * digitalSignature|keyEncipherment, CA:FALSE, valid from a day before `now` for `years`.
 * `subject` is a list of RDNs in order, e.g. [{ O: ['system:masters'] }, { CN: ['kubernetes-admin'] }].
 */
export async function signClientCert(opts: {
  ca: KeyPairPem;
  subject: x509.JsonName;
  now: Date;
  years: number;
}): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(opts.ca.cert);
  const caKey = await importSigningKey(opts.ca.key);
  const keys = await generateRsaKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ];
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  extensions.push(
    ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: opts.subject,
    issuer: caCert.subjectName,
    notBefore: new Date(opts.now.getTime() - DAY_MS),
    notAfter: addYears(opts.now, opts.years),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
    extensions,
  });
  return { cert: tidyPem(cert.toString('pem')), key: await privateKeyPem(keys.privateKey) };
}

export { discoveryHash } from './discovery.js';
