import net from 'node:net';
import tls from 'node:tls';
import type { ServerAddress } from './address.js';

/** How a client opens its connection. */
export interface DialOptions {
  /** tls:// only: trust this CA certificate (PEM) instead of the system's trust store. */
  ca?: string | Buffer | null;
}

/** The event that says a socket from dial() is ready for application bytes. */
export function readyEvent(addr: ServerAddress): 'connect' | 'secureConnect' {
  return addr.tls ? 'secureConnect' : 'connect';
}

/**
 * Opens a TCP connection, or a TLS one for tls:// addresses: the server's certificate is verified
 * against `ca` or the system's trust store, and its name against the host (never disabled).
 */
export function dial(addr: ServerAddress, opts: DialOptions = {}): net.Socket {
  const { host, port } = addr;
  if (!addr.tls) return net.connect({ host, port, noDelay: true });
  const socket = tls.connect({
    host,
    port,
    // SNI carries host names only; an IP is checked against the certificate's IP addresses.
    servername: net.isIP(host) ? undefined : host,
    ca: opts.ca ?? undefined,
    minVersion: 'TLSv1.2',
  });
  socket.setNoDelay(true);
  return socket;
}

const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One line explaining a TLS failure a user can act on, or null when `err` is not about TLS. */
export function tlsProblem(err: NodeJS.ErrnoException, where: string): string | null {
  const code = err.code ?? '';
  if (CERT_CODES.has(code)) {
    const what =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `its certificate is not for this name (${err.message})`
        : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
          ? `its certificate is not valid now (${err.message})`
          : `its certificate is not trusted (${err.message}); give its CA with --ca FILE`;
    return `TLS: refusing ${where}: ${what}`;
  }
  if (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    /SSL routines|wrong version number/i.test(err.message)
  ) {
    return `TLS handshake with ${where} failed (${err.message}): is it serving TLS (serve --tls-cert)?`;
  }
  return null;
}
