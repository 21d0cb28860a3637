import { createHash } from 'node:crypto';
import { redactCredentials } from '../util/redact.js';
import type { PermissionAction } from './permissions.js';

/** An HTTP service that decides each request (as MediaMTX's authHTTPAddress). */
export interface AuthHookSettings {
  /** Where requests are POSTed (http: or https:, no user:password in it). */
  readonly url: string;
  /** A request unanswered after this is refused; default 2000, 1..60000. */
  readonly timeoutMs: number;
  /** How long an answer is reused for the same request; default 5000, 0 = never, at most 3600000. */
  readonly cacheMs: number;
  /** Answers kept at most (the oldest go first); default 10000. */
  readonly maxEntries?: number;
}

/** What the hook is asked: exactly the JSON body POSTed, with these keys in this order. */
export interface AuthHookRequest {
  readonly user: string | null;
  readonly password: string | null;
  readonly token: string | null;
  readonly ip: string;
  readonly action: PermissionAction;
  readonly stream: string | null;
  readonly protocol: string;
}

/** Counters of a hook: every ask, asks answered without a request, answers, and failed requests. */
export interface AuthHookStats {
  /** Every ask(). */
  asked: number;
  /** Asks answered from the cache or by joining an identical request in flight. */
  cached: number;
  /** Asks answered yes. */
  allowed: number;
  /** Asks answered no (failures included). */
  refused: number;
  /** Requests that failed: network error, timeout, a 5xx/3xx/1xx answer, or over HOOK_MAX_IN_FLIGHT. */
  failed: number;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 2000;
export const DEFAULT_HOOK_CACHE_MS = 5000;
export const DEFAULT_HOOK_MAX_ENTRIES = 10_000;
/** Requests to the hook at once; beyond, an ask is refused at once (and counted as failed). */
export const HOOK_MAX_IN_FLIGHT = 64;
/** Failures are logged at most once per this (the first at once, then a count of the rest). */
export const HOOK_LOG_EVERY_MS = 10_000;

/**
 * Asks an HTTP service whether a request may proceed: POSTs the AuthHookRequest as JSON; a 2xx
 * answer allows, anything else refuses, and so does a network error or no answer within
 * `timeoutMs` (it fails closed).
 *
 * Caching: a 2xx or 4xx answer is kept `cacheMs` for the very same request (keyed by a SHA-256 of the
 * whole body: user, password, token, address, action, stream, protocol), at most `maxEntries`, the
 * oldest dropped first. A failure is never cached, so a hook that comes back is asked again at once.
 * Identical asks while a request is in flight share it; at most HOOK_MAX_IN_FLIGHT requests at once.
 */
export class AuthHook {
  readonly stats: AuthHookStats = { asked: 0, cached: 0, allowed: 0, refused: 0, failed: 0 };
  readonly #url: string;
  readonly #shownUrl: string;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #maxEntries: number;
  readonly #log: (line: string) => void;
  readonly #cache = new Map<string, { allowed: boolean; until: number }>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  #loggedAt = -Infinity;
  #unlogged = 0;

  /** Throws a TypeError/RangeError for bad settings. */
  constructor(settings: AuthHookSettings, log: (line: string) => void = () => {}) {
    let url: URL;
    try {
      url = new URL(settings.url);
    } catch {
      throw new TypeError(`auth hook url: not a URL: '${redactCredentials(settings.url)}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`auth hook url: must be http: or https:, got '${url.protocol}'`);
    if (url.username !== '' || url.password !== '')
      throw new TypeError('auth hook url: must not hold a user or password');
    this.#url = url.href;
    this.#shownUrl = redactCredentials(url.href);
    this.#timeoutMs = whole('auth hook timeoutMs', settings.timeoutMs, 1, 60_000);
    this.#cacheMs = whole('auth hook cacheMs', settings.cacheMs, 0, 3_600_000);
    this.#maxEntries = whole(
      'auth hook maxEntries',
      settings.maxEntries ?? DEFAULT_HOOK_MAX_ENTRIES,
      1,
      1_000_000,
    );
    this.#log = log;
  }

  /** True when the hook allows `req`; never throws, never waits much longer than `timeoutMs`. */
  async ask(req: AuthHookRequest): Promise<boolean> {
    this.stats.asked++;
    const allowed = await this.#answer(req);
    if (allowed) this.stats.allowed++;
    else this.stats.refused++;
    return allowed;
  }

  /** How many answers are cached now (expired ones included until they are looked up or pushed out). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  #answer(req: AuthHookRequest): Promise<boolean> {
    const body = JSON.stringify({
      user: req.user,
      password: req.password,
      token: req.token,
      ip: req.ip,
      action: req.action,
      stream: req.stream,
      protocol: req.protocol,
    });
    const key = createHash('sha256').update(body).digest('base64');
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      if (hit.until > Date.now()) {
        this.stats.cached++;
        return Promise.resolve(hit.allowed);
      }
      this.#cache.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      this.stats.cached++;
      return pending;
    }
    if (this.#inFlight.size >= HOOK_MAX_IN_FLIGHT) {
      this.#failed(req, `over ${HOOK_MAX_IN_FLIGHT} requests in flight`);
      return Promise.resolve(false);
    }
    const asking = this.#post(body, req)
      .then((answer) => {
        if (answer !== null && this.#cacheMs > 0) this.#remember(key, answer);
        return answer === true;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, asking);
    return asking;
  }

  /** The hook's answer: true (2xx), false (4xx), null when it failed (never cached). */
  async #post(body: string, req: AuthHookRequest): Promise<boolean | null> {
    let status: number;
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.status;
      // The body says nothing we use: drop it so the connection can be reused.
      res.body?.cancel().catch(() => {});
    } catch (err) {
      const e = err as Error & { cause?: { code?: unknown } };
      const why =
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer in ${this.#timeoutMs} ms`
          : typeof e.cause?.code === 'string'
            ? e.cause.code
            : e.message;
      this.#failed(req, why);
      return null;
    }
    if (status >= 200 && status < 300) return true;
    if (status >= 400 && status < 500) return false;
    this.#failed(req, `answered ${status}`);
    return null;
  }

  #remember(key: string, allowed: boolean): void {
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, { allowed, until: Date.now() + this.#cacheMs });
  }

  /** Counts a failure and logs it (never the password or token), at most once per HOOK_LOG_EVERY_MS. */
  #failed(req: AuthHookRequest, why: string): void {
    this.stats.failed++;
    const now = Date.now();
    if (now - this.#loggedAt < HOOK_LOG_EVERY_MS) {
      this.#unlogged++;
      return;
    }
    const more = this.#unlogged > 0 ? `; ${this.#unlogged} more failures before this one` : '';
    this.#loggedAt = now;
    this.#unlogged = 0;
    const what = printable(
      `${req.action} ${req.stream ?? '(no stream)'} over ${req.protocol} from ${req.ip}`,
    );
    try {
      this.#log(`auth hook ${this.#shownUrl} failed: ${why}, refused ${what}${more}`);
    } catch {
      // A log callback that throws must not change the answer.
    }
  }
}

/** A peer's words in a log line: no control characters, bounded. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, 300).replace(/[\u0000-\u001f\u007f]/g, '?');
}

function whole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name}: a whole number from ${min} to ${max}, got ${value}`);
  return value;
}
