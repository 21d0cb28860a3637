/**
 * Failed logins per source address: each address may fail `max` times, one failure is forgiven every
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

  #level(ip: string, now: number): number {
    const e = this.#byAddress.get(ip);
    if (!e) return 0;
    const level = Math.max(0, e.failures - (now - e.at) / this.#leakMs);
    if (level === 0) this.#byAddress.delete(ip);
    return level;
  }

  /** True when `ip` has failed too often: refuse before checking anything. */
  blocked(ip: string, now = Date.now()): boolean {
    const over = this.#level(ip, now) > this.#max - 1;
    if (over) this.#blockedTotal++;
    return over;
  }

  /** Milliseconds until `ip` may try again (0: it may). */
  retryAfterMs(ip: string, now = Date.now()): number {
    const level = this.#level(ip, now);
    return level > this.#max - 1 ? Math.ceil((level - (this.#max - 1)) * this.#leakMs) : 0;
  }

  /** Counts one failed login from `ip`. */
  failed(ip: string, now = Date.now()): void {
    const failures = this.#level(ip, now) + 1;
    this.#byAddress.delete(ip);
    this.#byAddress.set(ip, { failures, at: now });
    if (this.#byAddress.size > this.#maxAddresses) {
      const oldest = this.#byAddress.keys().next().value;
      if (oldest !== undefined) this.#byAddress.delete(oldest);
    }
  }

  /** Requests refused because their address was over the limit. */
  get blockedTotal(): number {
    return this.#blockedTotal;
  }
}
