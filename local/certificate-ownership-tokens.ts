import { randomBytes } from 'node:crypto';

/** How long a certificate ownership token is good for: an hour, as AWS IoT's. */
export const OWNERSHIP_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

/**
 * Certificates waiting for RegisterThing at once. Each holds a token and little else, but a claim certificate in
 * the wrong hands could otherwise ask for certificates until the runtime runs out of memory; AWS IoT throttles the
 * same request per account.
 */
export const MAX_OUTSTANDING_TOKENS = 1000;

/** What a presented token proves: the certificate it was issued with, or why it proves nothing. */
export type TokenRedemption =
  | { readonly ok: true; readonly certificateId: string }
  | { readonly ok: false; readonly reason: string };

interface OutstandingToken {
  readonly certificateId: string;
  readonly claimCertificateId: string;
  readonly expiresAt: number;
}

/** Options for {@link CertificateOwnershipTokens}. */
export interface CertificateOwnershipTokensOptions {
  /** @default {@link OWNERSHIP_TOKEN_LIFETIME_MS} */
  readonly lifetimeMs?: number;
  /** @default {@link MAX_OUTSTANDING_TOKENS} */
  readonly capacity?: number;
  /** @default 32 random bytes, base64url */
  readonly newToken?: () => string;
}

/**
 * The certificate ownership tokens of the fleet provisioning MQTT API: CreateKeysAndCertificate hands one out with
 * each new certificate, and RegisterThing takes it back as proof that the device asking holds that certificate.
 * A token is good for one RegisterThing, within an hour, from a session with the claim certificate it was issued
 * to: used, it is gone whatever the answer (a refused or failed device asks for a new certificate, as on AWS, where
 * an unregistered certificate is deleted when its token expires). Held in memory: a restart forgets every token,
 * and a device that was mid-way starts again. The clock is passed in.
 */
export class CertificateOwnershipTokens {
  private readonly outstanding = new Map<string, OutstandingToken>();
  private readonly lifetimeMs: number;
  private readonly capacity: number;
  private readonly newToken: () => string;

  constructor(options: CertificateOwnershipTokensOptions = {}) {
    this.lifetimeMs = options.lifetimeMs ?? OWNERSHIP_TOKEN_LIFETIME_MS;
    this.capacity = options.capacity ?? MAX_OUTSTANDING_TOKENS;
    this.newToken = options.newToken ?? (() => randomBytes(32).toString('base64url'));
  }

  /** Tokens issued and neither used nor expired (as of the last issue). */
  get size(): number {
    return this.outstanding.size;
  }

  /**
   * A token for a certificate just issued to a claim session, or undefined when {@link MAX_OUTSTANDING_TOKENS} are
   * already waiting (after dropping the expired ones).
   */
  issue(certificateId: string, claimCertificateId: string, now: Date): string | undefined {
    for (const [token, entry] of this.outstanding) {
      if (entry.expiresAt <= now.getTime()) this.outstanding.delete(token);
    }
    if (this.outstanding.size >= this.capacity) return undefined;
    const token = this.newToken();
    this.outstanding.set(token, {
      certificateId,
      claimCertificateId,
      expiresAt: now.getTime() + this.lifetimeMs,
    });
    return token;
  }

  /**
   * Takes a token presented with RegisterThing by a session with `claimCertificateId`. Good: the certificate it
   * stands for, and the token is used up. Otherwise why not: none given, unknown (never issued, or used already:
   * the two look the same, as a used token is forgotten), expired, or issued to another claim certificate (left
   * for its own session).
   */
  redeem(token: unknown, claimCertificateId: string, now: Date): TokenRedemption {
    if (typeof token !== 'string' || token === '') {
      return { ok: false, reason: 'the request has no certificateOwnershipToken' };
    }
    const entry = this.outstanding.get(token);
    if (!entry) {
      return {
        ok: false,
        reason:
          'the certificate ownership token is unknown or already used (each is good for one RegisterThing)',
      };
    }
    if (entry.claimCertificateId !== claimCertificateId) {
      return { ok: false, reason: 'the certificate ownership token was issued to another claim certificate' };
    }
    this.outstanding.delete(token);
    if (entry.expiresAt <= now.getTime()) {
      return {
        ok: false,
        reason: `the certificate ownership token expired (good for ${Math.round(this.lifetimeMs / 60_000)} minutes)`,
      };
    }
    return { ok: true, certificateId: entry.certificateId };
  }
}
