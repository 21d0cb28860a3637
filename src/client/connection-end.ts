import { FramecastError } from '../errors.js';
import { closeProblem, socketFailure } from './stream-client-errors.js';
import type { StreamEnd } from './stream-client-types.js';
import type { WireReader } from './wire-reader.js';

/** What the end of a StreamClient's connection needs of the client. */
export interface ConnectionEndHost {
  /** The server, as messages name it. */
  readonly where: string;
  readonly tls: boolean;
  /** The client insists on the native protocol (`protocol: 'native'`). */
  readonly nativeOnly: boolean;
  readonly reader: WireReader;
  /** Bytes received on the connection so far. */
  bytesIn(): number;
  /** A seed server's reset came after whole frames (its close, a clean end). */
  seedClosed(): boolean;
  /** Stops what is left of the connection (the hello timer, the socket). */
  cleanup(): void;
  end(end: StreamEnd): void;
  error(err: FramecastError): void;
}

/**
 * How a StreamClient's connection ends, once: with `end` (the server's END, a seed stream's close)
 * or `error` (a lost connection, a socket error, a refusal, a deadline: no answer, no hello, a stall).
 */
export class ConnectionEnd {
  readonly #host: ConnectionEndHost;
  #ended: StreamEnd | null = null;
  #done = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(host: ConnectionEndHost) {
    this.#host = host;
  }

  /** True once the connection ended (or was closed): no more events. */
  get done(): boolean {
    return this.#done;
  }

  /** The deadline's timer, while one is armed. */
  get timer(): NodeJS.Timeout | null {
    return this.#timer;
  }

  /** The server's END: the connection's end when the server's close follows it. */
  ended(end: StreamEnd): void {
    this.#ended = end;
  }

  /** Fails the connection with `message` unless disarmed within `ms` (0: no deadline). */
  arm(ms: number, message: string, code: 'ERR_CONNECT_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_CONNECTION'): void {
    this.disarm();
    if (ms > 0) this.#timer = setTimeout(() => this.fail(code, message), ms);
  }

  disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** The server closed its side (TCP end). */
  onEnd(): void {
    if (this.#done) return;
    const h = this.#host;
    if (h.reader.mode === 'native' && this.#ended) return this.finish(this.#ended);
    const nativeOnly = h.nativeOnly;
    const lost = closeProblem(h.where, h.reader.mode, h.reader.pendingBytes, nativeOnly, h.bytesIn());
    if (lost !== null) return this.fail('ERR_CONNECTION', lost);
    try {
      // A few bytes, then the end: whatever they were, reported as the seed framing would.
      h.reader.endSeed();
      this.finish({ reason: 'closed', message: '' });
    } catch (err) {
      const e = err as FramecastError;
      this.fail(e.code, e.message);
    }
  }

  onSocketError(err: NodeJS.ErrnoException): void {
    const failure = socketFailure(err, this.#host.where, this.#host.tls, () => this.#host.seedClosed());
    if (failure === null) this.finish({ reason: 'closed', message: '' });
    else this.fail(failure.code, failure.message);
  }

  finish(end: StreamEnd): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.#host.end(end);
  }

  fail(code: FramecastError['code'], message: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.#host.error(new FramecastError(code, message));
  }

  /** Ends without an event (the user quit). Idempotent. */
  close(): void {
    this.#done = true;
    this.#cleanup();
  }

  #cleanup(): void {
    this.disarm();
    this.#host.cleanup();
  }
}
