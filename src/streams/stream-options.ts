import type { JpegEncoderKind } from '../encode/frame-pipeline.js';
import { DEFAULT_MAX_META_BYTES, MAX_META_BYTES_LIMIT } from '../meta/meta-json.js';
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../util/jpeg.js';
import { tokenProblem, type TokenDigest } from '../util/token.js';
import { parseBytes, parseDuration } from '../util/units.js';
import { execCommand, execProblem } from '../source/source-spec.js';

/** A stream's name: what clients put after HOST:PORT/ and in /streams/NAME/. */
export const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The source of a stream fed by remote publishers (push ingest) instead of ffmpeg. */
export const PUBLISHER_SOURCE = 'publisher';

/** True when a stream with this source takes publishers: `publisher`, or `exec:COMMAND` (its command publishes). */
export function takesPublishers(source: string): boolean {
  return source === PUBLISHER_SOURCE || execCommand(source) !== null;
}

/** The name of the stream a server serves when its source is given without one. */
export const DEFAULT_STREAM = 'default';

/**
 * One stream's settings, as the API, the config file and `serve NAME=SOURCE` give them. Every field
 * but `source` falls back to the server's stream defaults.
 */
export interface StreamConfig {
  /** A file, URL, webcam, `test`, or (with push ingest) `publisher`. */
  source: string;
  width?: number;
  quality?: number;
  encoder?: JpegEncoderKind;
  pace?: boolean;
  fps?: number | null;
  loop?: boolean;
  retryDelayMs?: number;
  maxClients?: number;
  maxWaiting?: number;
  /** Keep the source running with nobody watching. */
  preload?: boolean;
  /** A TCP port that serves this stream to seed clients only, first frame at once. */
  legacyPort?: number | null;
  /** Lets a viewer watch this stream (and no other); the server's token opens every stream. */
  readToken?: string | null;
  /** `source: publisher` only: the token a remote publisher presents (the server's token also works). */
  publishToken?: string | null;
  /**
   * Lets an analyzer annotate this stream's frames (and watch it); the server's token also works. A
   * readToken is not enough. With neither this nor a server token, a stream open to everyone is open
   * to annotations too.
   */
  annotateToken?: string | null;
  /** Cap on one frame's metadata and on one annotation (bytes of JSON). Default 65536. */
  maxMetaBytes?: number;
  /** `source: publisher` only: a second publisher takes the stream over instead of being refused. */
  overridePublisher?: boolean;
  /**
   * The source's frames already are JPEG (an MJPEG camera or file): viewers get them untouched, with
   * no scale and no encode (width and quality do not apply). Publisher streams always pass through.
   */
  passthrough?: boolean;
  /**
   * The largest image (width x height) taken from a publisher or the bus; larger ones are refused
   * (each side is also capped at 16384). Default 4096x4096.
   */
  maxImagePixels?: number;
  /** Renditions (other sizes and qualities viewers ask for) made at once, 0-16. Default 4. */
  maxRenditions?: number;
  /** Record the stream (its source runs while it is recorded). */
  record?: boolean;
  /** The folder whose NAME/ subfolder holds this stream's recordings. Default `recordings`. */
  recordPath?: string | null;
  /** Length of a recording segment: seconds, or `60s`, `10m`, `1h`. Default 60 s. */
  recordSegmentDuration?: number | string;
  /** Recordings older than this are deleted (seconds, or `7d`, `12h`); null keeps them. */
  recordDeleteAfter?: number | string | null;
  /** The oldest recordings are deleted past this many bytes (a number, or `10GB`, `500MiB`); null: no cap. */
  recordMaxBytes?: number | string | null;
}

/** A stream's settings with every default applied and every range checked. */
export interface ResolvedStreamConfig {
  name: string;
  source: string;
  width: number;
  quality: number;
  encoder: JpegEncoderKind;
  pace: boolean;
  fps: number | null;
  loop: boolean;
  retryDelayMs: number;
  maxClients: number;
  maxWaiting: number;
  preload: boolean;
  legacyPort: number | null;
  readToken: string | null;
  /**
   * An edge's stream only: the origin's readToken as its salted digest (from the bus announcement).
   * Never set from a config file or the API; undefined on an origin.
   */
  readTokenDigest?: TokenDigest | null;
  publishToken: string | null;
  annotateToken: string | null;
  maxMetaBytes: number;
  overridePublisher: boolean;
  passthrough: boolean;
  maxImagePixels: number;
  maxRenditions: number;
  record: boolean;
  recordPath: string | null;
  /** Seconds. */
  recordSegmentDuration: number;
  /** Seconds, or null. */
  recordDeleteAfter: number | null;
  recordMaxBytes: number | null;
}

