import { ACK_WINDOW, MAX_ACK_WINDOW } from '../protocol/native.js';

/**
 * The ACK window a client asks for: enough frames in flight to cover one round trip at the stream's
 * frame rate, plus the default two. On one host the round trip is ~0 and the window stays 2 (a slow
 * consumer gets fresh frames); across a 100 ms path at 30 fps it grows to 5, so acknowledging does not
 * cap the rate at window / RTT.
 */
export class AckWindow {
  #lastCapturedAt: number | null = null;
  #intervalMs: number | null = null;

  /** Feeds a frame's capture time (server clock) to follow the frame interval. */
  observe(capturedAt: number): void {
    const last = this.#lastCapturedAt;
    this.#lastCapturedAt = capturedAt;
    if (last === null) return;
    const d = capturedAt - last;
    if (!(d > 0 && d < 10_000)) return;
    // A slow exponential average: frames the server dropped for us make single gaps look long.
    this.#intervalMs = this.#intervalMs === null ? d : this.#intervalMs * 0.9 + d * 0.1;
  }

  /** The window for a round trip of `rttMs` (null when unknown). */
  size(rttMs: number | null): number {
    const interval = this.#intervalMs;
    if (rttMs === null || interval === null || !(rttMs > 0)) return ACK_WINDOW;
    // Frames needed in flight for the full rate are ceil(rtt / interval) + 1; 2 + floor(...) covers that
    // and keeps 2 on one host.
    return Math.min(MAX_ACK_WINDOW, ACK_WINDOW + Math.floor(rttMs / interval));
  }
}
