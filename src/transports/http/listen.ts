import type { AddressInfo, Server } from 'node:net';
import { FramecastError } from '../../errors.js';
import { bindServer } from '../listen.js';

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
    return await bindServer(server, host, port, { protocol: 'HTTP', option });
  } catch (err) {
    if (fallback && err instanceof FramecastError && err.code === 'ERR_PORT_IN_USE') {
      return bindServer(server, host, 0, { protocol: 'HTTP', option });
    }
    throw err;
  }
}
