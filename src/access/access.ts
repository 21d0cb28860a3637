import { tokenMatches, tokenOpens, type TokenCheck } from '../util/token.js';
import type {
  AccessRequest,
  AccessSettings,
  Action,
  AuthHookAsk,
  Decision,
  Guarded,
  Refusal,
  TokenVerifier,
} from './access-types.js';
import { ipAllowed, NO_GRANT, type AuthSettings, type Grant } from './auth-settings.js';
import { LoginLimiter } from './login-limiter.js';
import { permits, type PermissionAction } from './permissions.js';
import { PasswordChecker } from './password-checker.js';
import { signLink, type LinkGrant } from './signed-link.js';

export type {
  AccessRequest,
  AccessSettings,
  Action,
  AuthHookAsk,
  Credentials,
  Decision,
  Guarded,
  Protocol,
  Refusal,
  TokenVerifier,
} from './access-types.js';

const ALLOWED: Decision = { allowed: true };

function refused(refusal: Refusal): Decision {
  return { allowed: false, refusal };
}

/** Each action as a permission: the legacy `operate` and `admin` are the `api` permission. */
const PERMISSION_OF: Record<Action, PermissionAction> = {
  read: 'read',
  playback: 'playback',
  publish: 'publish',
  annotate: 'annotate',
  record: 'record',
  operate: 'api',
  metrics: 'metrics',
  api: 'api',
  admin: 'api',
};

/** Actions of no one stream: their permission must hold for every stream. */
const SERVER_WIDE: ReadonlySet<Action> = new Set(['metrics', 'api']);

/** A login refused because too many wait for a password check. */
const BUSY = Symbol('busy');

/**
 * The one access decision of the server: every transport (TCP, HTTP, WebSocket, publishing, the
 * API) asks `authorize()` and only translates the answer into its own words (an HTTP status, a native
 * ERROR code).
 *
 * Without an `auth:` section it is exactly the token rules (`decide()`): the server's token, each
 * stream's read, publish and annotate tokens, the admin token; a stream with no token and a server
 * without one is open to everyone. With `auth:`, those tokens still open what they open, and
 * everything else is what the request's identity may do: a user (HTTP Basic, or `USER:PASSWORD` as
 * a native token), a JWT, a signed link, else `auth.anonymous`; the HTTP hook, when set, is asked last.
 */
export class Access {
  readonly #token: string | null;
  readonly #admin: TokenCheck | null;
  readonly #auth: AuthSettings | null;
  readonly #verifiers: readonly TokenVerifier[];
  readonly #hook: AuthHookAsk | null;
  readonly #log: (address: string, reason: string) => void;
  readonly #limiter: LoginLimiter | null;
  readonly #passwords: PasswordChecker;

