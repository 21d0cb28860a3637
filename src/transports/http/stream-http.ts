import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hub } from '../../hub/hub.js';
import type { Subscriber } from '../../hub/subscriber.js';
import type { TokenCheck } from '../../util/token.js';
import type { Access } from '../../access/access.js';
import { serveMjpeg } from './mjpeg.js';
import { EventsEndpoint } from './events.js';
import { sendJson, sendText, peerOf, requestUrl, type HttpContext } from './respond.js';
import { serveSnapshot, serveSnapshotJson } from './snapshot.js';
import { StatsSampler, type ClientReport, type EncoderSettings, type StatsReport } from './stats.js';
import { sendPage, sendStatic } from './web-assets.js';

export { PAGE_HEADERS, sendPage, sendStatic } from './web-assets.js';
import { WsEndpoint } from './ws.js';
import type { RecordingsHttp } from './recordings-http.js';
import { parseViewRequest, type Renditions } from '../../streams/renditions.js';
import type { PublisherSlot } from '../../ingest/publish/publisher-slot.js';

/** A stream as the HTTP transport needs it (a Stream is one). */
export interface HttpStreamTarget {
  readonly name: string;
  readonly hub: Hub;
  readonly lossless: boolean;
  readonly readToken: TokenCheck | null;
  readonly encoderImplementation: string;
  readonly config: { readonly encoder: string; readonly quality: number; readonly width: number };
  /** Where a remote publisher feeds the stream (source `publisher`). */
  readonly ingest?: PublisherSlot | null;
  readonly publishToken?: string | null;
  /** The token analyzers present (POST annotations), or null. */
  readonly annotateToken?: string | null;
  /** The stream's image-size bound: how many images it refused. */
  readonly images?: { readonly refused: number };
  /** Other sizes and qualities (`?width=&quality=`), each made once per frame. */
  readonly renditions?: Renditions;
}

/** Shared by every stream's endpoints: the server's settings and its log hooks. */
export interface HttpShared {
  access: Access;
  /** Recording endpoints (list, playback, snapshot at a time, export), or null without recordings. */
  recordings: RecordingsHttp | null;
  cors: Readonly<Record<string, string>>;
  startedAt: number;
  snapshotTimeoutMs: number;
  onClient: (sub: Subscriber) => void;
  onRefused: (address: string, reason: string) => void;
  onStop: (address: string, stopped: boolean) => void;
}

/** What /streams/NAME/stats shows instead of a client's address to a request that only watches. */
export const HIDDEN_ADDRESS = '(hidden)';

/**
 * One stream's HTTP endpoints (MJPEG, snapshots, WebSocket, events, its viewer and dashboard, stop) and its
 * stats sampler. The server makes one per stream the first time it is asked for, and closes it when
 * the stream goes away.
 */
export class StreamHttp {
  readonly stream: HttpStreamTarget;
  readonly sampler: StatsSampler;
  readonly #ctx: HttpContext;
  readonly #ws: WsEndpoint;
  readonly #events: EventsEndpoint;
  readonly #shared: HttpShared;

  constructor(stream: HttpStreamTarget, shared: HttpShared) {
    this.stream = stream;
    this.#shared = shared;
    this.#ctx = {
      hub: stream.hub,
      streamName: stream.name,
      lossless: stream.lossless,
      cors: shared.cors,
      onClient: shared.onClient,
      onRefused: shared.onRefused,
    };
    this.#ws = new WsEndpoint(this.#ctx);
    this.#events = new EventsEndpoint(this.#ctx);
    // Passive viewers of renditions (previews at their size) are the stream's monitors too.
    this.sampler = new StatsSampler(
      stream.hub,
      () => [...this.#ws.monitors, ...(stream.renditions?.passiveViewers() ?? [])],
      shared.startedAt,
    );
  }

  /** This stream's /stats section; `hideAddresses` for a request that only watches (a readToken). */
  report(hideAddresses = false): StatsReport {
    const passthrough = this.stream.encoderImplementation === 'passthrough';
    const encoder: EncoderSettings = {
      kind: passthrough ? 'passthrough' : this.stream.config.encoder,
      implementation: this.stream.encoderImplementation,
      quality: this.stream.config.quality,
      width: this.stream.config.width,
    };
    const report = {
      ...this.sampler.report(
        encoder,
        this.stream.images?.refused ?? 0,
        this.#shared.recordings?.status(this.stream.name) ?? null,
      ),
      renditions: this.stream.renditions?.report() ?? [],
    };
    if (!hideAddresses) return report;
    const hide = (c: ClientReport): ClientReport => ({ ...c, address: HIDDEN_ADDRESS });
    return { ...report, clients: report.clients.map(hide), monitors: report.monitors.map(hide) };
  }

