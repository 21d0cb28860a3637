/**
 * The native connection's words around the handshake: what the server calls itself in a WELCOME, an
 * access refusal as the protocol says it, and what a client may send after its WELCOME.
 */
import type net from 'node:net';
import { createRequire } from 'node:module';
import type { Hub } from '../../hub/hub.js';
import type { Refusal } from '../../access/access.js';
import {
  ClientMessageParser,
  ClientProtocolError,
  type ClientMessage,
} from '../../protocol/client-parser.js';
import { ErrorCode, StatusCode, encodeError } from '../../protocol/native.js';
import type { NativeSubscriber } from './native-subscriber.js';

/** How long a refusal may take to reach the kernel before the socket is cut. */
export const REFUSAL_FLUSH_MS = 1000;

/** What the WELCOME names the server: `framecast/VERSION`. */
export const SERVER_NAME = (() => {
  try {
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version?: string };
    return `framecast/${pkg.version ?? '?'}`;
  } catch {
    return 'framecast';
  }
})();

/**
 * After the hello a client may send ACK messages (each goes to the subscriber) and, when its hello
 * asked to annotate and it may, annotations (META kind 2) of the stream's recent frames: each is
 * filed with the hub, and a refused one (unknown frame, over the rate, bad JSON) is told to this
 * client alone as STATUS AnnotationRefused (its value the HTTP status of the same refusal). Anything
 * else (another type, an oversize header, a body) gets ERROR BadMessage and the connection is closed.
 */
export function readClientMessages(
  socket: net.Socket,
  sub: NativeSubscriber,
  rest: Buffer,
  annotate: { hub: Hub; maxBytes: number } | null,
): void {
  const parser = new ClientMessageParser(annotate?.maxBytes ?? null);
  let failed = false;
  const onMessage = (m: ClientMessage): void => {
    if (m.type === 'ack') return sub.acknowledge(m.seq, m.window);
    const filed = annotate?.hub.annotate(m.analyzer, { seq: m.seq }, m.json);
    if (filed && 'refused' in filed)
      sub.status(StatusCode.AnnotationRefused, filed.status, `annotation refused: ${filed.problem}`);
  };
  const onData = (chunk: Buffer): void => {
    if (failed) return;
    try {
      parser.push(chunk, onMessage);
    } catch (err) {
      if (!(err instanceof ClientProtocolError)) throw err;
      failed = true;
      // Frames go out in whole writes, so the ERROR lands between two messages.
      if (socket.writable) socket.end(encodeError(ErrorCode.BadMessage, `bad message: ${err.message}`));
      setTimeout(() => socket.destroy(), REFUSAL_FLUSH_MS).unref();
    }
  };
  socket.on('data', onData);
  if (rest.length > 0) onData(rest);
  // The TCP server paused the socket for the handshake, which may have completed on the first bytes.
  socket.resume();
}

/** A refusal's ERROR code, its message (never the token) and the kind of error the handshake rejects with. */
export type RefusalWords = [code: number, message: string, kind: 'ERR_AUTH' | 'ERR_PROTOCOL'];

/**
 * An access refusal in the protocol's words: `name` is the stream asked for, `publishing` whether the
 * hello was a publisher's, `serverToken` whether the server has a token (then it, not the stream,
 * requires one).
 */
export function refusalWords(
  refusal: Refusal,
  name: string,
  publishing: boolean,
  serverToken: boolean,
): RefusalWords {
  switch (refusal) {
    case 'token-required':
      return [
        ErrorCode.TokenRequired,
        publishing
          ? `publishing to ${name} requires its publish token`
          : `this ${serverToken ? 'server' : 'stream'} requires a token`,
        'ERR_AUTH',
      ];
    case 'token-invalid':
    case 'disabled':
      return [ErrorCode.TokenInvalid, publishing ? 'wrong publish token' : 'wrong token', 'ERR_AUTH'];
    case 'forbidden':
      return [
        ErrorCode.Forbidden,
        `not permitted to ${publishing ? 'publish to' : 'read'} ${name}`,
        'ERR_AUTH',
      ];
    case 'rate-limited':
      return [
        ErrorCode.TooManyFailures,
        'too many failed logins from this address: try again later',
        'ERR_AUTH',
      ];
    default:
      return [ErrorCode.UnknownStream, `no stream named ${name}`, 'ERR_PROTOCOL'];
  }
}
