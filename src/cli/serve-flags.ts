import { existsSync, statSync } from 'node:fs';
import { DEFAULT_STREAM, PUBLISHER_SOURCE, splitNamedSource } from '../streams/stream-options.js';
import { UsageError } from '../errors.js';
import type { ServeOptions } from '../app/serve.js';
import { loadConfig } from '../config/config-file.js';
import type { StreamConfig } from '../streams/stream-options.js';
import { adminTokenOption, optionsFromFile, publishTokenOption } from './serve-config.js';
import { readTlsFiles, type TlsCredentials } from '../transports/tls-config.js';
import { choiceOption, intOption, numberOption } from './args.js';
import { serveTokenOptions } from './token-options.js';
import { httpOptions } from './http-options.js';
import { busOption } from './bus-options.js';
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../util/jpeg.js';
import { parseBytes } from '../util/units.js';
import type { ServeFlagValues } from './serve-help.js';

/** What `framecast serve`'s flags (and --config FILE) ask of serve(). */
export interface ServeFlagOptions {
  /** The options to give serve(). */
  options: ServeOptions;
  /** The stream settings typed on the command line, which override the file's on each reload. */
  streamFlags: Omit<StreamConfig, 'source'>;
  /** --config FILE, if given. */
  configPath: string | undefined;
}

