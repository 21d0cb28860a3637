import { createHmac } from 'node:crypto';
import { STREAM_NAME } from '../streams/stream-options.js';
import { tokenDigest, type TokenDigest } from '../util/token.js';
import type { Subjects } from './bus.js';

/** Origins announce their streams this often (and at once when one is added or removed). */
export const ANNOUNCE_MS = 2000;

/**
 * An origin not heard for this long (three announcements missed, plus half a second of slack) is
 * stale: the announcement of another process of the same origin name then replaces its list. Two
 * announcements lost in a NATS reconnect (250 ms to a few hundred ms) never make a live origin stale.
 */
export const STALE_MS = 3 * ANNOUNCE_MS + 500;

/**
 * A silent origin's streams stay on edges this long by default (their viewers see no-signal and keep
 * their connections), so an origin killed and restarted within a minute resumes them.
 */
export const FORGET_AFTER_MS = 60_000;

/** An origin that gets any message here announces at once: an edge starting up asks, rather than wait 2 s. */
export function askSubject(subjects: Subjects): string {
  return `${subjects.streams}.ask`;
}

/** One stream in an announcement. */
export interface AnnouncedStream {
  name: string;
  width: number | null;
  height: number | null;
  /** Set when the stream has a readToken: its salted digest, never the token. */
  readTokenDigest?: TokenDigest;
}

/** What an origin publishes on PREFIX.streams. */
export interface Announcement {
  /** The origin's name on the bus. */
  origin: string;
  /** Random per origin process: tells a restarted origin from the one that died. */
  instance: string;
  streams: AnnouncedStream[];
}

/**
 * The digest an origin announces for a stream's readToken. The salt is derived from the token and the
 * stream's name (not drawn at random per process) so that an origin restarted with the same token
 * announces the same digest, and edges keep that stream's viewers; a changed token changes the digest.
 */
export function announcedDigest(stream: string, token: string): TokenDigest {
  const salt = createHmac('sha256', token).update(`framecast bus salt\0${stream}`).digest('hex').slice(0, 32);
  return tokenDigest(token, salt);
}

const HEX = (n: [number, number]): RegExp => new RegExp(`^[0-9a-f]{${n[0]},${n[1]}}$`);
const SALT = HEX([16, 128]);
const SHA256 = HEX([64, 64]);

function digestOf(v: unknown): TokenDigest | null | undefined {
  if (v === undefined || v === null) return undefined;
  const d = v as { salt?: unknown; sha256?: unknown };
  if (typeof d.salt !== 'string' || typeof d.sha256 !== 'string') return null;
  return SALT.test(d.salt) && SHA256.test(d.sha256) ? { salt: d.salt, sha256: d.sha256 } : null;
}

const size = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/**
 * Parses an announcement; null when it is not one. A stream with a bad name or a malformed digest is
 * left out (an edge cannot serve it safely); an origin without `instance` (older) counts as one process.
 */
export function parseAnnouncement(data: Uint8Array): Announcement | null {
  let v: { origin?: unknown; instance?: unknown; streams?: unknown };
  try {
    v = JSON.parse(new TextDecoder().decode(data)) as typeof v;
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || !Array.isArray(v.streams) || typeof v.origin !== 'string')
    return null;
  const streams: AnnouncedStream[] = [];
  for (const s of v.streams as { name?: unknown; width?: unknown; height?: unknown }[]) {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || !STREAM_NAME.test(s.name))
      continue;
    const digest = digestOf((s as { readTokenDigest?: unknown }).readTokenDigest);
    if (digest === null) continue;
    streams.push({
      name: s.name,
      width: size(s.width),
      height: size(s.height),
      ...(digest ? { readTokenDigest: digest } : {}),
    });
  }
  const instance = typeof v.instance === 'string' ? v.instance : v.origin;
  return { origin: v.origin, instance, streams };
}

interface Heard {
  origin: string;
  at: number;
  streams: Map<string, TokenDigest | null>;
}

/**
 * What the origins on the bus serve, as an edge hears it. A stream is served while some origin
 * process's latest announcement lists it. An origin's list is dropped when that origin (the same
 * process) announces without the stream, when it is stale and another process of the same origin
 * name announces (the origin was restarted), or after `forgetAfterMs` of silence (it died).
 */
export class AnnouncedStreams {
  readonly #heard = new Map<string, Heard>();
  readonly #forgetAfterMs: number;

  constructor(forgetAfterMs = FORGET_AFTER_MS) {
    this.#forgetAfterMs = forgetAfterMs;
  }

  /** Takes an announcement heard at `now`. */
  take(a: Announcement, now: number): void {
    for (const [instance, h] of this.#heard)
      if (instance !== a.instance && h.origin === a.origin && now - h.at > STALE_MS)
        this.#heard.delete(instance);
    const streams = new Map(a.streams.map((s) => [s.name, s.readTokenDigest ?? null] as const));
    // A newer announcement comes last: the stream's digest is the most recently announced one.
    this.#heard.delete(a.instance);
    this.#heard.set(a.instance, { origin: a.origin, at: now, streams });
  }

  /**
   * The edge was cut off from the bus and is back at `now`: it could hear no one meanwhile, so every
   * origin's silence counts from now (an edge's own outage removes nothing).
   */
  resume(now: number): void {
    for (const h of this.#heard.values()) h.at = Math.max(h.at, now);
  }

  /** Every stream served on the bus at `now`, with its readToken digest (null: none). */
  streams(now: number): Map<string, TokenDigest | null> {
    const out = new Map<string, TokenDigest | null>();
    for (const [instance, h] of this.#heard) {
      if (now - h.at > this.#forgetAfterMs) {
        this.#heard.delete(instance);
        continue;
      }
      for (const [name, digest] of h.streams) out.set(name, digest);
    }
    return out;
  }
}
