import type net from 'node:net';

/** The address a connection comes from, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) folded to IPv4. */
export function peerIp(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '?';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * Caps the connections open at once from one IP address (--max-clients-per-ip), shared by every
 * transport so that TCP, HTTP and WebSocket connections all count against the same budget. A cap
 * of 0 means no cap. Counting happens at accept time, before any byte is read, so a peer cannot
 * hold more sockets (and file descriptors) than its share.
 */
export class IpLimiter {
  readonly max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 0)
      throw new RangeError(`max connections per IP must be >= 0, got ${max}`);
    this.max = max;
  }

  /**
   * Counts `socket` against its address; false (and nothing counted) when the address is at its cap.
   * An accepted socket is released automatically when it closes.
   */
  admit(socket: net.Socket): boolean {
    if (this.max === 0) return true;
    const ip = peerIp(socket);
    const n = this.#open.get(ip) ?? 0;
    if (n >= this.max) return false;
    this.#open.set(ip, n + 1);
    socket.once('close', () => {
      const left = (this.#open.get(ip) ?? 1) - 1;
      if (left <= 0) this.#open.delete(ip);
      else this.#open.set(ip, left);
    });
    return true;
  }

  /** Connections open now from `ip`. */
  count(ip: string): number {
    return this.#open.get(ip) ?? 0;
  }

  /** Addresses with at least one connection (the map never keeps zero entries, so it cannot grow without bound). */
  get addresses(): number {
    return this.#open.size;
  }
}
