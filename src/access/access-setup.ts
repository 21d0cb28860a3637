import { Access, type AccessSettings, type TokenVerifier } from './access.js';
import { AuthHook } from './auth-hook.js';
import type { AuthSettings } from './auth-settings.js';
import { JwtVerifier, looksLikeJwt } from './jwt.js';
import { verifyLink } from './signed-link.js';

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
    let jwt: JwtVerifier;
    try {
      jwt = new JwtVerifier(auth.jwt);
    } catch (err) {
      throw new RangeError(`auth.jwt: ${(err as Error).message}`, { cause: err });
    }
    verifiers.push({
      identify: async (token) => {
        if (!looksLikeJwt(token)) return null;
        const r = await jwt.verify(token);
        return r.ok ? { ok: true, identity: r.identity } : { ok: false, reason: `JWT: ${r.reason}` };
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