/** The settings of recording: changing only these never restarts a stream. */
export const RECORD_FIELDS = [
  'record',
  'recordPath',
  'recordSegmentDuration',
  'recordDeleteAfter',
  'recordMaxBytes',
] as const satisfies readonly (keyof StreamConfig & keyof ResolvedStreamConfig)[];

/** The fields of StreamConfig, for config files and the API to reject unknown ones. */
export const STREAM_FIELDS: readonly (keyof StreamConfig)[] = [
  'source',
  'width',
  'quality',
  'encoder',
  'pace',
  'fps',
  'loop',
  'retryDelayMs',
  'maxClients',
  'maxWaiting',
  'preload',
  'legacyPort',
  'readToken',
  'publishToken',
  'annotateToken',
  'maxMetaBytes',
  'overridePublisher',
  'passthrough',
  'maxImagePixels',
  'maxRenditions',
  ...RECORD_FIELDS,
];

/** A value that breaks a stream setting's range: `field` names it, `message` says what is wrong. */
export class StreamConfigError extends RangeError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'StreamConfigError';
    this.field = field;
  }
}

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new StreamConfigError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean')
    throw new StreamConfigError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a stream name; returns it, or throws a StreamConfigError naming the rule. */
export function checkStreamName(name: unknown): string {
  if (typeof name !== 'string' || !STREAM_NAME.test(name))
    throw new StreamConfigError(
      'name',
      `must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got ${JSON.stringify(name)}`,
    );
  return name;
}

/**
 * Applies `defaults` then `config` and checks every value (a StreamConfigError names the first bad
 * field). Unknown fields are refused, so a typo in a config file or an API body is never ignored.
 */
