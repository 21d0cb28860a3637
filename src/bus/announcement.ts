import { randomUUID } from 'node:crypto';
import { tokenDigest, type TokenDigest } from '../util/token.js';
import { FORGET_AFTER_MS, STALE_MS, type Announcement } from './announcement-message.js';

export {
  ANNOUNCE_MS,
  FORGET_AFTER_MS,
  STALE_MS,
  announcedDigest,
  askSubject,
  parseAnnouncement,
  type AnnouncedStream,
  type Announcement,
} from './announcement-message.js';

/** At most this many instances are kept (a peer inventing instance ids cannot grow an edge's memory). */
export const MAX_INSTANCES = 256;

/** At most this many streams per announcement, and per edge (each one is a stream and a subscription). */
export const MAX_STREAMS = 1000;

/** At most this many streams' digests are pinned on an edge without a bus secret (see AnnouncedStreams). */
export const MAX_PINS = 16 * MAX_STREAMS;

/** Something an edge should log about what it hears (each reported once, until it clears). */
export type AnnouncementNotice =
  | { kind: 'conflict'; stream: string; origins: string[]; forGood?: boolean }
  | { kind: 'unprotected'; stream: string; origins: string[] }
  | { kind: 'instances'; origin: string; max: number }
  | { kind: 'streams'; origin: string; announced: number; max: number }
  | { kind: 'kept'; stream: string }
  | { kind: 'kept-port'; stream: string; port: number | null };

/** One line for a log, naming what was refused or kept closed and why. */
export function noticeText(n: AnnouncementNotice): string {
  switch (n.kind) {
    case 'conflict':
      return `stream ${n.stream}: origins ${n.origins.join(', ')} announce different read tokens; closed to viewers without this edge's --token ${n.forGood ? 'until the edge restarts (no bus secret: it cannot tell which is the origin)' : 'until they agree'}`;
    case 'unprotected':
      return `stream ${n.stream}: origin ${n.origins.join(', ')} announces it without a read token while another announces one; the read token stays`;
    case 'instances':
      return `bus: more than ${n.max} origin processes announce; origin ${n.origin}'s new process is ignored until one is forgotten`;
    case 'streams':
      return `bus: origin ${n.origin} announces ${n.announced} streams; only the first ${n.max} are taken`;
    case 'kept-port':
      return `stream ${n.stream}: announced on the bus with another seed port; the edge keeps ${n.port === null ? 'none' : `port ${n.port}`} (without a bus secret it cannot tell an origin from any peer: restart the edge to take a changed legacyPort)`;
    case 'kept':
      return `stream ${n.stream}: announced on the bus without its read token, or with another; it stays closed (without a bus secret an edge cannot tell an origin from any peer: restart the edge to take a removed or changed read token)`;
  }
}

interface Heard {
  origin: string;
  /** The announcement taken (the same object again: nothing changed). */
  source: Announcement;
  at: number;
  streams: Map<string, TokenDigest | null>;
  /** The legacy ports it announces, by stream. */
  ports: Map<string, number>;
  /** Its announcement listed more than MAX_STREAMS (reported). */
  truncated: boolean;
}

const sameDigest = (a: TokenDigest, b: TokenDigest): boolean => a.salt === b.salt && a.sha256 === b.sha256;

/**
 * What the origins on the bus serve, as an edge hears it. A stream is served while some origin
 * process's latest announcement lists it. An origin's list is dropped when that origin (the same
 * process) announces without the stream, when it is stale and another process of the same origin
 * name announces (the origin was restarted), or after `forgetAfterMs` of silence (it died).
 *
 * Read tokens fail closed: while any kept process announces a digest for a stream, the stream keeps
 * one (a peer announcing it without a digest cannot open it), and when kept processes announce
 * different digests the stream gets `locked`, a digest nobody knows, which stays the same while they
 * disagree (so the stream is not restarted on each announcement). Without a bus secret (not
 * `trusted`) a peer can also announce as the origin's own process, so digests are pinned: see #pinned.
 */
