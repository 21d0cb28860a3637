import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AnnouncedStreams,
  askSubject,
  FORGET_AFTER_MS,
  parseAnnouncement,
  STALE_MS,
} from '../bus/announcement.js';
import { connectBus, Subjects, watchBus, type BusOptions } from '../bus/bus.js';
import { BusFeed } from '../bus/bus-feed.js';
import { FramecastError } from '../errors.js';
import { serve, type ServeOptions } from '../server.js';
import type { FramecastServer } from './framecast-server.js';
import { AnnouncementFollower, edgeStreamConfig } from './edge-streams.js';
import type { Stream } from '../streams/stream.js';
import { checkStreamName } from '../streams/stream-options.js';
import type { TokenDigest } from '../util/token.js';

export { ORIGIN_SILENCE_MS } from '../bus/bus-feed.js';

/**
 * With `--streams`, how long a starting edge waits for the origins to announce them (they answer the
 * edge's ask within milliseconds when they are up); a stream not heard by then is closed to viewers
 * without the edge's own token until an origin announces it.
 */
const ASK_WAIT_MS = 1000;

/** Options of an edge: serve()'s transports and limits, the bus, and which streams to serve. */
export interface EdgeOptions extends Omit<ServeOptions, 'streams' | 'source' | 'producer' | 'publisher'> {
  bus: BusOptions;
  /** Serve these streams only (default: every stream an origin announces). */
  streams?: string[] | null;
  /** How long to wait for a first announcement when no streams are given (default 10 s). */
  discoverTimeoutMs?: number;
  /**
   * How long the streams of an origin that went silent (killed, cut off) stay, in no-signal, before
   * they are removed (default 60 s). An origin that announces without a stream removes it at once.
   */
  forgetAfterMs?: number;
}

/** A running edge: a server whose streams are fed from the bus. */
export interface Edge {
  server: FramecastServer;
  /** The bus connection (`bus.getServer()` is the NATS server it is on now). */
  bus: NatsConnection;
  close(): Promise<void>;
}

/** Resolves when `cond()` holds (checked on each `poke()`), or false after `ms`. */
function waitFor(cond: () => boolean, ms: number): { done: Promise<boolean>; poke: () => void } {
  let poke = (): void => {};
  const done = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(cond()), ms);
    poke = () => {
      if (!cond()) return;
      clearTimeout(timer);
      resolve(true);
    };
  });
  return { done, poke };
}

/** Under STALE_MS a live origin whose announcements a NATS reconnect delayed would lose its streams. */
function checkForgetAfter(ms: number): number {
  if (!Number.isInteger(ms) || ms < STALE_MS || ms > 86_400_000)
    throw new RangeError(`forgetAfterMs must be an integer from ${STALE_MS} to 86400000 (1 day), got ${ms}`);
  return ms;
}

/**
 * Starts an edge: no ffmpeg, no source; every stream an origin announces on the bus (or those
 * named) is served with every transport, latest frame wins per viewer, as on the origin. A stream's
 * readToken comes from the announcement (as a salted digest) and is checked as on the origin; streams
 * no origin announces any more are removed (see docs/PROTOCOL.md, "Bus").
 */
export async function edge(opts: EdgeOptions): Promise<Edge> {
  const subjects = new Subjects(opts.bus.prefix);
  const forgetAfterMs = checkForgetAfter(opts.forgetAfterMs ?? FORGET_AFTER_MS);
  const explicit = opts.streams?.length ? opts.streams.map((n) => checkStreamName(n)) : null;
  const nc = await connectBus({ ...opts.bus, name: opts.bus.name ?? `framecast-edge-${process.pid}` });
  const name = opts.bus.name ?? `edge-${randomUUID().slice(0, 8)}`;
  const catalog = new AnnouncedStreams(forgetAfterMs);
  let heard = (): void => {};
  const announcements = nc.subscribe(subjects.streams, {
    callback: (err, msg) => {
      const a = err ? null : parseAnnouncement(msg.data);
      if (!a) return;
      catalog.take(a, Date.now());
      heard();
    },
  });
  nc.publish(askSubject(subjects));
  let names: string[];
  try {
    const served = (): Map<string, TokenDigest | null> => catalog.streams(Date.now());
    const wait = explicit
      ? waitFor(() => explicit.every((n) => served().has(n)), ASK_WAIT_MS)
      : waitFor(() => served().size > 0, opts.discoverTimeoutMs ?? 10_000);
    heard = wait.poke;
    if (!(await wait.done) && !explicit)
      throw new FramecastError(
        'ERR_CONNECTION',
        `no origin announced any stream on the bus within ${(opts.discoverTimeoutMs ?? 10_000) / 1000} s`,
      );
    names = explicit ?? [...served().keys()];
  } catch (err) {
    await nc.close();
    throw err;
  }
  const { bus: _bus, streams: _streams, discoverTimeoutMs: _d, forgetAfterMs: _f, ...serveOpts } = opts;
  const server = await serve({
    ...serveOpts,
    streams: names.map(edgeStreamConfig),
    allowAnonymousPublish: true,
  }).catch(async (err: unknown) => {
    await nc.close();
    throw err;
  });
  watchBus(nc, (state, at) => server.emit('bus', state, at));
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

  const follower = new AnnouncementFollower(server, nc, catalog, explicit);
  heard = () => follower.schedule();
  await follower.ready;
  let closing: Promise<void> | null = null;
  return {
    server,
    bus: nc,
    close: () =>
      (closing ??= (async () => {
        clearInterval(demand);
        heard = () => {};
        if (!nc.isClosed()) announcements.unsubscribe();
        await follower.close();
        for (const f of feeds.values()) f.close();
        await server.close();
        await nc.close();
      })()),
  };
}
