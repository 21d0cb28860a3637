import type http from 'node:http';
import type { Access } from '../../access/access.js';
import { serveHttpPublish } from '../../ingest/publish/http-publisher.js';
import { originAllowed, presentedToken } from './auth.js';
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
  /** Answers 401 for a missing or wrong token (and logs it). */
  refuseToken: () => void;
}

/**
 * POST /streams/NAME/publish: a same-origin request (or --allow-origin's) with the stream's publish
 * token or the server's; an unknown stream is named only to a request that may see every stream.
 */
export function routePublish(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  name: string | null,
  ctx: PublishRouteContext,
): void {
  if (!originAllowed(req, ctx.allowOrigin))
    return sendText(res, 403, 'cross-origin request refused', ctx.cors);
  const target = ctx.streams.get(name);
  const decision = ctx.access.decide('publish', target, presentedToken(req, url));
  if (!decision.allowed) {
    if (decision.refusal === 'unknown-stream') return noSuchStream(res, name ?? 'default', ctx.cors);
    return ctx.refuseToken();
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