  constructor(settings: AccessSettings) {
    this.#token = settings.token;
    this.#admin = settings.adminToken ?? null;
    this.#auth = settings.auth ?? null;
    this.#verifiers = settings.verifiers ?? [];
    this.#hook = settings.hook ?? null;
    this.#log = settings.log ?? (() => {});
    const fl = this.#auth?.failedLogins;
    this.#limiter = this.#auth && fl ? new LoginLimiter(fl.max, fl.perMs) : null;
    // An unknown user is checked against the first user's hash (the same cost), none without users.
    this.#passwords = new PasswordChecker(() => {
      const first = this.#auth?.users.values().next();
      return first && !first.done ? first.value.password : null;
    });
  }

  /** True when the server has a token (every stream then needs one). */
  get serverTokenSet(): boolean {
    return this.#token !== null;
  }

  /** True when users, JWT or a hook may log in (HTTP then offers Basic). */
  get loginsEnabled(): boolean {
    return this.#auth !== null;
  }

  /** True when API writes are possible at all (an admin token, or an `auth:` section). */
  get adminEnabled(): boolean {
    return this.#admin !== null || this.#auth !== null;
  }

  /**
   * A signed link for `grant` with the server's `auth.linkSecret`, or null when it has none. Whoever
   * asks must have been allowed to operate that stream (the API's POST /api/sign).
   */
  signLink(grant: LinkGrant): string | null {
    const secret = this.#auth?.linkSecret ?? null;
    return secret === null ? null : signLink(grant, secret);
  }

  /** Requests refused because their address failed to log in too often. */
  get rateLimited(): number {
    return this.#limiter?.blockedTotal ?? 0;
  }

  /** Seconds a rate-limited address waits (for Retry-After). */
  retryAfterSec(ip: string): number {
    return Math.max(1, Math.ceil((this.#limiter?.retryAfterMs(ip) ?? 0) / 1000));
  }

  /**
   * The token rules alone (no users, no JWT): may `given` do `action` on `stream` (null: no stream of
   * that name; ignored for server-wide actions)? This is the whole decision without an `auth:` section.
   */
  decide(action: Action, stream: Guarded | null, given: string | null): Decision {
    const token = given === '' ? null : given;
    switch (action) {
      case 'metrics':
      case 'api':
        return this.#opens(token, this.#token);
      case 'admin':
        if (this.#admin === null) return refused('disabled');
        return this.#isAdmin(token) ? ALLOWED : refused(token === null ? 'token-required' : 'token-invalid');
      case 'record':
        if (this.#admin === null) return refused('disabled');
        if (this.#isAdmin(token)) return ALLOWED;
        if (stream === null) return this.#unknown(token);
        return refused(token === null ? 'token-required' : 'token-invalid');
      case 'operate':
        if (this.#isAdmin(token)) return ALLOWED;
        if (stream === null) return this.#unknown(token);
        if (this.#token !== null) return this.#opens(token, this.#token);
        // With no server token, anyone operates a stream that anyone may watch; a readToken only watches.
        if (stream.readToken === null) return ALLOWED;
        return refused(token === null ? 'token-required' : 'token-invalid');
      case 'read':
      case 'playback':
        if (stream === null) return this.#unknown(token);
        if (this.#token === null && stream.readToken === null) return ALLOWED;
        // An analyzer watches what it annotates.
        return this.#opens(token, this.#token, stream.readToken, stream.annotateToken ?? null);
      case 'annotate':
        if (stream === null) return this.#unknown(token);
        if (this.#token === null && (stream.annotateToken ?? null) === null)
          // Nothing set: a stream open to everyone is open to annotations; a readToken is not enough.
          return stream.readToken === null
            ? ALLOWED
            : refused(token === null ? 'token-required' : 'token-invalid');
        return this.#opens(token, this.#token, stream.annotateToken ?? null);
      case 'publish':
        if (stream === null) return this.#unknown(token);
        return this.#opens(token, this.#token, stream.publishToken ?? null);
    }
  }

  /**
   * The decision for a seed-framed client (it carries no credentials): the token rules, or with
   * `auth:`, what anonymous requests from `ip` may do. Synchronous: the seed framing decides early.
   */
  anonymousMay(action: Action, stream: Guarded | null, name: string | null, ip: string): boolean {
    if (this.#auth === null) return this.decide(action, stream, null).allowed;
    return stream !== null && this.#grants(this.#anonymous(action, stream), action, name, ip);
  }

  /** The decision for one request, on every transport. */
  async authorize(req: AccessRequest): Promise<Decision> {
    const token = req.credentials.token === '' ? null : req.credentials.token;
    if (this.#auth === null) return this.decide(req.action, req.stream, token);
    const hasCredentials = token !== null || req.credentials.user !== null;
    if (hasCredentials && this.#limiter?.blocked(req.ip)) return refused('rate-limited');
    // The server's, the admin's and the stream's own tokens open what they always opened.
    if (token !== null && this.#tokenOpens(req.action, req.stream, token)) {
      return req.stream === null && !SERVER_WIDE.has(req.action) && req.action !== 'admin'
        ? refused('unknown-stream')
        : ALLOWED;
    }
    // One of this server's own tokens asked beyond what it opens (a viewer's token asking whether it
    // may operate, on every /stats poll): a wrong use, not a guess; neither counted nor logged.
    if (token !== null && this.#knownToken(req.stream, token))
      return (await this.#askHook(req, token)) ? this.#existing(req) : refused('token-invalid');
    // Counted before anything is checked (guesses sent at once are counted at once), taken back
    // unless the credentials prove no one.
    if (hasCredentials) this.#limiter?.failed(req.ip);
    const d = await this.#login(req, token, hasCredentials);
    if (hasCredentials && (d.allowed || d.refusal !== 'token-invalid')) this.#limiter?.forgive(req.ip);
    return d;
  }

  /** The decision by the request's identity (a user, a JWT, a link, else anonymous), then the hook. */
  async #login(req: AccessRequest, token: string | null, hasCredentials: boolean): Promise<Decision> {
    const who = await this.#identify(req, token);
    if (who === BUSY) return refused('rate-limited');
    if (typeof who === 'string') {
      // Credentials that prove no one: the hook may still know them.
      if (await this.#askHook(req, token)) return this.#existing(req);
      this.#log(
        req.ip,
        // The name comes from the request (/list?path=): printable ASCII only, bounded.
        `login failed (${req.protocol}, ${req.action}${req.name ? ` ${req.name.replace(/[^\x21-\x7e]/g, '?').slice(0, 64)}` : ''}): ${who}`,
      );
      return refused('token-invalid');
    }
    const grant: Grant = who ?? this.#anonymous(req.action, req.stream);
    if (this.#grants(grant, req.action, req.name, req.ip)) return this.#existing(req);
    if (await this.#askHook(req, token)) return this.#existing(req);
    if (who === null && !hasCredentials) return refused('token-required');
    return refused('forbidden');
  }

  /** Allowed on a name: said to exist or not (the request may act on that name either way). */
  #existing(req: AccessRequest): Decision {
    if (req.stream === null && !SERVER_WIDE.has(req.action) && req.action !== 'admin')
      return refused('unknown-stream');
    return ALLOWED;
  }

  /**
   * What a request without credentials may do: `auth.anonymous`, except on a stream with a token of its
   * own for the action (its readToken, publishToken or annotateToken; on an edge, the origin's): that
   * token closes the stream to requests without it, as without an `auth:` section.
   */
  #anonymous(action: Action, stream: Guarded | null): Grant {
    const anonymous = (this.#auth as AuthSettings).anonymous;
    if (stream === null) return anonymous;
    switch (action) {
      case 'read':
      case 'playback':
        return stream.readToken === null ? anonymous : NO_GRANT;
      case 'annotate':
        return stream.readToken === null && (stream.annotateToken ?? null) === null ? anonymous : NO_GRANT;
      case 'publish':
        return (stream.publishToken ?? null) === null ? anonymous : NO_GRANT;
      default:
        return anonymous;
    }
  }

  #grants(grant: Grant, action: Action, name: string | null, ip: string): boolean {
    if (!ipAllowed(grant, ip)) return false;
    const stream = SERVER_WIDE.has(action) ? null : name;
    if (permits(grant.permissions, PERMISSION_OF[action], stream)) return true;
    // An analyzer watches what it annotates; `api` on a stream covers recording it.
    if (action === 'read' || action === 'playback') return permits(grant.permissions, 'annotate', stream);
    if (action === 'record') return permits(grant.permissions, 'api', stream);
    return false;
  }

  /**
   * Who the credentials say the request is: a grant (a user's, a JWT's, a link's), null for no
   * credentials, or what failed (for the log line, never the secret).
   */
  async #identify(req: AccessRequest, token: string | null): Promise<Grant | null | string | typeof BUSY> {
    const auth = this.#auth as AuthSettings;
    let user = req.credentials.user;
    let password = req.credentials.password;
    let named = true;
    if (user === null && token !== null) {
      for (const v of this.#verifiers) {
        const r = await v.identify(token);
        if (r === null) continue;
        if (r.ok) return { permissions: r.identity.permissions, ips: null, ipRanges: [] };
        return `a token (${r.reason})`;
      }
      // A native hello carries USER:PASSWORD as its token.
      const colon = token.indexOf(':');
      if (colon <= 0) return 'a token matching nothing';
      user = token.slice(0, colon);
      password = token.slice(colon + 1);
      // Not a user: maybe a token only the hook knows, whose first part is no name to log.
      named = auth.users.has(user);
    }
    if (user === null) return null;
    const entry = auth.users.get(user);
    // An unknown user costs a password check as a known one does: timing tells no names.
    const ok = await this.#passwords.check(user, entry?.password ?? null, password ?? '');
    if (ok === null) return BUSY;
    if (!entry || !ok)
      return named ? `user ${JSON.stringify(user.slice(0, 64))}` : 'a token matching nothing';
    return entry;
  }

  async #askHook(req: AccessRequest, token: string | null): Promise<boolean> {
    if (this.#hook === null) return false;
    return this.#hook.ask({
      user: req.credentials.user,
      password: req.credentials.password,
      token,
      ip: req.ip,
      action: PERMISSION_OF[req.action],
      stream: req.name,
      protocol: req.protocol,
    });
  }

  /** True when `token` is one of the server's own tokens that opens `action` on `stream`. */
  #tokenOpens(action: Action, stream: Guarded | null, token: string): boolean {
    if (this.#isAdmin(token) && (action === 'admin' || action === 'operate' || action === 'record'))
      return true;
    if (action === 'admin' || action === 'record') return false;
    if (this.#token !== null && tokenMatches(this.#token, token)) return true;
    if (stream === null) return false;
    const own: (TokenCheck | null | undefined)[] =
      action === 'read' || action === 'playback'
        ? [stream.readToken, stream.annotateToken]
        : action === 'annotate'
          ? [stream.annotateToken]
          : action === 'publish'
            ? [stream.publishToken]
            : [];
    return own.some((t) => t !== null && t !== undefined && tokenMatches(t, token));
  }

  /** True when `token` is the server's, the admin's or one of `stream`'s own tokens, for any action. */
  #knownToken(stream: Guarded | null, token: string): boolean {
    if (this.#isAdmin(token) || (this.#token !== null && tokenMatches(this.#token, token))) return true;
    const own = stream ? [stream.readToken, stream.publishToken, stream.annotateToken] : [];
    return own.some((t) => t !== null && t !== undefined && tokenMatches(t, token));
  }

  /** A name that does not exist: said so to whoever may see every stream, else refused as for a token. */
  #unknown(token: string | null): Decision {
    const d = this.#opens(token, this.#token);
    return d.allowed ? refused('unknown-stream') : d;
  }

  #opens(token: string | null, ...guards: (TokenCheck | null)[]): Decision {
    if (tokenOpens(token, ...guards)) return ALLOWED;
    return refused(token === null ? 'token-required' : 'token-invalid');
  }

  #isAdmin(token: string | null): boolean {
    return this.#admin !== null && token !== null && tokenMatches(this.#admin, token);
  }
}
