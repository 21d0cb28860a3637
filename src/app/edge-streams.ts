import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { ANNOUNCE_MS, MAX_STREAMS, type AnnouncedStreams } from '../bus/announcement.js';
import {
  PUBLISHER_SOURCE,
  resolveStreamConfig,
  type ResolvedStreamConfig,
} from '../streams/stream-options.js';
import { streamDefaults } from './serve-plan.js';
import type { TokenDigest } from '../util/token.js';
import type { LegacyPortPlan } from './edge-legacy-ports.js';
import type { FramecastServer } from './framecast-server.js';

/** An edge's stream: fed by the bus through its publisher slot, which nobody else may publish into. */
export function edgeStreamConfig(name: string): { name: string; source: string; publishToken: string } {
  // The publish token is a secret nobody is told.
  return { name, source: PUBLISHER_SOURCE, publishToken: randomUUID() };
}

/**
 * The streams an edge starts with, each with its read token digest already set (`served`'s, or
 * `locked` for a named stream no origin has announced yet), so no stream is open before its origin's
 * read token applies. Their legacy ports open in the follower's first change, through applyStreams,
 * which serves a stream without a port it cannot bind (serve() would fail instead).
 */
export function firstStreamConfigs(
  names: readonly string[],
  served: ReadonlyMap<string, TokenDigest | null>,
  locked: TokenDigest,
): (ReturnType<typeof edgeStreamConfig> & { readTokenDigest: TokenDigest | null })[] {
  return names.map((n) => ({
    ...edgeStreamConfig(n),
    readTokenDigest: served.has(n) ? (served.get(n) ?? null) : locked,
  }));
}

/** Something the follower reports: streams refused beyond MAX_STREAMS, or a change that failed. */
export type FollowerNotice =
  { kind: 'too-many'; refused: number; max: number } | { kind: 'error'; err: unknown };

/**
 * At most this many streams are added, and this many removed, in one change; the rest follow in
 * later changes, BATCH_PAUSE_MS apart. A change of 1000 streams blocks the event loop for several
 * hundred ms: in batches, the edge's viewers keep getting frames between them (and a peer churning
 * its list of 1000 fake streams cannot stall them).
 */
export const CHANGE_BATCH = 25;
const BATCH_PAUSE_MS = 50;

const sameDigest = (a: TokenDigest | null, b: TokenDigest | null): boolean =>
  a === b || (a !== null && b !== null && a.salt === b.salt && a.sha256 === b.sha256);

/**
 * Keeps an edge's streams what the origins announce: streams added and removed (unless the edge was
 * given its list), each stream's readToken digest and legacy port updated (a changed one restarts
 * the stream, as a changed readToken or legacyPort does on the origin's config reload). Changes are
 * applied one at a time.
 */
export class AnnouncementFollower {
  /** Resolves once the first announcements heard are applied. */
  readonly ready: Promise<void>;
  readonly #server: FramecastServer;
  readonly #catalog: AnnouncedStreams;
  readonly #explicit: readonly string[] | null;
  readonly #forget: NodeJS.Timeout;
  #queue: Promise<void>;
  #queued = false;
  #connected = true;
  #closed = false;
  readonly #notify: (n: FollowerNotice) => void;
  readonly #ports: LegacyPortPlan | null;
  /** Streams refused for the cap were reported (again once they all fit). */
  #refused = false;
  /** The next batch of a change larger than CHANGE_BATCH. */
  #batch: NodeJS.Timeout | null = null;

