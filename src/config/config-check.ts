import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type ParsedNode } from 'yaml';
import {
  checkStreamName,
  resolveStreamConfig,
  STREAM_FIELDS,
  StreamConfigError,
  type ResolvedStreamConfig,
  type StreamConfig,
} from '../streams/stream-options.js';
import { tokenProblem } from '../util/token.js';
import { busOf } from './config-bus.js';
import { keyName } from './config-edit.js';
import { ConfigError, problemOf, segment } from './config-error.js';
import type { LoadedConfig, ServerFileSettings } from './config-types.js';
import { Checker, describe, show, type Field, type Node } from './config-checker.js';

const SERVER_KEYS = [
  'host',
  'port',
  'httpPort',
  'token',
  'adminToken',
  'allowLegacy',
  'allowOrigin',
  'maxClientsPerIp',
  'stallTimeout',
  'tls',
  'sourcePaths',
] as const;
const TOP_KEYS: readonly string[] = [...SERVER_KEYS, 'bus', 'streamDefaults', 'streams'];
/** Stream fields whose null means something (none, off); for the others an empty value is a mistake. */
export const NULLABLE: ReadonlySet<string> = new Set(['fps', 'legacyPort', 'readToken', 'publishToken']);
const DEFAULT_PORT = 9999;

/**
 * Validates a config file's text; `path` names it in messages and anchors the TLS paths.
 * `streamsOptional`: a file without streams is valid (an edge reads only the server-wide settings).
 */
export function checkConfigText(text: string, path: string, streamsOptional = false): LoadedConfig {
  const lc = new LineCounter();
  // logLevel: the library's own console warnings (an odd key) would be noise in a server's log.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, logLevel: 'error' });
  const c = new Checker(path, text, doc, lc);
  // Warnings count too: an unresolved tag would otherwise turn a value into a string silently.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new ConfigError(path, c.lineAt(problem.pos[0]), null, problem.message.split('\n')[0]!);
  const root = c.deref(doc.contents);
  if (streamsOptional && (root === null || (isScalar(root) && root.value === null)))
    return {
      path: resolve(path),
      server: {},
      bus: null,
      streamDefaults: {},
      streams: [],
      defaultStream: '',
      raw: { streams: {} },
    };
  if (root === null || (isScalar(root) && root.value === null))
    throw new ConfigError(path, 1, 'streams', 'at least one stream is required (the file is empty)');
  const top = c.mapping(root, '(top level)', TOP_KEYS, 'setting');
  const get = (key: string) => top.find((f) => f.key === key);
  const server = serverSettings(c, top, dirname(resolve(path)));
  const busField = get('bus');
  const bus = busField ? busOf(c, busField, dirname(resolve(path))) : null;
  const streamDefaults = defaultsOf(c, get('streamDefaults'));
  const streamsField = get('streams');
  if (!streamsField && !streamsOptional)
    throw new ConfigError(path, c.line(root), 'streams', 'required: a mapping of stream names to settings');
  const streams = streamsField ? streamsOf(c, streamsField, streamDefaults) : [];
  checkPorts(c, server, streams, streamDefaults);
  return {
    path: resolve(path),
    server,
    bus,
    streamDefaults: Object.fromEntries(Object.entries(streamDefaults).map(([k, v]) => [k, v.value])),
    streams: streams.map((s) => s.resolved),
    defaultStream: streams[0]?.resolved.name ?? '',
    raw: { streams: Object.fromEntries(streams.map((s) => [s.resolved.name, s.config])) },
  };
}

