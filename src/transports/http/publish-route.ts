import type http from 'node:http';
import type { Access, Refusal } from '../../access/access.js';
import { serveHttpPublish } from '../../ingest/publish/http-publisher.js';
import { askAccess, originAllowed } from './auth.js';
import type { HttpStreams } from './http-server-types.js';
import { peerOf, sendText } from './respond.js';
import { noSuchStream } from './stream-http.js';

/** What POST /streams/NAME/publish needs of the HTTP server. */
export interface PublishRouteContext {
  streams: HttpStreams;
  /** Who may publish where (the server's one access decision). */
  access: Access;
  allowOrigin: string | null;
  cors: Readonly<Record<string, string>>;
  /** Answers a refusal (401, 403, 429; and logs it). */
  refuse: (refusal: Refusal) => void;
}

/**
 * POST /streams/NAME/publish: a same-origin request (or --allow-origin's) with the stream's publish
 * token or the server's; an unknown stream is named only to a request that may see every stream.
 */
export async function routePublish(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  name: string | null,
  ctx: PublishRouteContext,
): Promise<void> {
  if (!originAllowed(req, ctx.allowOrigin))
    return sendText(res, 403, 'cross-origin request refused', ctx.cors);
  const decision = await askAccess(
    ctx.access,
    req,
    url,
    'publish',
    name ?? ctx.streams.get(name)?.name ?? null,
    ctx.streams.get(name),
  );
  // Decided after a wait: the stream is looked up again.
  const target = ctx.streams.get(name);
  if (!decision.allowed) {
    if (decision.refusal === 'unknown-stream') return noSuchStream(res, name ?? 'default', ctx.cors);
    return ctx.refuse(decision.refusal);
  }
  if (!target) return noSuchStream(res, name ?? 'default', ctx.cors);
  serveHttpPublish(
    req,
    res,
    { name: target.name, ingest: target.ingest ?? null, maxMetaBytes: target.hub.annotations.maxBytes },
    peerOf(req),
    ctx.cors,
  );
}