export class AnnouncedStreams {
  /** A digest of a token nobody is told: only the edge's own token opens a stream that has it. */
  readonly locked = tokenDigest(randomUUID(), randomUUID().replaceAll('-', ''));
  readonly #heard = new Map<string, Heard>();
  readonly #forgetAfterMs: number;
  readonly #notify: (n: AnnouncementNotice) => void;
  /** Notices reported and not cleared since (kind and stream), so that each is reported once. */
  readonly #reported = new Set<string>();
  /** Each served stream's legacy port, as of the last streams() call. */
  #ports = new Map<string, number>();
  /**
   * Untrusted announcements only (no bus secret): the digest each stream was first served with, or
   * `locked` once anything contradicted it. Kept after the stream goes, so that removing it and
   * announcing it again without a digest opens nothing either.
   */
  readonly #pins: Map<string, TokenDigest> | null;
  /** Untrusted only: the legacy port (or none) each stream was first served with, which stays. */
  readonly #portPins = new Map<string, number | null>();

  /**
   * `trusted`: announcements are signed by holders of the bus secret (checked before take()), so a
   * changed or removed read token is the origin's own change and applies; otherwise digests are
   * pinned (see streams()).
   */
  constructor(
    forgetAfterMs = FORGET_AFTER_MS,
    notify: (n: AnnouncementNotice) => void = () => {},
    opts: { trusted?: boolean } = {},
  ) {
    this.#forgetAfterMs = forgetAfterMs;
    this.#notify = notify;
    this.#pins = opts.trusted ? null : new Map();
  }