export function resolveStreamConfig(
  name: string,
  config: StreamConfig,
  defaults: Omit<StreamConfig, 'source'> = {},
): ResolvedStreamConfig {
  checkStreamName(name);
  for (const key of Object.keys(config))
    if (!(STREAM_FIELDS as readonly string[]).includes(key))
      throw new StreamConfigError(key, `unknown setting (known: ${STREAM_FIELDS.join(', ')})`);
  const c: StreamConfig = { ...defaults, ...config };
  if (typeof c.source !== 'string' || c.source.trim() === '')
    throw new StreamConfigError('source', 'a file, URL, webcam, test or publisher is required');
  const command = execCommand(c.source);
  const execFault = command === null ? null : execProblem(command);
  if (execFault !== null) throw new StreamConfigError('source', execFault);
  const width = int('width', c.width ?? 800, 0, 16384);
  if (width !== 0 && width < 16)
    throw new StreamConfigError('width', `must be 0 or from 16 to 16384, got ${width}`);
  const fps = c.fps ?? null;
  if (fps !== null && !(typeof fps === 'number' && Number.isFinite(fps) && fps >= 0.1 && fps <= 1000))
    throw new StreamConfigError('fps', `must be from 0.1 to 1000 (or null), got ${JSON.stringify(fps)}`);
  const encoder = c.encoder ?? 'libjpeg';
  if (encoder !== 'libjpeg' && encoder !== 'ffmpeg')
    throw new StreamConfigError('encoder', `must be libjpeg or ffmpeg, got ${JSON.stringify(encoder)}`);
  const readToken = c.readToken ?? null;
  if (readToken !== null) {
    const problem = typeof readToken === 'string' ? tokenProblem(readToken) : 'must be a string';
    if (problem) throw new StreamConfigError('readToken', problem);
  }
  const publishToken = c.publishToken ?? null;
  if (publishToken !== null) {
    const problem = typeof publishToken === 'string' ? tokenProblem(publishToken) : 'must be a string';
    if (problem) throw new StreamConfigError('publishToken', problem);
    if (!takesPublishers(c.source))
      throw new StreamConfigError(
        'publishToken',
        `only a stream whose source is ${PUBLISHER_SOURCE} (or exec:COMMAND) takes publishers`,
      );
  }
  const annotateToken = c.annotateToken ?? null;
  if (annotateToken !== null) {
    const problem = typeof annotateToken === 'string' ? tokenProblem(annotateToken) : 'must be a string';
    if (problem) throw new StreamConfigError('annotateToken', problem);
  }
  const legacyPort = c.legacyPort ?? null;
  const recordPath = c.recordPath ?? null;
  if (
    recordPath !== null &&
    (typeof recordPath !== 'string' || recordPath.trim() === '' || recordPath.includes('\0'))
  )
    throw new StreamConfigError('recordPath', `must be a folder's path, got ${JSON.stringify(recordPath)}`);
  const segment = parseDuration(c.recordSegmentDuration ?? 60);
  if (segment === null || segment < 1 || segment > 86400)
    throw new StreamConfigError(
      'recordSegmentDuration',
      `must be from 1 s to 24 h (seconds, or e.g. 60s, 10m, 1h), got ${JSON.stringify(c.recordSegmentDuration)}`,
    );
  const deleteAfter = c.recordDeleteAfter ?? null;
  const deleteAfterS = deleteAfter === null ? null : parseDuration(deleteAfter);
  if (deleteAfter !== null && (deleteAfterS === null || deleteAfterS < 1))
    throw new StreamConfigError(
      'recordDeleteAfter',
      `must be at least 1 s (seconds, or e.g. 12h, 7d), or null to keep recordings, got ${JSON.stringify(deleteAfter)}`,
    );
  const maxBytes = c.recordMaxBytes ?? null;
  const maxBytesN = maxBytes === null ? null : parseBytes(maxBytes);
  if (maxBytes !== null && (maxBytesN === null || maxBytesN < 1024))
    throw new StreamConfigError(
      'recordMaxBytes',
      `must be at least 1024 bytes (a number, or e.g. 500MB, 10GiB), or null, got ${JSON.stringify(maxBytes)}`,
    );
  return {
    name,
    source: c.source,
    width,
    quality: int('quality', c.quality ?? 80, 1, 100),
    encoder,
    pace: bool('pace', c.pace ?? true),
    fps,
    loop: bool('loop', c.loop ?? false),
    retryDelayMs: int('retryDelayMs', c.retryDelayMs ?? 1000, 0, 3_600_000),
    maxClients: int('maxClients', c.maxClients ?? 100, 1, 100_000),
    maxWaiting: int('maxWaiting', c.maxWaiting ?? 1000, 0, 100_000),
    preload: bool('preload', c.preload ?? false),
    legacyPort: legacyPort === null ? null : int('legacyPort', legacyPort, 0, 65535),
    readToken,
    publishToken,
    annotateToken,
    maxMetaBytes: int('maxMetaBytes', c.maxMetaBytes ?? DEFAULT_MAX_META_BYTES, 2, MAX_META_BYTES_LIMIT),
    overridePublisher: bool('overridePublisher', c.overridePublisher ?? false),
    passthrough: bool('passthrough', c.passthrough ?? false),
    maxImagePixels: int(
      'maxImagePixels',
      c.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS,
      16 * 16,
      MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
    ),
    maxRenditions: int('maxRenditions', c.maxRenditions ?? 4, 0, 16),
    record: bool('record', c.record ?? false),
    recordPath,
    recordSegmentDuration: segment,
    recordDeleteAfter: deleteAfterS,
    recordMaxBytes: maxBytesN,
  };
}

/**
 * Splits a `serve` argument into a stream name and a source: `cam=rtsp://...` names the stream `cam`;
 * anything whose part before the first `=` is not a valid name (a URL such as `http://cam/x?a=b`) is a
 * source of the default stream, and so is an argument that is an existing file's path (`exists`).
 */
export function splitNamedSource(
  arg: string,
  exists: (path: string) => boolean,
): { name: string | null; source: string } {
  const i = arg.indexOf('=');
  if (i <= 0 || exists(arg)) return { name: null, source: arg };
  const name = arg.slice(0, i);
  if (!STREAM_NAME.test(name)) return { name: null, source: arg };
  return { name, source: arg.slice(i + 1) };
}
