import type { StreamApi } from '../transports/http/api.js';
import { editStream, fileStreams, loadConfig } from '../config/config-file.js';
import type { FramecastServer, StreamChange, StreamsApplied } from './framecast-server.js';
import { redactCredentials } from '../util/redact.js';
import { resolveStreamConfig, STREAM_FIELDS, type StreamConfig } from '../streams/stream-options.js';
import { streamDefaults } from './serve-plan.js';
import type { Stream } from '../streams/stream.js';
import { EXEC_FROM_API, execCommand } from '../source/source-spec.js';

export type { StreamApi };

/** A stream's settings and state for the API; tokens are never shown, passwords in URLs are masked. */
export function describeStream(s: Stream): Record<string, unknown> {
  const { readToken: _token, readTokenDigest: _digest, publishToken, annotateToken, ...config } = s.config;
  const src = s.hub.source;
  return {
    ...config,
    // A command may hold anything (a password on its command line): the API shows that there is one.
    source: execCommand(config.source) === null ? redactCredentials(config.source) : 'exec:(a command)',
    readToken: s.readToken === null ? null : '(set)',
    publishToken: publishToken === null ? null : '(set)',
    annotateToken: annotateToken === null ? null : '(set)',
    state: !s.hub.transmitting
      ? 'idle'
      : src?.status?.state === 'no-signal'
        ? 'no-signal'
        : s.hub.latest
          ? 'live'
          : 'starting',
    clients: s.hub.clientCount,
  };
}

/** A StreamConfig from a JSON body: an object of known fields (checked again by resolveStreamConfig). */
function bodyConfig(body: unknown): StreamConfig {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RangeError(
      `the body must be a JSON object with the stream's settings (${STREAM_FIELDS.join(', ')})`,
    );
  return body as StreamConfig;
}

/** Where a server's streams are written down: its config file and the command line's overrides. */
export interface StreamStore {
  configPath: string | null;
  /** Stream settings from the command line, over the file's streamDefaults. */
  streamOverrides?: Omit<StreamConfig, 'source'>;
}

/**
 * The API over a running server. With a config file, a change is made to the file's text, checked
 * with the whole file, applied to the running server, and only then written (atomically, comments
 * and order kept), so a restart serves the same streams and a refused change leaves both the file
 * and the server as they were; without one, changes live in memory.
 */
export function createStreamApi(server: FramecastServer, settings: StreamStore): StreamApi {
  const defaults = (): ReturnType<typeof streamDefaults> => streamDefaults(server.options);
  const overrides = settings.streamOverrides ?? {};
  const change = (name: string, config: StreamConfig | null): Promise<StreamsApplied> =>
    server.applyStreams(async (): Promise<StreamChange> => {
      if (settings.configPath) {
        const edit = await editStream(settings.configPath, name, config);
        return { streams: fileStreams(edit.after, overrides), persist: edit.write };
      }
      const next = server.streams.list().map((s) => s.config);
      const i = next.findIndex((c) => c.name === name);
      if (config === null) return { streams: next.filter((c) => c.name !== name) };
      const resolved = resolveStreamConfig(name, config, defaults());
      if (i >= 0) next[i] = resolved;
      else next.push(resolved);
      return { streams: next };
    });
  return {
    describe: (name) => {
      const s = server.streams.get(name);
      return s ? describeStream(s) : null;
    },
    async put(name, body) {
      const config = bodyConfig(body);
      // A command is the operator's to give (the file, the command line): an API user never runs one.
      if (typeof config.source === 'string' && execCommand(config.source) !== null)
        throw new RangeError(EXEC_FROM_API);
      // Checked here too, so that a bad value is named before the file is even read.
      resolveStreamConfig(name, config, defaults());
      const created = server.streams.get(name) === null;
      await change(name, config);
      const stream = server.streams.get(name);
      return { created, stream: stream ? describeStream(stream) : {} };
    },
    async remove(name) {
      if (server.streams.get(name) === null) return false;
      await change(name, null);
      return true;
    },
    async record(name, on) {
      if (server.streams.get(name)?.name !== name) return null;
      await server.applyStreams(async (): Promise<StreamChange> => {
        if (settings.configPath) {
          const path = settings.configPath;
          const given = loadConfig(path).raw.streams[name];
          if (!given) throw new RangeError(`stream ${name} is not in ${path}`);
          const edit = await editStream(path, name, { ...given, record: on });
          const streams = fileStreams(edit.after, overrides);
          if (streams.find((c) => c.name === name)?.record !== on)
            throw new RangeError(
              `stream ${name}: record is set on the command line (--record), not in ${path}`,
            );
          return { streams, persist: edit.write };
        }
        return {
          streams: server.streams
            .list()
            .map((s) => (s.name === name ? { ...s.config, record: on } : s.config)),
        };
      });
      const stream = server.streams.get(name);
      return stream ? describeStream(stream) : null;
    },
  };
}

/**
 * Applies what the config file now says (SIGHUP, a change to the file): the same checks as an API
 * change; a file that does not load, or streams that do not pass, leave the server as it was.
 */
export function reloadStreams(
  server: FramecastServer,
  path: string,
  overrides: Omit<StreamConfig, 'source'>,
): Promise<StreamsApplied> {
  return server.applyStreams(() => ({ streams: fileStreams(loadConfig(path), overrides) }));
}
