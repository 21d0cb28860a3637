import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import { parsePermissions, PermissionError, type Identity } from './permissions.js';

/** How the server checks JSON Web Tokens (signed by an identity provider, verified with its public keys). */
export interface JwtSettings {
  /**
   * Where the keys are: a JWKS URL (http: or https:) or a JWKS file (JSON, read at start; re-read
   * when its modification time changes, checked at most every FILE_CHECK_MS).
   */
  readonly jwks: { readonly url: string } | { readonly file: string };
  /** Checked when set: the token's `iss` must be this. */
  readonly issuer?: string;
  /** Checked when set: the token's `aud` must be (or contain) this. */
  readonly audience?: string;
  /** The claim that holds the permission list (as parsePermissions takes it); default DEFAULT_JWT_CLAIM. */
  readonly claim: string;
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`; default 30. */
  readonly clockToleranceSec: number;
  /** The algorithms a token may use; default JWT_ALGORITHMS. Never `none`, never HS* (a JWKS holds public keys). */
  readonly algorithms?: readonly string[];
  /**
   * A remote JWKS is fetched again for a key id it does not know, at most once per this many seconds
   * (default 30): a rotated key is picked up at once, and garbage key ids cannot hammer the provider.
   */
  readonly refreshCooldownSec?: number;
}

/** What a token turned out to be: who, until when (ms since epoch, null: no `exp`), or why it is refused. */
export type JwtResult =
  | { readonly ok: true; readonly identity: Identity; readonly expiresAt: number | null }
  | { readonly ok: false; readonly reason: string };

/** The claim read by default. */
export const DEFAULT_JWT_CLAIM = 'framecast_permissions';
/** The clock skew allowed by default (seconds). */
export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** A remote JWKS is refetched for an unknown key id at most once per this by default (seconds). */
export const DEFAULT_REFRESH_COOLDOWN_SEC = 30;
/** The asymmetric algorithms allowed by default. */
export const JWT_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
/** Longer tokens are refused before anything parses them. */
export const MAX_JWT_BYTES = 8192;
/** A JWKS (file or answer) larger than this is refused. */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** How often, at most, a JWKS file's modification time is looked at. */
export const FILE_CHECK_MS = 3000;
/** A remote JWKS request gives up after this. */
export const JWKS_TIMEOUT_MS = 5000;
/** A remote JWKS is fetched again after this even when every key id is known. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
const MAX_SUBJECT = 64;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** True when `token` has a JWT's shape: three base64url parts whose first decodes to JSON with an `alg`. */
export function looksLikeJwt(token: string): boolean {
  return jwtHeader(token) !== null;
}

function jwtHeader(token: string): { alg: string } | null {
  if (token.length > MAX_JWT_BYTES) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || !B64URL_RE.test(parts[0]!) || !B64URL_RE.test(parts[1]!)) return null;
  if (parts[2] !== '' && !B64URL_RE.test(parts[2]!)) return null;
  try {
    const h: unknown = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    if (h === null || typeof h !== 'object' || Array.isArray(h)) return null;
    const alg = (h as Record<string, unknown>)['alg'];
    return typeof alg === 'string' ? { alg } : null;
  } catch {
    return null;
  }
}

/** Fetch with the answer's size capped (jose reads whatever the provider sends). */
async function cappedFetch(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_JWKS_BYTES) throw new errors.JOSEError(`JWKS answer over ${MAX_JWKS_BYTES} bytes`);
      chunks.push(chunk);
    }
  }
  return new Response(Buffer.concat(chunks), { status: res.status, headers: res.headers });
}

/** A JWKS file: read now (throwing a clear Error), re-read when its mtime changes (old keys kept if that fails). */
class FileKeys {
  readonly #path: string;
  #keys: JWTVerifyGetKey;
  #mtimeMs: number;
  #checkedAt = Date.now();
  #checking: Promise<void> | null = null;

  constructor(path: string) {
    this.#path = path;
    try {
      this.#mtimeMs = statSync(path).mtimeMs;
      this.#keys = FileKeys.#parse(readFileSync(path));
    } catch (err) {
      throw new Error(`jwks file ${path}: ${problemOf(err)}`, { cause: err });
    }
  }

  static #parse(bytes: Buffer): JWTVerifyGetKey {
    if (bytes.length > MAX_JWKS_BYTES) throw new Error(`over ${MAX_JWKS_BYTES} bytes`);
    return createLocalJWKSet(JSON.parse(bytes.toString('utf8')) as Parameters<typeof createLocalJWKSet>[0]);
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (Date.now() - this.#checkedAt >= FILE_CHECK_MS) {
      this.#checking ??= this.#check().finally(() => (this.#checking = null));
      await this.#checking;
    }
    return this.#keys(header, token);
  };

  async #check(): Promise<void> {
    this.#checkedAt = Date.now();
    try {
      const s = await stat(this.#path);
      if (s.mtimeMs === this.#mtimeMs) return;
      const keys = FileKeys.#parse(await readFile(this.#path));
      this.#keys = keys;
      this.#mtimeMs = s.mtimeMs;
    } catch {
      // A file half-written or gone for a moment: keep the keys we have, look again later.
    }
  }
}

function problemOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (err instanceof SyntaxError) return 'not JSON';
  if (err instanceof errors.JWKSInvalid) return 'not a JSON Web Key Set';
  return (err as Error).message;
}

/** Why jose refused a token, in a few words for a log line (never the token). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'not yet valid';
    if (err.claim === 'aud') return 'wrong audience';
    if (err.claim === 'iss') return 'wrong issuer';
    if (err.claim === 'iat') return 'issued in the future';
    return `bad claim ${err.claim}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'bad signature';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown key';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed';
  if (err instanceof errors.JOSENotSupported) return 'algorithm not allowed';
  if (err instanceof errors.JWKInvalid) return 'unknown key';
  // JWKS timeouts, non-200 answers, bad JWKS JSON, network errors.
  return 'keys unavailable';
}

