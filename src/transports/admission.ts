import type { Hub } from '../hub/hub.js';
import type { Subscriber } from '../hub/subscriber.js';

/** A viewer's connection as admission needs it: how it tells that it closed, and how it is refused. */
export interface Admissible {
  /** Calls `fn` once when the connection closes (for whatever reason). */
  onceClosed(fn: () => void): void;
  /** Ends the connection with `reason` in the transport's words (a close frame, a reset). */
  refuse(reason: string): void;
}

/** Where admission reports what it decided (the transport's events). */
export interface AdmissionReport {
  onClient(sub: Subscriber): void;
  onRefused(address: string, reason: string): void;
}

/**
 * Join, wait or refuse, the same for every transport: the hub takes the viewer (served at once or
 * placed in the waiting line) or, with neither a place nor room in the line, the connection is
 * refused as "server full". The viewer leaves the hub when its connection closes, whichever came
 * first. True when admitted. The native handshake asks `hasRoom()` before its WELCOME so that a full
 * server answers with the protocol's ERROR; the join itself still happens here.
 */
export function admit(hub: Hub, sub: Subscriber, conn: Admissible, report: AdmissionReport): boolean {
  conn.onceClosed(() => hub.leave(sub));
  if (!hub.join(sub)) {
    report.onRefused(sub.address, 'server full');
    conn.refuse('server full');
    return false;
  }
  report.onClient(sub);
  return true;
}

/**
 * A connection that changed its protocol (a late native hello on a seed-framed connection): its new
 * subscriber takes the old one's place in the hub, served or waiting, without a new admission. The new
 * one leaves when the connection closes. False (and refused) when the old one is gone from the hub.
 */
export function admitInPlace(
  hub: Hub,
  old: Subscriber,
  sub: Subscriber,
  conn: Admissible,
  report: AdmissionReport,
): boolean {
  conn.onceClosed(() => hub.leave(sub));
  if (!hub.replace(old, sub)) {
    report.onRefused(sub.address, 'gone');
    conn.refuse('gone');
    return false;
  }
  report.onClient(sub);
  return true;
}
