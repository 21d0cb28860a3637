import { ImageBound } from '../../util/jpeg.js';
import { SafeEmitter } from '../../util/safe-emitter.js';

/**
 * A publisher that delivers no complete frame for this long is closed and the slot freed (native:
 * ERROR 14; HTTP: 408). Counted from its claim and from each frame, not from bytes: a trickle of bytes
 * that never completes a frame must not hold a stream.
 */
export const PUBLISH_IDLE_MS = 10_000;

/** Why an idle publisher was closed (its ERROR or 408 text). */
export const PUBLISH_IDLE_REASON = `no complete frame for ${PUBLISH_IDLE_MS / 1000} s: the stream is free for another publisher`;

/** One JPEG a remote publisher sent, checked: a whole JPEG whose size was read from its header. */
export interface IngestFrame {
  jpeg: Buffer;
  width: number;
  height: number;
  /** The publisher's capture time (ms since the epoch, its clock), or our receive time. */
  capturedAt: number;
  receivedAt: number;
  /** The publisher's metadata of this frame (checked JSON), or none. */
  meta?: Buffer | null;
}

/** A connected publisher as the slot sees it (TCP or HTTP). */
export interface PublisherConnection {
  /** Where it comes from, for logs and stats. */
  readonly address: string;
  /** `tcp` or `http`. */
  readonly via: string;
  /**
   * Ends it: another publisher took the stream over, the stream went away, or it delivered no
   * complete frame for PUBLISH_IDLE_MS. The slot has already let go of it.
   */
  evict(reason: 'replaced' | 'removed' | 'idle'): void;
}

/** Events of a publisher slot. */
export interface PublisherSlotEvents {
  /** A publisher connected (it is now the stream's source). */
  connected: [conn: PublisherConnection];
  /** The current publisher left; the stream has no signal until the next one. */
  disconnected: [conn: PublisherConnection, why: string];
  frame: [frame: IngestFrame];
}

/**
 * The place of a stream's one remote publisher. It outlives transmissions (a publisher may connect
 * before anyone watches and stay while viewers come and go) and is what the stream's producer
 * listens to. A second publisher is refused unless the stream lets newcomers take over.
 */
export class PublisherSlot extends SafeEmitter<PublisherSlotEvents> {
  readonly override: boolean;
  readonly #idleMs: number;
  /** The stream's bound on width x height: a larger image never reaches its viewers. */
  readonly images: ImageBound;
  #current: PublisherConnection | null = null;
  #last: IngestFrame | null = null;
  #closed = false;
  #idle: NodeJS.Timeout | null = null;

  constructor(override: boolean, images = new ImageBound(), idleMs = PUBLISH_IDLE_MS) {
    super();
    this.override = override;
    this.images = images;
    this.#idleMs = idleMs;
  }

  /**
   * Why an image of this size may not reach the stream's viewers (`image too large: ...`, and it
   * is counted in the bound's `refused`), or null when it is within the stream's bounds.
   */
  refuseSize(width: number, height: number): string | null {
    return this.images.refuse(width, height);
  }

  /** The publisher feeding the stream now, or null. */
  get current(): PublisherConnection | null {
    return this.#current;
  }

  /** The newest frame received (whether or not anyone watched), or null. */
  get last(): IngestFrame | null {
    return this.#last;
  }

  /**
   * Makes `conn` the stream's publisher. Returns false (and changes nothing) when another one holds
   * the stream and newcomers may not take over, or when the stream is gone.
   */
  claim(conn: PublisherConnection): boolean {
    if (this.#closed) return false;
    const old = this.#current;
    if (old && old !== conn) {
      if (!this.override) return false;
      this.#current = null;
      old.evict('replaced');
      this.emit('disconnected', old, 'replaced by a new publisher');
    }
    this.#current = conn;
    this.#watch(conn);
    this.emit('connected', conn);
    return true;
  }

  /** A frame from the current publisher (others' frames are ignored). */
  frame(conn: PublisherConnection, frame: IngestFrame): void {
    if (conn !== this.#current) return;
    this.#watch(conn);
    this.#last = frame;
    this.emit('frame', frame);
  }

  /** The publisher went away (closed, failed, sent a bad frame). Idempotent. */
  release(conn: PublisherConnection, why: string): void {
    if (conn !== this.#current) return;
    this.#current = null;
    this.#unwatch();
    this.emit('disconnected', conn, why);
  }

  /** The stream is gone: its publisher is ended and no new one is taken. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    const c = this.#current;
    this.#current = null;
    c?.evict('removed');
  }

  /** (Re)starts the idle deadline of `conn`, the current publisher. */
  #watch(conn: PublisherConnection): void {
    this.#unwatch();
    this.#idle = setTimeout(() => {
      this.#idle = null;
      if (conn !== this.#current) return;
      this.#current = null;
      conn.evict('idle');
      this.emit('disconnected', conn, PUBLISH_IDLE_REASON);
    }, this.#idleMs);
    this.#idle.unref();
  }

  #unwatch(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
  }
}
