import { SafeEmitter } from '../../util/safe-emitter.js';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Hub } from '../../hub/hub.js';
import type { Subscriber } from '../../hub/subscriber.js';
import { authorized, corsHeaders, originAllowed } from './auth.js';
import type { IpLimiter } from '../ip-limiter.js';
import { TLS_HANDSHAKE_TIMEOUT_MS, type TlsCredentials } from '../tls-config.js';
import { listenHttp } from './listen.js';
import { ServerMetrics } from './metrics.js';
import { serveMjpeg } from './mjpeg.js';
import { sendJson, sendText, peerOf, requestUrl, type HttpContext } from './respond.js';
import { serveSnapshot } from './snapshot.js';
import { StatsSampler, type EncoderSettings } from './stats.js';
import { STATIC_FILES, webFile, webPage } from './web-assets.js';
import { WsEndpoint } from './ws.js';

/** Options of the HTTP transport. */
export interface HttpServerOptions {
  host: string;
  port: number;
  /** The port was a default, not the user's: take a free one if it is busy. */
  portFallback?: boolean;
  hub: Hub;
  lossless: boolean;
  /** Required on every request (Bearer header or ?token=) when set. */
  token: string | null;
  /** CORS: the origin allowed to read responses cross-site (`*` for any), null for none. */
  allowOrigin: string | null;
  encoder: EncoderSettings;
  startedAt: number;
  /** How long /snapshot.jpg waits for a first frame when nothing is being transmitted. */
  snapshotTimeoutMs?: number;
  /** Per-address connection cap shared with the other transports (--max-clients-per-ip). */
  limiter?: IpLimiter;
  /** A client must send its request headers within this time (slowloris guard; default 10 s). */
  headersTimeoutMs?: number;
  /** ...and its whole request within this time (default 30 s; streams are responses, not requests). */
  requestTimeoutMs?: number;
  /** Serve HTTPS (and WSS) with this certificate and key. */
  tls?: TlsCredentials | null;
}

/** Events of the HTTP transport. */
export interface HttpServerEvents {
  client: [sub: Subscriber];
  refused: [address: string, reason: string];
  /** The dashboard's "End transmission" was pressed (`stopped`: a transmission was running). */
  stop: [address: string, stopped: boolean];
}

/**
 * The HTTP transport: MJPEG, snapshots, WebSocket viewers, the viewer and dashboard pages, /stats and
 * /metrics, all on one port. Streaming endpoints are hub subscribers exactly like TCP clients.
 */
export class HttpServer extends SafeEmitter<HttpServerEvents> {
  readonly #opts: HttpServerOptions;
  readonly #server: http.Server;
  readonly #ctx: HttpContext;
  readonly #ws: WsEndpoint;
  readonly #sampler: StatsSampler;
  readonly #metrics: ServerMetrics;
  #closing: Promise<void> | null = null;

