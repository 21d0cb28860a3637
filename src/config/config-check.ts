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
import { busOf } from './config-bus.js';
import { hooksOf } from './config-hooks.js';
import { keyName } from './config-edit.js';
import { ConfigError, problemOf, segment } from './config-error.js';
import type { LoadedConfig, ServerFileSettings } from './config-types.js';
import { Checker, describe, show, type Field, type Node } from './config-checker.js';
import { SERVER_KEYS, serverSettings } from './config-server.js';

const TOP_KEYS: readonly string[] = [...SERVER_KEYS, 'bus', 'hooks', 'streamDefaults', 'streams'];
/** Stream fields whose null means something (none, off); for the others an empty value is a mistake. */
export const NULLABLE: ReadonlySet<string> = new Set([
  'fps',
  'legacyPort',
  'readToken',
  'publishToken',
  'annotateToken',
]);
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
      hooks: [],
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
  const hooksField = get('hooks');
  const hooks = hooksField ? hooksOf(c, hooksField) : [];
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
    hooks,
    streamDefaults: Object.fromEntries(Object.entries(streamDefaults).map(([k, v]) => [k, v.value])),
    streams: streams.map((s) => s.resolved),
    defaultStream: streams[0]?.resolved.name ?? '',
    raw: { streams: Object.fromEntries(streams.map((s) => [s.resolved.name, s.config])) },
  };
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