/** serve()'s options from the flags and SOURCE arguments, over a --config file's; any bad value is a usage error. */
export function serveOptionsFromFlags(values: ServeFlagValues, positionals: string[]): ServeFlagOptions {
  if (values.config !== undefined && positionals.length > 0)
    throw new UsageError('give the streams in --config FILE or as SOURCE arguments, not both');
  const streams = streamArgs(positionals);
  const width = intOption('width', values.width, 800, 0, 16384);
  if (width !== 0 && width < 16)
    throw new UsageError(`--width must be 0 or from 16 to 16384, got '${values.width}'`);
  const legacyPort =
    values['legacy-port'] === undefined ? null : intOption('legacy-port', values['legacy-port'], 0, 0, 65535);
  const single = streams.length === 1 && streams[0]?.name === DEFAULT_STREAM;
  const opts = {
    source: single ? (streams[0]?.source ?? 'test') : 'test',
    ...(!single ? { streams: streams.map((st, i) => (i === 0 ? { ...st, legacyPort } : st)) } : {}),
    host: values.host ?? '127.0.0.1',
    port: intOption('port', values.port, 9999, 0, 65535),
    width,
    quality: intOption('quality', values.quality, 80, 1, 100),
    encoder: choiceOption('encoder', values.encoder, 'libjpeg', ['libjpeg', 'ffmpeg'] as const),
    pace: !values['no-pace'],
    fps: numberOption('fps', values.fps, null, 0.1, 1000),
    loop: values.loop ?? false,
    retryDelayMs: retryDelayOption(values['retry-delay']),
    maxClients: intOption('max-clients', values['max-clients'], 100, 1, 100_000),
    maxClientsPerIp: intOption('max-clients-per-ip', values['max-clients-per-ip'], 0, 0, 100_000),
    legacyPort:
      values['legacy-port'] === undefined
        ? null
        : intOption('legacy-port', values['legacy-port'], 0, 0, 65535),
    preload: values.preload ?? false,
    passthrough: values.passthrough ?? false,
    record: values.record ?? false,
    recordPath: values['record-path'] ?? null,
    recordMaxBytes: bytesOption('record-max-bytes', values['record-max-bytes']),
    maxImagePixels: intOption(
      'max-image-pixels',
      values['max-image-pixels'],
      DEFAULT_MAX_IMAGE_PIXELS,
      16 * 16,
      MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
    ),
    tls: tlsOption(values['tls-cert'], values['tls-key']),
    stallTimeoutMs: stallTimeoutOption(values['stall-timeout']),
    ...serveTokenOptions(values.token, values['allow-legacy']),
    ...httpOptions(values['http-port'], values['allow-origin']),
  };
  if (opts.legacyPort !== null && opts.token !== null && !opts.allowLegacy)
    throw new UsageError(
      '--legacy-port serves seed clients, which cannot present a token: add --allow-legacy',
    );
  const adminToken = adminTokenOption(values['admin-token']);
  const publishToken = publishTokenOption(values['publish-token']);
  const firstPublisher = (single ? opts.source : streams[0]?.source) === PUBLISHER_SOURCE;
  if (publishToken !== null && !firstPublisher)
    throw new UsageError(
      '--publish-token applies to a first stream whose SOURCE is publisher (e.g. cam=publisher)',
    );
  let serveOpts: ServeOptions = {
    ...opts,
    adminToken,
    allowAnonymousPublish: values['allow-anonymous-publish'] ?? false,
    ...(publishToken !== null
      ? single
        ? { streams: [{ name: DEFAULT_STREAM, source: PUBLISHER_SOURCE, legacyPort, publishToken }] }
        : { streams: (opts.streams ?? []).map((st, i) => (i === 0 ? { ...st, publishToken } : st)) }
      : {}),
  };
  let streamFlags: Omit<StreamConfig, 'source'> = {};
  const configPath = values.config;
  const config = configPath === undefined ? null : loadConfig(configPath);
  if (config !== null) {
    // Only what was typed on the command line overrides the file.
    const typed = <K extends keyof typeof values>(k: K): boolean => values[k] !== undefined;
    const given: ServeOptions = {
      ...(typed('host') ? { host: opts.host } : {}),
      ...(typed('port') ? { port: opts.port } : {}),
      ...(typed('http-port') || config.server.httpPort === undefined
        ? { httpPort: opts.httpPort, httpPortFallback: opts.httpPortFallback }
        : {}),
      ...(opts.token !== null && (typed('token') || config.server.token == null)
        ? { token: opts.token }
        : {}),
      ...(typed('allow-legacy') ? { allowLegacy: true } : {}),
      ...(typed('allow-anonymous-publish') ? { allowAnonymousPublish: true } : {}),
      ...(typed('allow-origin') ? { allowOrigin: opts.allowOrigin } : {}),
      ...(typed('max-clients-per-ip') ? { maxClientsPerIp: opts.maxClientsPerIp } : {}),
      ...(typed('record-max-bytes') ? { recordMaxBytes: opts.recordMaxBytes } : {}),
      ...(typed('stall-timeout') ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(adminToken !== null && (typed('admin-token') || config.server.adminToken == null)
        ? { adminToken }
        : {}),
    };
    streamFlags = {
      ...(typed('width') ? { width: opts.width } : {}),
      ...(typed('quality') ? { quality: opts.quality } : {}),
      ...(typed('encoder') ? { encoder: opts.encoder } : {}),
      ...(typed('no-pace') ? { pace: false } : {}),
      ...(typed('fps') ? { fps: opts.fps } : {}),
      ...(typed('loop') ? { loop: true } : {}),
      ...(typed('retry-delay') ? { retryDelayMs: opts.retryDelayMs } : {}),
      ...(typed('max-clients') ? { maxClients: opts.maxClients } : {}),
      ...(typed('preload') ? { preload: true } : {}),
      ...(typed('passthrough') ? { passthrough: true } : {}),
      ...(typed('record') ? { record: true } : {}),
      ...(typed('record-path') ? { recordPath: opts.recordPath } : {}),
      ...(typed('max-image-pixels') ? { maxImagePixels: opts.maxImagePixels } : {}),
    };
    serveOpts = optionsFromFile(config, given, streamFlags);
  }
  const bus = busOption(values, config?.bus ?? null);
  if (bus !== null) serveOpts = { ...serveOpts, bus };
  if (config !== null && config.hooks.length > 0) serveOpts = { ...serveOpts, hooks: config.hooks };
  const sourcePaths = values['source-path'];
  if (sourcePaths !== undefined) {
    for (const d of sourcePaths)
      if (!existsSync(d) || !statSync(d).isDirectory())
        throw new UsageError(`--source-path ${d}: not a directory`);
    serveOpts = { ...serveOpts, sourcePaths };
  }
  return { options: serveOpts, streamFlags, configPath };
}

/** `[NAME=]SOURCE ...` as streams, in order; a name given twice, or two unnamed sources, is a usage error. */
function streamArgs(positionals: string[]): { name: string; source: string }[] {
  const out: { name: string; source: string }[] = [];
  for (const arg of positionals.length > 0 ? positionals : ['test']) {
    const { name, source } = splitNamedSource(arg, existsSync);
    const n = name ?? DEFAULT_STREAM;
    if (source.trim() === '') throw new UsageError(`stream ${n}: no SOURCE after '${n}='`);
    if (out.some((s) => s.name === n))
      throw new UsageError(
        name === null
          ? `more than one SOURCE without a name: name them, e.g. cam1=${arg}`
          : `stream name ${n} is given twice`,
      );
    out.push({ name: n, source });
  }
  return out;
}

/** A size flag (`500MB`, `2GiB`, bytes), at least 1024; null when absent. */
function bytesOption(flag: string, value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = parseBytes(value);
  if (n === null || n < 1024)
    throw new UsageError(
      `--${flag} must be a size of at least 1024 bytes (e.g. 500MB, 10GiB), got '${value}'`,
    );
  return n;
}

function retryDelayOption(value: string | undefined): number {
  const s = numberOption('retry-delay', value, 1, 0, 3600) as number;
  if (s > 0 && s < 0.1)
    throw new UsageError(`--retry-delay must be 0 or from 0.1 to 3600 seconds, got '${value}'`);
  return Math.round(s * 1000);
}

function stallTimeoutOption(value: string | undefined): number {
  const s = numberOption('stall-timeout', value, 60, 0, 86_400) as number;
  // Under a second would cut healthy clients on any hiccup.
  if (s > 0 && s < 1)
    throw new UsageError(`--stall-timeout must be 0 or from 1 to 86400 seconds, got '${value}'`);
  return Math.round(s * 1000);
}

function tlsOption(cert: string | undefined, key: string | undefined): TlsCredentials | null {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined)
    throw new UsageError(
      `--tls-cert and --tls-key go together (got only --${cert ? 'tls-cert' : 'tls-key'})`,
    );
  return readTlsFiles(cert, key);
}