function serverSettings(c: Checker, top: Field[], baseDir: string): ServerFileSettings {
  const s: ServerFileSettings = {};
  for (const f of top) {
    const { key, node, value: v } = f;
    const fail = (problem: string): never => c.fail(node ?? f.keyNode, key, problem);
    const int = (min: number, max: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
        fail(`must be an integer from ${min} to ${max}, got ${show(v)}`);
      return v as number;
    };
    const token = (): string | null => {
      if (v === null) return null;
      // The value is not echoed: it is a secret, even when mistyped.
      if (typeof v !== 'string') fail('must be a string (quote it)');
      const problem = tokenProblem(v as string);
      if (problem) fail(problem);
      return v as string;
    };
    switch (key) {
      case 'host':
        if (typeof v !== 'string' || v.trim() === '' || /\s/.test(v))
          fail(`must be an address such as 127.0.0.1 or 0.0.0.0, got ${show(v)}`);
        s.host = v as string;
        break;
      case 'port':
        s.port = int(0, 65535);
        break;
      case 'httpPort':
        s.httpPort =
          v === null || v === 'off'
            ? null
            : typeof v === 'number'
              ? int(0, 65535)
              : fail(`must be an integer from 0 to 65535 or off, got ${show(v)}`);
        break;
      case 'token':
        s.token = token();
        break;
      case 'adminToken':
        s.adminToken = token();
        break;
      case 'allowLegacy':
        if (typeof v !== 'boolean') fail(`must be true or false, got ${show(v)}`);
        s.allowLegacy = v as boolean;
        break;
      case 'allowOrigin':
        s.allowOrigin =
          v === null
            ? null
            : (originOf(v) ??
              fail(`must be '*' or an origin like https://example.com:8443 (no path), got ${show(v)}`));
        break;
      case 'maxClientsPerIp':
        s.maxClientsPerIp = int(0, 100_000);
        break;
      case 'stallTimeout':
        // Seconds, as --stall-timeout; under a second would cut healthy clients on any hiccup.
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 86_400 || (v > 0 && v < 1))
          fail(`must be 0 or from 1 to 86400 seconds, got ${show(v)}`);
        s.stallTimeoutMs = Math.round((v as number) * 1000);
        break;
      case 'tls':
        s.tls = tlsOf(c, f, baseDir);
        break;
      case 'sourcePaths': {
        const list = typeof v === 'string' ? [v] : v;
        if (
          !Array.isArray(list) ||
          list.length === 0 ||
          list.some((d) => typeof d !== 'string' || d.trim() === '')
        )
          fail(`must be a directory or a list of directories, got ${show(v)}`);
        s.sourcePaths = (list as string[]).map((d) => resolve(baseDir, d));
        break;
      }
    }
  }
  return s;
}

function tlsOf(c: Checker, f: Field, baseDir: string): ServerFileSettings['tls'] {
  if (f.value === null) return null;
  const fields = c.mapping(f.node, 'tls', ['cert', 'key'], 'tls setting');
  const path = (key: 'cert' | 'key'): string => {
    const field = fields.find((x) => x.key === key);
    if (!field)
      c.fail(
        f.node,
        `tls.${key}`,
        `required: the ${key === 'cert' ? 'certificate' : 'private key'}'s PEM file`,
      );
    if (typeof field.value !== 'string' || field.value.trim() === '')
      c.fail(field.node ?? field.keyNode, `tls.${key}`, `must be a file path, got ${show(field.value)}`);
    return resolve(baseDir, field.value);
  };
  return { certPath: path('cert'), keyPath: path('key') };
}

/** A stream's fields as written; null is refused where it would silently mean "the default". */
function streamFields(c: Checker, node: Node, path: string, known: readonly string[]): Record<string, Field> {
  const out: Record<string, Field> = {};
  for (const f of c.mapping(node, path, known, 'stream setting')) {
    if (f.value === null && !NULLABLE.has(f.key))
      c.fail(f.node ?? f.keyNode, `${path}.${f.key}`, 'is empty: give a value or remove the line');
    if (typeof f.value === 'number' && !Number.isFinite(f.value))
      c.fail(f.node, `${path}.${f.key}`, `must be a finite number, got ${show(f.value)}`);
    out[f.key] = f;
  }
  return out;
}

