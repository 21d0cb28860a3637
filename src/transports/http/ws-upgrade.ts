import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Access } from '../../access/access.js';
import { askAccess, hostAllowed, originAllowed, refusalResponse, REFUSAL_WORDS } from './auth.js';
import { splitStreamPath, type HttpStreams } from './http-server-types.js';
import { isPlaybackRequest } from './recordings-http.js';
import { peerOf, requestUrl } from './respond.js';
import type { HttpStreamTarget, StreamHttp } from './stream-http.js';

/** What a WebSocket upgrade needs of the HTTP server. */
export interface UpgradeContext {
  access: Access;
  streams: HttpStreams;
  /** The bound host and the allowed origin (the DNS rebinding and cross-site guards). */
  host: string;
  allowOrigin: string | null;
  /** A stream's endpoints (made the first time they are asked for). */
  of: (stream: HttpStreamTarget) => StreamHttp;
  onRefused: (address: string, reason: string) => void;
}

/**
 * An upgrade to /streams/NAME/ws: the Host guard, the access decision (`read`, or `playback` with
 * `?start=`), the Origin guard, then the stream's WebSocket. A refusal is an HTTP status and close.
 */
export function routeUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  ctx: UpgradeContext,
): void {
  socket.on('error', () => socket.destroy());
  const url = requestUrl(req);
  const refuse = (status: number, text: string, headers = ''): void => {
    ctx.onRefused(peerOf(req), `WebSocket: ${text}`);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  };
  if (!hostAllowed(req, ctx.host, ctx.allowOrigin))
    return refuse(421, `Host ${req.headers.host} is not this server's (DNS rebinding guard)`);
  const { name, rest } = splitStreamPath(url.pathname);
  if (rest !== 'ws') return refuse(404, `no WebSocket endpoint ${url.pathname}`);
  const action = isPlaybackRequest(rest, url.searchParams) ? 'playback' : 'read';
  const asked = ctx.streams.get(name);
  void askAccess(ctx.access, req, url, action, name ?? asked?.name ?? null, asked, 'websocket').then(
    (read) => {
      // Decided after a wait: the stream may have gone meanwhile.
      const target = ctx.streams.get(name);
      if (!read.allowed && read.refusal === 'unknown-stream')
        return refuse(404, `no stream named ${name ?? 'default'}`);
      if (!read.allowed) {
        const r = refusalResponse(ctx.access, req, read.refusal);
        const headers = Object.entries(r.headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        return refuse(r.status, REFUSAL_WORDS[read.refusal], headers);
      }
      if (!target) return refuse(401, 'missing or wrong token');
      // Browsers let any page open a WebSocket anywhere: without a token, the origin is the only guard.
      if (!originAllowed(req, ctx.allowOrigin)) return refuse(403, 'cross-origin WebSocket refused');
      ctx.of(target).upgrade(req, socket, head, url);
    },
    () => socket.destroy(),
  );
}