  /**
   * Takes an announcement heard at `now`; a new process beyond MAX_INSTANCES is ignored. False when
   * the served streams cannot have changed: the same announcement object as the process's last one
   * (AnnouncementGate hands out one object per identical payload) only refreshes its time.
   */
  take(a: Announcement, now: number): boolean {
    let changed = false;
    for (const [instance, h] of this.#heard)
      if (
        now - h.at > this.#forgetAfterMs ||
        (instance !== a.instance && h.origin === a.origin && now - h.at > STALE_MS)
      ) {
        this.#heard.delete(instance);
        changed = true;
      }
    const prev = this.#heard.get(a.instance);
    if (!prev && this.#heard.size >= MAX_INSTANCES) {
      this.#once('instances', { kind: 'instances', origin: a.origin, max: MAX_INSTANCES });
      return changed;
    }
    if (prev?.source === a) {
      prev.at = Math.max(prev.at, now);
      return changed;
    }
    if (this.#heard.size < MAX_INSTANCES / 2) this.#reported.delete('instances');
    const truncated = a.streams.length > MAX_STREAMS;
    // Once per process (and again if it comes back to an oversized list after a normal one).
    if (truncated && !this.#heard.get(a.instance)?.truncated)
      this.#notify({ kind: 'streams', origin: a.origin, announced: a.streams.length, max: MAX_STREAMS });
    const streams = new Map(
      a.streams.slice(0, MAX_STREAMS).map((s) => [s.name, s.readTokenDigest ?? null] as const),
    );
    const ports = new Map(
      a.streams.slice(0, MAX_STREAMS).flatMap((s) => (s.legacyPort ? [[s.name, s.legacyPort] as const] : [])),
    );
    this.#heard.set(a.instance, { origin: a.origin, source: a, at: now, streams, ports, truncated });
    return true;
  }

  /**
   * The edge was cut off from the bus and is back at `now`: it could hear no one meanwhile, so every
   * origin's silence counts from now (an edge's own outage removes nothing).
   */
  resume(now: number): void {
    for (const h of this.#heard.values()) h.at = Math.max(h.at, now);
  }

  /** Every stream served on the bus at `now`, with its readToken digest (null: none; `locked`). */
  streams(now: number): Map<string, TokenDigest | null> {
    const all = new Map<string, { origin: string; digest: TokenDigest | null }[]>();
    for (const [instance, h] of this.#heard) {
      if (now - h.at > this.#forgetAfterMs) {
        this.#heard.delete(instance);
        continue;
      }
      for (const [name, digest] of h.streams) {
        const list = all.get(name) ?? [];
        list.push({ origin: h.origin, digest });
        all.set(name, list);
      }
    }
    const out = new Map<string, TokenDigest | null>();
    // Origins that disagree on a stream's legacy port: the lowest wins, the same on every edge.
    const ports = new Map<string, number>();
    for (const h of this.#heard.values())
      for (const [name, port] of h.ports) ports.set(name, Math.min(port, ports.get(name) ?? port));
    if (this.#pins !== null) this.#pinPorts(all, ports);
    this.#ports = ports;
    const conflicts = new Set<string>();
    for (const [name, list] of all) {
      const digests = list.flatMap((x) => (x.digest ? [x.digest] : []));
      const first = digests[0] ?? null;
      if (first && digests.some((d) => !sameDigest(d, first))) {
        conflicts.add(`conflict\0${name}`);
        const origins = [...new Set(list.map((x) => x.origin))].sort();
        this.#once(`conflict\0${name}`, {
          kind: 'conflict',
          stream: name,
          origins,
          ...(this.#pins ? { forGood: true } : {}),
        });
        out.set(name, this.#pinned(name, this.locked));
        continue;
      }
      if (first && digests.length < list.length) {
        conflicts.add(`unprotected\0${name}`);
        const origins = [...new Set(list.filter((x) => !x.digest).map((x) => x.origin))].sort();
        this.#once(`unprotected\0${name}`, { kind: 'unprotected', stream: name, origins });
      }
      out.set(name, this.#pinned(name, first));
    }
    // A disagreement that cleared is reported again if it comes back; not when untrusted, where a
    // peer flipping its announcement would otherwise log on each flip (the stream stays closed).
    if (this.#pins === null)
      for (const key of this.#reported)
        if (key !== 'instances' && !conflicts.has(key)) this.#reported.delete(key);
    if (this.#reported.size > MAX_PINS) this.#reported.clear();
    return out;
  }

  /**
   * Without a bus secret any peer can announce as any origin process, so a stream's digest can only
   * be taken once: the first digest a stream is served with stays (an announcement without one does
   * not open it), and a different one locks it for good (a peer's token does not open it, and
   * flipping does not restart it: its viewers stay). Restarting the edge forgets the pins.
   */
  #pinned(name: string, digest: TokenDigest | null): TokenDigest | null {
    const pins = this.#pins;
    if (pins === null) return digest;
    const pin = pins.get(name);
    if (pin === undefined) {
      if (digest !== null) this.#pin(name, digest);
      return digest;
    }
    if (digest !== null && sameDigest(digest, pin)) return pin;
    // A disagreement between kept processes is reported as such (conflict), once.
    if (digest !== this.locked) this.#once(`kept\0${name}`, { kind: 'kept', stream: name });
    if (digest !== null && pin !== this.locked) this.#pin(name, this.locked);
    return pins.get(name) ?? pin;
  }

  /**
   * Untrusted only: a peer announcing a stream with and without a legacy port (or another one) would
   * restart it on each flip, ending its viewers. The port (or none) a stream is first served with
   * stays until the edge restarts; another is reported once.
   */
  #pinPorts(served: ReadonlyMap<string, unknown>, ports: Map<string, number>): void {
    for (const name of served.keys()) {
      const port = ports.get(name) ?? null;
      if (!this.#portPins.has(name)) {
        this.#portPins.set(name, port);
        // Bounded as the digests' pins: the oldest of a stream not served now gives way.
        if (this.#portPins.size > MAX_PINS)
          for (const old of this.#portPins.keys())
            if (!served.has(old)) {
              this.#portPins.delete(old);
              break;
            }
        continue;
      }
      const pin = this.#portPins.get(name) ?? null;
      if (pin === port) continue;
      this.#once(`kept-port\0${name}`, { kind: 'kept-port', stream: name, port: pin });
      if (pin === null) ports.delete(name);
      else ports.set(name, pin);
    }
  }

  #pin(name: string, digest: TokenDigest): void {
    const pins = this.#pins;
    if (pins === null) return;
    pins.delete(name);
    pins.set(name, digest);
    // Bounded: the oldest pins of streams not served now give way (a peer inventing names with
    // digests cannot grow an edge's memory); a served stream's pin is never dropped.
    if (pins.size <= MAX_PINS) return;
    for (const old of pins.keys()) {
      if (pins.size <= MAX_PINS) break;
      if (!this.#heardNow(old)) pins.delete(old);
    }
  }

  #heardNow(name: string): boolean {
    for (const h of this.#heard.values()) if (h.streams.has(name)) return true;
    return false;
  }

  /**
   * The legacy port origins announce for a stream, as of the last streams() call (the lowest when they
   * differ), or null when none does.
   */
  legacyPort(stream: string): number | null {
    return this.#ports.get(stream) ?? null;
  }

  #once(key: string, n: AnnouncementNotice): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#notify(n);
  }
}
