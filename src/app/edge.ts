import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { connectBus, PartAssembler, Subjects, type BusOptions } from '../bus/bus.js';
import { FramecastError } from '../errors.js';
import type { PublisherConnection } from '../ingest/publish/publisher-slot.js';
import { ENVELOPE_BYTES, FRAME_PREFIX_BYTES, MessageType } from '../protocol/native.js';
import { serve, type ServeOptions } from '../server.js';
import type { FramecastServer } from './framecast-server.js';
import type { Stream } from '../streams/stream.js';
import { checkStreamName, PUBLISHER_SOURCE, resolveStreamConfig } from '../streams/stream-options.js';
import { streamDefaults } from '../streams/stream-plan.js';

/**
 * A silent origin for this long (or three frame intervals of a slow stream, if longer) puts the
 * edge's viewers in no-signal: within 2 s of an origin's death at usual frame rates.
 */
export const ORIGIN_SILENCE_MS = 1500;

/** Options of an edge: serve()'s transports and limits, the bus, and which streams to serve. */
export interface EdgeOptions extends Omit<ServeOptions, 'streams' | 'source' | 'producer' | 'publisher'> {
  bus: BusOptions;
  /** Serve these streams only (default: every stream an origin announces). */
  streams?: string[] | null;
  /** How long to wait for a first announcement when no streams are given (default 10 s). */
  discoverTimeoutMs?: number;
}

/** A running edge: a server whose streams are fed from the bus. */
export interface Edge {
  server: FramecastServer;
  close(): Promise<void>;
}

/** Parses a native FRAME message from the bus into what a publisher slot takes; null if it is not one. */
function parseFrameMessage(
  m: Buffer,
): { jpeg: Buffer; width: number; height: number; capturedAt: number } | null {
  if (m.length < FRAME_PREFIX_BYTES || m.readUInt8(0) !== MessageType.Frame) return null;
  const headerLength = m.readUInt16BE(2);
  const bodyLength = m.readUInt32BE(4);
  if (headerLength < 32 || ENVELOPE_BYTES + headerLength + bodyLength !== m.length) return null;
  const h = ENVELOPE_BYTES;
  return {
    width: m.readUInt16BE(h + 4),
    height: m.readUInt16BE(h + 6),
    capturedAt: m.readDoubleBE(h + 8),
    jpeg: m.subarray(ENVELOPE_BYTES + headerLength),
  };
}

/**
 * One stream fed from the bus: the origin's frames go into the stream's publisher slot (as a
 * publisher's would: passed through, no-signal while the origin is silent), and while the stream has
 * viewers here the edge tells the origins so (its demand), once a second.
 */
class BusFeed {
  readonly #stream: Stream;
  readonly #sub: Subscription;
  readonly #conn: PublisherConnection = { address: 'bus', via: 'nats', evict: () => {} };
  readonly #parts = new PartAssembler();
  #silence: NodeJS.Timeout | null = null;
  #lastAt = 0;
  #interval = 0;

