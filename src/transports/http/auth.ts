import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { isLoopbackHost } from '../../util/loopback.js';
import type {
  Access,
  Action,
  Credentials,
  Decision,
  Guarded,
  Protocol,
  Refusal,
} from '../../access/access.js';

/** The token a request presents: `Authorization: Bearer T`, else the `token` query parameter. */
export function presentedToken(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1] as string;
  }
  return url.searchParams.get('token');
}

/** What a request carries: a token (Bearer or `?token=`) and HTTP Basic's user and password. */
export function presentedCredentials(req: IncomingMessage, url: URL): Credentials {
  const header = req.headers.authorization;
  const basic = header ? /^Basic\s+([A-Za-z0-9+/=]{1,4096})\s*$/i.exec(header) : null;
  if (basic) {
    const text = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0)
      return {
        token: url.searchParams.get('token'),
        user: text.slice(0, colon),
        password: text.slice(colon + 1),
      };
  }
  return { token: presentedToken(req, url), user: null, password: null };
}

/** The server's one access decision for an HTTP request (or a WebSocket upgrade). */
export function askAccess(
  access: Access,
  req: IncomingMessage,
  url: URL,
  action: Action,
  name: string | null,
  stream: Guarded | null,
  protocol: Protocol = 'http',
): Promise<Decision> {
  return access.authorize({
    action,
    name,
    stream,
    credentials: presentedCredentials(req, url),
    ip: req.socket.remoteAddress ?? '',
    protocol,
  });
}

/** A refusal in a log line (never the credentials). */
export const REFUSAL_WORDS: Readonly<Record<Refusal, string>> = {
  'token-required': 'missing or wrong token',
  'token-invalid': 'missing or wrong token',
  'unknown-stream': 'no such stream',
  disabled: 'disabled on this server',
  forbidden: 'not permitted',
  'rate-limited': 'too many failed logins from this address',
};

/** A refusal as HTTP says it: status, one line, and the headers that tell a client how to log in. */
export function refusalResponse(
  access: Access,
  req: IncomingMessage,
  refusal: Refusal,
  what = 'a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN',
  realm = 'framecast',
): { status: number; text: string; headers: Record<string, string> } {
  switch (refusal) {
    case 'rate-limited':
      return {
        status: 429,
        text: 'too many failed logins from this address: try again later',
        headers: { 'Retry-After': String(access.retryAfterSec(req.socket.remoteAddress ?? '')) },
      };
    case 'forbidden':
      return { status: 403, text: 'not permitted', headers: {} };
    case 'unknown-stream':
      return { status: 404, text: 'no such stream', headers: {} };
    case 'disabled':
      return { status: 403, text: 'disabled on this server', headers: {} };
    default: {
      // Browsers ask for a user and password only when Basic is offered.
      const challenge = access.loginsEnabled
        ? `Basic realm="${realm}", Bearer realm="${realm}"`
        : `Bearer realm="${realm}"`;
      return {
        status: 401,
        text: access.loginsEnabled ? 'a login is required: a user and password, or a token' : what,
        headers: { 'WWW-Authenticate': challenge },
      };
    }
  }
}

/** The hostname of `host[:port]` as the URL parser normalises it (lower case, `[v6]`), or null. */
function hostnameOf(hostPort: string): string | null {
  try {
    return new URL(`http://${hostPort}`).hostname;
  } catch {
    return null;
  }
}

/** `host:port` as the URL parser normalises it (default port dropped), or null. */
function hostOf(hostPort: string): string | null {
  try {
    return new URL(`http://${hostPort}`).host;
  } catch {
    return null;
  }
}

/** True for an IP address (no DNS answer can move it), brackets allowed. */
function isAddress(hostname: string): boolean {
  return isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/**
 * DNS-rebinding guard: a server bound to loopback answers only requests addressed to a loopback name
 * or address (`localhost`, 127.x, `[::1]`), or to allowOrigin's host (a reverse proxy that passes
 * its own Host). A browser page whose name an attacker points at 127.0.0.1 sends its own name as Host.
 * Not checked when bound beyond loopback (the names users type are not known: the token guards it),
 * nor with allowOrigin `*` (every site may then read every answer anyway), nor without a Host header
 * (not a browser).
 */
export function hostAllowed(req: IncomingMessage, boundHost: string, allowOrigin: string | null): boolean {
  if (!isLoopbackHost(boundHost) || allowOrigin === '*') return true;
  const host = req.headers.host;
  if (host === undefined) return true;
  const name = hostnameOf(host);
  if (name === null) return false;
  if (isLoopbackHost(name)) return true;
  if (allowOrigin === null) return false;
  try {
    return new URL(allowOrigin).hostname === name;
  } catch {
    return false;
  }
}

/** The text of a 421 answer to a request hostAllowed refused. */
export const MISDIRECTED =
  'this server answers only for localhost, 127.0.0.1 and [::1] (DNS rebinding guard)';

/**
 * Same-origin check for requests a browser can send cross-site without asking (a form POST, a
 * WebSocket): a request with an `Origin` must come from the allowed origin, or from this server's own
 * host and port by a name no DNS answer can move (an IP address, `localhost`, this machine's own name
 * or its `.local` mDNS name): a rebound name
 * agrees with the Host header it makes the browser send, so Host alone proves nothing.
 * Requests without `Origin` (curl, OpenCV, ffmpeg) are not browsers acting for another site.
 */
export function originAllowed(req: IncomingMessage, allowOrigin: string | null): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowOrigin === '*' || (allowOrigin !== null && origin === allowOrigin)) return true;
  const host = req.headers.host;
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.host !== hostOf(host)) return false;
  return isAddress(url.hostname) || isLoopbackHost(url.hostname) || isOwnName(url.hostname);
}

/** This machine's own name, bare or as its mDNS `.local` name: an attacker's DNS cannot answer for them. */
function isOwnName(hostname: string): boolean {
  const own = osHostname().toLowerCase();
  const h = hostname.replace(/\.$/, '');
  return own !== '' && (h === own || h === `${own}.local`);
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
