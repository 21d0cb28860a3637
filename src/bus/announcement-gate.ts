import { createHash } from 'node:crypto';
import {
  MAX_INSTANCES,
  parseAnnouncement,
  type AnnouncedStreams,
  type Announcement,
} from './announcement.js';

/**
 * One origin process's announcements are taken at most this often; the latest one heard meanwhile
 * waits (never lost, at most this late). Origins announce every 2 s and at once on a change, so only
 * a burst of changes waits; a peer announcing every few milliseconds costs one take per 500 ms.
 */
export const TAKE_INTERVAL_MS = 500;

/** Parsed announcements kept by payload, so that one heard again is neither parsed nor taken again. */
const PARSED_CACHE = 2 * MAX_INSTANCES;

/**
 * Between the bus and an edge's catalog: bounds what one announcing process costs the edge. An
 * announcement identical to one heard before is not parsed again (the same object is handed to the
 * catalog, which then only refreshes the process's time), and each process is taken at most every
 * TAKE_INTERVAL_MS (its latest announcement wins). `changed` is called when the catalog may have
 * changed (the follower then reconciles the edge's streams).
 */
export class AnnouncementGate {
  readonly #catalog: AnnouncedStreams;
  readonly #changed: () => void;
  readonly #intervalMs: number;
  readonly #parsed = new Map<string, Announcement | null>();
  /** Instance -> when it was last taken. */
  readonly #takenAt = new Map<string, number>();
  /** Instance -> its latest announcement, waiting for its turn. */
  readonly #waiting = new Map<string, Announcement>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(catalog: AnnouncedStreams, changed: () => void, intervalMs = TAKE_INTERVAL_MS) {
    this.#catalog = catalog;
    this.#changed = changed;
    this.#intervalMs = intervalMs;
  }

  /** The announcement in `data` (the same object for the same bytes, while cached), or null. */
  parse(data: Uint8Array): Announcement | null {
    const key = createHash('sha256').update(data).digest('base64');
    const hit = this.#parsed.get(key);
    if (hit !== undefined) {
      // Most recently used last: a flood of new payloads evicts the oldest, not the live origins'.
      this.#parsed.delete(key);
      this.#parsed.set(key, hit);
      return hit;
    }
    const a = parseAnnouncement(data);
    this.#parsed.set(key, a);
    if (this.#parsed.size > PARSED_CACHE) this.#parsed.delete(this.#parsed.keys().next().value as string);
    return a;
  }

  /** An announcement heard at `now`: taken now, or when its process's turn comes. */
  offer(a: Announcement, now = Date.now()): void {
    if (this.#closed) return;
    const at = this.#takenAt.get(a.instance);
    if (at === undefined || now - at >= this.#intervalMs) {
      this.#waiting.delete(a.instance);
      this.#take(a, now);
      return;
    }
    // Bounded as the catalog is: a peer inventing instances fills this no further than it.
    if (this.#waiting.has(a.instance) || this.#waiting.size < MAX_INSTANCES) this.#waiting.set(a.instance, a);
    this.#timer ??= setTimeout(() => this.#flush(), at + this.#intervalMs - now);
  }

  #take(a: Announcement, now: number): void {
    this.#takenAt.set(a.instance, now);
    if (this.#takenAt.size > PARSED_CACHE)
      for (const [instance, at] of this.#takenAt)
        if (now - at >= this.#intervalMs && !this.#waiting.has(instance)) this.#takenAt.delete(instance);
    if (this.#catalog.take(a, now)) this.#changed();
  }

  #flush(): void {
    this.#timer = null;
    if (this.#closed) return;
    const now = Date.now();
    let next = Infinity;
    for (const [instance, a] of this.#waiting) {
      const due = (this.#takenAt.get(instance) ?? 0) + this.#intervalMs;
      if (due <= now) {
        this.#waiting.delete(instance);
        this.#take(a, now);
      } else next = Math.min(next, due);
    }
    for (const [instance, at] of this.#takenAt)
      if (now - at > this.#intervalMs && !this.#waiting.has(instance)) this.#takenAt.delete(instance);
    if (next !== Infinity) this.#timer = setTimeout(() => this.#flush(), next - now);
  }

  /** Drops what waits and stops the timer. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#waiting.clear();
  }
}
