import type http from 'node:http';
import type { Access, Action, Refusal } from '../../access/access.js';
import { apiList, type StreamApi } from './api.js';
import { askAccess } from './auth.js';
import type { HttpStreams, ServerStatsReport } from './http-server-types.js';
import type { ServerMetrics } from './metrics.js';
import { sendJson, sendText } from './respond.js';
import type { StatsReport } from './stats.js';
import { sendPage, type HttpStreamTarget } from './stream-http.js';

/** What the server's own GET endpoints (the grid, /stats, /metrics, /api/streams) need of it. */
export interface ServerGetContext {
  streams: HttpStreams;
  access: Access;
  api: StreamApi | null;
  cors: Readonly<Record<string, string>>;
  /** The /stats document. */
  stats: () => ServerStatsReport;
  /** One stream's report (its per-stream endpoints made the first time it is asked for). */
  reportOf: (stream: HttpStreamTarget) => StatsReport;
  metrics: ServerMetrics;
  /** Answers a refusal (401, 403, 429; and logs it). */
  refuse: (refusal: Refusal) => void;
}

/**
 * A GET (or HEAD) of the server's own: the grid at `/` with several streams, /stats, /metrics and
 * /api/streams; false when the path is a stream's.
 */
export async function serveServerGet(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: ServerGetContext,
): Promise<boolean> {
  return (await sendGrid(req, res, url, ctx)) || serverGet(req, res, url, ctx);
}

/** The server's access decision for this request. */
function mayServer(req: http.IncomingMessage, url: URL, ctx: ServerGetContext, action: Action) {
  return askAccess(ctx.access, req, url, action, null, null);
}

/**
 * With several streams, `/` is the grid of every stream's live preview (it reads /stats, so it takes
 * the server's token); false otherwise, and `/` is the default stream's viewer as with one stream
 * (also for a request that holds only the default stream's readToken).
 */
async function sendGrid(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: ServerGetContext,
): Promise<boolean> {
  if (url.pathname !== '/' && url.pathname !== '/index.html') return false;
  if (ctx.streams.list().length < 2 || !(await mayServer(req, url, ctx, 'metrics')).allowed) return false;
  sendPage(res, 'grid.html', { title: 'framecast', role: 'server' });
  return true;
}

/** The server's own endpoints (the server's token); false when the path is a stream's. */
async function serverGet(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: ServerGetContext,
): Promise<boolean> {
  const cors = ctx.cors;
  const path = url.pathname;
  if (path !== '/stats' && path !== '/metrics' && path !== '/api/streams') return false;
  const decision = await mayServer(req, url, ctx, path === '/api/streams' ? 'api' : 'metrics');
  if (!decision.allowed) {
    ctx.refuse(decision.refusal);
    return true;
  }
  if (path === '/stats') sendJson(res, 200, ctx.stats(), cors);
  else if (path === '/api/streams')
    sendJson(res, 200, apiList(ctx.streams.list(), ctx.api, ctx.reportOf), cors);
  else
    ctx.metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { ...cors, 'Content-Type': contentType });
        res.end(body);
      },
      (err: Error) => sendText(res, 500, `metrics failed: ${err.message}`, cors),
    );
  return true;
}
