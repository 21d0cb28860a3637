import type net from 'node:net';
import type { FramecastError } from '../errors.js';
import { ErrorCode } from '../protocol/native.js';
import { tlsProblem } from './dial.js';

/** The error code a StreamClient reports for each native refusal it names; any other refusal is ERR_SERVER_REFUSED. */
export const REFUSAL_CODES: Record<number, 'ERR_AUTH' | 'ERR_SERVER_REFUSED' | 'ERR_UNKNOWN_STREAM'> = {
  [ErrorCode.TokenRequired]: 'ERR_AUTH',
  [ErrorCode.TokenInvalid]: 'ERR_AUTH',
  [ErrorCode.UnknownStream]: 'ERR_UNKNOWN_STREAM',
};

/** Why a connection that named `stream` cannot go on with a server speaking `version` (null: it can). */
export function namedStreamProblem(
  where: string,
  stream: string | null | undefined,
  version: number,
): string | null {
  if (!stream || version >= 2) return null;
  return `${where} speaks native protocol version 1 and cannot serve named streams (asked for ${stream})`;
}

/**
 * Why the server's close (TCP end, no END message) is a failure, or null when it is the end of a
 * seed-framed stream (then the bytes left decide).
 */
export function closeProblem(
  where: string,
  mode: 'detect' | 'native' | 'legacy',
  pendingBytes: number,
  nativeOnly: boolean,
  bytesIn: number,
): string | null {
  if (mode === 'native') return `connection to ${where} lost: the server closed without ending the stream`;
  // Nothing, or bytes that cannot be the native protocol's, from a server asked for it.
  if (mode === 'detect' && (pendingBytes === 0 || nativeOnly))
    return `${where} closed the connection without answering the hello`;
  // The seed framing cannot say why; a server that requires a token closes on seed clients.
  if (bytesIn === 0) return `${where} closed the connection before sending any frame`;
  return null;
}

/**
 * What a socket error on a StreamClient's connection means: null for a seed server's close that
 * `seedClosed` says came after whole frames (a clean end), else the failure to report.
 */
export function socketFailure(
  err: NodeJS.ErrnoException,
  w: string,
  tls: boolean,
  seedClosed: () => boolean,
): { code: FramecastError['code']; message: string } | null {
  if (err.code === 'ECONNREFUSED') {
    return {
      code: 'ERR_CONNECTION_REFUSED',
      message: `connection refused by ${w}: is framecast serve running there?`,
    };
  } else if (err.code === 'ECONNRESET' && seedClosed()) {
    // A seed server closes with our unread hello in its buffer, which the kernel turns into a reset.
    return null;
  } else if (tls && tlsProblem(err, w)) {
    return { code: 'ERR_TLS', message: tlsProblem(err, w) as string };
  } else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
    return { code: 'ERR_CONNECTION', message: `connection to ${w} lost (${err.code})` };
  } else {
    return { code: 'ERR_CONNECTION', message: `cannot connect to ${w}: ${err.message}` };
  }
}

/** Calls `notTls` with the message to report when a tls:// peer closes before the TLS handshake completes. */
export function onClosedBeforeTls(
  socket: net.Socket,
  where: string,
  notTls: (message: string) => void,
): void {
  // A peer that is not a TLS server just closes on our ClientHello: say that, not "no hello".
  let secured = false;
  socket.once('secureConnect', () => (secured = true));
  const closed = (): void => {
    if (!secured)
      notTls(
        `TLS handshake with ${where} failed: the server closed the connection (is it serving TLS, serve --tls-cert?)`,
      );
  };
  socket.once('end', closed);
  socket.once('close', closed);
}
