import { SafeEmitter } from '../util/safe-emitter.js';
import { checkRawImage, encodeRawImage, type RawImage } from '../encode/raw-image.js';
import { jpegInfo, looksLikeJpeg } from '../util/jpeg.js';
import { nowMs } from '../util/clock.js';
import { Frame } from './frame.js';
import type { FrameProducer, ProducerEvents, SourceDescription } from './producer.js';

/** Options of a publisher. */
export interface PublisherOptions {
  /** Shown as the source name in logs and /stats (default "published frames"). */
  name?: string;
  /** JPEG quality 1-100 for publishRaw (default 80). */
  quality?: number;
}

export type { RawImage } from '../encode/raw-image.js';

/** Events of a publisher. */
export interface PublisherEvents {
  /** Someone is watching: a transmission started; frames published now reach clients. */
  start: [];
  /** Nobody is watching any more (or the server closed): published frames are dropped. */
  stop: [];
}

/** The producer the hub runs for one transmission; frames come from the Publisher. */
class PublishedSource extends SafeEmitter<ProducerEvents> implements FrameProducer {
  readonly #owner: Publisher;
  seq = 0;
  width: number | null = null;
  height: number | null = null;
  paused = false;

  constructor(owner: Publisher) {
    super();
    this.#owner = owner;
  }

  start(): void {
    this.#owner._attach(this);
  }

  stop(): void {
    this.#owner._detach(this);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.#owner._flowing();
  }

  describe(): SourceDescription {
    return {
      kind: 'publish',
      name: this.#owner.name,
      width: this.width,
      height: this.height,
      inputFps: null,
    };
  }
}

/**
 * Frames a program computes itself, fed to a server (like imagezmq's ImageSender): pass
 * `serve({ publisher })`, then call `publish(jpeg)` or `publishRaw(pixels, info)`. Frames published
 * while nobody watches are dropped (the methods return false); listen to 'start'/'stop' to compute
 * only while someone watches. Delivery is latest-frame-wins like any other source; with
 * `serve({ pace: false })`, `await publisher.ready()` before each frame makes it lossless (the
 * seed's sendall): it waits while a client's socket is backed up.
 */
export class Publisher extends SafeEmitter<PublisherEvents> {
  readonly name: string;
  readonly quality: number;
  #active: PublishedSource | null = null;
  #order: Promise<unknown> = Promise.resolve();
  /** Callers of ready() waiting for the clients to take the last frame. */
  #waiting: Array<() => void> = [];

  constructor(opts: PublisherOptions = {}) {
    super();
    const q = opts.quality ?? 80;
    if (!Number.isInteger(q) || q < 1 || q > 100) throw new RangeError(`quality must be 1..100, got ${q}`);
    this.name = opts.name ?? 'published frames';
    this.quality = q;
  }

  /** The producer factory `serve()` uses; one producer per transmission. */
  readonly producer = (): FrameProducer => new PublishedSource(this);

  /** True while a transmission runs (someone is watching). */
  get watching(): boolean {
    return this.#active !== null;
  }

  /** @internal */
  _attach(src: PublishedSource): void {
    this.#active = src;
    this.emit('start');
  }

  /** @internal */
  _detach(src: PublishedSource): void {
    if (this.#active !== src) return;
    this.#active = null;
    this._flowing();
    this.emit('stop');
  }

  /** @internal The hub resumed the source (or it stopped): ready() callers go on. */
  _flowing(): void {
    for (const wake of this.#waiting.splice(0)) wake();
  }

  /**
   * Resolves when the next frame can be published without being dropped for a backed-up client: at
   * once, unless the server runs with `pace: false` and a client's socket is full, then when it has
   * drained (or the transmission ends; check `watching`).
   */
  ready(): Promise<void> {
    if (!this.#active?.paused) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /**
   * Publishes one JPEG. Returns false when nobody watches (the frame is dropped). Throws TypeError
   * when the buffer is not a baseline JPEG whose size can be read.
   */
  publish(jpeg: Buffer, opts: { capturedAt?: number } = {}): boolean {
    if (!Buffer.isBuffer(jpeg)) throw new TypeError('publish() takes a Buffer holding a JPEG');
    const info = looksLikeJpeg(jpeg) ? jpegInfo(jpeg) : null;
    if (!info) throw new TypeError('publish() was given bytes that are not a JPEG image');
    const src = this.#active;
    if (!src) return false;
    const now = nowMs();
    src.width = info.width;
    src.height = info.height;
    const frame = new Frame({
      seq: src.seq++,
      width: info.width,
      height: info.height,
      capturedAt: opts.capturedAt ?? now,
      encodedAt: now,
      jpeg,
    });
    src.emit('frame', frame);
    return true;
  }

  /**
   * Encodes raw pixels as JPEG (libjpeg-turbo via sharp, on the thread pool) and publishes them.
   * Frames come out in call order even when encodes overlap. Resolves false when nobody watches.
   */
  publishRaw(pixels: Buffer, image: RawImage): Promise<boolean> {
    checkRawImage(pixels, image);
    const capturedAt = image.capturedAt ?? nowMs();
    if (!this.watching) return Promise.resolve(false);
    const encoded = encodeRawImage(pixels, image, this.quality);
    const result = this.#order.then(() => encoded).then((jpeg) => this.publish(jpeg, { capturedAt }));
    this.#order = result.catch(() => undefined);
    return result;
  }

  /** Ends the current transmission as a source's end of file would: clients get a clean end. */
  end(): void {
    const src = this.#active;
    if (!src) return;
    this.#active = null;
    src.emit('end');
    this.emit('stop');
  }
}

/** Creates a Publisher: pass it to `serve({ publisher })` and feed it frames. */
export function createPublisher(opts: PublisherOptions = {}): Publisher {
  return new Publisher(opts);
}
