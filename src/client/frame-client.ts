import net from 'node:net';
import { EventEmitter } from 'node:events';
import { FramecastError } from '../errors.js';
import { nowMs } from '../util/clock.js';
import { jpegInfo, looksLikeJpeg } from '../util/jpeg.js';
import { formatAddress, type ServerAddress } from './address.js';
import { DEFAULT_MAX_FRAME_BYTES, LegacyParser } from './legacy-parser.js';

/** A frame as a client receives it. */
export interface ReceivedFrame {
  jpeg: Buffer;
  /** Sequence number: the server's when the protocol carries one, else counted locally from 0. */
  seq: number;
  width: number;
  height: number;
  /** Server wall-clock ms of capture, or null when the protocol carries no timestamps (seed framing). */
  capturedAt: number | null;
  /** Local wall-clock ms when the last byte arrived. */
  receivedAt: number;
  /** Bytes this frame took on the wire, framing included. */
  wireBytes: number;
}

/** Options of a client connection. */
export interface FrameClientOptions {
  maxFrameBytes?: number;
  connectTimeoutMs?: number;
  /** After the first frame, a silence this long is a stalled stream (0 = wait forever). */
  idleTimeoutMs?: number;
}

/** Events of a FrameClient. */
export interface FrameClientEvents {
  connect: [];
  frame: [frame: ReceivedFrame];
  /** A payload that is not a JPEG: counted, not fatal. */
  'bad-frame': [reason: string];
  /** The server closed the stream cleanly between frames. */
  end: [];
  error: [err: FramecastError];
}

/**
 * Client for the seed (legacy) framing: reads length-prefixed base64 JPEGs. Ends with 'end' on a clean
 * close, or 'error' with a coded FramecastError (refused, truncated, too large, stalled).
 */
export class FrameClient extends EventEmitter<FrameClientEvents> {
  readonly protocol = 'legacy';
  readonly #addr: ServerAddress;
  readonly #opts: FrameClientOptions;
  #socket: net.Socket | null = null;
  #done = false;
  #seq = 0;
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(addr: ServerAddress, opts: FrameClientOptions = {}) {
    super();
    this.#addr = addr;
    this.#opts = opts;
  }

  /** Opens the connection; events follow. */
  connect(): void {
    const { host, port } = this.#addr;
    const where = formatAddress(host, port);
    const parser = new LegacyParser(this.#opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    const socket = net.connect({ host, port, noDelay: true });
    this.#socket = socket;
    socket.setTimeout(this.#opts.connectTimeoutMs ?? 10_000);
    socket.once('timeout', () =>
      this.#fail(new FramecastError('ERR_CONNECT_TIMEOUT', `no answer from ${where}`)),
    );
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.emit('connect');
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      const receivedAt = nowMs();
      this.#armIdle(where);
      try {
        parser.push(chunk, (payload) => this.#onPayload(payload, receivedAt));
      } catch (err) {
        this.#fail(err as FramecastError);
      }
    });
    socket.once('end', () => {
      if (this.#done) return;
      try {
        parser.finish();
        this.#finish();
      } catch (err) {
        this.#fail(err as FramecastError);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        this.#fail(
          new FramecastError(
            'ERR_CONNECTION_REFUSED',
            `connection refused by ${where}: is framecast serve running there?`,
          ),
        );
      } else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        this.#fail(new FramecastError('ERR_CONNECTION', `connection to ${where} lost (${err.code})`));
      } else {
        this.#fail(new FramecastError('ERR_CONNECTION', `cannot connect to ${where}: ${err.message}`));
      }
    });
    socket.once('close', () => {
      if (!this.#done) this.#fail(new FramecastError('ERR_CONNECTION', `connection to ${where} closed`));
    });
  }

  #armIdle(where: string): void {
    const ms = this.#opts.idleTimeoutMs ?? 0;
    if (ms <= 0) return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else {
      this.#idleTimer = setTimeout(
        () =>
          this.#fail(
            new FramecastError('ERR_CONNECTION', `stream from ${where} stalled: no data for ${ms / 1000} s`),
          ),
        ms,
      );
    }
  }

  #onPayload(payload: Buffer, receivedAt: number): void {
    const wireBytes = payload.length + 4;
    const jpeg = Buffer.from(payload.toString('latin1'), 'base64');
    const seq = this.#seq++;
    if (!looksLikeJpeg(jpeg)) {
      this.emit('bad-frame', `frame ${seq} is not a JPEG (${payload.length} bytes)`);
      return;
    }
    const info = jpegInfo(jpeg);
    if (!info) {
      this.emit('bad-frame', `frame ${seq} has no readable JPEG header`);
      return;
    }
    this.emit('frame', {
      jpeg,
      seq,
      width: info.width,
      height: info.height,
      capturedAt: null,
      receivedAt,
      wireBytes,
    });
  }

  #finish(): void {
    this.#done = true;
    this.#cleanup();
    this.emit('end');
  }

  #fail(err: FramecastError): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.emit('error', err);
  }

  #cleanup(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#socket?.destroy();
  }

  /** Closes the connection without an event (the user quit). Idempotent. */
  close(): void {
    this.#done = true;
    this.#cleanup();
  }
}
