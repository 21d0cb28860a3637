import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AnnouncedStreams,
  askSubject,
  FORGET_AFTER_MS,
  MAX_STREAMS,
  noticeText,
  STALE_MS,
  type AnnouncementNotice,
} from '../bus/announcement.js';
import { connectBus, Subjects, watchBus, type BusOptions } from '../bus/bus.js';
import { BusFeed } from '../bus/bus-feed.js';
import { AnnouncementGate } from '../bus/announcement-gate.js';
import { BusVerifier, dropText, type BusDropKind } from '../bus/bus-sign.js';
import { RemoteRecordings } from '../bus/remote-recordings.js';
import { FramecastError } from '../errors.js';
import { serve, type ServeOptions } from './serve.js';
import type { FramecastServer } from './framecast-server.js';
import { bindFailure, checkLegacyPorts, LegacyPortPlan, type LegacyPorts } from './edge-legacy-ports.js';
import { AnnouncementFollower, firstStreamConfigs, type FollowerNotice } from './edge-streams.js';
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
export interface EdgeOptions extends Omit<
  ServeOptions,
  'streams' | 'source' | 'producer' | 'publisher' | 'recordingsFrom'
> {
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
  /**
   * Which seed-only ports to open for streams whose origin has one (its legacyPort): `'same'` port
   * numbers (default), `'off'`, or `{ offset: N }` (the origin's port + N; several edges, or an edge
   * beside its origin, on one host). A port the edge cannot have is a notice; the stream is served.
   */
  legacyPorts?: LegacyPorts;
  /**
   * Told what the edge refuses or keeps closed (origins that disagree on a read token, streams or
   * origin processes beyond the caps, a change that failed). Default: a process warning.
   */
  onNotice?: (notice: EdgeNotice) => void;
}

/** Something an edge reports about what it hears on the bus: one line, and what it is about. */
export interface EdgeNotice {
  kind: AnnouncementNotice['kind'] | 'too-many' | 'error' | 'legacy-port' | BusDropKind;
  message: string;
  /** The stream it is about, or null. */
  stream: string | null;
}

function followerNotice(n: FollowerNotice): EdgeNotice {
  return n.kind === 'error'
    ? {
        kind: 'error',
        message: `edge: applying the announced streams failed: ${n.err instanceof Error ? n.err.message : String(n.err)}`,
        stream: null,
      }
    : {
        kind: 'too-many',
        message: `edge: ${n.refused} announced stream(s) refused: an edge serves at most ${n.max}`,
        stream: null,
      };
}

