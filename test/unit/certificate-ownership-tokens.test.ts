import { describe, expect, it } from 'vitest';
import {
  CertificateOwnershipTokens,
  OWNERSHIP_TOKEN_LIFETIME_MS,
} from '../../local/certificate-ownership-tokens.js';

const T0 = new Date('2026-03-02T09:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const CLAIM = 'c'.repeat(64);
const CERT = 'a'.repeat(64);

describe('CertificateOwnershipTokens', () => {
  it('proves the certificate it was issued with, once', () => {
    const tokens = new CertificateOwnershipTokens();
    const token = tokens.issue(CERT, CLAIM, T0) as string;
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(tokens.redeem(token, CLAIM, at(1000))).toEqual({ ok: true, certificateId: CERT });
    expect(tokens.redeem(token, CLAIM, at(2000))).toEqual({
      ok: false,
      reason:
        'the certificate ownership token is unknown or already used (each is good for one RegisterThing)',
    });
  });

  it.each([
    ['just before the hour', OWNERSHIP_TOKEN_LIFETIME_MS - 1, true],
    ['at the hour', OWNERSHIP_TOKEN_LIFETIME_MS, false],
    ['a day later', 86_400_000, false],
  ])('is good for an hour: %s', (_when, elapsed, good) => {
    const tokens = new CertificateOwnershipTokens();
    const token = tokens.issue(CERT, CLAIM, T0) as string;
    expect(tokens.redeem(token, CLAIM, at(elapsed))).toEqual(
      good
        ? { ok: true, certificateId: CERT }
        : { ok: false, reason: expect.stringMatching(/expired \(good for 60 minutes\)/) },
    );
  });

  it.each([
    ['no token', undefined],
    ['an empty token', ''],
    ['a number', 42],
  ])('refuses %s', (_what, token) => {
    expect(new CertificateOwnershipTokens().redeem(token, CLAIM, T0)).toEqual({
      ok: false,
      reason: 'the request has no certificateOwnershipToken',
    });
  });

  it("refuses another claim certificate's token and leaves it for its own session", () => {
    const tokens = new CertificateOwnershipTokens();
    const token = tokens.issue(CERT, CLAIM, T0) as string;
    expect(tokens.redeem(token, 'd'.repeat(64), T0)).toEqual({
      ok: false,
      reason: 'the certificate ownership token was issued to another claim certificate',
    });
    expect(tokens.redeem(token, CLAIM, T0)).toEqual({ ok: true, certificateId: CERT });
  });

  it('holds at most its capacity, making room as tokens expire', () => {
    let n = 0;
    const tokens = new CertificateOwnershipTokens({ capacity: 2, newToken: () => `token-${++n}` });
    expect(tokens.issue('c1', CLAIM, T0)).toBe('token-1');
    expect(tokens.issue('c2', CLAIM, at(10))).toBe('token-2');
    expect(tokens.issue('c3', CLAIM, at(20))).toBeUndefined();
    expect(tokens.issue('c3', CLAIM, at(OWNERSHIP_TOKEN_LIFETIME_MS))).toBe('token-3');
    expect(tokens.size).toBe(2);
  });
});
