import type net from 'node:net';

/** The peer of a connection as `ip:port` (`[v6]:port`), for logs, stats and refusals. */
export function peerAddress(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '?';
  return a.includes(':') ? `[${a}]:${socket.remotePort}` : `${a}:${socket.remotePort}`;
}
