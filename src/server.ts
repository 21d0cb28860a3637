import type { AddressInfo } from 'node:net';
import { SafeEmitter } from './util/safe-emitter.js';
import type { TransmissionEnd } from './hub/hub.js';
import type { Hub } from './hub/hub.js';
import type { SourceDescription, SourceStatus } from './hub/producer.js';
import type { Subscriber, SubscriberStats } from './hub/subscriber.js';
import type { FfmpegLocation } from './source/ffmpeg-path.js';
import type { SourceSpec } from './source/source-spec.js';
import { TcpServer } from './transports/tcp/tcp-server.js';
import type { FramecastError } from './errors.js';
import type { Frame } from './hub/frame.js';
import { createNativeHandshake } from './transports/tcp/native-handshake.js';
import { tokenProblem } from './util/token.js';
import { HttpServer } from './transports/http/http-server.js';
import { IpLimiter } from './transports/ip-limiter.js';
import { watchStalls } from './hub/stall-watch.js';
import { checkTlsCredentials } from './transports/tls-config.js';
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './server-options.js';
import { openStream, type Stream } from './streams/stream.js';
import { StreamRegistry } from './streams/streams.js';
import {
  DEFAULT_STREAM,
  resolveStreamConfig,
  type ResolvedStreamConfig,
  type StreamConfig,
} from './streams/stream-options.js';

export { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './server-options.js';

/** Events of a running server, for logging. `stream` names the stream an event belongs to. */
export interface ServerEvents {
  'transmission-start': [source: SourceDescription, stream: string];
  'transmission-end': [reason: TransmissionEnd, err: FramecastError | null, stream: string];
  client: [sub: Subscriber];
  waiting: [sub: Subscriber, position: number];
  left: [stats: SubscriberStats];
  refused: [address: string, reason: string];
  /** A live source lost or regained its input (the transmission goes on; clients see NO SIGNAL). */
  'source-status': [status: SourceStatus, stream: string];
  /** A client that took no data for longer than the stall timeout was cut. */
  kicked: [stats: SubscriberStats, stalledMs: number];
  /** The dashboard's "End transmission" button (`stopped`: a transmission was running). */
  'web-stop': [address: string, stopped: boolean];
  frame: [frame: Frame, stream: string];
  /** A listener (of this server or of a stream's hub) threw; it was isolated and delivery went on. */
  'listener-error': [event: string, err: unknown];
}

/**
 * A running framecast server: its streams plus the transports that serve them. Created by `serve()`.
 */
export class FramecastServer extends SafeEmitter<ServerEvents> {
  readonly options: ResolvedServeOptions;
  readonly streams: StreamRegistry;
  readonly startedAt = Date.now();
  readonly #tcp: TcpServer;
  readonly #http: HttpServer | null;
  readonly #legacy: Map<string, TcpServer>;
  readonly #unwatch = new Map<Stream, () => void>();
  #closing: Promise<void> | null = null;

  /** @internal use serve() */
  constructor(
    options: ResolvedServeOptions,
    streams: StreamRegistry,
    tcp: TcpServer,
    http: HttpServer | null,
    legacy: Map<string, TcpServer>,
  ) {
    super();
    this.options = options;
    this.streams = streams;
    this.#tcp = tcp;
    this.#http = http;
    this.#legacy = legacy;
    for (const s of streams.list()) this.#watch(s);
    streams.on('added', (s) => this.#watch(s));
    streams.on('removed', (s) => {
      this.#unwatch.get(s)?.();
      this.#unwatch.delete(s);
    });
    for (const t of [tcp, ...legacy.values()]) {
      t.on('client', (s) => this.emit('client', s));
      t.on('refused', (a, r) => this.emit('refused', a, r));
    }
    http?.on('client', (s) => this.emit('client', s));
    http?.on('refused', (a, r) => this.emit('refused', a, r));
    http?.on('stop', (a, stopped) => this.emit('web-stop', a, stopped));
  }

  #watch(stream: Stream): void {
    const { hub, name } = stream;
    hub.on('transmission-start', (s) => this.emit('transmission-start', s, name));
    hub.on('transmission-end', (r, e) => this.emit('transmission-end', r, e, name));
    hub.on('waiting', (s, p) => this.emit('waiting', s, p));
    hub.on('left', (s) => this.emit('left', s));
    hub.on('frame', (f) => this.emit('frame', f, name));
    hub.on('source-status', (s) => this.emit('source-status', s, name));
    hub.on('listener-error', (e, err) => this.emit('listener-error', e, err));
    this.#unwatch.set(
      stream,
      watchStalls(hub, this.options.stallTimeoutMs, (sub, ms) => this.emit('kicked', sub.stats(), ms)),
    );
  }

  /** The default stream (seed clients on the main port, un-prefixed HTTP paths). */
  get defaultStream(): Stream {
    return this.streams.default as Stream;
  }

  /** The default stream's hub. */
  get hub(): Hub {
    return this.defaultStream.hub;
  }

  /** The default stream's source, or null when its frames are published by the program. */
  get spec(): SourceSpec | null {
    return this.defaultStream.spec;
  }

  /** The ffmpeg in use, or null when frames are published by the program. */
  get ffmpeg(): FfmpegLocation | null {
    return this.streams.list().find((s) => s.ffmpeg)?.ffmpeg ?? null;
  }

  /** The HTTP address (MJPEG, WebSocket, pages), or null when HTTP is off. */
  httpAddress(): AddressInfo | null {
    return this.#http?.address() ?? null;
  }

  /** The TCP address the server listens on. */
  address(): AddressInfo {
    return this.#tcp.address();
  }

  /** The seed-only TCP address of a stream (default: the default stream), or null when it has none. */
  legacyAddress(stream?: string): AddressInfo | null {
    return this.#legacy.get(stream ?? this.defaultStream.name)?.address() ?? null;
  }

  /** Ends a stream's current transmission (the 'q' key: every stream): clients are closed cleanly. */
  stopTransmission(stream?: string): boolean {
    if (stream !== undefined) return this.streams.get(stream)?.hub.stopTransmission() ?? false;
    let stopped = false;
    for (const s of this.streams.list()) stopped = s.hub.stopTransmission() || stopped;
    return stopped;
  }

  /** Stops accepting, closes every client after its frame in flight, stops ffmpeg. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#http?.setReady(false);
      for (const stop of this.#unwatch.values()) stop();
      this.streams.close();
      await Promise.all([
        this.#tcp.close(),
        ...[...this.#legacy.values()].map((t) => t.close()),
        this.#http?.close(),
      ]);
    })();
    return this.#closing;
  }
}

/** The top-level stream settings, which every named stream takes unless it sets its own. */
function streamDefaults(opts: ResolvedServeOptions): Omit<StreamConfig, 'source'> {
  return {
    width: opts.width,
    quality: opts.quality,
    encoder: opts.encoder,
    pace: opts.pace,
    fps: opts.fps,
    loop: opts.loop,
    retryDelayMs: opts.retryDelayMs,
    maxClients: opts.maxClients,
    maxWaiting: opts.maxWaiting,
    preload: opts.preload,
  };
}

/** The streams `serve()` was asked for, resolved and checked (RangeError on a bad value). */
export function resolveStreams(opts: ResolvedServeOptions, options: ServeOptions): ResolvedStreamConfig[] {
  const defaults = streamDefaults(opts);
  const list = options.streams?.length
    ? options.streams.map(({ name, ...config }) => resolveStreamConfig(name, config, defaults))
    : [resolveStreamConfig(DEFAULT_STREAM, { source: opts.source, legacyPort: opts.legacyPort }, defaults)];
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const s of list) {
    if (names.has(s.name)) throw new RangeError(`streams: ${s.name} is given twice`);
    names.add(s.name);
    if (s.legacyPort !== null && s.legacyPort !== 0) {
      if (ports.has(s.legacyPort) || s.legacyPort === opts.port)
        throw new RangeError(
          `streams: ${s.name}'s legacyPort ${s.legacyPort} is already in use by this server`,
        );
      ports.add(s.legacyPort);
    }
  }
  return list;
}

