import { createHmac, timingSafeEqual } from 'node:crypto';
import { PERMISSION_ACTIONS, type Identity, type PermissionAction } from './permissions.js';

/**
 * Signed links: a token that lets its bearer do some actions on one stream until a time, made with
 * a secret the server knows (`framecast sign`), so no user needs to exist. Shape:
 * `fcl1.` + base64url(JSON {s: stream, a: [actions], e: expiry ms}) + `.` + base64url(HMAC-SHA256 of
 * everything before that second dot, keyed by the secret). Being a token, it works wherever a token
 * does (`?token=`, `Authorization: Bearer`, the native hello).
 */
export const LINK_PREFIX = 'fcl1.';

/** What a link lets its bearer do. */
export interface LinkGrant {
  /** Exactly one stream name (no wildcards). */
  readonly stream: string;
  readonly actions: readonly PermissionAction[];
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A link checked: the identity `link` with its permissions, or why it is refused. */
export type LinkResult =
  | { readonly ok: true; readonly identity: Identity; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad signature' | 'expired' };

/** The shortest secret accepted (bytes of UTF-8). */
export const MIN_LINK_SECRET_BYTES = 32;
/** A link longer than this is malformed (the native hello carries at most 1024 bytes of token). */
export const MAX_LINK_BYTES = 1024;
/** Stream names a link may name: a name's characters, none of the pattern wildcards. */
const STREAM_RE = /^[A-Za-z0-9_.-]{1,128}$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const SIG_BYTES = 32;
const MIN_DURATION_MS = 1000;
const MAX_DURATION_MS = 365 * 24 * 3600_000;
const UNIT_MS = { s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000 } as const;

function checkSecret(secret: string): void {
  if (Buffer.byteLength(secret, 'utf8') < MIN_LINK_SECRET_BYTES)
    throw new RangeError(`the link secret must be at least ${MIN_LINK_SECRET_BYTES} bytes`);
}

function mac(body: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(body, 'utf8').digest();
}

/**
 * What a link may carry: every action but `api` (the API, and with it POST /api/sign: a link that
 * could sign links could extend itself forever).
 */
export const LINK_ACTIONS: readonly PermissionAction[] = PERMISSION_ACTIONS.filter((a) => a !== 'api');

function isAction(a: unknown): a is PermissionAction {
  return typeof a === 'string' && (LINK_ACTIONS as readonly string[]).includes(a);
}

/** Makes a link token for `grant`. Throws a RangeError for a bad grant or a short secret. */
export function signLink(grant: LinkGrant, secret: string): string {
  checkSecret(secret);
  if (!STREAM_RE.test(grant.stream))
    throw new RangeError(
      `a link's stream must be one stream name (letters, digits, _ . -; no wildcards), got '${grant.stream}'`,
    );
  if (grant.actions.length === 0) throw new RangeError('a link needs at least one action');
  for (const a of grant.actions)
    if (!isAction(a))
      throw new RangeError(`a link's actions are among ${LINK_ACTIONS.join(', ')}, got '${a}'`);
  if (!Number.isSafeInteger(grant.expiresAt) || grant.expiresAt <= 0)
    throw new RangeError(
      `a link's expiresAt must be whole milliseconds since the epoch, got ${grant.expiresAt}`,
    );
  const payload = { s: grant.stream, a: [...new Set(grant.actions)], e: grant.expiresAt };
  const body = LINK_PREFIX + Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(body, secret).toString('base64url')}`;
}

/**
 * Checks a link token: null when `token` is not a link at all (no LINK_PREFIX: another kind of
 * token), else the identity `link` with each action on exactly that stream, or why it is refused.
 * Throws a RangeError only for a short secret (a configuration error).
 */
export function verifyLink(token: string, secret: string, now: number = Date.now()): LinkResult | null {
  checkSecret(secret);
  if (!token.startsWith(LINK_PREFIX)) return null;
  const malformed = { ok: false, reason: 'malformed' } as const;
  if (token.length > MAX_LINK_BYTES) return malformed;
  const dot = token.indexOf('.', LINK_PREFIX.length);
  if (dot < 0) return malformed;
  const body = token.slice(0, dot);
  const sigText = token.slice(dot + 1);
  const payloadText = body.slice(LINK_PREFIX.length);
  if (!B64URL_RE.test(payloadText) || !B64URL_RE.test(sigText)) return malformed;
  const sig = Buffer.from(sigText, 'base64url');
  if (sig.length !== SIG_BYTES || sig.toString('base64url') !== sigText) return malformed;
  if (!timingSafeEqual(sig, mac(body, secret))) return { ok: false, reason: 'bad signature' };
  // Signed by us from here on: a bad payload means a bug or a changed format, still refused.
  let p: unknown;
  try {
    p = JSON.parse(Buffer.from(payloadText, 'base64url').toString('utf8'));
  } catch {
    return malformed;
  }
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return malformed;
  const { s, a, e } = p as Record<string, unknown>;
  if (typeof s !== 'string' || !STREAM_RE.test(s)) return malformed;
  if (!Array.isArray(a) || a.length === 0 || a.length > PERMISSION_ACTIONS.length || !a.every(isAction))
    return malformed;
  if (typeof e !== 'number' || !Number.isSafeInteger(e)) return malformed;
  if (now >= e) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    identity: { name: 'link', permissions: a.map((action) => ({ action, streams: [s] })) },
    expiresAt: e,
  };
}

/**
 * Reads a duration like `90s`, `15m`, `2h`, `7d` into milliseconds, from 1 s to 365 d. Throws an
 * Error whose message names what was expected.
 */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhd])$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms >= MIN_DURATION_MS && ms <= MAX_DURATION_MS))
    throw new Error(
      `a duration is a whole number and s, m, h or d (90s, 15m, 2h, 7d), from 1s to 365d, got '${text}'`,
    );
  return ms;
}
