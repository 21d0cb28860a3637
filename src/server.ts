import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { FramePipeline, type JpegEncoderKind } from './encode/frame-pipeline.js';
import { Hub, type TransmissionEnd } from './hub/hub.js';
import type { FrameProducer, SourceDescription, SourceStatus } from './hub/producer.js';
import { ResilientProducer } from './encode/resilient-producer.js';
import type { Subscriber, SubscriberStats } from './hub/subscriber.js';
import { locateFfmpeg, type FfmpegLocation } from './source/ffmpeg-path.js';
import { probeSource } from './source/probe.js';
import { parseSource, TEST_PATTERN, type SourceSpec } from './source/source-spec.js';
import { TcpServer, type NativeHandshake } from './transports/tcp/tcp-server.js';
import type { FramecastError } from './errors.js';
import type { Frame } from './hub/frame.js';
import type { Publisher } from './hub/publisher.js';
import { createNativeHandshake } from './transports/tcp/native-handshake.js';
import { tokenProblem } from './util/token.js';
import { HttpServer } from './transports/http/http-server.js';
import { IpLimiter } from './transports/ip-limiter.js';
import { watchStalls } from './hub/stall-watch.js';
import { checkTlsCredentials, type TlsCredentials } from './transports/tls-config.js';

/** Options of `serve()`; every field has the seed's default. */
export interface ServeOptions {
  /** SOURCE: a file, URL, webcam (`/dev/video0`, `webcam:0`) or `test` (default). */
  source?: string;
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** TCP port (default 9999; 0 picks a free one). */
  port?: number;
  /** Output width, aspect kept (default 800; 0 keeps the source width). */
  width?: number;
  /** JPEG quality 1-100 (default 80). */
  quality?: number;
  /** JPEG encoder: libjpeg-turbo in-process (default) or ffmpeg's own MJPEG encoder (faster, opt-in). */
  encoder?: JpegEncoderKind;
  /** Send at the source's own rate (default true). false = as fast as the pipeline and clients allow. */
  pace?: boolean;
  /** Cap on frames per second. */
  fps?: number | null;
  /** Restart a file at its end. */
  loop?: boolean;
  /**
   * A live source (camera, URL) that fails is restarted after this delay, doubling up to 30 s, while
   * clients see a NO SIGNAL picture (default 1000 ms; 0 = a failure ends the transmission).
   */
  retryDelayMs?: number;
  /** Clients served at once (default 100); others wait in turn. */
  maxClients?: number;
  /** Clients allowed to wait (default 1000). */
  maxWaiting?: number;
  /** Silence after which a TCP client is taken for a seed client (default 100 ms). */
  helloGraceMs?: number;
  /** Connections open at once from one IP address, all transports together (default 0 = no cap). */
  maxClientsPerIp?: number;
  /** HTTP: request headers must arrive within this time (default 10000 ms; slow-header clients are cut). */
  httpHeadersTimeoutMs?: number;
  /** HTTP: the whole request must arrive within this time (default 30000 ms). */
  httpRequestTimeoutMs?: number;
  /** A client whose pending frame is not taken for this long is cut (default 60000 ms; 0 = never). */
  stallTimeoutMs?: number;
  /** Serve TLS on the TCP port and HTTPS/WSS on the HTTP port with this certificate and key (PEM). */
  tls?: TlsCredentials | null;
  /** Feed frames yourself instead of a source (set by the publish API). */
  producer?: () => FrameProducer;
  /** Frames your program publishes (see createPublisher) instead of a source. */
  publisher?: Publisher;
  /** Clients must present this token (native hello; HTTP/WebSocket as the transports define). */
  token?: string | null;
  /** With a token set, still serve seed (legacy) clients, which cannot present one. */
  allowLegacy?: boolean;
  /** A native client must complete its hello within this time (default 5000 ms). */
  helloTimeoutMs?: number;
  /** HTTP port (MJPEG, snapshot, WebSocket, viewer, dashboard, /stats, /metrics); 0 = any free port; null/omitted = no HTTP. */
  httpPort?: number | null;
  /** @internal the HTTP port is a default, not the user's choice: take a free one if it is busy. */
  httpPortFallback?: boolean;
  /** CORS: the origin allowed to read HTTP responses cross-site (`*` = any); default none. */
  allowOrigin?: string | null;
  /** @internal replaces the native protocol handshake (tests). */
  native?: NativeHandshake;
  /** @internal refuse legacy clients. */
  refuseLegacy?: boolean;
}

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
}