  constructor(
    server: FramecastServer,
    nc: NatsConnection,
    catalog: AnnouncedStreams,
    explicit: readonly string[] | null,
    notify: (n: FollowerNotice) => void = () => {},
    ports: LegacyPortPlan | null = null,
  ) {
    this.#ports = ports;
    this.#server = server;
    this.#catalog = catalog;
    this.#explicit = explicit;
    this.#notify = notify;
    this.#queue = this.ready = this.#reconcile().catch(this.#failed);
    // Forgets origins silent for forgetAfterMs even when no other origin announces anything, but not
    // while the edge itself is cut off from the bus (it hears no one then).
    this.#forget = setInterval(() => this.#connected && this.schedule(), ANNOUNCE_MS);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.#connected = false;
        else if (s.type === 'reconnect') {
          catalog.resume(Date.now());
          this.#connected = true;
        }
      }
    })().catch(() => undefined);
  }

  /** Something was heard: apply it after the change in progress (at most one more waits). */
  schedule(): void {
    if (this.#queued || this.#closed) return;
    this.#queued = true;
    // Each link catches: one failed change must not stop the edge from following later ones.
    this.#queue = this.#queue
      .then(() => {
        this.#queued = false;
        return this.#reconcile();
      })
      .catch(this.#failed);
  }

  readonly #failed = (err: unknown): void => {
    this.#queued = false;
    if (!this.#closed) this.#notify({ kind: 'error', err });
  };

  /** Stops following; resolves once a change in progress is applied. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#forget);
    if (this.#batch) clearTimeout(this.#batch);
    this.#batch = null;
    await this.#queue;
  }

  async #reconcile(): Promise<void> {
    if (this.#closed) return;
    const served = this.#catalog.streams(Date.now());
    const next: ResolvedStreamConfig[] = [];
    let changed = false;
    this.#ports?.begin(this.#server.address().port);
    // A named stream no origin lists now keeps its port, as its digest (below).
    const portOf = (name: string, digest: TokenDigest | null, had: number | null): number | null =>
      !served.has(name)
        ? (this.#ports?.hold(had) ?? null)
        : (this.#ports?.pick(name, this.#catalog.legacyPort(name), digest) ?? null);
    let removed = 0;
    let added = 0;
    let more = false;
    let removing = false;
    for (const s of this.#server.streams.list()) {
      if (!this.#explicit && !served.has(s.name)) {
        if (removed < CHANGE_BATCH) {
          removed++;
          changed = true;
          continue;
        }
        // Removed in a later batch: kept as it is until then.
        more = removing = true;
        next.push(s.config);
        continue;
      }
      // A named stream no origin lists now keeps what it had (null included: `??` would lock a stream
      // that was open, restarting it when its origin is forgotten); undefined: never set.
      const had = s.config.readTokenDigest;
      const digest = served.has(s.name)
        ? (served.get(s.name) ?? null)
        : had === undefined
          ? this.#catalog.locked
          : had;
      const legacyPort = portOf(s.name, digest, s.config.legacyPort);
      if (sameDigest(had ?? null, digest) && legacyPort === s.config.legacyPort) next.push(s.config);
      else {
        next.push({ ...s.config, readTokenDigest: digest, legacyPort });
        changed = true;
      }
    }
    let refused = 0;
    if (!this.#explicit)
      for (const [n, digest] of served)
        if (!this.#server.streams.get(n)) {
          // Streams already served stay; new ones beyond the cap wait for room.
          if (next.length >= MAX_STREAMS) {
            refused++;
            continue;
          }
          if (added >= CHANGE_BATCH) {
            more = true;
            continue;
          }
          added++;
          const { name, ...c } = edgeStreamConfig(n);
          next.push({
            ...resolveStreamConfig(name, c, streamDefaults(this.#server.options)),
            readTokenDigest: digest,
            legacyPort: portOf(n, digest, null),
          });
          changed = true;
        }
    // Not while removals wait for their batch: those make room.
    if (!removing) {
      if (refused > 0 && !this.#refused) this.#notify({ kind: 'too-many', refused, max: MAX_STREAMS });
      this.#refused = refused > 0;
    } else if (refused > 0) more = true;
    this.#ports?.keep(new Set(next.map((c) => c.name)));
    if (more && !this.#batch)
      this.#batch = setTimeout(() => {
        this.#batch = null;
        this.schedule();
      }, BATCH_PAUSE_MS);
    // The server needs a stream: with every origin forgotten, the last streams stay (in no-signal).
    if (!changed || next.length === 0) return;
    // Fails only when the server is closing (publisher streams open without I/O): nothing to do then.
    await this.#server.applyStreams(next).catch(() => undefined);
  }
}
