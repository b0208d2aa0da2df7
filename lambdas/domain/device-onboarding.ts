import type { Device } from './device.js';

/**
 * Device onboarding: a device's identity (its IoT thing and its X.509 certificates) next to its registry entry.
 * Two implementations of the port: AWS IoT (things, certificates, the per-device policy) and the local runtime's
 * CA and broker. The use cases (the `npm run device` CLI, the admin API) work through this port only.
 */

/** What a device needs to connect: its own certificate and key, the CA to trust, where to connect, its topic. */
export interface DeviceCredentials {
  readonly deviceId: string;
  readonly certificateId: string;
  readonly certificatePem: string;
  /** Never logged, never returned by the API: written once into the device bundle (0600). */
  readonly privateKeyPem: string;
  /** The CA that signed the broker's server certificate (Amazon Root CA 1 on AWS, the local CA locally). */
  readonly rootCaPem: string;
  /** MQTT endpoint, e.g. `mqtts://xxxx-ats.iot.eu-west-2.amazonaws.com:8883`. */
  readonly endpoint: string;
  /** The device's Basic Ingest topic: the only topic its policy lets it publish to. */
  readonly topic: string;
  /**
   * What went wrong after the new certificate was in place and still needs a person: e.g. a rotated-out
   * certificate that could not be retired and is still active, with the command that retires it. The credentials
   * are good either way; absent when there is nothing to say.
   */
  readonly warnings?: readonly string[];
}

export type CertificateStatus = 'active' | 'inactive' | 'revoked';

export interface DeviceIdentity {
  readonly deviceId: string;
  /** Whether the thing exists (AWS) / the device is known to the broker (locally). */
  readonly thing: boolean;
  readonly certificates: readonly { readonly certificateId: string; readonly status: CertificateStatus }[];
  /**
   * A quarantined device publishes nothing until released but may still connect as itself: on AWS its
   * certificates carry the connect-only quarantine policy instead of the device policy, locally the broker
   * refuses its publishes.
   */
  readonly quarantined: boolean;
}

/**
 * Port: device identities. Every method is idempotent (re-running after a failure completes the work), and
 * `issue` rolls back what it created when it fails halfway, so the thing, the certificate and the policy never
 * disagree for longer than one call.
 */
export interface DeviceIdentities {
  /** Creates the thing (if missing) and a new certificate with a fresh key pair, attached with the policy. */
  issue(device: Device): Promise<DeviceCredentials>;
  /**
   * Undoes one `issue` whose caller could not finish onboarding (the bundle or the registry entry failed): the
   * certificate stops working and is removed, a certificate it was replacing goes back to normal, and a thing left
   * with no certificate is removed, so nothing half-made is left behind and a re-run starts clean.
   */
  withdraw(deviceId: string, certificateId: string): Promise<void>;
  /** Marks a certificate inactive (rotation's grace period over, or a lost device). */
  deactivate(deviceId: string, certificateId: string): Promise<void>;
  /** Revokes every certificate of the device: its next connection is refused. */
  revoke(deviceId: string): Promise<void>;
  /** Stops the device publishing until released (see {@link DeviceIdentity.quarantined}). */
  quarantine(deviceId: string): Promise<void>;
  release(deviceId: string): Promise<void>;
  describe(deviceId: string): Promise<DeviceIdentity>;
}

/**
 * A claim certificate: the one certificate a vendor installs on every device of a batch. It can do nothing but ask
 * for the device's own certificate through the platform's provisioning template, which admits only serial numbers
 * on the allow-list, once each.
 */
export interface ClaimCredentials {
  readonly name: string;
  readonly certificateId: string;
  readonly certificatePem: string;
  /** Never logged: written once into the claim bundle (0600) for the vendor. */
  readonly privateKeyPem: string;
  readonly rootCaPem: string;
  readonly endpoint: string;
}

/** Port: making claim certificates (AWS IoT with the claim policy; the local CA). */
export interface ClaimCertificates {
  issue(name: string): Promise<ClaimCredentials>;
}