  constructor(stream: Stream, nc: NatsConnection, subjects: Subjects) {
    this.#stream = stream;
    this.#sub = nc.subscribe(subjects.frame(stream.name), {
      callback: (err, msg) => {
        if (err) return;
        const whole = this.#parts.push(msg);
        const f = whole ? parseFrameMessage(whole) : null;
        if (f) this.#frame(f);
      },
    });
  }

  #frame(f: { jpeg: Buffer; width: number; height: number; capturedAt: number }): void {
    const slot = this.#stream.ingest;
    if (!slot) return;
    if (slot.current !== this.#conn) slot.claim(this.#conn);
    const now = Date.now();
    slot.frame(this.#conn, { ...f, receivedAt: now });
    if (this.#lastAt > 0) this.#interval = this.#interval * 0.8 + (now - this.#lastAt) * 0.2;
    this.#lastAt = now;
    if (this.#silence) clearTimeout(this.#silence);
    this.#silence = setTimeout(
      () => {
        this.#lastAt = 0;
        this.#interval = 0;
        slot.release(this.#conn, 'no frames from the origin');
      },
      Math.max(ORIGIN_SILENCE_MS, 3 * this.#interval),
    );
  }

  close(): void {
    if (this.#silence) clearTimeout(this.#silence);
    this.#sub.unsubscribe();
  }
}

/** Waits for the first announcement of streams on the bus. */
function discover(nc: NatsConnection, subjects: Subjects, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(
        new FramecastError(
          'ERR_CONNECTION',
          `no origin announced any stream on the bus within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    const sub = nc.subscribe(subjects.streams, {
      callback: (err, msg) => {
        if (err) return;
        const names = announced(msg.data);
        if (names.length === 0) return;
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(names);
      },
    });
  });
}

function announced(data: Uint8Array): string[] {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as { streams?: { name?: unknown }[] };
    return (v.streams ?? [])
      .map((s) => s.name)
      .filter((n): n is string => typeof n === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n));
  } catch {
    return [];
  }
}

/**
 * Starts an edge: no ffmpeg, no source; every stream an origin announces on the bus (or those
 * named) is served with every transport, latest frame wins per viewer, as on the origin.
 */
export async function edge(opts: EdgeOptions): Promise<Edge> {
  const subjects = new Subjects(opts.bus.prefix);
  const nc = await connectBus({ ...opts.bus, name: opts.bus.name ?? `framecast-edge-${process.pid}` });
  const name = opts.bus.name ?? `edge-${randomUUID().slice(0, 8)}`;
  let names: string[];
  try {
    names = opts.streams?.length
      ? opts.streams.map((n) => checkStreamName(n))
      : await discover(nc, subjects, opts.discoverTimeoutMs ?? 10_000);
  } catch (err) {
    await nc.close();
    throw err;
  }
  // Nobody may publish into an edge's streams: their publish token is a secret nobody is told.
  const config = (n: string): { name: string; source: string; publishToken: string } => ({
    name: n,
    source: PUBLISHER_SOURCE,
    publishToken: randomUUID(),
  });
  const { bus: _bus, streams: _streams, discoverTimeoutMs: _d, ...serveOpts } = opts;
  const server = await serve({ ...serveOpts, streams: names.map(config), allowAnonymousPublish: true }).catch(
    async (err: unknown) => {
      await nc.close();
      throw err;
    },
  );
  const feeds = new Map<Stream, BusFeed>();
  const wire = (s: Stream): void => void feeds.set(s, new BusFeed(s, nc, subjects));
  for (const s of server.streams.list()) wire(s);
  server.streams.on('added', wire);
  server.streams.on('removed', (s) => {
    feeds.get(s)?.close();
    feeds.delete(s);
  });
  const sayDemand = (s: Stream): void => {
    if (!nc.isClosed())
      nc.publish(subjects.demand(s.name), JSON.stringify({ edge: name, viewers: s.hub.clientCount }));
  };
  const demand = setInterval(() => {
    for (const s of server.streams.list()) if (s.hub.clientCount > 0) sayDemand(s);
  }, 1000);
  // The first viewer should not wait for the next second: say it at once.
  const onAdmitted = (s: Stream) => (): void => sayDemand(s);
  for (const s of server.streams.list()) s.hub.on('admitted', onAdmitted(s));
  server.streams.on('added', (s) => s.hub.on('admitted', onAdmitted(s)));
  // Streams announced later join (unless a list was given).
  const announcements = opts.streams?.length
    ? null
    : nc.subscribe(subjects.streams, {
        callback: (err, msg) => {
          if (err) return;
          const fresh = announced(msg.data).filter((n) => server.streams.get(n) === null);
          if (fresh.length === 0) return;
          const added = fresh.map((n) => {
            const { name: streamName, ...c } = config(n);
            return resolveStreamConfig(streamName, c, streamDefaults(server.options));
          });
          void server
            .applyStreams([...server.streams.list().map((x) => x.config), ...added])
            .catch(() => undefined);
        },
      });
  let closing: Promise<void> | null = null;
  return {
    server,
    close: () =>
      (closing ??= (async () => {
        clearInterval(demand);
        announcements?.unsubscribe();
        for (const f of feeds.values()) f.close();
        await server.close();
        await nc.close();
      })()),
  };
}
