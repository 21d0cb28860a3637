import { networkInterfaces } from 'node:os';

/** The server clock relative to ours, from the hello/welcome exchange. */
export interface ClockEstimate {
  /** Server clock minus client clock, ms (add it to a client time to get server time). */
  offsetMs: number;
  /** Round trip of the exchange minus the server's processing time, ms; the offset is good to ±rtt/2. */
  rttMs: number;
  /** The server runs on this machine: its clock is ours, latency needs no correction. */
  sameHost: boolean;
}

/**
 * NTP's formula for one exchange: t0 hello sent (client), t1 hello received (server),
 * t2 welcome sent (server), t3 welcome received (client).
 */
export function estimateClock(
  t0: number,
  t1: number,
  t2: number,
  t3: number,
  sameHost: boolean,
): ClockEstimate {
  const offsetMs = (t1 - t0 + (t2 - t3)) / 2;
  const rttMs = Math.max(0, t3 - t0 - (t2 - t1));
  return { offsetMs, rttMs, sameHost };
}

/** Latency of a frame captured at `capturedAt` (server clock) and received at `receivedAt` (ours). */
export function frameLatency(receivedAt: number, capturedAt: number, clock: ClockEstimate | null): number {
  return clock === null || clock.sameHost
    ? receivedAt - capturedAt
    : receivedAt + clock.offsetMs - capturedAt;
}

/** True when `address` is loopback or one of this machine's interfaces (same clock). */
export function isLocalAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (a === '::1' || /^127\./.test(a)) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.address === a) return true;
  }
  return false;
}
