import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tlsServerOptions, type TlsCredentials } from '../tls-config.js';

/** The listener settings createHttpListener needs. */
export interface HttpListenerOptions {
  tls?: TlsCredentials | null;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/**
 * The http or https listener with our timeouts: headers within `headersTimeoutMs` (slowloris guard),
 * the whole request within `requestTimeoutMs` (see bodyDeadline); `onConnection` sees each TCP connection first.
 */
export function createHttpListener(
  opts: HttpListenerOptions,
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  onConnection: (socket: Socket) => void,
): http.Server {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const serverOptions: http.ServerOptions = {
    noDelay: true,
    headersTimeout,
    // Node's requestTimeout would also cut a publisher's endless POST body: the server enforces the
    // whole-request deadline itself, per request (bodyDeadline), and skips it for publishing.
    requestTimeout: 0,
    // Node checks those timeouts only this often (30 s by default): a slow client would outlive them.
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  };
  const server = opts.tls
    ? (https.createServer(
        { ...serverOptions, ...tlsServerOptions(opts.tls) },
        onRequest,
      ) as unknown as http.Server)
    : http.createServer(serverOptions, onRequest);
  if (opts.tls) server.on('tlsClientError', (_err: Error, s: Socket) => s.destroy());
  server.on('connection', onConnection);
  return server;
}

export { peerAddress as peerOfSocket } from '../peer.js';

/**
 * Cuts a request whose body has not fully arrived within `ms` (408): the slow-body guard Node's
 * requestTimeout gives, for every request but a publisher's stream of frames.
 */
export function bodyDeadline(req: http.IncomingMessage, res: http.ServerResponse, ms: number): void {
  if (req.complete) return;
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) res.writeHead(408, { Connection: 'close', 'Content-Length': 0 }).end();
    req.socket.destroy();
  }, ms);
  const clear = (): void => clearTimeout(timer);
  req.once('end', clear);
  req.once('close', clear);
}
