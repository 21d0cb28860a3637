import type http from 'node:http';
import type { Access, Guarded } from '../../access/access.js';
import { askAccess, originAllowed, refusalResponse, REFUSAL_WORDS } from './auth.js';
import { sendJson, sendText } from './respond.js';
import type { StatsReport } from './stats.js';

/**
 * What /api/streams/NAME needs from the server: the transport owns this interface, the app
 * implements it (app/stream-api.ts).
 */
export interface StreamApi {
  /** One stream as GET /api/streams/NAME shows it, or null. */
  describe(name: string): Record<string, unknown> | null;
  /** Creates or replaces a stream (its settings as in the config file); `created` when it is new. */
  put(name: string, body: unknown): Promise<{ created: boolean; stream: Record<string, unknown> }>;
  /** Removes a stream; false when there was none. */
  remove(name: string): Promise<boolean>;
  /**
   * Starts (`on`) or stops recording a stream, through the same path as every change (checked,
   * applied, written to the config file): the stream and its viewers go on. Null: no such stream.
   */
  record(name: string, on: boolean): Promise<Record<string, unknown> | null>;
}

/** Largest JSON body a PUT may carry: a stream's settings are a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a request body up to `max` bytes; null when it is larger (a Content-Length over it is known
 * before a byte is read). The rest is not read: the caller answers 413 and closes the connection.
 */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.resolve(null);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
  });
}

/** The settings of the HTTP API. */
export interface ApiContext {
  api: StreamApi | null;
  /** Reading the API is the `api` action; writing it, `admin`; recording, `record`. */
  access: Access;
  /** The stream of that name as access sees it, or null. */
  guardOf: (name: string) => Guarded | null;
  /** A stream's /stats section (for its frame rates), or null when there is no such stream. */
  statsOf: (name: string) => StatsReport | null;
  allowOrigin: string | null;
  cors: Readonly<Record<string, string>>;
  onRefused: (address: string, reason: string) => void;
}

/**
 * /api/streams/NAME: GET (the server's token), PUT and DELETE (the admin token). A write that the
 * server refuses (a bad value, a missing file) is 400 with the one-line reason; nothing changed then.
 */
export async function serveStreamApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  name: string,
  ctx: ApiContext,
): Promise<void> {
  const { api, cors } = ctx;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const may = await askAccess(ctx.access, req, url, 'api', null, null);
    if (!may.allowed) {
      const r = refusalResponse(ctx.access, req, may.refusal, 'a token is required');
      return sendText(res, r.status, r.text, { ...cors, ...r.headers });
    }
    const d = api?.describe(name) ?? null;
    return d
      ? sendJson(res, 200, apiStream(d, ctx.statsOf(name)), cors)
      : sendText(res, 404, `no stream named ${name}`, cors);
  }
  const recording = name.endsWith('/record') ? name.slice(0, -'/record'.length) : null;
  if (recording !== null && req.method !== 'POST' && req.method !== 'DELETE')
    return sendText(res, 405, `method ${req.method} not allowed`, { ...cors, Allow: 'POST, DELETE' });
  if (recording === null && req.method !== 'PUT' && req.method !== 'DELETE') {
    return sendText(res, 405, `method ${req.method} not allowed`, { ...cors, Allow: 'GET, PUT, DELETE' });
  }
  // Writing is `admin` (the admin token, or the `api` permission on that stream); recording is `record`.
  const target = recording ?? name;
  const decision = await askAccess(
    ctx.access,
    req,
    url,
    recording !== null ? 'record' : 'admin',
    target,
    ctx.guardOf(target),
  );
  if (!api || (!decision.allowed && decision.refusal === 'disabled')) {
    return sendText(
      res,
      403,
      'API writes are disabled: start the server with --admin-token (or FRAMECAST_ADMIN_TOKEN) to allow them',
      cors,
    );
  }
  if (!decision.allowed && decision.refusal !== 'unknown-stream') {
    ctx.onRefused(
      `${req.socket.remoteAddress}`,
      `API ${req.method} ${url.pathname}: ${decision.refusal.startsWith('token') ? 'missing or wrong admin token' : REFUSAL_WORDS[decision.refusal]}`,
    );
    const r = refusalResponse(
      ctx.access,
      req,
      decision.refusal,
      'the admin token is required: Authorization: Bearer ADMIN_TOKEN',
      'framecast-admin',
    );
    return sendText(res, r.status, r.text, { ...cors, ...r.headers });
  }
  if (!originAllowed(req, ctx.allowOrigin)) return sendText(res, 403, 'cross-origin request refused', cors);
  try {
    if (recording !== null) {
      req.resume();
      const stream = await api.record(recording, req.method === 'POST');
      return stream
        ? sendJson(res, 200, apiStream(stream, ctx.statsOf(recording)), cors)
        : sendText(res, 404, `no stream named ${recording}`, cors);
    }
    if (req.method === 'DELETE') {
      req.resume();
      const removed = await api.remove(name);
      return removed
        ? sendJson(res, 200, { removed: name }, cors)
        : sendText(res, 404, `no stream named ${name}`, cors);
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null)
      return sendText(res, 413, `the body is over ${MAX_BODY_BYTES} bytes`, { ...cors, Connection: 'close' });
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return sendText(res, 400, `the body is not JSON: ${(err as Error).message}`, cors);
    }
    const { created, stream } = await api.put(name, value);
    // The stream as GET /api/streams/NAME shows it.
    return sendJson(res, created ? 201 : 200, apiStream(stream, ctx.statsOf(name)), cors);
  } catch (err) {
    // Every refusal is an error with a message for the user (a range, a file, a source).
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return sendText(res, 400, message ?? 'refused', cors);
  }
}

/**
 * What GET /api/streams (each entry) and GET /api/streams/NAME say of a stream: its settings and
 * state as the API describes them (tokens never shown, passwords masked; the source shown whether or
 * not it runs), and its frame rates in and out from the stream's /stats.
 */
export function apiStream(
  described: Record<string, unknown>,
  stats: Pick<StatsReport, 'source'> | null,
): Record<string, unknown> {
  return { ...described, fpsIn: stats?.source.fpsIn ?? null, fpsOut: stats?.source.fpsOut ?? 0 };
}

/** GET /api/streams: every stream as GET /api/streams/NAME shows it, in order. */
export function apiList<T extends { readonly name: string }>(
  streams: readonly T[],
  api: StreamApi | null,
  reportOf: (stream: T) => StatsReport,
): Record<string, unknown>[] {
  return streams.map((s) => {
    const stats = reportOf(s);
    const described = api?.describe(s.name) ?? {
      name: s.name,
      source: stats.source.name,
      state: stats.source.state,
      clients: stats.clients.length,
    };
    return apiStream(described, stats);
  });
}