/** A running edge: a server whose streams are fed from the bus. */
export interface Edge {
  server: FramecastServer;
  /** The bus connection (`bus.getServer()` is the NATS server it is on now). */
  bus: NatsConnection;
  /** The same as `server.close()`: either one stops the bus connection, timers and feeds too. */
  close(): Promise<void>;
  /** With a bus secret: messages dropped because they did not verify, by kind (all 0 without one). */
  dropped(): Readonly<Record<BusDropKind, number>>;
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
  const legacyPorts = checkLegacyPorts(opts.legacyPorts ?? 'same');
  const explicit = opts.streams?.length ? opts.streams.map((n) => checkStreamName(n)) : null;
  if (explicit && explicit.length > MAX_STREAMS)
    throw new RangeError(`streams: an edge serves at most ${MAX_STREAMS} streams, got ${explicit.length}`);
  const notify =
    opts.onNotice ?? ((n: EdgeNotice): void => process.emitWarning(n.message, { code: 'FRAMECAST_BUS' }));
  const nc = await connectBus({ ...opts.bus, name: opts.bus.name ?? `framecast-edge-${process.pid}` });
  const name = opts.bus.name ?? `edge-${randomUUID().slice(0, 8)}`;
  // With a secret, only what origins holding it signed is taken (an unsigned origin is ignored).
  const secret = opts.bus.secret ?? null;
  const verifier =
    secret === null
      ? null
      : new BusVerifier(secret, (kind, subject) =>
          notify({ kind, message: dropText(kind, subject), stream: null }),
        );
  const catalog = new AnnouncedStreams(
    forgetAfterMs,
    (n) => notify({ kind: n.kind, message: noticeText(n), stream: 'stream' in n ? n.stream : null }),
    { trusted: verifier !== null },
  );
  let heard = (): void => {};
  const gate = new AnnouncementGate(catalog, () => heard());
  const announcements = nc.subscribe(subjects.streams, {
    callback: (err, msg) => {
      if (err) return;
      const signer = verifier ? verifier.verify(msg.subject, msg) : undefined;
      if (signer === null) return;
      const a = gate.parse(msg.data);
      if (!a) return;
      // Signed by one process, the body names it: another's instance would be a forgery.
      if (signer !== undefined && a.instance !== signer) {
        verifier?.drop('forged', msg.subject);
        return;
      }
      gate.offer(a);
    },
  });
  nc.publish(askSubject(subjects));
  const served = (): Map<string, TokenDigest | null> => catalog.streams(Date.now());
  let names: string[];
  try {
    const wait = explicit
      ? waitFor(() => explicit.every((n) => served().has(n)), ASK_WAIT_MS)
      : waitFor(() => served().size > 0, opts.discoverTimeoutMs ?? 10_000);
    heard = wait.poke;
    if (!(await wait.done) && !explicit)
      throw new FramecastError(
        'ERR_CONNECTION',
        `no origin announced any stream on the bus within ${(opts.discoverTimeoutMs ?? 10_000) / 1000} s`,
      );
    names = explicit ?? [...served().keys()].slice(0, MAX_STREAMS);
  } catch (err) {
    gate.close();
    await nc.close();
    throw err;
  }
  const {
    bus: _bus,
    streams: _streams,
    discoverTimeoutMs: _d,
    forgetAfterMs: _f,
    onNotice: _n,
    legacyPorts: _l,
    ...serveOpts
  } = opts;
  // Recordings are the origin's, asked for over the bus (the server is known once serve() returns).
  let streamOf = (_name: string): Stream | null => null;
  const recordings = new RemoteRecordings(nc, subjects, verifier, (n) => streamOf(n));
  const server = await serve({
    ...serveOpts,
    recordingsFrom: recordings,
    // Each stream opens with its read token digest already set: none is open before it applies.
    streams: firstStreamConfigs(names, served(), catalog.locked),
    allowAnonymousPublish: true,
  }).catch(async (err: unknown) => {
    gate.close();
    await nc.close();
    throw err;
  });
  streamOf = (n) => server.streams.get(n) ?? null;
  watchBus(nc, (state, at) => server.emit('bus', state, at));
  const feeds = new Map<Stream, BusFeed>();
  const sayDemand = (s: Stream): void => {
    if (!nc.isClosed())
      nc.publish(subjects.demand(s.name), JSON.stringify({ edge: name, viewers: s.hub.clientCount }));
  };
  // The first viewer should not wait for the next second: say it at once.
  const wire = (s: Stream): void => {
    feeds.set(s, new BusFeed(s, nc, subjects, verifier));
    s.hub.on('admitted', () => sayDemand(s));
  };
  const unwire = (s: Stream): void => {
    feeds.get(s)?.close();
    feeds.delete(s);
  };
  for (const s of server.streams.list()) wire(s);
  server.streams.on('added', wire);
  server.streams.on('removed', unwire);
  const demand = setInterval(() => {
    for (const s of server.streams.list()) if (s.hub.clientCount > 0) sayDemand(s);
  }, 1000);
  const portNotice = (stream: string, port: number, reason: string): void =>
    notify({
      kind: 'legacy-port',
      message: `stream ${stream}: seed TCP port ${port} not opened: ${reason}; the stream is served without it`,
      stream,
    });
  server.on('legacy-failed', (stream, port, err) => portNotice(stream, port, bindFailure(err)));
  const ports = new LegacyPortPlan(
    legacyPorts,
    { tokenRequired: server.options.tokenRequired, allowLegacy: server.options.allowLegacy },
    portNotice,
  );
  const follower = new AnnouncementFollower(
    server,
    nc,
    catalog,
    explicit,
    (n) => notify(followerNotice(n)),
    ports,
  );
  heard = () => follower.schedule();
  // Runs first in server.close(), so closing the server alone leaves nothing running.
  server.onClose(async () => {
    clearInterval(demand);
    heard = () => {};
    gate.close();
    server.streams.off('added', wire);
    server.streams.off('removed', unwire);
    if (!nc.isClosed()) announcements.unsubscribe();
    await follower.close();
    for (const f of feeds.values()) f.close();
    feeds.clear();
    await nc.close();
  });
  await follower.ready;
  const none = { unsigned: 0, forged: 0, replayed: 0, stale: 0 };
  return { server, bus: nc, close: () => server.close(), dropped: () => verifier?.dropped ?? none };
}
