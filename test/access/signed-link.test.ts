import { describe, expect, it } from 'vitest';
import { permits } from '../../src/access/permissions.js';
import {
  LINK_ACTIONS,
  LINK_PREFIX,
  MAX_LINK_BYTES,
  parseDuration,
  signLink,
  verifyLink,
} from '../../src/access/signed-link.js';

const SECRET = 'k'.repeat(32);
const OTHER = 'o'.repeat(32);
const T0 = 1_800_000_000_000;
const grant = { stream: 'cam-1', actions: ['read', 'playback'] as const, expiresAt: T0 + 60_000 };

/** The token with its payload replaced (signature kept). */
function withPayload(token: string, payload: unknown): string {
  const sig = token.slice(token.lastIndexOf('.') + 1);
  return `${LINK_PREFIX}${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
}

describe('signed links', () => {
  it('verifies a link into the identity link with each action on exactly that stream', () => {
    const token = signLink(grant, SECRET);
    expect(token.startsWith(LINK_PREFIX)).toBe(true);
    const r = verifyLink(token, SECRET, T0);
    expect(r).toEqual({
      ok: true,
      identity: {
        name: 'link',
        permissions: [
          { action: 'read', streams: ['cam-1'] },
          { action: 'playback', streams: ['cam-1'] },
        ],
      },
      expiresAt: T0 + 60_000,
    });
    const perms = r!.ok ? r!.identity.permissions : [];
    expect(permits(perms, 'read', 'cam-1')).toBe(true);
    expect(permits(perms, 'read', 'cam-10')).toBe(false);
    expect(permits(perms, 'read', null)).toBe(false);
    expect(permits(perms, 'publish', 'cam-1')).toBe(false);
  });

  it('refuses an expired link, from the very millisecond of expiry', () => {
    const token = signLink(grant, SECRET);
    expect(verifyLink(token, SECRET, T0 + 59_999)?.ok).toBe(true);
    expect(verifyLink(token, SECRET, T0 + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses another secret and a tampered payload as bad signature', () => {
    const token = signLink(grant, SECRET);
    expect(verifyLink(token, OTHER, T0)).toEqual({ ok: false, reason: 'bad signature' });
    const tampered = withPayload(token, { s: 'cam-2', a: ['read', 'playback'], e: T0 + 60_000 });
    expect(verifyLink(tampered, SECRET, T0)).toEqual({ ok: false, reason: 'bad signature' });
    const longer = withPayload(token, { s: 'cam-1', a: ['read', 'playback'], e: T0 + 600_000_000 });
    expect(verifyLink(longer, SECRET, T0)).toEqual({ ok: false, reason: 'bad signature' });
  });

  it('refuses truncated and garbage links as malformed; other tokens are not links', () => {
    const token = signLink(grant, SECRET);
    const bad = (t: string): unknown => verifyLink(t, SECRET, T0);
    expect(bad(token.slice(0, -1))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(token.slice(0, token.lastIndexOf('.')))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(`${token}.x`)).toEqual({ ok: false, reason: 'malformed' });
    expect(bad('fcl1.')).toEqual({ ok: false, reason: 'malformed' });
    expect(bad('fcl1.!!!.???')).toEqual({ ok: false, reason: 'malformed' });
    // Well-shaped but over the cap: refused before any HMAC is computed.
    const sig = token.slice(token.lastIndexOf('.'));
    expect(bad(LINK_PREFIX + 'a'.repeat(MAX_LINK_BYTES) + sig)).toEqual({ ok: false, reason: 'malformed' });
    expect(bad('s3cret')).toBeNull();
    expect(bad('eyJhbGciOiJFUzI1NiJ9.e30.sig')).toBeNull();
  });

  it('keeps the largest link under the native token cap', () => {
    const token = signLink(
      { stream: 'n'.repeat(128), actions: [...LINK_ACTIONS], expiresAt: T0 + 365 * 86_400_000 },
      SECRET,
    );
    expect(Buffer.byteLength(token)).toBeLessThan(MAX_LINK_BYTES / 2);
    expect(verifyLink(token, SECRET, T0)?.ok).toBe(true);
  });

  it('refuses wildcards, unknown actions and short secrets when signing', () => {
    expect(() => signLink({ ...grant, stream: 'cam*' }, SECRET)).toThrow(/no wildcards/);
    expect(() => signLink({ ...grant, stream: 'ca?' }, SECRET)).toThrow(RangeError);
    expect(() => signLink({ ...grant, actions: ['fly' as 'read'] }, SECRET)).toThrow(/'fly'/);
    expect(() => signLink({ ...grant, actions: [] }, SECRET)).toThrow(RangeError);
    // A link never carries `api`: it could sign new links (POST /api/sign) and extend itself.
    expect(() => signLink({ ...grant, actions: ['read', 'api'] }, SECRET)).toThrow(/'api'/);
    expect(LINK_ACTIONS).not.toContain('api');
    expect(() => signLink(grant, 'x'.repeat(31))).toThrow(/at least 32 bytes/);
    expect(() => verifyLink('fcl1.a.b', 'x'.repeat(31))).toThrow(/at least 32 bytes/);
  });

  it('parses durations within 1 s and 365 d', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('365d')).toBe(365 * 86_400_000);
    for (const bad of ['0s', '366d', '15', 'm', '1.5h', '-1m', '15 minutes', '', '99999999999d'])
      expect(() => parseDuration(bad), bad).toThrow(/from 1s to 365d, got/);
  });
});