/** Seed clients cannot present a token: a stream that needs one refuses them unless allowLegacy. */
function refusesSeed(stream: ResolvedStreamConfig, token: string | null, allowLegacy: boolean): boolean {
  return (token !== null || stream.readToken !== null) && !allowLegacy;
}

/**
 * Starts a server: checks every stream's source (a missing or non-video file fails here, before
 * listening), then listens. Each source starts when its first client arrives.
 */
export async function serve(options: ServeOptions = {}): Promise<FramecastServer> {
  const opts = resolveServeOptions(options);
  const tlsCreds = options.tls ?? null;
  if (tlsCreds) checkTlsCredentials(tlsCreds);
  const token = options.token ?? null;
  const problem = token === null ? null : tokenProblem(token);
  if (problem) throw new RangeError(`token: ${problem}`);
  const configs = resolveStreams(opts, options);
  for (const c of configs)
    if (c.legacyPort !== null && refusesSeed(c, token, opts.allowLegacy))
      throw new RangeError(
        `${c.name === DEFAULT_STREAM ? '' : `stream ${c.name}: `}legacyPort serves seed clients, which cannot present a token: set allowLegacy`,
      );
  const producer = options.producer ?? options.publisher?.producer;
  const registry = new StreamRegistry();
  const opened = await Promise.all(configs.map((c, i) => openStream(c, i === 0 ? producer : undefined)));
  for (const s of opened) registry.add(s);
  const first = registry.default as Stream;
  const limiter = new IpLimiter(opts.maxClientsPerIp);
  const tcp = new TcpServer({
    limiter,
    tls: tlsCreds,
    host: opts.host,
    port: opts.port,
    target: () => registry.default,
    // With one stream, its source starts as a connection is accepted (ffmpeg's start overlaps the
    // hello grace); with several, a connection's stream is known only from its hello or silence.
    warmOnAccept: registry.size === 1 && first.spec !== null,
    helloGraceMs: opts.helloGraceMs,
    refuseLegacy: options.refuseLegacy ?? refusesSeed(first.config, token, opts.allowLegacy),
    native:
      options.native ??
      createNativeHandshake({ token, resolve: (n) => registry.get(n), helloTimeoutMs: opts.helloTimeoutMs }),
  });
  const legacy = new Map<string, TcpServer>();
  const closeAll = async (): Promise<void> => {
    registry.close();
    await Promise.all([tcp.close(), ...[...legacy.values()].map((t) => t.close())]);
  };
  await tcp.listen().catch(async (err: unknown) => {
    registry.close();
    throw err;
  });
  for (const s of registry.list()) {
    if (s.config.legacyPort === null) continue;
    const name = s.name;
    const server = new TcpServer({
      limiter,
      tls: tlsCreds,
      host: opts.host,
      port: s.config.legacyPort,
      target: () => registry.get(name),
      helloGraceMs: opts.helloGraceMs,
      legacyOnly: true,
    });
    legacy.set(name, server);
    await server.listen().catch(async (err: unknown) => {
      await closeAll();
      throw err;
    });
  }
  let http: HttpServer | null = null;
  if (opts.httpPort !== null) {
    http = new HttpServer({
      limiter,
      tls: tlsCreds,
      headersTimeoutMs: opts.httpHeadersTimeoutMs,
      requestTimeoutMs: opts.httpRequestTimeoutMs,
      host: opts.host,
      port: opts.httpPort,
      portFallback: options.httpPortFallback ?? false,
      streams: registry,
      token,
      allowOrigin: opts.allowOrigin,
      startedAt: Date.now(),
    });
    try {
      await http.listen();
    } catch (err) {
      await Promise.all([closeAll(), http.close()]);
      throw err;
    }
  }
  const server = new FramecastServer(opts, registry, tcp, http, legacy);
  http?.setReady(true);
  return server;
}
