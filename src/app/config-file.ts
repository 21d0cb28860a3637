import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  checkStreamName,
  resolveStreamConfig,
  STREAM_FIELDS,
  StreamConfigError,
  type ResolvedStreamConfig,
  type StreamConfig,
} from '../streams/stream-options.js';
import type { BusOptions } from '../bus/bus.js';
import { writeFileAtomic } from './atomic-write.js';
import { checkConfigText, NULLABLE } from './config-check.js';
import { editStreamDocument, editStreamText } from './config-edit.js';
import { ConfigError, problemOf, segment } from './config-error.js';

export { ConfigError };

/** Server-wide settings from a config file; an absent key is undefined (serve's default applies). */
export interface ServerFileSettings {
  host?: string;
  port?: number;
  /** null: `httpPort: off`. */
  httpPort?: number | null;
  token?: string | null;
  /** Needed for API writes (PUT/DELETE /api/streams/NAME). */
  adminToken?: string | null;
  allowLegacy?: boolean;
  allowOrigin?: string | null;
  maxClientsPerIp?: number;
  /** From `stallTimeout` (seconds, as the CLI's --stall-timeout). */
  stallTimeoutMs?: number;
  /** Absolute paths, resolved against the config file's directory; the files are not read here. */
  tls?: { certPath: string; keyPath: string } | null;
}

/** Every stream setting but `source`, applied under each stream's own. */
export type StreamDefaults = Omit<StreamConfig, 'source'>;

/** A validated config file. */
export interface LoadedConfig {
  /** The file's absolute path. */
  path: string;
  server: ServerFileSettings;
  /** The `bus:` section, file paths made absolute and checked readable; null without one. */
  bus: BusOptions | null;
  streamDefaults: StreamDefaults;
  /** In file order, defaults applied: streamDefaults, then the built-in ones. */
  streams: ResolvedStreamConfig[];
  /** The first stream in the file: the one a client gets when it names none ('' in an edge's file without streams). */
  defaultStream: string;
  /** Each stream's settings as written (without defaults), e.g. for the API to show or edit. */
  raw: { streams: Record<string, StreamConfig> };
}

/** Reads and validates a config file (synchronously: serve needs it before anything starts). */
export function loadConfig(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
  return parseConfig(text, path);
}

/** Validates a config file's text; `path` names it in messages and anchors the TLS paths. */
export function parseConfig(text: string, path: string): LoadedConfig {
  return checkConfigText(text, path);
}

/**
 * Reads a config file for an edge: the server-wide settings and `bus:`; `streams:` may be absent
 * (an edge serves what the bus announces) and is ignored when present.
 */
export function loadEdgeConfig(path: string): Pick<LoadedConfig, 'path' | 'server' | 'bus'> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
  const { server, bus } = checkConfigText(text, path, true);
  return { path: resolve(path), server, bus };
}

/**
 * Writes stream `name` (or removes it, with null) into the config file, keeping every other byte:
 * comments, blank lines, key order. The result is validated first (ConfigError, file untouched),
 * then written atomically. Calls on one path run one after another. Returns the new config.
 */
export function writeStream(path: string, name: string, config: StreamConfig | null): Promise<LoadedConfig> {
  const key = resolve(path);
  const run = (queues.get(key) ?? Promise.resolve()).then(() => writeStreamNow(path, name, config));
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

const queues = new Map<string, Promise<void>>();

async function writeStreamNow(
  path: string,
  name: string,
  config: StreamConfig | null,
): Promise<LoadedConfig> {
  if (config !== null && (typeof config !== 'object' || Array.isArray(config)))
    throw new TypeError('config must be a StreamConfig object or null');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
  // An invalid file is still edited: the edit may be what makes it valid (its first stream).
  let before: LoadedConfig | null = null;
  try {
    before = parseConfig(text, path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  const field = `streams.${segment(name)}`;
  let want: StreamConfig | null = null;
  if (config === null) {
    if (before && !Object.hasOwn(before.raw.streams, name))
      throw new ConfigError(path, null, field, 'no such stream (nothing to remove)');
  } else {
    want = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as StreamConfig;
    checkGivenStream(path, field, name, want);
  }
  // The splice keeps every other byte; should it ever produce something other than what was asked,
  // the document route (comments kept, layout normalized) is tried before giving up.
  let result = tryEdit(editStreamText, text, path, name, config, want);
  if (result instanceof ConfigError) {
    const alternative = tryEdit(editStreamDocument, text, path, name, config, want);
    if (alternative instanceof ConfigError) throw result;
    result = alternative;
  }
  const { next, after } = result;
  if (next === text) return after;
  try {
    await writeFileAtomic(path, next);
  } catch (err) {
    throw new ConfigError(path, null, null, `cannot write: ${reason(err)}`, err);
  }
  return after;
}

/** The edited text and its config, or why it is not usable. */
function tryEdit(
  edit: (text: string, name: string, config: StreamConfig | null) => string,
  text: string,
  path: string,
  name: string,
  config: StreamConfig | null,
  want: StreamConfig | null,
): { next: string; after: LoadedConfig } | ConfigError {
  const next = edit(text, name, config);
  let after: LoadedConfig;
  try {
    after = parseConfig(next, path);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  const got = Object.hasOwn(after.raw.streams, name) ? after.raw.streams[name]! : null;
  if (!isDeepStrictEqual(got, want))
    return new ConfigError(
      path,
      null,
      `streams.${segment(name)}`,
      "cannot be written into this file's layout",
    );
  return { next, after };
}

/** Checks a stream given to writeStream before it is put in the file, so messages name its fields. */
function checkGivenStream(path: string, field: string, name: string, config: StreamConfig): void {
  for (const [k, v] of Object.entries(config))
    if (v === null && (STREAM_FIELDS as readonly string[]).includes(k) && !NULLABLE.has(k))
      throw new ConfigError(path, null, `${field}.${k}`, 'must not be null');
  try {
    checkStreamName(name);
    // Its own values only: the file's streamDefaults are checked with the file.
    resolveStreamConfig(name, config);
  } catch (err) {
    if (!(err instanceof StreamConfigError)) throw err;
    throw new ConfigError(path, null, err.field === 'name' ? field : `${field}.${err.field}`, problemOf(err));
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}

function unreadable(path: string, err: unknown): ConfigError {
  return new ConfigError(path, null, null, `cannot read: ${reason(err)}`, err);
}
