import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { AddressInfo } from 'node:net';
import type { StreamRegistry } from '../streams/streams.js';
import type { EndReason } from '../hub/subscriber.js';
import type { Stream } from '../streams/stream.js';
import type { Subjects } from './bus.js';
import { BusSubscriber, type BusLink } from './bus-subscriber.js';
import { BusSigner } from './bus-sign.js';
import { OriginRecordings, type RecordingsSource } from './origin-recordings.js';
import {
  ANNOUNCE_MS,
  announcedDigest,
  askSubject,
  type AnnouncedStream,
  type Announcement,
} from './announcement.js';

export { ANNOUNCE_MS } from './announcement.js';

/** What an origin needs of the server it publishes: its streams and their seed ports (a FramecastServer is one). */
export interface OriginHost {
  readonly streams: StreamRegistry;
  /** The seed-only TCP address of a stream, or null when it has none. */
  legacyAddress(stream: string): AddressInfo | null;
  /** Its recordings, which edges may ask for (read at each request), or null. */
  readonly recordings?: RecordingsSource | null;
}

/** An edge's demand counts for this long after its last message (edges repeat it every second). */
export const DEMAND_TTL_MS = 3000;

/**
 * Announcements asked for on PREFIX.streams.ask: at most one per this long (an edge starting up asks
 * once; a peer asking in a loop must not make the origin announce thousands of times a second).
 */
export const ASK_INTERVAL_MS = 250;

