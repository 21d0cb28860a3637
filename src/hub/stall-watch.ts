import { nowMs } from '../util/clock.js';
import type { Hub } from './hub.js';
import type { Subscriber } from './subscriber.js';

/**
 * Cuts clients that stopped reading: one whose pending frame has waited longer than `timeoutMs` for
 * the peer to take it is ended with reason `kicked`. Without this, a peer that connects and never
 * reads keeps its place among --max-clients forever (and in --no-pace mode holds the source for
 * everyone). One sweep every few seconds, not a timer per write, so it costs nothing per frame.
 * Returns the function that stops the watch.
 */
export function watchStalls(
  hub: Hub,
  timeoutMs: number,
  onKick: (sub: Subscriber, stalledMs: number) => void,
): () => void {
  if (timeoutMs <= 0) return () => {};
  const kicked = new WeakSet<Subscriber>();
  const timer = setInterval(
    () => {
      const now = nowMs();
      for (const sub of hub.clients) {
        const stalled = sub.stalledMs?.(now) ?? 0;
        if (stalled > timeoutMs && !kicked.has(sub)) {
          kicked.add(sub);
          onKick(sub, stalled);
          sub.end('kicked');
        }
      }
    },
    Math.max(100, Math.min(5000, timeoutMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
