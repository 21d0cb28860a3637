import { FramecastError } from '../errors.js';
import type { TokenDigest } from '../util/token.js';

/**
 * Which seed-only ports (a stream's legacyPort on its origin) an edge opens: the origin's port
 * numbers (`'same'`, the default), none (`'off'`), or each origin port plus `offset`, so that several
 * edges, or an edge beside its origin, run on one host.
 */
export type LegacyPorts = 'same' | 'off' | { offset: number };

/** The largest offset: origin port 1 plus it is still a port. */
export const MAX_LEGACY_OFFSET = 65534;

/** Checks a LegacyPorts value (RangeError naming the option). */
export function checkLegacyPorts(v: LegacyPorts): LegacyPorts {
  if (v === 'same' || v === 'off') return v;
  const offset = typeof v === 'object' && v !== null ? v.offset : undefined;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > MAX_LEGACY_OFFSET)
    throw new RangeError(
      `legacyPorts must be 'same', 'off' or { offset: 0-${MAX_LEGACY_OFFSET} }, got ${JSON.stringify(v)}`,
    );
  return offset === 0 ? 'same' : { offset };
}

/** `--legacy-ports same|off|+N`; null for a value that is none of them. */
export function parseLegacyPorts(text: string): LegacyPorts | null {
  if (text === 'same' || text === 'off') return text;
  const m = /^\+(\d{1,5})$/.exec(text);
  const offset = m ? Number(m[1]) : NaN;
  return offset >= 0 && offset <= MAX_LEGACY_OFFSET ? checkLegacyPorts({ offset }) : null;
}

/** What decides an edge stream's legacy port besides the announcement. */
export interface EdgeSeedPolicy {
  /** The edge requires a token (--token). */
  tokenRequired: boolean;
  /** Seed clients are served even though a token is required. */
  allowLegacy: boolean;
}

/**
 * Picks the legacy port of each edge stream from what origins announce, and says once per stream
 * why one is not opened. A port the stream cannot have would make applyStreams refuse the whole list
 * (a port shared with another stream or the main port, a stream that needs a token): such a port is
 * left out here, and the stream is served without it.
 */
export class LegacyPortPlan {
  readonly #mode: LegacyPorts;
  readonly #policy: EdgeSeedPolicy;
  readonly #notify: (stream: string, port: number, reason: string) => void;
  /** The reason last reported for each stream (reported again only when it changes). */
  readonly #reported = new Map<string, string>();
  #used = new Set<number>();

  constructor(
    mode: LegacyPorts,
    policy: EdgeSeedPolicy,
    notify: (stream: string, port: number, reason: string) => void,
  ) {
    this.#mode = mode;
    this.#policy = policy;
    this.#notify = notify;
  }

  /** Starts a pass over the streams: `mainPort` and the ports picked in this pass are taken. */
  begin(mainPort: number): void {
    this.#used = new Set([mainPort]);
  }

  /** A port kept as it was (a named stream no origin lists now): taken for this pass. */
  hold(port: number | null): number | null {
    if (port !== null) this.#used.add(port);
    return port;
  }

  /** The port `stream` gets for the origin's `announced` one (null: none). Call in list order. */
  pick(stream: string, announced: number | null, digest: TokenDigest | null | undefined): number | null {
    if (announced === null || this.#mode === 'off') {
      this.#reported.delete(stream);
      return null;
    }
    const port = this.#mode === 'same' ? announced : announced + this.#mode.offset;
    const reason =
      port > 65535
        ? `${announced} + ${port - announced} is beyond 65535`
        : (this.#policy.tokenRequired || digest != null) && !this.#policy.allowLegacy
          ? 'the stream needs a token, which seed clients cannot present (--allow-legacy serves them)'
          : this.#used.has(port)
            ? "it is this edge's TCP port or another stream's legacy port"
            : null;
    if (reason === null) {
      this.#reported.delete(stream);
      this.#used.add(port);
      return port;
    }
    if (this.#reported.get(stream) !== reason) this.#notify(stream, port, reason);
    this.#reported.set(stream, reason);
    return null;
  }

  /** Forgets streams no longer served (a stream added again is reported again). */
  keep(names: ReadonlySet<string>): void {
    for (const n of this.#reported.keys()) if (!names.has(n)) this.#reported.delete(n);
  }
}

/** Why a port did not open, in words: "in use" for the common case, else the listener's error. */
export function bindFailure(err: unknown): string {
  if (err instanceof FramecastError && err.code === 'ERR_PORT_IN_USE') return 'it is already in use';
  return err instanceof Error ? err.message : String(err);
}
