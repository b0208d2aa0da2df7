import 'reflect-metadata';
import { createHash, type webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { CLAIM_CLIENT_ID_PREFIX } from '../lambdas/contracts/provisioning-template.js';

// @peculiar/x509 needs a WebCrypto provider; Node's own is fast and has ECDSA P-256.
x509.cryptoProvider.set(globalThis.crypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** Where a certificate and its private key live on disk (absolute paths), and their PEM text. */
export interface IssuedCertificate {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
}

async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Writes a private key readable by its owner only, also when the file already existed with wider rights. */
async function writePrivateKey(file: string, pem: string): Promise<void> {
  await writeFile(file, pem, { mode: 0o600 });
  await chmod(file, 0o600);
}

/**
 * A certificate's id as AWS IoT gives it: the SHA-256 of its DER encoding, in lower-case hex. The broker reads
 * the same value from the TLS peer certificate ({@link certificateIdOfFingerprint}).
 */
export function certificateIdOf(certificate: x509.X509Certificate): string {
  return createHash('sha256').update(new Uint8Array(certificate.rawData)).digest('hex');
}

/** The certificate id from Node's `fingerprint256` (`AB:CD:...`) of a TLS peer certificate. */
export function certificateIdOfFingerprint(fingerprint256: string): string {
  return fingerprint256.replaceAll(':', '').toLowerCase();
}

/** A freshly issued client certificate (a device's, a claim or a provisional one); its key exists only here (the CA keeps no copy). */
export interface FreshDeviceCertificate {
  readonly certificateId: string;
  readonly certPem: string;
  readonly keyPem: string;
}

function randomSerial(): string {
  // Positive 16-byte serial: RFC 5280 wants it unique per CA and at most 20 octets.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/**
 * The CN prefix of a certificate the broker issued over the fleet provisioning MQTT API (CreateKeysAndCertificate):
 * not yet any device's. It becomes a device's when RegisterThing admits the device and records the certificate in
 * the identity register; the broker then finds the device through the register, never through the CN. The `.`
 * cannot occur in a device id, so no device certificate's CN can look like one.
 */
export const PROVISIONAL_NAME_PREFIX = 'provisional.';

/**
 * The name a claim certificate is issued for, after `claim.` in its CN: the vendor or batch it is flashed into
 * (`acme-bins-2025`). Letters, digits, `.`, `_`, `:` and `-`, at most 64, so the CN needs no escaping.
 */
export const CLAIM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** What a client certificate is to the broker, read from its CN. */
export type CertificateRole =
  | { readonly kind: 'device'; readonly deviceId: string }
  /** A claim certificate (CN `claim.<name>`): may only provision. */
  | { readonly kind: 'claim'; readonly name: string }
  /** Issued by CreateKeysAndCertificate (CN `provisional.<random>`): whose it is, the identity register says. */
  | { readonly kind: 'provisional' };

/**
 * Reads a client certificate's CN: `claim.<name>` is a claim certificate, `provisional.<random>` a certificate issued
 * while provisioning, anything else a device id (as `add` and the demo city issue them). Device ids never contain
 * `.`, so the three cannot be confused.
 */
export function certificateRoleOf(commonName: string): CertificateRole {
  if (commonName.startsWith(CLAIM_CLIENT_ID_PREFIX)) {
    return { kind: 'claim', name: commonName.slice(CLAIM_CLIENT_ID_PREFIX.length) };
  }
  if (commonName.startsWith(PROVISIONAL_NAME_PREFIX)) return { kind: 'provisional' };
  return { kind: 'device', deviceId: commonName };
}

type CertificateProfile = (
  publicKey: CryptoKey,
) => Promise<{ subject: string; extensions: x509.Extension[] }>;

/**
 * A client certificate with this CN, clientAuth only: a device's (CN = device id, the broker's identity of the
 * device), a claim certificate or a provisional one (see {@link certificateRoleOf}).
 */
function clientProfile(commonName: string): CertificateProfile {
  return async (publicKey) => ({
    subject: `CN=${commonName}`,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
}

/**
 * The local runtime's certificate authority: the stand-in for AWS IoT's device certificates. Created once under
 * `<data-dir>/certs/` and reused, so device bundles handed out earlier keep working after a restart.
 * Device certificates carry the device id as their CN, which the broker uses as the device's identity
 * (like the thing a certificate is attached to in IoT Core).
 */
export class LocalCertificateAuthority {
  private constructor(
    /** Absolute directory holding the CA and every issued certificate. */
    readonly directory: string,
    readonly certificate: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    /** Absolute path of the CA certificate (what clients and the broker trust). */
    readonly certPath: string,
    readonly certPem: string,
  ) {}

  /** Loads the CA from `directory`, creating it (key mode 0600) on first use. */
  static async loadOrCreate(
    directory: string,
    commonName = 'Civic IoT local CA',
  ): Promise<LocalCertificateAuthority> {
    const dir = path.resolve(directory);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const certPath = path.join(dir, 'ca.cert.pem');
    const keyPath = path.join(dir, 'ca.key.pem');
    if (existsSync(certPath) && existsSync(keyPath)) {
      const certPem = await readFile(certPath, 'utf8');
      const keyDer = x509.PemConverter.decodeFirst(await readFile(keyPath, 'utf8'));
      const key = await crypto.subtle.importKey('pkcs8', keyDer, EC_KEY, false, ['sign']);
      return new LocalCertificateAuthority(dir, new x509.X509Certificate(certPem), key, certPath, certPem);
    }
    const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${commonName}, O=Civic IoT local runtime`,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 10 * 365 * DAY_MS),
      signingAlgorithm: SIGNING,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const certPem = certificate.toString('pem');
    // Key first: a CA certificate without its key would be unusable on the next start.
    await writePrivateKey(keyPath, await exportPrivateKeyPem(keys.privateKey));
    await writeFile(certPath, certPem);
    return new LocalCertificateAuthority(dir, certificate, keys.privateKey, certPath, certPem);
  }

  /**
   * A device's client certificate (CN = device id, clientAuth only), issued once and reused.
   * Files: `<certs>/devices/<deviceId>.cert.pem` and `.key.pem`.
   */
  async deviceCertificate(deviceId: string): Promise<IssuedCertificate> {
    return this.ensure(path.join(this.directory, 'devices'), deviceId, clientProfile(deviceId));
  }

  /**
   * A new client certificate for a device with a new key pair on every call (onboarding and rotation), written
   * nowhere: the caller hands the key to the device once. Same profile as {@link deviceCertificate}.
   */
  async issueDeviceCertificate(deviceId: string): Promise<FreshDeviceCertificate> {
    return this.fresh(clientProfile(deviceId));
  }

  /**
   * A claim certificate (CN `claim.<name>`): what a vendor flashes into every device of a batch that leaves the
   * factory without a certificate of its own. The broker lets it do nothing but provision (CreateKeysAndCertificate
   * and RegisterThing on the local template), with a client id starting `claim.`. A new key pair on every call,
   * written nowhere: the caller hands it to the vendor.
   * @throws Error naming the name when it is not {@link CLAIM_NAME_PATTERN}
   */
  async issueClaimCertificate(name: string): Promise<FreshDeviceCertificate> {
    if (!CLAIM_NAME_PATTERN.test(name)) {
      throw new Error(
        `claim certificate name ${JSON.stringify(name.slice(0, 80))} must be 1 to 64 letters, digits, ., _, : and -, ` +
          'starting with a letter or digit (e.g. the vendor and batch: acme-bins-2025)',
      );
    }
    return this.fresh(clientProfile(`${CLAIM_CLIENT_ID_PREFIX}${name}`));
  }

  /**
   * A certificate for a device that is provisioning (CreateKeysAndCertificate): CN `provisional.<random>`, no
   * device's yet. It connects only once RegisterThing has recorded it as a device's certificate in the identity
   * register. A new key pair on every call, written nowhere.
   */
  async issueProvisionalCertificate(): Promise<FreshDeviceCertificate> {
    return this.fresh(clientProfile(`${PROVISIONAL_NAME_PREFIX}${randomSerial()}`));
  }

  private async fresh(profile: CertificateProfile): Promise<FreshDeviceCertificate> {
    const { certificate, keyPem } = await this.create(profile);
    return { certificateId: certificateIdOf(certificate), certPem: certificate.toString('pem'), keyPem };
  }

  /** The broker's server certificate, valid for 127.0.0.1 and localhost. */
  async serverCertificate(): Promise<IssuedCertificate> {
    return this.ensure(this.directory, 'server', async (publicKey) => ({
      subject: 'CN=localhost',
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    }));
  }

  private async ensure(dir: string, name: string, profile: CertificateProfile): Promise<IssuedCertificate> {
    const certPath = path.join(dir, `${name}.cert.pem`);
    const keyPath = path.join(dir, `${name}.key.pem`);
    if (existsSync(certPath) && existsSync(keyPath)) {
      return {
        certPath,
        keyPath,
        certPem: await readFile(certPath, 'utf8'),
        keyPem: await readFile(keyPath, 'utf8'),
      };
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { certificate, keyPem } = await this.create(profile);
    const certPem = certificate.toString('pem');
    await writePrivateKey(keyPath, keyPem);
    await writeFile(certPath, certPem);
    return { certPath, keyPath, certPem, keyPem };
  }

  private async create(
    profile: CertificateProfile,
  ): Promise<{ certificate: x509.X509Certificate; keyPem: string }> {
    const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
    const { subject, extensions } = await profile(keys.publicKey);
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: this.certificate.subject,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 2 * 365 * DAY_MS),
      signingAlgorithm: SIGNING,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      extensions: [
        ...extensions,
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate.publicKey),
      ],
    });
    return { certificate, keyPem: await exportPrivateKeyPem(keys.privateKey) };
  }
}
