import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { FramecastError } from '../errors.js';

/** A server's certificate chain and private key, PEM. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

/** A TLS handshake must finish within this time: an unfinished one holds a socket and costs CPU. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Reads --tls-cert and --tls-key, failing with one line naming the file that cannot be read. */
export function readTlsFiles(certPath: string, keyPath: string): TlsCredentials {
  const read = (option: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new FramecastError('ERR_TLS', `cannot read ${option} ${path}: ${why}`, { exitCode: 2 });
    }
  };
  return { cert: read('--tls-cert', certPath), key: read('--tls-key', keyPath) };
}

/**
 * Checks a certificate and key before we listen (a wrong file or a key that does not match the
 * certificate fails here with one line, not at the first client's handshake).
 */
export function checkTlsCredentials(creds: TlsCredentials): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: creds.cert, key: creds.key });
  } catch (err) {
    const msg = (err as Error).message;
    const why = /key values mismatch/i.test(msg)
      ? 'the private key does not belong to the certificate'
      : /no start line|bad base64|PEM/i.test(msg)
        ? 'not a PEM certificate or key'
        : msg;
    throw new FramecastError('ERR_TLS', `TLS certificate/key unusable: ${why}`, { exitCode: 2 });
  }
}

/**
 * A TCP listener, plain or TLS. With TLS, `onRaw` sees every TCP connection before its handshake
 * (so per-address limits count sockets that are still negotiating) and `onSocket` gets the
 * decrypted socket once the handshake is done.
 */
export function createListener(
  creds: TlsCredentials | null,
  onSocket: (socket: net.Socket) => void,
  onRaw: (socket: net.Socket) => void,
): net.Server {
  if (!creds) {
    const server = net.createServer({ noDelay: true }, (s) => {
      onRaw(s);
      if (!s.destroyed) onSocket(s);
    });
    return server;
  }
  const server = tls.createServer(tlsServerOptions(creds), (s) => {
    s.setNoDelay(true);
    onSocket(s);
  });
  server.on('connection', onRaw);
  // A failed handshake (wrong protocol, a plain client, a scanner) is the peer's problem, not ours.
  server.on('tlsClientError', (_err, s) => s.destroy());
  return server;
}

/** The TLS settings every listener of ours uses: the credentials, a handshake deadline, TLS 1.2+. */
export function tlsServerOptions(creds: TlsCredentials): tls.TlsOptions {
  return {
    cert: creds.cert,
    key: creds.key,
    handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    minVersion: 'TLSv1.2',
  };
}
