import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Frame } from '../../hub/frame.js';
import type { EndReason } from '../../hub/subscriber.js';
import { hostAllowed, MISDIRECTED, originAllowed } from './auth.js';
import { listenHttp } from './listen.js';
import { peerOf, requestUrl, sendText } from './respond.js';
import { sendPage, sendStatic } from './web-assets.js';
import { WsSubscriber } from './ws-subscriber.js';

/** A frame as a client received it (what `play` hands to its browser view). */
export interface ReceivedViewerFrame {
  jpeg: Buffer;
  seq: number;
  width: number;
  height: number;
  /** Server capture time (server clock), or null when the protocol has none. */
  capturedAt: number | null;
  /** Local arrival time. */
  receivedAt: number;
  /** End-to-end latency the client measured (clock offset corrected), when known. */
  latencyMs?: number | null;
}

/** Settings of a client's local viewer. */
export interface LocalViewerOptions {
  /** Loopback by default: the page shows what this client receives, to this machine only. */
  host?: string;
  port: number;
  /** The page title, e.g. "framecast — RECIBIDO from 10.0.0.5:9999". */
  title: string;
}

/**
 * The client's own window ("RECIBIDO"): the viewer page on a local port, fed with the frames this
 * client receives over its TCP connection, re-sent to the page over a local WebSocket. Each page gets
 * the latest frame its socket can take, exactly as server viewers do.
 */
export class LocalViewerServer {
  readonly #opts: LocalViewerOptions;
  readonly #server: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  readonly #viewers = new Set<WsSubscriber>();
  #closing: Promise<void> | null = null;

  get #host(): string {
    return this.#opts.host ?? '127.0.0.1';
  }

  constructor(opts: LocalViewerOptions) {
    this.#opts = opts;
    this.#server = http.createServer({ noDelay: true }, (req, res) => this.#onRequest(req, res));
    this.#server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      const url = requestUrl(req);
      if (!hostAllowed(req, this.#host, null)) {
        socket.end('HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // Any web page may open a WebSocket to localhost; only this page may watch.
      if (url.pathname !== '/ws' || !originAllowed(req, null)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        ws.on('message', () => {});
        const sub = new WsSubscriber(ws, {
          protocol: 'ws',
          address: peerOf(req),
          lossless: false,
          onDrained: () => {},
        });
        this.#viewers.add(sub);
        ws.once('close', () => this.#viewers.delete(sub));
      });
    });
  }

  /** Binds (127.0.0.1 unless told otherwise); rejects with ERR_PORT_IN_USE / ERR_LISTEN. */
  listen(): Promise<AddressInfo> {
    return listenHttp(this.#server, this.#host, this.#opts.port, false, '--viewer-port');
  }

  /** The page's URL. */
  url(): string {
    const { address, port } = this.#server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}/`;
  }

  /** Pages connected now. */
  get viewerCount(): number {
    return this.#viewers.size;
  }

  /** Offers a received frame to every page (latest wins per page). */
  push(f: ReceivedViewerFrame): void {
    if (this.#viewers.size === 0) return;
    // The page computes latency as (its clock - capturedAt); give it the capture time on this
    // machine's clock, so a server with another clock still shows the latency the client measured.
    const capturedAt =
      f.latencyMs !== undefined && f.latencyMs !== null ? f.receivedAt - f.latencyMs : (f.capturedAt ?? 0);
    const frame = new Frame({
      seq: f.seq,
      width: f.width,
      height: f.height,
      capturedAt,
      encodedAt: capturedAt,
      jpeg: f.jpeg,
    });
    for (const v of this.#viewers) v.offer(frame);
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => res.destroy());
    const path = requestUrl(req).pathname;
    if (!hostAllowed(req, this.#host, null)) {
      sendText(res, 421, MISDIRECTED);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, `method ${req.method} not allowed`);
      return;
    }
    if (path === '/' || path === '/index.html') {
      sendPage(res, 'viewer.html', { title: this.#opts.title, role: 'client' }, req);
      return;
    }
    // The same files and headers as the server's pages, from the same place (no dashboard here).
    if (sendStatic(req, res, path, ['/dashboard.js'])) return;
    sendText(res, 404, `no such page: ${path}`);
  }

  /** Tells the pages why the stream ended, then stops serving. Idempotent. */
  close(reason: EndReason = 'shutdown'): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const v of this.#viewers) v.end(reason);
      const timer = setTimeout(() => {
        for (const ws of this.#wss.clients) ws.terminate();
        this.#server.closeAllConnections();
      }, 500);
      timer.unref();
      this.#wss.close();
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
    return this.#closing;
  }
}