  /**
   * Serves `rest` (the path inside the stream: `stream.mjpg`, `ws`, ``...); false when it is none.
   * `operator`: the request acts for the server (its token, the admin token), else it only watches.
   */
  get(req: http.IncomingMessage, res: http.ServerResponse, rest: string, operator: boolean): boolean {
    if (this.#shared.recordings?.get(req, res, this.stream.name, rest, requestUrl(req))) return true;
    switch (rest) {
      case 'stream.mjpg':
      case 'stream.mjpeg': {
        const q = requestUrl(req).searchParams;
        const view = parseViewRequest(q);
        if (typeof view === 'string') {
          sendText(res, 400, view, this.#shared.cors);
          return true;
        }
        const hub = this.stream.renditions?.hubFor(view) ?? this.stream.hub;
        serveMjpeg(req, res, { ...this.#ctx, hub }, q.get('meta') === '1', view.fps);
        return true;
      }
      case 'snapshot.jpg':
      case 'snapshot.jpeg': {
        const view = parseViewRequest(requestUrl(req).searchParams);
        if (typeof view === 'string') {
          sendText(res, 400, view, this.#shared.cors);
          return true;
        }
        const r = this.stream.renditions;
        void serveSnapshot(
          req,
          res,
          this.#ctx,
          this.#shared.snapshotTimeoutMs,
          r && r.keyOf(view) ? (f) => r.snapshot(f, view) : null,
        );
        return true;
      }
      case 'snapshot.json':
        void serveSnapshotJson(req, res, this.#ctx, this.#shared.snapshotTimeoutMs);
        return true;
      case 'events':
        this.#events.serve(req, res);
        return true;
      case '':
      case 'index.html':
        sendPage(res, 'viewer.html', { title: `framecast — ${this.stream.name}`, role: 'server' });
        return true;
      case 'dashboard':
      case 'dashboard.html':
        sendPage(res, 'dashboard.html', {
          title: `framecast — TRANSMITIENDO ${this.stream.name}`,
          role: 'server',
        });
        return true;
      case 'stats':
        // A viewer sees how the stream is doing, not who else watches it.
        sendJson(res, 200, { name: this.stream.name, ...this.report(!operator) }, this.#shared.cors);
        return true;
    }
    return sendStatic(req, res, `/${rest}`);
  }

  /** POST `rest`; false when it is none. Stopping ends it for every viewer: `operator` only. */
  post(req: http.IncomingMessage, res: http.ServerResponse, rest: string, operator: boolean): boolean {
    if (rest !== 'transmission/stop') return false;
    if (!operator) {
      this.#shared.onRefused(peerOf(req), `HTTP stop of ${this.stream.name}: a readToken only watches`);
      sendText(
        res,
        403,
        "stopping a transmission takes the server's token (or the admin token); a stream's readToken only watches",
        this.#shared.cors,
      );
      return true;
    }
    const stopped = this.stream.hub.stopTransmission();
    this.#shared.onStop(peerOf(req), stopped);
    sendJson(res, 200, { stopped }, this.#shared.cors);
    return true;
  }

  /** Completes a WebSocket upgrade for `ws`. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    // `?start=`: a playback of the recording, served by the same WebSocket code.
    if (url.searchParams.has('start') && this.#shared.recordings)
      return this.#shared.recordings.upgrade(req, socket, head, this.stream.name, url, this.#ctx);
    const view = parseViewRequest(url.searchParams);
    if (typeof view === 'string') {
      const body = Buffer.from(view + '\n');
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`,
      );
      return;
    }
    const passive = url.searchParams.get('passive') === '1';
    const hub = this.stream.renditions?.hubFor(view, passive) ?? this.stream.hub;
    if (hub !== this.stream.hub) {
      // A rendition's viewer: the same WebSocket code over the rendition's hub (a preview's joins
      // its passive rendition's hub, which only listens to the stream's frames).
      const ws = new WsEndpoint({ ...this.#ctx, hub }, { passiveJoins: passive });
      socket.once('close', () => ws.close());
      ws.upgrade(req, socket, head, url);
      return;
    }
    this.#ws.upgrade(req, socket, head, url);
  }

  /** Stops sampling and closes passive viewers. Idempotent. */
  close(): void {
    this.sampler.close();
    this.#ws.close();
  }
}

/** Ends a request for a stream that does not exist. */
export function noSuchStream(
  res: http.ServerResponse,
  name: string,
  cors: Readonly<Record<string, string>>,
): void {
  sendText(res, 404, `no stream named ${name}`, cors);
}
