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
