import { createHash, timingSafeEqual } from 'node:crypto';
import { MAX_TOKEN_BYTES } from '../protocol/native.js';

/** The environment variable that holds a token, so it stays out of shell history and `ps`. */
export const TOKEN_ENV = 'FRAMECAST_TOKEN';

/**
 * A token known only by its salted digest, `sha256` = hex(SHA-256(salt + token)) over UTF-8 bytes (an
 * origin tells its edges a stream's readToken this way, docs/PROTOCOL.md "Bus").
 */
export interface TokenDigest {
  readonly salt: string;
  readonly sha256: string;
}

/** A token as a check needs it: the token itself, or its salted digest. */
export type TokenCheck = string | TokenDigest;

/** The salted digest of `token`. */
export function tokenDigest(token: string, salt: string): TokenDigest {
  return {
    salt,
    sha256: createHash('sha256')
      .update(salt + token, 'utf8')
      .digest('hex'),
  };
}

/** Compares tokens in constant time: hashing first makes the lengths equal and hides them. */
export function tokenMatches(expected: TokenCheck, given: string): boolean {
  if (typeof expected !== 'string') {
    const want = Buffer.from(expected.sha256, 'hex');
    const got = createHash('sha256')
      .update(expected.salt + given, 'utf8')
      .digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * True when `given` opens something guarded by `tokens` (the server's, a stream's): none of them is
 * set, or `given` matches one. An empty or missing `given` opens only what needs no token.
 */
export function tokenOpens(given: string | null, ...tokens: (TokenCheck | null)[]): boolean {
  const set = tokens.filter((t): t is TokenCheck => t !== null);
  if (set.length === 0) return true;
  if (given === null || given === '') return false;
  return set.some((t) => tokenMatches(t, given));
}

/** Why a token is unusable (empty, too long, control characters), or null when it is fine. */
export function tokenProblem(token: string): string | null {
  if (token.length === 0) return 'the token is empty';
  if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) return `the token is over ${MAX_TOKEN_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(token)) return 'the token contains control characters';
  return null;
}

/** The token from an explicit value, else from FRAMECAST_TOKEN, else null (an empty variable counts as unset). */
export function resolveToken(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  if (explicit !== undefined) return explicit;
  const v = env[TOKEN_ENV];
  return v === undefined || v === '' ? null : v;
}
