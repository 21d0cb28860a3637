import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hub } from '../../hub/hub.js';
import { peerAddress } from '../peer.js';
import type { Subscriber } from '../../hub/subscriber.js';

/** Headers that keep browsers and proxies from caching live pictures. */
export const NO_CACHE: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store, no-cache, must-revalidate, proxy-revalidate, max-age=0',
  Pragma: 'no-cache',
  Expires: '0',
};

/** What every endpoint handler gets from the HTTP server. */
export interface HttpContext {
  hub: Hub;
  /** The stream this context serves (for logs and stats). */
  streamName: string;
  /** --no-pace: queue frames per client instead of replacing them. */
  lossless: boolean;
  /** CORS headers to add to every response (empty unless --allow-origin). */
  cors: Readonly<Record<string, string>>;
  /** A new streaming client joined the hub (for logging). */
  onClient: (sub: Subscriber) => void;
  /** A client was turned away (for logging). */
  onRefused: (address: string, reason: string) => void;
}

/**
 * The request's URL, never throwing: a request target the WHATWG parser rejects (`//x`, `http://a:b/`)
 * would otherwise throw inside the request handler and take the process down. Such a target maps to
 * a path no endpoint serves.
 */
export function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return new URL('http://localhost/invalid-request-target');
  }
}

/** The peer as `ip:port` (`[v6]:port`). */
export function peerOf(req: IncomingMessage): string {
  return peerAddress(req.socket);
}

/** Ends a request with a short plain-text message. */
export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(text + '\n', 'utf8');
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    ...NO_CACHE,
  });
  res.end(body);
}

/** Ends a request with a JSON body. */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    ...NO_CACHE,
  });
  res.end(body);
}
