import type { IncomingMessage } from 'node:http';
import { admit } from '../admission.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Frame } from '../../hub/frame.js';
import type { Annotation } from '../../meta/annotations.js';
import { peerOf, type HttpContext } from './respond.js';
import { WS_CLOSE, WsSubscriber } from './ws-subscriber.js';

/** Largest message a viewer may send us: viewers only listen, so anything big is hostile. */
const MAX_INCOMING_BYTES = 4096;

/**
 * GET /ws: WebSocket viewers. An ordinary viewer is a hub client (it starts the source and counts in
 * max-clients). `?passive=1` (the dashboard preview) only watches what is being transmitted: it never
 * starts a transmission, never keeps one alive, and is not closed when one ends. `?meta=1` adds each
 * frame's metadata, `?annotations=1` analyzers' annotations (text messages; see ws-message.ts).
 */
export class WsEndpoint {
  readonly #ctx: HttpContext;
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_INCOMING_BYTES,
    perMessageDeflate: false, // JPEG does not compress; deflate would only cost CPU per viewer
    clientTracking: true,
  });
  readonly #monitors = new Set<WsSubscriber>();
  readonly #onFrame = (frame: Frame): void => {
    for (const m of this.#monitors) m.offer(frame);
  };
  /** Passive viewers are no hub clients: the hub's event brings them annotations. */
  readonly #onAnnotation = (a: Annotation): void => {
    for (const m of this.#monitors) m.annotation(a);
  };

  readonly #passiveJoins: boolean;

  /**
   * `passiveJoins`: the hub is a passive rendition's (made for previews, it never starts the stream's
   * source), so passive viewers join it as uncapped clients: joining is what makes it encode.
   */
  constructor(ctx: HttpContext, opts: { passiveJoins?: boolean } = {}) {
    this.#ctx = ctx;
    this.#passiveJoins = opts.passiveJoins === true;
    ctx.hub.on('frame', this.#onFrame);
    ctx.hub.on('annotation', this.#onAnnotation);
  }

  /** Passive viewers connected now (they are not hub clients). */
  get monitors(): readonly WsSubscriber[] {
    return [...this.#monitors];
  }

  /** Completes the upgrade of an authorized request for /ws. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const q = url.searchParams;
      const fps = q.has('fps') ? Number(q.get('fps')) : null;
      this.#attach(ws, peerOf(req), q.get('passive') === '1', {
        meta: q.get('meta') === '1',
        annotations: q.get('annotations') === '1',
        maxFps: fps !== null && Number.isFinite(fps) && fps > 0 ? fps : null,
      });
    });
  }

  #attach(
    ws: WebSocket,
    address: string,
    passive: boolean,
    wants: { meta: boolean; annotations: boolean; maxFps: number | null },
  ): void {
    const { hub } = this.#ctx;
    ws.on('error', () => ws.terminate());
    // Viewers have nothing to say; reading (and dropping) keeps the socket flowing.
    ws.on('message', () => {});
    const sub = new WsSubscriber(ws, {
      protocol: passive ? 'ws-monitor' : 'ws',
      address,
      streamName: this.#ctx.streamName,
      lossless: passive ? false : this.#ctx.lossless,
      onDrained: () => hub.drained(),
      sendFirst: true,
      uncapped: passive && this.#passiveJoins,
      ...wants,
    });
    if (passive && !this.#passiveJoins) {
      this.#monitors.add(sub);
      ws.once('close', () => this.#monitors.delete(sub));
      if (hub.latest) sub.offer(hub.latest);
      for (const a of hub.annotations.newest()) sub.annotation(a);
      return;
    }
    admit(
      hub,
      sub,
      {
        onceClosed: (fn) => ws.once('close', fn),
        refuse: (reason) => ws.close(WS_CLOSE.tryAgainLater, reason),
      },
      this.#ctx,
    );
  }

  /** Closes passive viewers and any socket left; hub clients were ended by the hub. Idempotent. */
  close(): void {
    this.#ctx.hub.off('frame', this.#onFrame);
    this.#ctx.hub.off('annotation', this.#onAnnotation);
    for (const m of this.#monitors) m.end('shutdown');
    this.#monitors.clear();
    const left = [...this.#wss.clients];
    const timer = setTimeout(() => left.forEach((ws) => ws.terminate()), 1000);
    timer.unref();
    this.#wss.close();
  }
}