function defaultsOf(c: Checker, f: Field | undefined): Record<string, Field> {
  if (!f || f.value === null) return {};
  const fields = streamFields(c, f.node, 'streamDefaults', STREAM_FIELDS);
  if (fields.source)
    c.fail(
      fields.source.keyNode,
      'streamDefaults.source',
      'each stream has its own source: move it under streams',
    );
  try {
    resolveStreamConfig('check', { source: 'test', ...valuesOf(fields) });
  } catch (err) {
    if (!(err instanceof StreamConfigError)) throw err;
    const at = fields[err.field];
    c.fail(at?.node ?? at?.keyNode ?? f.node, `streamDefaults.${err.field}`, problemOf(err));
  }
  return fields;
}

interface CheckedStream {
  resolved: ResolvedStreamConfig;
  config: StreamConfig;
  keyNode: ParsedNode;
  fields: Record<string, Field>;
}

function streamsOf(c: Checker, f: Field, defaults: Record<string, Field>): CheckedStream[] {
  const map = c.deref(f.node);
  if (f.value === null || (isMap(map) && map.items.length === 0))
    c.fail(f.node ?? f.keyNode, 'streams', 'at least one stream is required');
  if (!isMap(map))
    c.fail(f.node, 'streams', `must be a mapping of stream names to settings, got ${describe(map)}`);
  const defaultValues = valuesOf(defaults);
  return map.items.map((pair) => {
    const name = keyName(pair.key, c.text);
    const path = `streams.${segment(name ?? '?')}`;
    try {
      checkStreamName(name);
    } catch (err) {
      c.fail(pair.key, path, problemOf(err as StreamConfigError));
    }
    const value = c.deref(pair.value);
    if (!isMap(value))
      c.fail(
        pair.value ?? pair.key,
        path,
        `must be a mapping with at least a source, got ${describe(value)}`,
      );
    const fields = streamFields(c, pair.value, path, STREAM_FIELDS);
    const source = fields.source;
    if (!source) c.fail(pair.key, `${path}.source`, 'required: a file, URL, webcam, test or publisher');
    if (typeof source.value !== 'string')
      c.fail(
        source.node,
        `${path}.source`,
        `must be a string (a file, URL, webcam, test or publisher), got ${show(source.value)}`,
      );
    const config = valuesOf(fields) as unknown as StreamConfig;
    try {
      return {
        resolved: resolveStreamConfig(name!, config, defaultValues),
        config,
        keyNode: pair.key,
        fields,
      };
    } catch (err) {
      if (!(err instanceof StreamConfigError)) throw err;
      const at = fields[err.field];
      return c.fail(at?.node ?? at?.keyNode ?? pair.key, `${path}.${err.field}`, problemOf(err));
    }
  });
}

/** Ports that would collide at listen time, reported at the line that asks for the second one. */
function checkPorts(
  c: Checker,
  server: ServerFileSettings,
  streams: CheckedStream[],
  defaults: Record<string, Field>,
): void {
  const port = server.port ?? DEFAULT_PORT;
  const seen = new Map<number, string>();
  for (const s of streams) {
    const lp = s.resolved.legacyPort;
    if (lp === null) continue;
    const own = s.fields.legacyPort;
    const node = own?.node ?? defaults.legacyPort?.node ?? s.keyNode;
    const field = `streams.${segment(s.resolved.name)}.legacyPort`;
    const from = own ? '' : ' (from streamDefaults)';
    if (lp !== 0) {
      if (lp === port) c.fail(node, field, `${lp}${from} is the server's port`);
      if (lp === server.httpPort) c.fail(node, field, `${lp}${from} is the server's httpPort`);
      const other = seen.get(lp);
      if (other !== undefined)
        c.fail(node, field, `${lp}${from} is already the legacyPort of stream ${other}`);
      seen.set(lp, s.resolved.name);
    }
    if ((server.token || s.resolved.readToken) && !server.allowLegacy)
      c.fail(node, field, 'serves seed clients, which cannot present a token: add allowLegacy: true');
  }
}

function valuesOf(fields: Record<string, Field>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.value]));
}

/** An HTTP(S) origin, scheme://host[:port] and nothing else (browsers compare it byte for byte), or '*'. */
function originOf(v: unknown): string | null {
  if (v === '*') return '*';
  if (typeof v !== 'string') return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return null;
  }
  const ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === v.replace(/\/$/, '');
  return ok ? url.origin : null;
}
