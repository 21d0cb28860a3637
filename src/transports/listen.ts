import type { AddressInfo, Server } from 'node:net';
import { FramecastError } from '../errors.js';

/** What a listen error message names: the protocol (`TCP`, `HTTP`) and the option that sets the port. */
export interface ListenLabel {
  protocol: string;
  option: string;
}

/** Pending connections the kernel may queue for accept(). */
export const LISTEN_BACKLOG = 4096;

/** Binds a server (net, http, https or tls) and turns bind failures into one-line coded errors. */
export function bindServer(
  server: Server,
  host: string,
  port: number,
  label: ListenLabel,
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new FramecastError(
            'ERR_PORT_IN_USE',
            `${label.protocol} port ${where} is already in use (choose another with ${label.option})`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new FramecastError(
            'ERR_LISTEN',
            `no permission to listen on ${label.protocol} ${where} (ports below 1024 need privileges)`,
          ),
        );
      } else {
        reject(
          new FramecastError('ERR_LISTEN', `cannot listen on ${label.protocol} ${where}: ${err.message}`),
        );
      }
    };
    server.once('error', onError);
    // A crowd connecting at once waits in the kernel's accept queue while we catch up: Node's default
    // backlog (511) overflowed at ~1000 connections in a second; the kernel caps this at somaxconn.
    server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
