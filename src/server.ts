import { SafeEmitter } from './util/safe-emitter.js';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { encoderImplementation, FramePipeline } from './encode/frame-pipeline.js';
import { Hub, type TransmissionEnd } from './hub/hub.js';
import type { SourceDescription, SourceStatus } from './hub/producer.js';
import { ResilientProducer } from './encode/resilient-producer.js';
import type { Subscriber, SubscriberStats } from './hub/subscriber.js';
import { locateFfmpeg, type FfmpegLocation } from './source/ffmpeg-path.js';
import { probeSource } from './source/probe.js';
import { parseSource, TEST_PATTERN, type SourceSpec } from './source/source-spec.js';
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

export { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './server-options.js';

/** Events of a running server, for logging. */
export interface ServerEvents {
  'transmission-start': [source: SourceDescription];
  'transmission-end': [reason: TransmissionEnd, err: FramecastError | null];
  client: [sub: Subscriber];
  waiting: [sub: Subscriber, position: number];
  left: [stats: SubscriberStats];
  refused: [address: string, reason: string];
  /** A live source lost or regained its input (the transmission goes on; clients see NO SIGNAL). */
  'source-status': [status: SourceStatus];
  /** A client that took no data for longer than the stall timeout was cut. */
  kicked: [stats: SubscriberStats, stalledMs: number];
  /** The dashboard's "End transmission" button (`stopped`: a transmission was running). */
  'web-stop': [address: string, stopped: boolean];
  frame: [frame: Frame];
  /** A listener (of this server or its hub) threw; it was isolated and delivery went on. */
  'listener-error': [event: string, err: unknown];
}

/**
 * A running framecast server: the hub plus its transports. Created by `serve()`.
 */
export class FramecastServer extends SafeEmitter<ServerEvents> {
  readonly options: ResolvedServeOptions;
  readonly hub: Hub;
  /** The ffmpeg in use, or null when frames are published by the program. */
  readonly ffmpeg: FfmpegLocation | null;
  readonly spec: SourceSpec | null;
  readonly startedAt = Date.now();
  readonly #tcp: TcpServer;
  readonly #http: HttpServer | null;
  readonly #legacy: TcpServer | null;
  #closing: Promise<void> | null = null;
  #stopStallWatch: () => void = () => {};

  /** @internal use serve() */
  constructor(
    options: ResolvedServeOptions,
    hub: Hub,
    tcp: TcpServer,
    ffmpeg: FfmpegLocation | null,
    spec: SourceSpec | null,
    http: HttpServer | null = null,
    legacy: TcpServer | null = null,
  ) {
    super();
    this.#http = http;
    this.#legacy = legacy;
    this.options = options;
    this.hub = hub;
    this.#tcp = tcp;
    this.ffmpeg = ffmpeg;
    this.spec = spec;
    hub.on('transmission-start', (s) => this.emit('transmission-start', s));
    hub.on('transmission-end', (r, e) => this.emit('transmission-end', r, e));
    hub.on('waiting', (s, p) => this.emit('waiting', s, p));
    hub.on('left', (s) => this.emit('left', s));
    hub.on('frame', (f) => this.emit('frame', f));
    hub.on('source-status', (s) => this.emit('source-status', s));
    hub.on('listener-error', (e, err) => this.emit('listener-error', e, err));
    this.#stopStallWatch = watchStalls(hub, options.stallTimeoutMs, (sub, ms) =>
      this.emit('kicked', sub.stats(), ms),
    );
    tcp.on('client', (s) => this.emit('client', s));
    tcp.on('refused', (a, r) => this.emit('refused', a, r));
    legacy?.on('client', (s) => this.emit('client', s));
    legacy?.on('refused', (a, r) => this.emit('refused', a, r));
    http?.on('client', (s) => this.emit('client', s));
    http?.on('refused', (a, r) => this.emit('refused', a, r));
    http?.on('stop', (a, stopped) => this.emit('web-stop', a, stopped));
  }

  /** The HTTP address (MJPEG, WebSocket, pages), or null when HTTP is off. */
  httpAddress(): AddressInfo | null {
    return this.#http?.address() ?? null;
  }

  /** The seed-only TCP address (--legacy-port), or null when there is none. */
  legacyAddress(): AddressInfo | null {
    return this.#legacy?.address() ?? null;
  }

  /** The TCP address the server listens on. */
  address(): AddressInfo {
    return this.#tcp.address();
  }

  /** Ends the current transmission (the 'q' key): clients are closed cleanly, the server keeps listening. */
  stopTransmission(): boolean {
    return this.hub.stopTransmission();
  }

  /** Stops accepting, closes every client after its frame in flight, stops ffmpeg. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopStallWatch();
      this.hub.close();
      await Promise.all([this.#tcp.close(), this.#legacy?.close(), this.#http?.close()]);
    })();
    return this.#closing;
  }
}

/**
 * Starts a server: checks the source (a missing or non-video file fails here, before listening),
 * then listens. The source itself starts when the first client arrives.
 */
export async function serve(options: ServeOptions = {}): Promise<FramecastServer> {
  const opts = resolveServeOptions(options);
  const tlsCreds = options.tls ?? null;
  if (tlsCreds) checkTlsCredentials(tlsCreds);
  let ffmpeg: FfmpegLocation | null = null;
  let spec: SourceSpec | null = null;
  const token = options.token ?? null;
  const problem = token === null ? null : tokenProblem(token);
  if (problem) throw new RangeError(`token: ${problem}`);
  const refuseLegacy = options.refuseLegacy ?? (token !== null && !opts.allowLegacy);
  if (opts.legacyPort !== null && refuseLegacy)
    throw new RangeError('legacyPort serves seed clients, which cannot present a token: set allowLegacy');
  let createProducer = options.producer ?? options.publisher?.producer;
  if (!createProducer) {
    let s = parseSource(opts.source);
    const f = locateFfmpeg();
    spec = s;
    ffmpeg = f;
    let inputFps: number | null = s.kind === 'test' ? TEST_PATTERN.fps : null;
    if (s.kind === 'file' || (s.kind === 'url' && !s.live)) {
      const probe = await probeSource(f.path, s);
      inputFps = probe.fps;
      // An HTTP URL without a duration is a camera's stream: live (no -re pacing, which would only
      // add lag), and its end is a lost signal, not the end of a file.
      if (s.kind === 'url' && probe.endless) spec = s = { ...s, live: true, finite: false };
    }
    const source = s;
    const concurrency = Math.max(1, Math.min(4, cpus().length));
    createProducer = () =>
      new FramePipeline({
        ffmpeg: f.path,
        spec: source,
        width: opts.width,
        quality: opts.quality,
        encoder: opts.encoder,
        pace: opts.pace,
        loop: opts.loop,
        fps: opts.fps,
        concurrency,
        inputFps,
        audience: (): number => hub.clientCount,
      });
    // Cameras and URLs come back after a failure; files and the test pattern do not.
    if (opts.retryDelayMs > 0 && (s.kind === 'device' || s.kind === 'url')) {
      const pipeline = createProducer;
      const width = opts.width || 800;
      createProducer = () =>
        new ResilientProducer({
          create: pipeline,
          retryDelayMs: opts.retryDelayMs,
          retryOnEnd: source.live,
          fallbackWidth: width,
          fallbackHeight: Math.round((width * 9) / 32) * 2,
          quality: opts.quality,
        });
    }
  }
  const hub = new Hub({
    createProducer,
    maxClients: opts.maxClients,
    maxWaiting: opts.maxWaiting,
    lossless: !opts.pace,
    preload: opts.preload,
    // A file plays from its start for the first client, even though it started during the hello grace.
    holdFirstFrames: !opts.pace || spec?.finite === true,
  });
  const limiter = new IpLimiter(opts.maxClientsPerIp);
  const tcp = new TcpServer({
    limiter,
    tls: tlsCreds,
    host: opts.host,
    port: opts.port,
    hub,
    room: () => opts.maxClients + opts.maxWaiting - hub.clientCount - hub.waitingCount,
    warmOnAccept: spec !== null,
    lossless: !opts.pace,
    helloGraceMs: opts.helloGraceMs,
    refuseLegacy,
    native:
      options.native ??
      createNativeHandshake({
        token,
        lossless: !opts.pace,
        onDrained: () => hub.drained(),
        hasRoom: () => hub.clients.length < opts.maxClients || hub.waitingCount < opts.maxWaiting,
        helloTimeoutMs: opts.helloTimeoutMs,
      }),
  });
  await tcp.listen();
  let legacy: TcpServer | null = null;
  if (opts.legacyPort !== null) {
    legacy = new TcpServer({
      limiter,
      tls: tlsCreds,
      host: opts.host,
      port: opts.legacyPort,
      hub,
      lossless: !opts.pace,
      helloGraceMs: opts.helloGraceMs,
      legacyOnly: true,
    });
    await legacy.listen().catch(async (err: unknown) => {
      hub.close();
      await tcp.close();
      throw err;
    });
  }
  const http =
    opts.httpPort === null ? null : await listenHttp(opts, options, hub, token, [tcp, legacy], limiter);
  return new FramecastServer(opts, hub, tcp, ffmpeg, spec, http, legacy);
}

async function listenHttp(
  opts: ResolvedServeOptions,
  options: ServeOptions,
  hub: Hub,
  token: string | null,
  tcp: (TcpServer | null)[],
  limiter: IpLimiter,
): Promise<HttpServer> {
  const http = new HttpServer({
    limiter,
    tls: options.tls ?? null,
    headersTimeoutMs: opts.httpHeadersTimeoutMs,
    requestTimeoutMs: opts.httpRequestTimeoutMs,
    host: opts.host,
    port: opts.httpPort ?? 0,
    portFallback: options.httpPortFallback ?? false,
    hub,
    lossless: !opts.pace,
    token,
    allowOrigin: opts.allowOrigin,
    encoder: {
      kind: opts.encoder,
      implementation:
        options.publisher || options.producer
          ? 'frames from the publisher'
          : encoderImplementation(opts.encoder),
      quality: opts.quality,
      width: opts.width,
    },
    startedAt: Date.now(),
  });
  try {
    await http.listen();
  } catch (err) {
    hub.close();
    await Promise.all([...tcp.map((t) => t?.close()), http.close()]);
    throw err;
  }
  return http;
}
