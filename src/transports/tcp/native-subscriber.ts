import type net from 'node:net';
import type { Frame } from '../../hub/frame.js';
import type { EndReason } from '../../hub/subscriber.js';
import type { Annotation } from '../../meta/annotations.js';
import {
  ACK_WINDOW,
  MetaKind,
  StatusCode,
  encodeEnd,
  encodeMeta,
  encodeStatus,
  nativeFrameWire,
  stampNativeFrame,
} from '../../protocol/native.js';
import { nowMs } from '../../util/clock.js';
import { StreamSubscriber } from '../stream-subscriber.js';
import type { StreamTarget } from '../stream-target.js';

const END_TEXT: Record<EndReason, string> = {
  eof: 'end of the source',
  stopped: 'the server stopped the transmission',
  'source-error': 'the source failed',
  shutdown: 'the server is shutting down',
  kicked: 'disconnected by the server',
  removed: 'the stream was removed or changed on the server',
};

/**
 * One native client: latest-frame-wins delivery of FRAME messages (the cached message restamped
 * with this send's time), STATUS while it waits for a place, END before a clean close. A client that
 * acknowledges frames (hello flag Ack) has at most ACK_WINDOW of them unacknowledged: the rest wait
 * in the one pending slot, replaced by newer frames, so what it gets next is fresh whatever the
 * kernel's socket buffers could hold.
 */
export class NativeSubscriber extends StreamSubscriber {
  readonly #socket: net.Socket;
  readonly #acks: boolean;
  /** Seqs sent and not yet acknowledged, oldest first (at most the window). */
  readonly #unacked: number[] = [];
  /** Frames this client may have unacknowledged: ACK_WINDOW until its ACKs ask for another. */
  #window = ACK_WINDOW;
  /** When the window filled (0 when it is open). */
  #heldSince = 0;
  #noSignal = false;
  readonly #annotations: boolean;

  /**
   * `acks`: the client acknowledges frames; `meta`: each frame's metadata goes just before it (a META
   * message, built once per frame); `annotations`: analyzers' annotations are sent as they come.
   */
  constructor(
    socket: net.Socket,
    address: string,
    target: StreamTarget,
    acks = false,
    wants: { meta?: boolean; annotations?: boolean; maxFps?: number | null } = {},
  ) {
    const meta = wants.meta === true;
    super({
      stream: socket,
      protocol: 'native',
      address,
      streamName: target.name,
      sendFirst: true,
      encode: (frame) => {
        const parts = stampNativeFrame(nativeFrameWire(frame), nowMs());
        return meta && frame.meta ? [frameMetaWire(frame), ...parts] : parts;
      },
      lossless: target.lossless,
      maxFps: wants.maxFps ?? null,
      onDrained: () => target.hub.drained(),
      trailer: (reason) => encodeEnd(reason, END_TEXT[reason]),
    });
    this.#socket = socket;
    this.#acks = acks;
    this.#annotations = wants.annotations === true;
  }

  /** Sends an analyzer's annotation (between frames) to a client that asked for them. */
  annotation(a: Annotation): void {
    if (!this.#annotations || this.#socket.destroyed || !this.#socket.writable) return;
    this.#socket.write(annotationWire(a));
  }

  /** Whether this client acknowledges frames (and so has a send window). */
  get acknowledging(): boolean {
    return this.#acks;
  }

  protected override held(): boolean {
    return super.held() || (this.#acks && this.#unacked.length >= this.#window);
  }

  protected override transmit(frame: Frame, done: (bytes: number | null) => void): void {
    if (this.#acks) {
      this.#unacked.push(frame.seq >>> 0);
      if (this.#unacked.length >= this.#window && this.#heldSince === 0) this.#heldSince = Date.now();
    }
    super.transmit(frame, done);
  }

  /**
   * The client is done with frame `seq` and every frame sent before it; `window` (when the ACK carries
   * one, already capped) is how many frames it wants in flight from now on. A seq not in the window
   * (late, repeated, from a previous connection) changes nothing else.
   */
  acknowledge(seq: number, window: number | null = null): void {
    if (!this.#acks) return;
    if (window !== null) this.#window = window;
    const i = this.#unacked.indexOf(seq >>> 0);
    if (i >= 0) this.#unacked.splice(0, i + 1);
    if (this.#unacked.length < this.#window) {
      this.#heldSince = 0;
      this.retry();
    }
  }

  /** A client that stops acknowledging is stalled like one that stops reading (--stall-timeout). */
  override stalledMs(now: number): number {
    const held = this.#heldSince > 0 && this.backlogged ? now - this.#heldSince : 0;
    return Math.max(super.stalledMs(now), held);
  }

  /** Tells the client it waits for a place (position 1 is next). */
  waiting(position: number): void {
    this.status(StatusCode.Waiting, position, `waiting for a place (#${position})`);
  }

  /** Tells the client a live source lost its input (NO SIGNAL) or got it back. */
  sourceStatus(status: { state: string; retries: number; lastError?: string | null }): void {
    if (status.state === 'no-signal') {
      this.#noSignal = true;
      this.status(
        StatusCode.NoSignal,
        status.retries,
        `no signal${status.lastError ? `: ${status.lastError}` : ''}`,
      );
    } else if (status.state === 'live' && this.#noSignal) {
      this.#noSignal = false;
      this.status(StatusCode.SignalRestored, 0, 'signal restored');
    }
  }

  /** Sends a STATUS message (between frames: each frame goes out in one write). */
  status(code: number, value: number, message: string): void {
    if (!this.#socket.destroyed && this.#socket.writable)
      this.#socket.write(encodeStatus(code, value, message));
  }
}

/** A frame's META message (its metadata), built once per frame and shared by every native viewer. */
function frameMetaWire(frame: Frame): Buffer {
  return frame.wire('native-meta', (f) =>
    encodeMeta({
      seq: f.seq,
      kind: MetaKind.Metadata,
      name: '',
      capturedAt: f.capturedAt,
      json: f.meta as Buffer,
    }),
  );
}

/** An annotation's META message, built once and shared by every native viewer (the annotation is immutable). */
const annotationWires = new WeakMap<Annotation, Buffer>();
function annotationWire(a: Annotation): Buffer {
  let wire = annotationWires.get(a);
  if (!wire) {
    wire = encodeMeta({
      seq: a.seq,
      kind: MetaKind.Annotation,
      name: a.analyzer,
      capturedAt: a.capturedAt,
      json: a.json,
    });
    annotationWires.set(a, wire);
  }
  return wire;
}
