import { createHmac } from 'node:crypto';
import { STREAM_NAME } from '../streams/stream-options.js';
import { tokenDigest, type TokenDigest } from '../util/token.js';
import type { Subjects } from './bus.js';

/**
 * What an origin announces on PREFIX.streams (docs/PROTOCOL.md, "Bus"): its timing, the message's
 * shape and its parser, which takes a peer's bytes and keeps only what is well-formed.
 */

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
  /** Set when the stream has a seed-only TCP port on the origin (1-65535): the port it listens on. */
  legacyPort?: number;
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

/** A valid TCP port, or undefined (absent, or a peer's bad value: the stream is served without it). */
const portOf = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined;

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
    const legacyPort = portOf((s as { legacyPort?: unknown }).legacyPort);
    streams.push({
      name: s.name,
      width: size(s.width),
      height: size(s.height),
      ...(digest ? { readTokenDigest: digest } : {}),
      ...(legacyPort !== undefined ? { legacyPort } : {}),
    });
  }
  const instance = typeof v.instance === 'string' ? v.instance : v.origin;
  return { origin: v.origin, instance, streams };
}
