import type http from 'node:http';
import { mayPublish, serveHttpPublish } from '../../ingest/publish/http-publisher.js';
import { authorized, originAllowed, presentedToken } from './auth.js';
import type { HttpStreams } from './http-server-types.js';
import { peerOf, sendText } from './respond.js';
import { noSuchStream } from './stream-http.js';

/** What POST /streams/NAME/publish needs of the HTTP server. */
export interface PublishRouteContext {
  streams: HttpStreams;
  /** The server's token (opens every stream, publishing included). */
  token: string | null;
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
  if (!target) {
    if (!authorized(req, url, ctx.token)) return ctx.refuseToken();
    return noSuchStream(res, name ?? 'default', ctx.cors);
  }
  const publishTarget = {
    name: target.name,
    ingest: target.ingest ?? null,
    publishToken: target.publishToken ?? null,
  };
  if (!mayPublish(publishTarget, ctx.token, presentedToken(req, url))) return ctx.refuseToken();
  serveHttpPublish(req, res, publishTarget, peerOf(req), ctx.cors);
}