/** The name of a token's subject in logs: printable, at most MAX_SUBJECT characters. */
function subjectName(sub: unknown): string {
  if (typeof sub !== 'string' || sub === '') return 'jwt';
  // eslint-disable-next-line no-control-regex
  return `jwt:${sub.slice(0, MAX_SUBJECT).replace(/[\u0000-\u001f\u007f]/g, '?')}`;
}

/**
 * Verifies JWTs against a JWKS (jose does the cryptography and the time claims).
 *
 * Remote keys are fetched at the first token, kept for JWKS_MAX_AGE_MS, and fetched again when a
 * token names a key id they lack (a rotation), at most once per `refreshCooldownSec`; one fetch at
 * a time, JWKS_TIMEOUT_MS at most, answers over MAX_JWKS_BYTES refused, redirects not followed.
 */
export class JwtVerifier {
  readonly #settings: JwtSettings;
  readonly #algorithms: string[];
  readonly #getKey: JWTVerifyGetKey;

  /** Throws a TypeError/RangeError for bad settings, an Error naming the file when a JWKS file is unusable. */
  constructor(settings: JwtSettings) {
    this.#settings = settings;
    const algs = settings.algorithms ?? JWT_ALGORITHMS;
    if (algs.length === 0) throw new RangeError('jwt algorithms: at least one');
    for (const a of algs)
      if (!JWT_ALGORITHMS.includes(a))
        throw new RangeError(`jwt algorithms: '${a}' is not one of ${JWT_ALGORITHMS.join(', ')}`);
    this.#algorithms = [...algs];
    if (settings.claim === '') throw new RangeError('jwt claim: must not be empty');
    const tol = settings.clockToleranceSec;
    if (!Number.isFinite(tol) || tol < 0 || tol > 3600)
      throw new RangeError(`jwt clockToleranceSec: from 0 to 3600, got ${tol}`);
    const cooldown = settings.refreshCooldownSec ?? DEFAULT_REFRESH_COOLDOWN_SEC;
    if (!Number.isFinite(cooldown) || cooldown < 0 || cooldown > 86400)
      throw new RangeError(`jwt refreshCooldownSec: from 0 to 86400, got ${cooldown}`);
    if ('url' in settings.jwks) {
      let url: URL;
      try {
        url = new URL(settings.jwks.url);
      } catch {
        throw new TypeError(`jwt jwks url: not a URL: '${settings.jwks.url}'`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new TypeError(`jwt jwks url: must be http: or https:, got '${url.protocol}'`);
      this.#getKey = createRemoteJWKSet(url, {
        timeoutDuration: JWKS_TIMEOUT_MS,
        cooldownDuration: cooldown * 1000,
        cacheMaxAge: JWKS_MAX_AGE_MS,
        [customFetch]: cappedFetch,
      });
    } else {
      this.#getKey = new FileKeys(settings.jwks.file).getKey;
    }
  }

  /** Verifies `token`: never throws; a refusal carries a short reason for logs. */
  async verify(token: string): Promise<JwtResult> {
    if (token.length > MAX_JWT_BYTES) return { ok: false, reason: 'too long' };
    const header = jwtHeader(token);
    if (header === null) return { ok: false, reason: 'malformed' };
    // Checked here as well as by jose, so `none` and HS* never reach a key lookup.
    if (!this.#algorithms.includes(header.alg)) return { ok: false, reason: 'algorithm not allowed' };
    let payload: Record<string, unknown>;
    try {
      const s = this.#settings;
      ({ payload } = await jwtVerify(token, this.#getKey, {
        algorithms: this.#algorithms,
        clockTolerance: s.clockToleranceSec,
        ...(s.issuer !== undefined ? { issuer: s.issuer } : {}),
        ...(s.audience !== undefined ? { audience: s.audience } : {}),
      }));
    } catch (err) {
      return { ok: false, reason: reasonOf(err) };
    }
    const claim = this.#settings.claim;
    if (!Object.hasOwn(payload, claim)) return { ok: false, reason: `missing claim ${claim}` };
    let permissions;
    try {
      permissions = parsePermissions(payload[claim], claim);
    } catch (err) {
      if (err instanceof PermissionError) return { ok: false, reason: `bad claim ${err.message}` };
      throw err;
    }
    const exp = payload.exp;
    return {
      ok: true,
      identity: { name: subjectName(payload.sub), permissions },
      expiresAt: typeof exp === 'number' ? exp * 1000 : null,
    };
  }
}
