import type { IncomingMessage } from 'node:http';
import { tokenOpens } from '../../util/token.js';

/** The token a request presents: `Authorization: Bearer T`, else the `token` query parameter. */
export function presentedToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1] as string;
  }
  return url.searchParams.get('token');
}

/** True when the request may proceed: no token is set, or it presents the right one. */
export function authorized(req: IncomingMessage, url: URL, token: string | null): boolean {
  return tokenOpens(presentedToken(req, url), token);
}

/**
 * Same-origin check for requests a browser can send cross-site without asking (a form POST, a
 * WebSocket): a request with an `Origin` must come from this server's own host or the allowed origin.
 * Requests without `Origin` (curl, OpenCV, ffmpeg) are not browsers acting for another site.
 */
export function originAllowed(req: IncomingMessage, allowOrigin: string | null): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowOrigin === '*' || (allowOrigin !== null && origin === allowOrigin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** CORS headers for a response: none unless an origin is allowed. */
export function corsHeaders(allowOrigin: string | null): Record<string, string> {
  if (allowOrigin === null) return {};
  return {
    'Access-Control-Allow-Origin': allowOrigin,
    'Access-Control-Allow-Headers': 'Authorization, Content-Type',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    ...(allowOrigin === '*' ? {} : { Vary: 'Origin' }),
  };
}
