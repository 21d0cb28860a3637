import type net from 'node:net';
import { createRequire } from 'node:module';
import { FramecastError } from '../../errors.js';
import type { EndReason, Subscriber } from '../../hub/subscriber.js';
import {
  NATIVE_VERSION,
  ErrorCode,
  StatusCode,
  decodeHello,
  encodeEnd,
  encodeError,
  encodePreamble,
  encodeStatus,
  encodeWelcome,
  nativeFrameWire,
  stampNativeFrame,
} from '../../protocol/native.js';
import { nowMs } from '../../util/clock.js';
import { tokenMatches } from '../../util/token.js';
import { StreamSubscriber } from '../stream-subscriber.js';
import type { NativeHandshake } from './tcp-server.js';

/** Settings of the native handshake. */
export interface NativeHandshakeOptions {
  /** Required token, or null when the server is open. */
  token: string | null;
  /** --no-pace: queue frames instead of replacing the pending one. */
  lossless: boolean;
  /** Called when a backlog was written out (the hub may resume a paused source). */
  onDrained: () => void;
  /** False when the hub can neither serve nor queue another client. */
  hasRoom: () => boolean;
  /** A client must complete its hello within this time (default 5000 ms). */
  helloTimeoutMs?: number;
  /** Hellos in progress at once (default 256); beyond it a new one is refused at once. */
  maxPending?: number;
}

/** Bytes a native client may send after its hello (version 1 clients send none). */
const MAX_AFTER_HELLO_BYTES = 64 * 1024;
/** How long a refusal may take to reach the kernel before the socket is cut. */
const REFUSAL_FLUSH_MS = 1000;

const SERVER_NAME = (() => {
  try {
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version?: string };
    return `framecast/${pkg.version ?? '?'}`;
  } catch {
    return 'framecast';
  }
})();

const END_TEXT: Record<EndReason, string> = {
  eof: 'end of the source',
  stopped: 'the server stopped the transmission',
  'source-error': 'the source failed',
  shutdown: 'the server is shutting down',
  kicked: 'disconnected by the server',
};

/**
 * One native client: latest-frame-wins delivery of FRAME messages (the cached message restamped
 * with this send's time), STATUS while it waits for a place, END before a clean close.
 */
export class NativeSubscriber extends StreamSubscriber {
  readonly #socket: net.Socket;
  #noSignal = false;

  constructor(socket: net.Socket, address: string, opts: NativeHandshakeOptions) {
    super({
      stream: socket,
      protocol: 'native',
      address,
      encode: (frame) => stampNativeFrame(nativeFrameWire(frame), nowMs()),
      lossless: opts.lossless,
      onDrained: opts.onDrained,
      trailer: (reason) => encodeEnd(reason, END_TEXT[reason]),
    });
    this.#socket = socket;
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

function peerOf(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '?';
  return a.includes(':') ? `[${a}]:${socket.remotePort}` : `${a}:${socket.remotePort}`;
}

/**
 * Creates the hook TcpServer calls for a connection that opened with the native magic: reads the
 * hello (capped in size and time), checks version and token, answers WELCOME (with the server's clock
 * for the client's offset estimate) or ERROR and close. A refusal rejects with the reason, which the
 * TCP server logs; the token itself never appears in a message.
 */
export function createNativeHandshake(opts: NativeHandshakeOptions): NativeHandshake {
  const timeoutMs = opts.helloTimeoutMs ?? 5000;
  const maxPending = opts.maxPending ?? 256;
  let pending = 0;
  return (socket, firstBytes) =>
    new Promise<Subscriber | null>((resolve, reject) => {
      let buf = firstBytes;
      let done = false;
      // Each hello may take up to timeoutMs: bound how many slow ones can be held at once.
      const crowded = pending >= maxPending;
      pending++;
      const finish = (): void => {
        if (!done) pending--;
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
      };
      const refuse = (code: number, reason: string, errCode: 'ERR_AUTH' | 'ERR_PROTOCOL'): void => {
        if (done) return;
        finish();
        // Keep reading so unread input cannot turn our close into a reset that loses the ERROR.
        socket.on('data', () => {});
        const flushed = setTimeout(() => reject(new FramecastError(errCode, reason)), REFUSAL_FLUSH_MS);
        socket.end(Buffer.concat([encodePreamble(NATIVE_VERSION), encodeError(code, reason)]), () => {
          clearTimeout(flushed);
          reject(new FramecastError(errCode, reason));
        });
      };
      const accept = (receivedAt: number, rest: Buffer): void => {
        finish();
        const sub = new NativeSubscriber(socket, peerOf(socket), opts);
        socket.write(
          Buffer.concat([encodePreamble(NATIVE_VERSION), encodeWelcome(receivedAt, nowMs(), SERVER_NAME)]),
        );
        let extra = rest.length;
        socket.on('data', (chunk: Buffer) => {
          extra += chunk.length;
          if (extra > MAX_AFTER_HELLO_BYTES) socket.destroy();
        });
        resolve(sub);
      };
      const check = (): void => {
        const receivedAt = nowMs();
        const r = decodeHello(buf);
        if (r.status === 'incomplete') return;
        if (r.status === 'error') {
          refuse(r.code, `bad hello: ${r.message}`, 'ERR_PROTOCOL');
          return;
        }
        const { hello } = r;
        if (hello.version < 1) {
          refuse(
            ErrorCode.UnsupportedVersion,
            `unsupported native protocol version ${hello.version}`,
            'ERR_PROTOCOL',
          );
        } else if (opts.token !== null && hello.token === '') {
          refuse(ErrorCode.TokenRequired, 'this server requires a token', 'ERR_AUTH');
        } else if (opts.token !== null && !tokenMatches(opts.token, hello.token)) {
          refuse(ErrorCode.TokenInvalid, 'wrong token', 'ERR_AUTH');
        } else if (!opts.hasRoom()) {
          refuse(ErrorCode.ServerFull, 'server full: no place and the waiting line is full', 'ERR_PROTOCOL');
        } else {
          accept(receivedAt, buf.subarray(r.consumed));
        }
      };
      const onData = (chunk: Buffer): void => {
        // A hello is at most MAX_HELLO_BYTES (decodeHello refuses longer declared tokens), so this stays small.
        buf = Buffer.concat([buf, chunk]);
        check();
      };
      const onClose = (): void => {
        if (done) return;
        finish();
        reject(new FramecastError('ERR_PROTOCOL', 'closed during the hello'));
      };
      const timer = setTimeout(
        () => refuse(ErrorCode.HandshakeTimeout, `no complete hello within ${timeoutMs} ms`, 'ERR_PROTOCOL'),
        timeoutMs,
      );
      socket.on('data', onData);
      socket.once('close', onClose);
      if (crowded) {
        refuse(ErrorCode.ServerFull, 'too many connections in handshake', 'ERR_PROTOCOL');
        return;
      }
      check();
      if (!done) socket.resume();
    });
}
