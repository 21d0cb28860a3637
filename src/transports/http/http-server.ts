import { SafeEmitter } from '../../util/safe-emitter.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Action, Decision, Protocol, Refusal } from '../../access/access.js';
import {
  askAccess,
  corsHeaders,
  hostAllowed,
  MISDIRECTED,
  originAllowed,
  refusalResponse,
  REFUSAL_WORDS,
} from './auth.js';
import { listenHttp } from './listen.js';
import { ServerMetrics } from './metrics.js';
import { sendJson, sendText, peerOf, requestUrl } from './respond.js';
import { serveStreamApi } from './api.js';
import {
  splitStreamPath,
  type HttpServerEvents,
  type HttpServerOptions,
  type ServerStatsReport,
} from './http-server-types.js';
import { bodyDeadline, createHttpListener, peerOfSocket } from './http-listener.js';
import { routeAnnotate, type AnnotateRouteContext } from './annotate-route.js';
import { routePublish } from './publish-route.js';
import { routeSign } from './sign-route.js';
import { routeUpgrade } from './ws-upgrade.js';
import { serveServerGet, type ServerGetContext } from './server-get.js';
import { isPlaybackRequest, RecordingsHttp } from './recordings-http.js';

const isGetMethod = (req: http.IncomingMessage): boolean => req.method === 'GET' || req.method === 'HEAD';
import {
  noSuchStream,
  sendStatic,
  StreamHttp,
  type HttpShared,
  type HttpStreamTarget,
} from './stream-http.js';

export type {
  HttpServerEvents,
  HttpServerOptions,
  HttpStreams,
  ServerStatsReport,
} from './http-server-types.js';

/**
 * The HTTP transport: every stream's MJPEG, snapshots, WebSocket viewers and pages (under
 * /streams/NAME/, and the default stream's at the root as before), plus the server's /stats,
 * /metrics, /healthz and /readyz, all on one port. Streaming endpoints are hub subscribers exactly
 * like TCP clients.
 */
export class HttpServer extends SafeEmitter<HttpServerEvents> {
  readonly #opts: HttpServerOptions;
  readonly #server: http.Server;
  readonly #shared: HttpShared;
  readonly #perStream = new Map<HttpStreamTarget, StreamHttp>();
  readonly #metrics: ServerMetrics;
  #ready = false;
  #closing: Promise<void> | null = null;