/** Validated, defaulted server settings. */
export interface ResolvedServeOptions {
  source: string;
  host: string;
  port: number;
  width: number;
  quality: number;
  encoder: JpegEncoderKind;
  pace: boolean;
  fps: number | null;
  loop: boolean;
  retryDelayMs: number;
  maxClients: number;
  maxWaiting: number;
  helloGraceMs: number;
  maxClientsPerIp: number;
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  stallTimeoutMs: number;
  /** True when serving TLS (the key itself is never kept here, so it is never logged). */
  tls: boolean;
  /** True when clients must present a token (the token itself is never kept here, so it is never logged). */
  tokenRequired: boolean;
  /** Seed clients are served even though a token is required. */
  allowLegacy: boolean;
  helloTimeoutMs: number;
  httpPort: number | null;
  allowOrigin: string | null;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

function checkEncoder(v: string): JpegEncoderKind {
  if (v !== 'libjpeg' && v !== 'ffmpeg')
    throw new RangeError(`encoder must be 'libjpeg' or 'ffmpeg', got ${v}`);
  return v;
}

/** Applies defaults and range checks (RangeError for API misuse; the CLI validates earlier with its own messages). */
export function resolveServeOptions(o: ServeOptions = {}): ResolvedServeOptions {
  const fps = o.fps ?? null;
  if (fps !== null && !(Number.isFinite(fps) && fps >= 0.1 && fps <= 1000)) {
    throw new RangeError(`fps must be in 0.1..1000, got ${fps}`);
  }
  const width = checkInt('width', o.width ?? 800, 0, 16384);
  if (width !== 0 && width < 16) throw new RangeError(`width must be 0 or 16..16384, got ${width}`);
  return {
    source: o.source ?? 'test',
    host: o.host ?? '127.0.0.1',
    port: checkInt('port', o.port ?? 9999, 0, 65535),
    width,
    quality: checkInt('quality', o.quality ?? 80, 1, 100),
    encoder: checkEncoder(o.encoder ?? 'libjpeg'),
    pace: o.pace ?? true,
    fps,
    loop: o.loop ?? false,
    retryDelayMs: checkInt('retryDelayMs', o.retryDelayMs ?? 1000, 0, 3_600_000),
    maxClients: checkInt('maxClients', o.maxClients ?? 100, 1, 100_000),
    maxWaiting: checkInt('maxWaiting', o.maxWaiting ?? 1000, 0, 100_000),
    helloGraceMs: checkInt('helloGraceMs', o.helloGraceMs ?? 100, 10, 5000),
    maxClientsPerIp: checkInt('maxClientsPerIp', o.maxClientsPerIp ?? 0, 0, 100_000),
    httpHeadersTimeoutMs: checkInt('httpHeadersTimeoutMs', o.httpHeadersTimeoutMs ?? 10_000, 100, 600_000),
    httpRequestTimeoutMs: checkInt('httpRequestTimeoutMs', o.httpRequestTimeoutMs ?? 30_000, 100, 3_600_000),
    stallTimeoutMs: checkInt('stallTimeoutMs', o.stallTimeoutMs ?? 60_000, 0, 86_400_000),
    tls: o.tls !== undefined && o.tls !== null,
    tokenRequired: o.token !== undefined && o.token !== null,
    allowLegacy: o.allowLegacy ?? false,
    helloTimeoutMs: checkInt('helloTimeoutMs', o.helloTimeoutMs ?? 5000, 100, 60_000),
    httpPort:
      o.httpPort === undefined || o.httpPort === null ? null : checkInt('httpPort', o.httpPort, 0, 65535),
    allowOrigin: o.allowOrigin ?? null,
  };
}

/**
 * A running framecast server: the hub plus its transports. Created by `serve()`.
 */
export class FramecastServer extends EventEmitter<ServerEvents> {
  readonly options: ResolvedServeOptions;
  readonly hub: Hub;
  /** The ffmpeg in use, or null when frames are published by the program. */
  readonly ffmpeg: FfmpegLocation | null;
  readonly spec: SourceSpec | null;
  readonly startedAt = Date.now();
  readonly #tcp: TcpServer;
  readonly #http: HttpServer | null;
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
  ) {
    super();
    this.#http = http;
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
    this.#stopStallWatch = watchStalls(hub, options.stallTimeoutMs, (sub, ms) =>
      this.emit('kicked', sub.stats(), ms),
    );
    tcp.on('client', (s) => this.emit('client', s));
    tcp.on('refused', (a, r) => this.emit('refused', a, r));
    http?.on('client', (s) => this.emit('client', s));
    http?.on('refused', (a, r) => this.emit('refused', a, r));
    http?.on('stop', (a, stopped) => this.emit('web-stop', a, stopped));
  }

  /** The HTTP address (MJPEG, WebSocket, pages), or null when HTTP is off. */
  httpAddress(): AddressInfo | null {
    return this.#http?.address() ?? null;
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
      await Promise.all([this.#tcp.close(), this.#http?.close()]);
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
  });
  const limiter = new IpLimiter(opts.maxClientsPerIp);
  const tcp = new TcpServer({
    limiter,
    tls: tlsCreds,
    host: opts.host,
    port: opts.port,
    hub,
    lossless: !opts.pace,
    helloGraceMs: opts.helloGraceMs,
    refuseLegacy: options.refuseLegacy ?? (token !== null && !opts.allowLegacy),
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
  const http = opts.httpPort === null ? null : await listenHttp(opts, options, hub, token, tcp, limiter);
  return new FramecastServer(opts, hub, tcp, ffmpeg, spec, http);
}

async function listenHttp(
  opts: ResolvedServeOptions,
  options: ServeOptions,
  hub: Hub,
  token: string | null,
  tcp: TcpServer,
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
    encoder: { kind: opts.encoder, quality: opts.quality, width: opts.width },
    startedAt: Date.now(),
  });
  try {
    await http.listen();
  } catch (err) {
    hub.close();
    await Promise.all([tcp.close(), http.close()]);
    throw err;
  }
  return http;
}
