import type { FramecastError } from '../errors.js';
import type { AnnotationRefusal, FrameAnnotation } from './frame-meta.js';
import { parseServerAddresses, type ServerAddress } from './address.js';
import { SessionClient, type SessionClientOptions } from './session-client.js';
import type { HandshakeInfo, StreamEnd, StreamFrame } from './stream-client.js';

/** Options of `connect()`. */
export interface ConnectOptions extends SessionClientOptions {
  /** Frames held for a slow loop before the socket stops reading (default 2); the server then drops for us. */
  highWaterMark?: number;
  /** Aborting closes the connection; the loop ends without an error. */
  signal?: AbortSignal;
}

/**
 * A live stream of frames: iterate it with `for await`. Breaking out of the loop (or `close()`)
 * closes the connection. The loop ends when the server ends the stream and throws a FramecastError
 * (with a `code`) when the connection fails.
 */
export class FrameStream implements AsyncIterableIterator<StreamFrame> {
  readonly #client: SessionClient;
  readonly #queue: StreamFrame[] = [];
  readonly #hwm: number;
  #waiter: { resolve: (r: IteratorResult<StreamFrame>) => void; reject: (e: unknown) => void } | null = null;
  #error: FramecastError | null = null;
  #done = false;
  #end: StreamEnd | null = null;
  /** Seq of the frame the consumer holds: acknowledged when it asks for the next one. */
  #held: number | null = null;

  /** @internal use connect() */
  constructor(addr: ServerAddress | ServerAddress[], opts: ConnectOptions) {
    this.#hwm = opts.highWaterMark ?? 2;
    if (!Number.isInteger(this.#hwm) || this.#hwm < 1)
      throw new RangeError('highWaterMark must be an integer >= 1');
    // Acknowledging when the loop asks for more (not on receipt) is what keeps a slow loop's frames fresh.
    const client = new SessionClient(addr, { ...opts, manualAck: true });
    this.#client = client;
    client.on('frame', (f) => {
      if (this.#done) return;
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = null;
        this.#held = f.seq;
        w.resolve({ value: f, done: false });
        return;
      }
      this.#queue.push(f);
      if (this.#queue.length >= this.#hwm) client.pause();
    });
    client.on('end', (end) => {
      this.#end = end;
      this.#settle(null);
    });
    client.on('error', (err) => this.#settle(err));
    // Without a listener EventEmitter would throw on these; callers read them from the stream instead.
    client.on('bad-frame', () => {});
    if (opts.signal) {
      if (opts.signal.aborted) this.close();
      else opts.signal.addEventListener('abort', () => this.close(), { once: true });
    }
    if (!this.#done) client.connect();
  }

  /** Protocol in use: `native` or `legacy` once settled. */
  get protocol(): string {
    return this.#client.protocol;
  }

  /** Server name and clock estimate of the current connection (null before the handshake). */
  get handshake(): HandshakeInfo | null {
    return this.#client.handshake;
  }

  /** How the stream ended cleanly (null while it runs or after an error). */
  get ended(): StreamEnd | null {
    return this.#end;
  }

  /** Reconnects so far (with the `reconnect` option) and total ms without a connection. */
  get reconnects(): { count: number; gapMs: number } {
    return { count: this.#client.reconnects, gapMs: this.#client.gapMs };
  }

  /** Each analyzer's newest annotation (with the `annotations` option). */
  get latestAnnotations(): ReadonlyMap<string, FrameAnnotation> {
    return this.#client.latestAnnotations;
  }

  /** Listens for analyzers' annotations (with the `annotations` option), as they arrive. */
  onAnnotation(listener: (annotation: FrameAnnotation) => void): this {
    this.#client.on('annotation', listener);
    return this;
  }

  /** Listens for refusals of this client's annotations (STATUS 4: 409 not a recent frame, 429, ...). */
  onAnnotationRefused(listener: (refusal: AnnotationRefusal) => void): this {
    this.#client.on('annotation-refused', listener);
    return this;
  }

  /**
   * Annotates a frame of this stream (a frame from the loop, or its seq) as `analyzer` with one JSON
   * object. Needs `{ annotate: true }` and a server that agreed: ERR_INVALID_STATE otherwise, and
   * ERR_BAD_META for a bad name or data (too large, too deep, not an object), before anything is sent.
   */
  annotate(frame: number | { seq: number }, analyzer: string, data: unknown): void {
    this.#client.annotate(frame, analyzer, data);
  }

  /** Listens for STATUS messages (e.g. waiting for a place). */
  onStatus(listener: (code: number, value: number, message: string) => void): this {
    this.#client.on('status', listener);
    return this;
  }

  #settle(err: FramecastError | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err;
    this.#client.close();
    const w = this.#waiter;
    this.#waiter = null;
    if (w && this.#queue.length === 0) this.#deliverEnd(w.resolve, w.reject);
  }

  #deliverEnd(resolve: (r: IteratorResult<StreamFrame>) => void, reject: (e: unknown) => void): void {
    const err = this.#error;
    this.#error = null;
    if (err) reject(err);
    else resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<StreamFrame>> {
    if (this.#held !== null && !this.#done) this.#client.ack(this.#held);
    this.#held = null;
    const f = this.#queue.shift();
    if (f) {
      this.#held = f.seq;
      if (!this.#done && this.#queue.length < this.#hwm) this.#client.resume();
      return Promise.resolve({ value: f, done: false });
    }
    return new Promise((resolve, reject) => {
      if (this.#done) this.#deliverEnd(resolve, reject);
      else this.#waiter = { resolve, reject };
    });
  }

  /** Called by `break`/`return` in a for-await loop: closes the connection. */
  return(): Promise<IteratorResult<StreamFrame>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Closes the connection; a pending or later `next()` reports the end. Idempotent. */
  close(): void {
    this.#queue.length = 0;
    this.#settle(null);
  }
}

/**
 * Connects to a framecast server (or a seed servidor.py) and returns the frames as an async
 * iterable. `address` is `HOST[:PORT][/STREAM]` (default port 9999), several of them separated by
 * commas or in an array (with `reconnect`, a lost server is replaced by the next), or parsed addresses.
 */
export function connect(
  address: string | ServerAddress | (string | ServerAddress)[],
  options: ConnectOptions = {},
): FrameStream {
  const list = Array.isArray(address) ? address : [address];
  const addr = list.flatMap((a) => (typeof a === 'string' ? parseServerAddresses(a) : [a]));
  return new FrameStream(addr, options);
}