  constructor(opts: HttpServerOptions) {
    super();
    this.#opts = opts;
    this.#metrics = new ServerMetrics(() => opts.recordings?.states() ?? []);
    opts.metrics?.(this.#metrics.registry);
    this.#shared = {
      access: opts.access,
      cors: corsHeaders(opts.allowOrigin),
      startedAt: opts.startedAt,
      snapshotTimeoutMs: opts.snapshotTimeoutMs ?? 5000,
      onClient: (sub) => this.emit('client', sub),
      onRefused: (a, r) => this.emit('refused', a, r),
      onStop: (a, stopped) => this.emit('stop', a, stopped),
      recordings: opts.recordings ? new RecordingsHttp(opts.recordings, corsHeaders(opts.allowOrigin)) : null,
    };
    for (const s of opts.streams.list()) this.#of(s);
    opts.streams.on('added', (s) => this.#of(s));
    opts.streams.on('removed', (s) => {
      this.#perStream.get(s)?.close();
      this.#perStream.delete(s);
      this.#metrics.remove(s.name);
    });
    this.#server = createHttpListener(
      opts,
      (req, res) => this.#onRequest(req, res),
      (socket) => {
        if (opts.limiter && !opts.limiter.admit(socket)) {
          this.emit(
            'refused',
            peerOfSocket(socket),
            'too many connections from this address (--max-clients-per-ip)',
          );
          socket.destroy();
        }
      },
    );
    this.#server.on('upgrade', (req, socket, head) =>
      routeUpgrade(req, socket, head, {
        access: opts.access,
        streams: opts.streams,
        host: opts.host,
        allowOrigin: opts.allowOrigin,
        of: (s) => this.#of(s),
        onRefused: (a, r) => this.emit('refused', a, r),
      }),
    );
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Binds and listens; rejects with ERR_PORT_IN_USE / ERR_LISTEN. */
  async listen(): Promise<AddressInfo> {
    const { host, port, portFallback } = this.#opts;
    return listenHttp(this.#server, host, port, portFallback ?? false, '--http-port');
  }

  /** /readyz answers 200 only while ready: every listener is up and the streams are loaded. */
  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** The /stats document. */
  stats(): ServerStatsReport {
    const streams = this.#opts.streams.list().map((s) => ({ name: s.name, ...this.#of(s).report() }));
    const first = streams[0];
    if (!first) throw new Error('no stream');
    const { name: _name, ...top } = first;
    return { ...top, streams };
  }

  /** The per-stream endpoints of `stream`, made the first time it is asked for. */
  #of(stream: HttpStreamTarget): StreamHttp {
    let h = this.#perStream.get(stream);
    if (!h) {
      h = new StreamHttp(stream, this.#shared);
      this.#perStream.set(stream, h);
      this.#metrics.add({
        name: stream.name,
        hub: stream.hub,
        sampler: h.sampler,
        renditions: () => stream.renditions?.report() ?? [],
      });
    }
    return h;
  }

  /** The access decision for this request (a token as Bearer or ?token=, or HTTP Basic). */
  #decide(
    req: http.IncomingMessage,
    url: URL,
    action: Action,
    name: string | null,
    stream: HttpStreamTarget | null,
    protocol: Protocol = 'http',
  ): Promise<Decision> {
    return askAccess(this.#opts.access, req, url, action, name, stream, protocol);
  }

  /** Answers a refused request in HTTP's words (401 with how to log in, 403, 404, 429). */
  #refuse(req: http.IncomingMessage, res: http.ServerResponse, url: URL, refusal: Refusal): void {
    if (refusal === 'unknown-stream')
      return noSuchStream(res, splitStreamPath(url.pathname).name ?? 'default', this.#shared.cors);
    this.emit('refused', peerOf(req), `HTTP ${url.pathname}: ${REFUSAL_WORDS[refusal]}`);
    const r = refusalResponse(this.#opts.access, req, refusal);
    sendText(res, r.status, r.text, { ...this.#shared.cors, ...r.headers });
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => res.destroy());
    const url = requestUrl(req);
    const cors = this.#shared.cors;
    if (!hostAllowed(req, this.#opts.host, this.#opts.allowOrigin)) {
      req.resume();
      this.emit(
        'refused',
        peerOf(req),
        `HTTP ${url.pathname}: Host ${req.headers.host} is not this server's`,
      );
      const hint = "; a reverse proxy's name is accepted when it is --allow-origin's";
      sendText(res, 421, MISDIRECTED + hint, { ...cors, Connection: 'close' });
      return;
    }
    // MediaMTX's playback listing, for tools written for it: /list?path=NAME.
    const mediamtx = url.pathname === '/list' && isGetMethod(req);
    const { name, rest } = mediamtx
      ? { name: url.searchParams.get('path'), rest: 'list' }
      : splitStreamPath(url.pathname);
    // A publisher's body is endless: no whole-request deadline for it.
    if (rest === 'publish' && req.method === 'POST')
      return void routePublish(req, res, url, name, this.#route(req, res, url)).catch(() => res.destroy());
    bodyDeadline(req, res, this.#opts.requestTimeoutMs ?? 30_000);
    if (rest === 'annotations' && req.method === 'POST')
      return void routeAnnotate(req, res, url, name, this.#route(req, res, url)).catch(() => res.destroy());
    if (req.method === 'OPTIONS') {
      res.writeHead(this.#opts.allowOrigin ? 204 : 405, cors);
      res.end();
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    // Liveness and readiness: for supervisors and load balancers, no token, no source started.
    if (url.pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' }, cors);
      return;
    }
    if (url.pathname === '/readyz') {
      const ready = this.#ready && this.#closing === null;
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' }, cors);
      return;
    }
    if (url.pathname === '/api/sign') {
      void routeSign(req, res, url, {
        streams: this.#opts.streams,
        access: this.#opts.access,
        allowOrigin: this.#opts.allowOrigin,
        cors,
      }).catch(() => res.destroy());
      return;
    }
    if (url.pathname.startsWith('/api/streams/')) {
      const name = url.pathname.slice('/api/streams/'.length).replace(/\/$/, '');
      void serveStreamApi(req, res, url, name, {
        api: this.#opts.api ?? null,
        access: this.#opts.access,
        guardOf: (n) => this.#opts.streams.get(n),
        statsOf: (n) => {
          const target = this.#opts.streams.get(n);
          return target ? this.#of(target).report() : null;
        },
        allowOrigin: this.#opts.allowOrigin,
        cors,
        onRefused: (a, r) => this.emit('refused', a, r),
      });
      return;
    }
    // The pages' scripts and styles hold no data, and <script src> cannot carry the page's token: at
    // the root and beside each stream's viewer (/streams/NAME/viewer.js, whatever NAME is).
    const isGet = isGetMethod(req);
    if (isGet && sendStatic(req, res, name === null || mediamtx ? url.pathname : `/${rest}`)) return;
    if (!isGet && req.method !== 'POST') {
      sendText(res, 405, `method ${req.method} not allowed`, { ...cors, Allow: 'GET, HEAD, POST' });
      return;
    }
    if (req.method === 'POST' && !originAllowed(req, this.#opts.allowOrigin)) {
      // A cross-site form could POST here without asking; only this page (or the allowed origin) may.
      sendText(res, 403, 'cross-origin request refused', cors);
      return;
    }
    void this.#streamRequest(req, res, url, name, rest, mediamtx, isGet).catch(() => res.destroy());
  }

  /** A stream's endpoint, or the server's own GETs: decided, then served. */
  async #streamRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    name: string | null,
    rest: string,
    mediamtx: boolean,
    isGet: boolean,
  ): Promise<void> {
    const cors = this.#shared.cors;
    if (isGet && !mediamtx && (await serveServerGet(req, res, url, this.#serverGetContext(req, res, url))))
      return;
    const target = this.#opts.streams.get(name);
    const action = isPlaybackRequest(rest, url.searchParams) ? 'playback' : 'read';
    const read = await this.#decide(req, url, action, name ?? target?.name ?? null, target);
    // Only a client that may see every stream learns that a name is unknown.
    if (!read.allowed && read.refusal === 'unknown-stream') return noSuchStream(res, name ?? 'default', cors);
    if (!target) return this.#refuse(req, res, url, read.allowed ? 'token-required' : read.refusal);
    const streamHttp = this.#of(target);
    // Operating a stream (stopping it, seeing its viewers' addresses) is the server's or the admin's;
    // asked only where it matters (a login or the hook is not asked twice for every frame request).
    const stopping = req.method === 'POST' && rest === 'transmission/stop';
    const operator =
      (stopping || rest === 'stats') &&
      (await this.#decide(req, url, 'operate', target.name, target)).allowed;
    // The admin token stops a transmission without being a viewer's key.
    if (!read.allowed && !(stopping && operator)) return this.#refuse(req, res, url, read.refusal);
    if (req.method === 'POST') req.resume();
    if (mediamtx) {
      if (this.#shared.recordings) this.#shared.recordings.mediamtxList(req, res, target.name, url);
      else sendText(res, 404, 'this server records nothing', cors);
      return;
    }
    const served = isGet
      ? streamHttp.get(req, res, rest, operator)
      : streamHttp.post(req, res, rest, operator);
    if (!served)
      sendText(res, 404, `no such endpoint: ${req.method === 'POST' ? 'POST ' : ''}${url.pathname}`, cors);
  }

  /** What the POST routes of a stream (publish, annotations) need of the server. */
  #route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): AnnotateRouteContext {
    return {
      streams: this.#opts.streams,
      access: this.#opts.access,
      allowOrigin: this.#opts.allowOrigin,
      cors: this.#shared.cors,
      refuse: (refusal) => this.#refuse(req, res, url, refusal),
      onRefused: (a, r) => this.emit('refused', a, r),
    };
  }

  /** What the server's own GET endpoints need of the server. */
  #serverGetContext(req: http.IncomingMessage, res: http.ServerResponse, url: URL): ServerGetContext {
    return {
      streams: this.#opts.streams,
      access: this.#opts.access,
      api: this.#opts.api ?? null,
      cors: this.#shared.cors,
      stats: () => this.stats(),
      reportOf: (t) => this.#of(t).report(),
      metrics: this.#metrics,
      refuse: (refusal) => this.#refuse(req, res, url, refusal),
    };
  }

  /** Stops accepting and closes what is left (call after the hubs ended their clients). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const h of this.#perStream.values()) h.close();
      this.#metrics.close();
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