  constructor(opts: HttpServerOptions) {
    super();
    this.#opts = opts;
    this.#ctx = {
      hub: opts.hub,
      lossless: opts.lossless,
      cors: corsHeaders(opts.allowOrigin),
      onClient: (sub) => this.emit('client', sub),
      onRefused: (a, r) => this.emit('refused', a, r),
    };
    this.#ws = new WsEndpoint(this.#ctx);
    this.#sampler = new StatsSampler(opts.hub, () => this.#ws.monitors, opts.startedAt);
    this.#metrics = new ServerMetrics(opts.hub, this.#sampler);
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    const serverOptions: http.ServerOptions = {
      noDelay: true,
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, opts.requestTimeoutMs ?? 30_000),
      // Node checks those timeouts only this often (30 s by default): a slow client would outlive them.
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void =>
      this.#onRequest(req, res);
    this.#server = opts.tls
      ? (https.createServer(
          {
            ...serverOptions,
            cert: opts.tls.cert,
            key: opts.tls.key,
            handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
            minVersion: 'TLSv1.2',
          },
          onRequest,
        ) as unknown as http.Server)
      : http.createServer(serverOptions, onRequest);
    if (opts.tls) this.#server.on('tlsClientError', (_err: Error, s: Socket) => s.destroy());
    this.#server.on('connection', (socket: Socket) => {
      if (opts.limiter && !opts.limiter.admit(socket)) {
        this.emit(
          'refused',
          peerOfSocket(socket),
          'too many connections from this address (--max-clients-per-ip)',
        );
        socket.destroy();
      }
    });
    this.#server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Binds and listens; rejects with ERR_PORT_IN_USE / ERR_LISTEN. */
  listen(): Promise<AddressInfo> {
    const { host, port, portFallback } = this.#opts;
    return listenHttp(this.#server, host, port, portFallback ?? false, '--http-port');
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** The /stats document. */
  stats(): ReturnType<StatsSampler['report']> {
    return this.#sampler.report(this.#opts.encoder);
  }

  #url(req: http.IncomingMessage): URL {
    return requestUrl(req);
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => res.destroy());
    const url = this.#url(req);
    const cors = this.#ctx.cors;
    if (req.method === 'OPTIONS') {
      res.writeHead(this.#opts.allowOrigin ? 204 : 405, cors);
      res.end();
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    // The pages' scripts and styles hold no data, and <script src> cannot carry the page's token.
    const file = STATIC_FILES[url.pathname];
    if (file && (req.method === 'GET' || req.method === 'HEAD')) {
      const body = webFile(file.file);
      res.writeHead(200, {
        'Content-Type': file.type,
        'Content-Length': body.length,
        'Cache-Control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (!authorized(req, url, this.#opts.token)) {
      this.emit('refused', peerOf(req), `HTTP ${url.pathname}: missing or wrong token`);
      sendText(res, 401, 'a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN', {
        ...cors,
        'WWW-Authenticate': 'Bearer realm="framecast"',
      });
      return;
    }
    if (req.method === 'POST') {
      this.#onPost(req, res, url);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, `method ${req.method} not allowed`, { ...cors, Allow: 'GET, HEAD, POST' });
      return;
    }
    this.#onGet(req, res, url);
  }

  #onGet(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const cors = this.#ctx.cors;
    switch (url.pathname) {
      case '/stream.mjpg':
      case '/stream.mjpeg':
        serveMjpeg(req, res, this.#ctx);
        return;
      case '/snapshot.jpg':
      case '/snapshot.jpeg':
        void serveSnapshot(req, res, this.#ctx, this.#opts.snapshotTimeoutMs ?? 5000);
        return;
      case '/stats':
        sendJson(res, 200, this.stats(), cors);
        return;
      case '/metrics':
        this.#metrics.render().then(
          ({ contentType, body }) => {
            res.writeHead(200, { ...cors, 'Content-Type': contentType });
            res.end(body);
          },
          (err: Error) => sendText(res, 500, `metrics failed: ${err.message}`, cors),
        );
        return;
      case '/':
      case '/index.html':
        this.#page(res, 'viewer.html', { title: 'framecast', role: 'server' });
        return;
      case '/dashboard':
      case '/dashboard.html':
        this.#page(res, 'dashboard.html', { title: 'framecast — TRANSMITIENDO', role: 'server' });
        return;
    }
    sendText(res, 404, `no such endpoint: ${url.pathname}`, cors);
  }

  #page(res: http.ServerResponse, name: string, vars: Record<string, string>): void {
    const body = webPage(name, vars);
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      'X-Frame-Options': 'SAMEORIGIN',
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self'",
    });
    res.end(body);
  }

  #onPost(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const cors = this.#ctx.cors;
    // A cross-site form could POST here without asking; only this page (or the allowed origin) may.
    if (!originAllowed(req, this.#opts.allowOrigin)) {
      sendText(res, 403, 'cross-origin request refused', cors);
      return;
    }
    req.resume();
    if (url.pathname === '/transmission/stop') {
      const stopped = this.#opts.hub.stopTransmission();
      this.emit('stop', peerOf(req), stopped);
      sendJson(res, 200, { stopped }, cors);
      return;
    }
    sendText(res, 404, `no such endpoint: POST ${url.pathname}`, cors);
  }

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = this.#url(req);
    const refuse = (status: number, text: string): void => {
      this.emit('refused', peerOf(req), `WebSocket: ${text}`);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    };
    if (url.pathname !== '/ws') return refuse(404, `no WebSocket endpoint ${url.pathname}`);
    if (!authorized(req, url, this.#opts.token)) return refuse(401, 'missing or wrong token');
    // Browsers let any page open a WebSocket anywhere: without a token, the origin is the only guard.
    if (!originAllowed(req, this.#opts.allowOrigin)) return refuse(403, 'cross-origin WebSocket refused');
    this.#ws.upgrade(req, socket, head, url);
  }

  /** Stops accepting and closes what is left (call after the hub ended its clients). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#sampler.close();
      this.#metrics.close();
      this.#ws.close();
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      const timer = setTimeout(() => this.#server.closeAllConnections(), 1500);
      timer.unref();
      this.#server.once('close', () => clearTimeout(timer));
    });
    return this.#closing;
  }
}

function peerOfSocket(socket: Socket): string {
  const a = socket.remoteAddress ?? '?';
  return a.includes(':') ? `[${a}]:${socket.remotePort}` : `${a}:${socket.remotePort}`;
}
