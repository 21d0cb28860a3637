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
import { writeFileAtomic } from './atomic-write.js';
import { checkConfigText, NULLABLE } from './config-check.js';
import { editStreamDocument, editStreamText } from './config-edit.js';
import { ConfigError, problemOf, segment } from './config-error.js';

export { ConfigError };
export type { LoadedConfig, ServerFileSettings, StreamDefaults } from './config-types.js';
import type { LoadedConfig } from './config-types.js';

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
  const run = (queues.get(key) ?? Promise.resolve()).then(async () => {
    const edit = await editStream(path, name, config);
    await edit.write();
    return edit.after;
  });
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

/** A change to a config file, checked and not yet written. */
export interface StreamEdit {
  /** The config the file will hold. */
  after: LoadedConfig;
  /**
   * Writes the file atomically (nothing when the text does not change); refuses (ConfigError, file
   * untouched) when the file changed since it was read, so no one's edit is lost.
   */
  write(): Promise<void>;
}

/**
 * Prepares stream `name` set to `config` (null removes it) in the config file, without writing:
 * the edit is checked as a whole file (ConfigError naming the field), and it must change that stream
 * alone (a YAML anchor shared with another stream, or with the server settings, is refused).
 */
export async function editStream(
  path: string,
  name: string,
  config: StreamConfig | null,
): Promise<StreamEdit> {
  if (config !== null && (typeof config !== 'object' || Array.isArray(config)))
    throw new TypeError('config must be a StreamConfig object or null');
  const text = await readText(path);
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
  let result = tryEdit(editStreamText, text, path, name, config, want, before);
  if (result instanceof ConfigError) {
    const alternative = tryEdit(editStreamDocument, text, path, name, config, want, before);
    if (alternative instanceof ConfigError) throw result;
    result = alternative;
  }
  const { next, after } = result;
  return {
    after,
    write: async () => {
      if (next === text) return;
      if ((await readText(path)) !== text)
        throw new ConfigError(path, null, null, 'the file changed while this change was made: try again');
      try {
        await writeFileAtomic(path, next);
      } catch (err) {
        throw new ConfigError(path, null, null, `cannot write: ${reason(err)}`, err);
      }
    },
  };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw unreadable(path, err);
  }
}

/** The edited text and its config, or why it is not usable. */
function tryEdit(
  edit: (text: string, name: string, config: StreamConfig | null) => string,
  text: string,
  path: string,
  name: string,
  config: StreamConfig | null,
  want: StreamConfig | null,
  before: LoadedConfig | null,
): { next: string; after: LoadedConfig } | ConfigError {
  const field = `streams.${segment(name)}`;
  let after: LoadedConfig;
  let next: string;
  try {
    // The yaml library throws when a document it re-serializes has lost an anchor.
    next = edit(text, name, config);
    after = parseConfig(next, path);
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    // The edit took away an anchor that an alias elsewhere still names.
    if (/alias/i.test(err.message))
      return new ConfigError(
        path,
        null,
        field,
        'holds a YAML anchor that other parts of the file use (*alias): edit the file by hand',
      );
    if (err instanceof ConfigError) return err;
    throw err;
  }
  const got = Object.hasOwn(after.raw.streams, name) ? after.raw.streams[name]! : null;
  if (!isDeepStrictEqual(got, want))
    return new ConfigError(path, null, field, "cannot be written into this file's layout");
  const other = before ? otherChange(before, after, name) : null;
  if (other !== null)
    return new ConfigError(
      path,
      null,
      field,
      `shares a YAML anchor with ${other}, which would change too: edit the file by hand`,
    );
  return { next, after };
}

/** What else than stream `name` differs between two configs (an anchor's value), or null. */
function otherChange(before: LoadedConfig, after: LoadedConfig, name: string): string | null {
  if (!isDeepStrictEqual(before.server, after.server)) return 'the server settings';
  if (!isDeepStrictEqual(before.bus, after.bus)) return 'bus';
  if (!isDeepStrictEqual(before.streamDefaults, after.streamDefaults)) return 'streamDefaults';
  for (const [other, config] of Object.entries(before.raw.streams))
    if (other !== name && !isDeepStrictEqual(config, after.raw.streams[other])) return `stream ${other}`;
  return null;
}

/** A config's streams as served: the command line's stream settings over the file's streamDefaults. */
export function fileStreams(
  config: LoadedConfig,
  overrides: Omit<StreamConfig, 'source'>,
): ResolvedStreamConfig[] {
  const defaults = { ...config.streamDefaults, ...overrides };
  return config.streams.map((s) => resolveStreamConfig(s.name, config.raw.streams[s.name] ?? s, defaults));
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
