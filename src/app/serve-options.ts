import { describeAuth, type AuthSettings } from '../access/auth-settings.js';
import type { JpegEncoderKind } from '../encode/frame-pipeline.js';
import type { FrameProducer } from '../hub/producer.js';
import type { Publisher } from '../hub/publisher.js';
import type { NativeHandshake } from '../transports/tcp/tcp-server.js';
import type { TlsCredentials } from '../transports/tls-config.js';
import type { HookConfig } from '../hooks/hook-spec.js';
import type { StreamConfig } from '../streams/stream-options.js';
import type { BusOptions } from '../bus/bus.js';
import type { TokenDigest } from '../util/token.js';
import type { Hub } from '../hub/hub.js';
import type { PlaybackRequest } from '../record/recording-producer.js';
import type { RecordingsLookup } from '../transports/http/recordings-http.js';

/** Recordings another server holds: what HTTP asks of them, and native playback. */
export interface RecordingsElsewhere extends RecordingsLookup {
  playback(name: string, req: PlaybackRequest): Promise<Hub | string>;
}
import { dirname, resolve } from 'node:path';
import { defaultSourcePaths } from '../source/source-spec.js';
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../util/jpeg.js';

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
  /**
   * Keep the source running (decoded and ready) with nobody watching, so the first viewer gets a
   * frame at once (default false: the source starts with the first connection and stops after the last).
   */
  preload?: boolean;
  /** The source's frames already are JPEG (MJPEG): pass them through untouched (no scale, no encode). */
  passthrough?: boolean;
  /** Record every stream (a stream's own `record` wins). */
  record?: boolean;
  /** Where recordings go (each stream in its NAME/ subfolder); default `recordings`. */
  recordPath?: string | null;
  /** Bytes of every stream's recordings together: past it the oldest are deleted (default: no cap). */
  recordMaxBytes?: number | null;
  /** The folder relative recordPaths are resolved in (default: the config file's, else the working directory). */
  recordBaseDir?: string;
  /**
   * Each stream's bound on the images peers send (publishers, the bus on an edge, a passthrough
   * camera): width x height at most this, 256-268435456 (default 4096x4096); a stream's own wins.
   */
  maxImagePixels?: number;
  /** A second TCP port that speaks only the seed framing and sends at once, with no hello grace (default none). */
  legacyPort?: number | null;
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
  /**
   * Several named streams (the first is the default stream). Each entry's unset fields take the
   * top-level values above (width, quality, pace, ...). Without it the server has one stream,
   * `default`, from `source` and the top-level values.
   */
  streams?: (StreamConfig & {
    name: string;
    /** @internal an edge's stream: the origin's readToken as its announced digest. */
    readTokenDigest?: TokenDigest | null;
  })[];
  /**
   * Let a server bound beyond loopback run a publisher stream that has no publish token (anyone who
   * can reach it could then feed that stream). Default false: such a server refuses to start.
   */
  allowAnonymousPublish?: boolean;
  /**
   * Make this server an origin on a NATS frame bus: it announces its streams there and publishes a
   * stream's frames while edges have viewers for it (docs/PROTOCOL.md, "Bus").
   */
  bus?: BusOptions | null;
  /**
   * Event hooks (docs/CONFIG.md, "Hooks"): commands run or URLs POSTed when a stream becomes ready,
   * gets its first viewer, loses its publisher, completes a recording segment...
   */
  hooks?: readonly HookConfig[] | null;
  /** Token for API writes (PUT/DELETE /api/streams/NAME); without it, writes are refused (403). */
  adminToken?: string | null;
  /**
   * Users, anonymous permissions, JWT, the HTTP auth hook and signed links (the config file's
   * `auth:`, checked by access/auth-settings.ts); null: the tokens alone decide.
   */
  auth?: AuthSettings | null;
  /** The config file the streams came from: API changes are written back to it. */
  configPath?: string | null;
  /**
   * With configPath: stream settings given on the command line, over the file's streamDefaults, at
   * start-up and on every change (reload, API) alike.
   */
  streamOverrides?: Omit<StreamConfig, 'source'>;
  /**
   * Directories a file source must be inside, at start-up and for every change (API, reload); default:
   * the working directory, the config file's directory and the directory of each file source the
   * server starts with. `null`: files anywhere (only for programs that vet their sources themselves).
   */
  sourcePaths?: readonly string[] | null;
  /**
   * @internal recordings read from elsewhere instead of this server's own (an edge: its origin's,
   * over the bus), for the HTTP recording endpoints and native playback.
   */
  recordingsFrom?: RecordingsElsewhere | null;
  /** @internal replaces the native protocol handshake (tests). */
  native?: NativeHandshake;
  /** @internal refuse legacy clients. */
  refuseLegacy?: boolean;
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
  preload: boolean;
  passthrough: boolean;
  maxImagePixels: number;
  record: boolean;
  recordPath: string | null;
  recordMaxBytes: number | null;
  recordBaseDir: string;
  legacyPort: number | null;
  maxClientsPerIp: number;
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  stallTimeoutMs: number;
  /** True when serving TLS (the key itself is never kept here, so it is never logged). */
  tls: boolean;
  /** True when clients must present a token (the token itself is never kept here, so it is never logged). */
  tokenRequired: boolean;
  /** The `auth:` section in a few words (`3 users, JWT`), or null without one; never a secret. */
  auth: string | null;
  /** Seed clients are served even though a token is required. */
  allowLegacy: boolean;
  helloTimeoutMs: number;
  httpPort: number | null;
  allowOrigin: string | null;
  /** A publisher stream without a publish token is allowed on a server bound beyond loopback. */
  allowAnonymousPublish: boolean;
  /** Directories file sources must be inside (absolute), or null for anywhere. */
  sourcePaths: readonly string[] | null;
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
    preload: o.preload ?? false,
    passthrough: o.passthrough ?? false,
    record: o.record ?? false,
    recordPath: o.recordPath ?? null,
    recordMaxBytes:
      o.recordMaxBytes === undefined || o.recordMaxBytes === null
        ? null
        : checkInt('recordMaxBytes', o.recordMaxBytes, 1024, Number.MAX_SAFE_INTEGER),
    recordBaseDir: resolve(o.recordBaseDir ?? (o.configPath ? dirname(o.configPath) : '.')),
    maxImagePixels: checkInt(
      'maxImagePixels',
      o.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS,
      16 * 16,
      MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
    ),
    legacyPort:
      o.legacyPort === undefined || o.legacyPort === null
        ? null
        : checkInt('legacyPort', o.legacyPort, 0, 65535),
    maxClientsPerIp: checkInt('maxClientsPerIp', o.maxClientsPerIp ?? 0, 0, 100_000),
    httpHeadersTimeoutMs: checkInt('httpHeadersTimeoutMs', o.httpHeadersTimeoutMs ?? 10_000, 100, 600_000),
    httpRequestTimeoutMs: checkInt('httpRequestTimeoutMs', o.httpRequestTimeoutMs ?? 30_000, 100, 3_600_000),
    stallTimeoutMs: checkInt('stallTimeoutMs', o.stallTimeoutMs ?? 60_000, 0, 86_400_000),
    tls: o.tls !== undefined && o.tls !== null,
    tokenRequired: o.token !== undefined && o.token !== null,
    auth: o.auth ? describeAuth(o.auth) : null,
    allowLegacy: o.allowLegacy ?? false,
    helloTimeoutMs: checkInt('helloTimeoutMs', o.helloTimeoutMs ?? 5000, 100, 60_000),
    httpPort:
      o.httpPort === undefined || o.httpPort === null ? null : checkInt('httpPort', o.httpPort, 0, 65535),
    allowOrigin: o.allowOrigin ?? null,
    allowAnonymousPublish: o.allowAnonymousPublish ?? false,
    sourcePaths: sourcePathsOf(o),
  };
}

function sourcePathsOf(o: ServeOptions): readonly string[] | null {
  if (o.sourcePaths === null) return null;
  if (o.sourcePaths !== undefined) {
    if (!Array.isArray(o.sourcePaths) || o.sourcePaths.some((d) => typeof d !== 'string' || d === ''))
      throw new RangeError('sourcePaths must be a list of directories');
    return o.sourcePaths.map((d) => resolve(d));
  }
  const sources = o.streams?.length ? o.streams.map((s) => s.source) : [o.source ?? 'test'];
  return defaultSourcePaths(o.configPath ?? null, sources);
}
