import type { FramecastServer } from '../server.js';
import { writeStream } from './config-file.js';
import { redactCredentials } from '../util/redact.js';
import { tokenMatches } from '../util/token.js';
import { resolveStreamConfig, STREAM_FIELDS, type StreamConfig } from '../streams/stream-options.js';
import { streamDefaults } from '../streams/stream-plan.js';
import type { Stream } from '../streams/stream.js';

/** What PUT/DELETE /api/streams/NAME need from the server (the HTTP transport calls it). */
export interface StreamApi {
  /** False when no admin token is set: writes are refused (403). */
  readonly writable: boolean;
  /** True when `given` is the admin token. */
  isAdmin(given: string | null): boolean;
  /** One stream as GET /api/streams/NAME shows it, or null. */
  describe(name: string): Record<string, unknown> | null;
  /** Creates or replaces a stream (its settings as in the config file); `created` when it is new. */
  put(name: string, body: unknown): Promise<{ created: boolean; stream: Record<string, unknown> }>;
  /** Removes a stream; false when there was none. */
  remove(name: string): Promise<boolean>;
}

/** A stream's settings and state for the API; tokens are never shown, passwords in URLs are masked. */
export function describeStream(s: Stream): Record<string, unknown> {
  const { readToken: _token, readTokenDigest: _digest, publishToken, ...config } = s.config;
  const src = s.hub.source;
  return {
    ...config,
    source: redactCredentials(config.source),
    readToken: s.readToken === null ? null : '(set)',
    publishToken: publishToken === null ? null : '(set)',
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

/**
 * The API over a running server. With a config file, every change is written to the file first
 * (atomically, comments and order kept) and the server then applies what the file now says, so a
 * restart serves the same streams; without one, changes live in memory.
 */
export function createStreamApi(
  server: FramecastServer,
  settings: { adminToken: string | null; configPath: string | null },
): StreamApi {
  const defaults = (): ReturnType<typeof streamDefaults> => streamDefaults(server.options);
  return {
    writable: settings.adminToken !== null,
    isAdmin: (given) =>
      settings.adminToken !== null && given !== null && tokenMatches(settings.adminToken, given),
    describe: (name) => {
      const s = server.streams.get(name);
      return s ? describeStream(s) : null;
    },
    async put(name, body) {
      const config = bodyConfig(body);
      const resolved = resolveStreamConfig(name, config, defaults());
      const created = server.streams.get(name) === null;
      if (settings.configPath) {
        const loaded = await writeStream(settings.configPath, name, config);
        await server.applyStreams(loaded.streams);
      } else {
        const next = server.streams.list().map((s) => s.config);
        const i = next.findIndex((c) => c.name === name);
        if (i >= 0) next[i] = resolved;
        else next.push(resolved);
        await server.applyStreams(next);
      }
      const stream = server.streams.get(name);
      return { created, stream: stream ? describeStream(stream) : {} };
    },
    async remove(name) {
      if (server.streams.get(name) === null) return false;
      if (settings.configPath) {
        const loaded = await writeStream(settings.configPath, name, null);
        await server.applyStreams(loaded.streams);
      } else {
        await server.applyStreams(
          server.streams
            .list()
            .map((s) => s.config)
            .filter((c) => c.name !== name),
        );
      }
      return true;
    },
  };
}