/** A stream name that makes valid NATS subjects: STREAM_NAME also allows '..' and a final '.'. */
const SUBJECT_TOKENS = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** A source that failed is started again for the bus no sooner than this (as the hub's preload does). */
const RETRY_AFTER_ERROR_MS = 1000;

/** The viewer count in a demand message (0 when it is not one). */
function demandOf(data: Uint8Array): number {
  try {
    return Number((JSON.parse(new TextDecoder().decode(data)) as { viewers?: unknown }).viewers) || 0;
  } catch {
    return 0;
  }
}

/**
 * Makes a server an origin: it announces its streams on the bus, and publishes a stream's frames
 * while edges ask for them (their demand), starting the source for them as a local viewer would.
 */
export class BusOrigin {
  readonly #server: OriginHost;
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #name: string;
  readonly #link: BusLink;
  /** Stream name -> when its demand expires; only names this origin serves, pruned when expired. */
  readonly #demand = new Map<string, number>();
  readonly #subs = new Map<Stream, BusSubscriber>();
  /** A stream whose transmission failed: not started again for the bus before this time. */
  readonly #retryAt = new Map<Stream, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #sub: Subscription;
  readonly #asked: Subscription;
  readonly #offStreams: () => void;
  /** Tells this process from an earlier one of the same name (a restarted origin). */
  readonly #instance = randomUUID();
  #up = true;
  #announceSoon: NodeJS.Immediate | null = null;
  #askTimer: NodeJS.Timeout | null = null;
  #askedAt = 0;
  readonly #warned = new Set<string>();
  #closed = false;

  readonly #signer: BusSigner | null;
  readonly #recordings: OriginRecordings;

  /** `secret`: the bus secret, with which announcements, status messages and frames are signed. */
  constructor(
    server: OriginHost,
    nc: NatsConnection,
    subjects: Subjects,
    name: string,
    secret: string | null = null,
  ) {
    this.#server = server;
    this.#nc = nc;
    this.#subjects = subjects;
    this.#name = name;
    this.#signer = secret === null ? null : new BusSigner(secret, this.#instance);
    this.#link = { nc, subjects, instance: this.#instance, up: () => this.#up, signer: this.#signer };
    this.#sub = nc.subscribe(subjects.anyDemand, {
      callback: (err, msg) => {
        if (err) return;
        const name = subjects.demandStream(msg.subject);
        const stream = name === null ? undefined : server.streams.get(name);
        if (!stream || demandOf(msg.data) <= 0) return;
        this.#demand.set(stream.name, Date.now() + DEMAND_TTL_MS);
        this.#tickStream(stream, Date.now());
      },
    });
    this.#asked = nc.subscribe(askSubject(subjects), { callback: () => this.#askedToAnnounce() });
    this.#recordings = new OriginRecordings(nc, subjects, this.#link, server);
    this.#watchConnection();
    const removed = (s: Stream): void => {
      this.#subs.delete(s);
      this.#retryAt.delete(s);
      this.#changed();
    };
    const added = (): void => this.#changed();
    server.streams.on('removed', removed);
    server.streams.on('added', added);
    this.#offStreams = () => {
      server.streams.off('removed', removed);
      server.streams.off('added', added);
    };
    this.#timers.push(
      setInterval(() => this.#tick(), 500),
      setInterval(() => this.announce(), ANNOUNCE_MS),
    );
    for (const t of this.#timers) t.unref();
    this.announce();
  }

  /** The origin process's id on the bus (announcement `instance`, `Framecast-Origin` of frame parts). */
  get instance(): string {
    return this.#instance;
  }

  /**
   * Publishes the list of this origin's streams (a readToken as its salted digest, never itself). A
   * list larger than the NATS server's max_payload is cut to the streams that fit, with one warning:
   * the others are not served on edges (1 MB holds about 4,000 streams with 64-character names).
   */
  announce(): void {
    if (this.#nc.isClosed() || !this.#up) return;
    const all = this.#server.streams.list();
    const listed = all.filter((s) => SUBJECT_TOKENS.test(s.name));
    if (listed.length < all.length)
      this.#warnOnce(
        'badName',
        `bus: not announcing ${all.length - listed.length} stream(s) whose names hold '..' or end with '.' ` +
          `(not valid in a NATS subject, so no edge could get their frames), e.g. '${all.find((s) => !SUBJECT_TOKENS.test(s.name))?.name}'`,
      );
    const streams: AnnouncedStream[] = listed.map((s) => {
      // The port it listens on (legacyPort 0 picks one), else the one configured: a restarted stream
      // reopens its port after the registry's 'added' that triggers this announcement.
      const legacyPort = this.#server.legacyAddress(s.name)?.port ?? (s.config.legacyPort || undefined);
      return {
        name: s.name,
        width: s.hub.source?.width ?? null,
        height: s.hub.source?.height ?? null,
        ...(s.config.readToken !== null
          ? { readTokenDigest: announcedDigest(s.name, s.config.readToken) }
          : {}),
        ...(legacyPort !== undefined ? { legacyPort } : {}),
      };
    });
    const a: Announcement = { origin: this.#name, instance: this.#instance, streams };
    const max = this.#nc.info?.max_payload ?? 1024 * 1024;
    let data = JSON.stringify(a);
    if (Buffer.byteLength(data) > max) {
      const total = streams.length;
      let size = Buffer.byteLength(JSON.stringify({ ...a, streams: [] }));
      let fit = 0;
      // Each stream adds its JSON, and a comma before it unless it is the first.
      while (
        fit < total &&
        (size += Buffer.byteLength(JSON.stringify(streams[fit])) + (fit > 0 ? 1 : 0)) <= max
      )
        fit++;
      data = JSON.stringify({ ...a, streams: streams.slice(0, fit) });
      this.#warnOnce(
        'tooLarge',
        `bus: the list of ${total} streams is over the NATS server's max_payload of ${max} bytes; ` +
          `announcing the first ${fit} (edges do not serve the other ${total - fit}); raise max_payload or use fewer streams`,
      );
    }
    try {
      const subject = this.#subjects.streams;
      const bytes = Buffer.from(data);
      if (this.#signer) this.#nc.publish(subject, bytes, { headers: this.#signer.sign(subject, bytes) });
      else this.#nc.publish(subject, bytes);
    } catch (err) {
      // Called from timers: a throw here would end the process. Closing, or max_payload lowered since.
      this.#warnOnce('publish', `bus: could not announce the streams: ${(err as Error).message}`);
    }
  }

  /** One process warning per kind of announcement problem: they repeat every 2 s otherwise. */
  #warnOnce(kind: string, message: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    process.emitWarning(message, { code: 'FRAMECAST_BUS_ANNOUNCE' });
  }

  /** Tracks the connection: while it is down nothing is published (nats.js would buffer it all). */
  #watchConnection(): void {
    void (async () => {
      for await (const s of this.#nc.status()) {
        if (s.type === 'disconnect') this.#up = false;
        else if (s.type === 'reconnect') {
          this.#up = true;
          this.#changed();
        }
      }
    })().catch(() => undefined);
  }

  /**
   * A stream added, changed or removed: edges hear it at once rather than up to 2 s later. One
   * announcement after the whole change (a restart is 'removed' then 'added' in the same tick).
   */
  #changed(): void {
    if (this.#closed) return;
    this.#announceSoon ??= setImmediate(() => {
      this.#announceSoon = null;
      this.announce();
    });
  }

  /** An ask on PREFIX.streams.ask: announce at once, or once when ASK_INTERVAL_MS has passed. */
  #askedToAnnounce(): void {
    if (this.#closed || this.#askTimer) return;
    const wait = Math.max(0, this.#askedAt + ASK_INTERVAL_MS - Date.now());
    this.#askTimer = setTimeout(() => {
      this.#askTimer = null;
      this.#askedAt = Date.now();
      if (!this.#closed) this.announce();
    }, wait);
    this.#askTimer.unref();
  }

  #tick(): void {
    const now = Date.now();
    for (const [name, until] of this.#demand) if (until <= now) this.#demand.delete(name);
    for (const stream of this.#server.streams.list()) this.#tickStream(stream, now);
  }

  /** Joins the stream's hub while some edge wants it, leaves it when none does. */
  #tickStream(stream: Stream, now: number): void {
    if (this.#closed) return;
    const wanted = (this.#demand.get(stream.name) ?? 0) > now;
    const sub = this.#subs.get(stream);
    if (wanted && !sub) {
      if ((this.#retryAt.get(stream) ?? 0) > now) return;
      const s: BusSubscriber = new BusSubscriber(this.#link, stream.name, (reason) =>
        this.#ended(stream, s, reason),
      );
      if (stream.hub.join(s)) this.#subs.set(stream, s);
    } else if (!wanted && sub) {
      this.#subs.delete(stream);
      stream.hub.leave(sub);
    }
  }

  /**
   * The hub ended the transmission (end of file, stopped, source error): the bus leaves like a local
   * viewer whose connection closed, and joins again on the next tick while edges still want the
   * stream, so a file plays again from its start for them, as for a new local viewer.
   */
  #ended(stream: Stream, sub: BusSubscriber, reason: EndReason): void {
    if (this.#subs.get(stream) === sub) this.#subs.delete(stream);
    if (reason === 'source-error') this.#retryAt.set(stream, Date.now() + RETRY_AFTER_ERROR_MS);
    else this.#retryAt.delete(stream);
    stream.hub.leave(sub);
  }

  /** Leaves every hub and stops announcing (the connection is closed by its owner). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offStreams();
    this.#recordings.close();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    if (this.#announceSoon) clearImmediate(this.#announceSoon);
    this.#announceSoon = null;
    if (this.#askTimer) clearTimeout(this.#askTimer);
    this.#askTimer = null;
    for (const [stream, sub] of this.#subs) stream.hub.leave(sub);
    this.#subs.clear();
    if (!this.#nc.isClosed()) {
      this.#sub.unsubscribe();
      this.#asked.unsubscribe();
    }
  }
}
