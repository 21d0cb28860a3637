import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FramecastError } from '../../errors.js';

/**
 * Binds an HTTP server. With `fallback` (the port was a default, not the user's choice) a busy port
 * is not fatal: the server takes any free port instead, and the caller says so.
 */
export async function listenHttp(
  server: Server,
  host: string,
  port: number,
  fallback: boolean,
  option: string,
): Promise<AddressInfo> {
  try {
    return await bind(server, host, port, option);
  } catch (err) {
    if (fallback && err instanceof FramecastError && err.code === 'ERR_PORT_IN_USE') {
      return bind(server, host, 0, option);
    }
    throw err;
  }
}

function bind(server: Server, host: string, port: number, option: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new FramecastError(
            'ERR_PORT_IN_USE',
            `HTTP port ${where} is already in use (choose another with ${option})`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new FramecastError(
            'ERR_LISTEN',
            `no permission to listen on HTTP ${where} (ports below 1024 need privileges)`,
          ),
        );
      } else {
        reject(new FramecastError('ERR_LISTEN', `cannot listen on HTTP ${where}: ${err.message}`));
      }
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
