import { isIP, isIPv4 } from 'node:net';

/**
 * The client an address stands for: an IPv4 address (a v4-mapped one as its IPv4 form, which a
 * dual-stack socket may give for the same client), or an IPv6 address's /64 (one client holds a whole
 * /64 and may use any address of it).
 */
export function clientOf(ip: string): string {
  const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  const addr = plain.split('%')[0] as string;
  if (isIP(addr) !== 6) return plain;
  const groups = (s: string): string[] =>
    s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Failed logins per client (clientOf: an IPv4 address, an IPv6 /64): each address may fail `max` times, one failure is forgiven every
 * `perMs / max` (a leaky bucket). An address over the limit is refused at once, without its
 * credentials being checked, until enough time has passed: guessing a password or a token from one
 * address costs `perMs / max` per guess. The table is bounded (the oldest address is forgotten).
 */
export class LoginLimiter {
  readonly #max: number;
  readonly #leakMs: number;
  readonly #maxAddresses: number;
  /** Address -> failures counted at `at` (ms). Insertion order is recency order. */
  readonly #byAddress = new Map<string, { failures: number; at: number }>();
  #blockedTotal = 0;

  constructor(max: number, perMs: number, maxAddresses = 100_000) {
    this.#max = max;
    this.#leakMs = perMs / max;
    this.#maxAddresses = maxAddresses;
  }

  #level(key: string, now: number): number {
    const e = this.#byAddress.get(key);
    if (!e) return 0;
    const level = Math.max(0, e.failures - (now - e.at) / this.#leakMs);
    if (level === 0) this.#byAddress.delete(key);
    return level;
  }

  /** True when `ip` has failed too often: refuse before checking anything. */
  blocked(ip: string, now = Date.now()): boolean {
    const over = this.#level(clientOf(ip), now) > this.#max - 1;
    if (over) this.#blockedTotal++;
    return over;
  }

  /** Milliseconds until `ip` may try again (0: it may). */
  retryAfterMs(ip: string, now = Date.now()): number {
    const level = this.#level(clientOf(ip), now);
    return level > this.#max - 1 ? Math.ceil((level - (this.#max - 1)) * this.#leakMs) : 0;
  }

  /** Counts one failed login from `ip`. */
  failed(ip: string, now = Date.now()): void {
    const key = clientOf(ip);
    const failures = this.#level(key, now) + 1;
    this.#byAddress.delete(key);
    this.#byAddress.set(key, { failures, at: now });
    if (this.#byAddress.size > this.#maxAddresses) {
      const oldest = this.#byAddress.keys().next().value;
      if (oldest !== undefined) this.#byAddress.delete(oldest);
    }
  }

  /**
   * Takes back one failure counted by `failed` (a login counted before it was checked, so that guesses
   * sent at once are counted at once, and that then proved someone).
   */
  forgive(ip: string, now = Date.now()): void {
    const key = clientOf(ip);
    const e = this.#byAddress.get(key);
    if (!e) return;
    const failures = this.#level(key, now) - 1;
    if (failures <= 0) this.#byAddress.delete(key);
    else this.#byAddress.set(key, { failures, at: now });
  }

  /** Requests refused because their address was over the limit. */
  get blockedTotal(): number {
    return this.#blockedTotal;
  }
}
