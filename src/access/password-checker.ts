import { createHash } from 'node:crypto';
import { verifyPassword } from './password.js';

/** A stored password hash (a user's `password` in the `auth:` section). */
export type PasswordParams = Parameters<typeof verifyPassword>[0];

/** A password verified lately: (user, SHA-256 of the password) -> until when, bounded. */
const VERIFIED_MS = 5 * 60_000;
const VERIFIED_MAX = 1024;
/** scrypt runs at once at most (each takes 32 MiB and a core for ~0.1 s). */
const SCRYPT_PARALLEL = 2;
/** Password checks waiting at most; beyond them a login is refused at once (rate-limited). */
const SCRYPT_WAITING = 256;

/**
 * Checks users' passwords at a bounded cost: at most SCRYPT_PARALLEL scrypt runs at once and
 * SCRYPT_WAITING waiting (beyond them the answer is "busy" at once); a password verified lately is
 * known without a new run (a bounded memo keyed by a hash of user, password and stored hash, never
 * the password itself); an unknown user is checked against a decoy hash, so timing tells no names.
 */
export class PasswordChecker {
  /** The hash an unknown user is checked against (the first user's: the same cost), or null: no users. */
  readonly #decoy: () => PasswordParams | null;
  readonly #verified = new Map<string, number>();
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(decoy: () => PasswordParams | null) {
    this.#decoy = decoy;
  }

  /**
   * True when `password` is `user`'s; with no params (no such user), false after as much work; null
   * when too many checks wait already.
   */
  async check(user: string, params: PasswordParams | null, password: string): Promise<boolean | null> {
    const decoy = params ?? this.#decoy();
    if (decoy === null) return false;
    const key = createHash('sha256')
      .update(user)
      .update('\0')
      .update(password)
      .update('\0')
      .update(decoy.hash)
      .digest('base64');
    const until = this.#verified.get(key);
    if (params !== null && until !== undefined && until > Date.now()) return true;
    if (this.#queue.length >= SCRYPT_WAITING) return null;
    await this.#slot();
    try {
      const ok = await verifyPassword(decoy, password);
      if (ok && params !== null) {
        if (this.#verified.size >= VERIFIED_MAX)
          this.#verified.delete(this.#verified.keys().next().value as string);
        this.#verified.set(key, Date.now() + VERIFIED_MS);
      }
      return ok && params !== null;
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }

  #slot(): Promise<void> {
    if (this.#running < SCRYPT_PARALLEL) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#queue.push(() => {
        this.#running++;
        resolve();
      }),
    );
  }
}
