import { Access, type AccessSettings, type TokenVerifier } from './access.js';
import { AuthHook } from './auth-hook.js';
import type { AuthSettings } from './auth-settings.js';
import { createHash } from 'node:crypto';
import { JwtVerifier, looksLikeJwt } from './jwt.js';
import type { Identity } from './permissions.js';
import { verifyLink } from './signed-link.js';

/** A verified JWT is not verified again for this long (nor past its `exp`). */
export const JWT_REMEMBER_MS = 60_000;
const JWT_REMEMBER_MAX = 4096;

/** What an `auth:` section needs beyond the tokens: its verifiers (signed links, JWT) and its hook. */
export interface AccessSetup {
  readonly token: string | null;
  readonly adminToken?: string | null;
  readonly auth: AuthSettings | null;
  /** One line per failed login or failing hook: an address (or the hook) and what failed. */
  readonly log?: (address: string, reason: string) => void;
}

/**
 * The server's Access with everything its `auth:` section asks for: signed links (`linkSecret`),
 * JWTs (`jwt`, keys from a JWKS URL or file) and the HTTP hook (`http`). Throws an Error naming the
 * setting when one is unusable (a JWKS file that does not read, a hook URL with a password in it).
 */
export function createAccess(setup: AccessSetup): Access {
  const { auth } = setup;
  const log = setup.log ?? (() => {});
  const verifiers: TokenVerifier[] = [];
  let hook: AuthHook | null = null;
  if (auth?.linkSecret) {
    const secret = auth.linkSecret;
    verifiers.push({
      identify: (token) => {
        const r = verifyLink(token, secret);
        if (r === null) return Promise.resolve(null);
        return Promise.resolve(
          r.ok ? { ok: true, identity: r.identity } : { ok: false, reason: `signed link: ${r.reason}` },
        );
      },
    });
  }
  if (auth?.jwt) {
    const verified = new Map<string, { identity: Identity; until: number }>();
    let jwt: JwtVerifier;
    try {
      jwt = new JwtVerifier(auth.jwt);
    } catch (err) {
      throw new RangeError(`auth.jwt: ${(err as Error).message}`, { cause: err });
    }
    verifiers.push({
      identify: async (token) => {
        if (!looksLikeJwt(token)) return null;
        const key = createHash('sha256').update(token).digest('base64');
        const now = Date.now();
        const hit = verified.get(key);
        if (hit && hit.until > now) return { ok: true, identity: hit.identity };
        const r = await jwt.verify(token);
        if (!r.ok) return { ok: false, reason: `JWT: ${r.reason}` };
        // A verified token is remembered until it expires, at most JWT_REMEMBER_MS (a key removed
        // from the JWKS stops opening it within that time), in a bounded table.
        if (verified.size >= JWT_REMEMBER_MAX) verified.delete(verified.keys().next().value as string);
        verified.set(key, {
          identity: r.identity,
          until: Math.min(r.expiresAt ?? Infinity, now + JWT_REMEMBER_MS),
        });
        return { ok: true, identity: r.identity };
      },
    });
  }
  if (auth?.http) {
    try {
      hook = new AuthHook(auth.http, (line) => log('auth hook', line));
    } catch (err) {
      throw new RangeError(`auth.http: ${(err as Error).message}`, { cause: err });
    }
  }
  const settings: AccessSettings = {
    token: setup.token,
    adminToken: setup.adminToken ?? null,
    auth,
    verifiers,
    hook,
    log,
  };
  return new Access(settings);
}
