import { Frame } from '../hub/frame.js';
import { Hub } from '../hub/hub.js';
import type { Subscriber } from '../hub/subscriber.js';
import { RenditionProducer } from '../encode/rendition-producer.js';
import { SharedDecode, type RenditionKey } from '../encode/rendition-decode.js';
import type { RawTap } from '../encode/held-planes.js';
import type { RecentPercentiles } from '../util/recent-samples.js';

/** Renditions a stream makes at once by default (`maxRenditions`). */
export const DEFAULT_MAX_RENDITIONS = 4;
/** Rendition widths are multiples of this (the ladder): 16, 32, ... up to the stream's width. */
export const RENDITION_STEP = 16;
/** Snapshots of other sizes kept (the same size asked twice for one frame is encoded once). */
const SNAPSHOT_CACHE = 16;

/** What a viewer asks for beside the stream itself: a width, a quality, a frame rate (each optional). */
export interface ViewRequest {
  width: number | null;
  quality: number | null;
  fps: number | null;
}

/** The query's `width`, `quality` and `fps`, each checked with its range; a message when one is bad. */
export function parseViewRequest(q: URLSearchParams): ViewRequest | string {
  const num = (name: string, min: number, max: number, integer: boolean): number | null | string => {
    const v = q.get(name);
    if (v === null) return null;
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      return `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v.slice(0, 32))}`;
    return n;
  };
  const width = num('width', 16, 16384, true);
  if (typeof width === 'string') return width;
  const quality = num('quality', 1, 100, true);
  if (typeof quality === 'string') return quality;
  const fps = num('fps', 0.1, 1000, false);
  if (typeof fps === 'string') return fps;
  return { width, quality, fps };
}

/** A live rendition, for /stats. */
export interface RenditionReport {
  width: number;
  quality: number;
  viewers: number;
  encoded: number;
  /** Of the frames encoded, those made from one decode shared with the stream's other renditions. */
  sharedDecode: number;
  /** Of the frames encoded, those shrunk from the stream's raw frame (a source ffmpeg decodes: no decode). */
  fromRaw: number;
  skipped: number;
  lastEncodeMs: number | null;
  /**
   * How long after the stream's own frame this rendition's was out, over its last 128 frames (ms):
   * what a rendition viewer waits beyond one of the stream's own size, before the writes.
   */
  delayMs: RecentPercentiles | null;
  /** Made for passive viewers (previews): it encodes only while the stream transmits for others. */
  passive: boolean;
}

interface Entry {
  key: RenditionKey;
  passive: boolean;
  hub: Hub;
  producer: RenditionProducer | null;
}

/**
 * A stream's renditions: other sizes and qualities, each made once per frame for all of its viewers
 * (a hub of its own whose producer encodes from the stream's hub), started by its first viewer and
 * stopped after its last. Widths snap down to the ladder (multiples of RENDITION_STEP, never over the
 * stream's); at most `max` renditions run at once, and a request beyond them gets the nearest running
 * one, never a new encoder.
 */
export class Renditions {
  readonly #main: Hub;
  readonly #quality: number;
  readonly #max: number;
  readonly #maxClients: number;
  readonly #entries = new Map<string, Entry>();
  readonly #snapshots = new Map<string, Promise<Frame | null>>();
  readonly #watchers = new Set<(hub: Hub) => void>();
  /** One decode per frame for the renditions running (when two or more run). */
  readonly #decode: SharedDecode;
  #closed = false;

  constructor(main: Hub, opts: { quality: number; max: number; maxPixels: number; maxClients: number }) {
    this.#main = main;
    this.#quality = opts.quality;
    this.#max = opts.max;
    this.#maxClients = opts.maxClients;
    this.#decode = new SharedDecode(
      () => [...this.#entries.values()].filter((e) => e.hub.transmitting).map((e) => e.key),
      opts.maxPixels,
    );
  }

  /** Where the stream's pipeline hands each frame's raw planes over while renditions run. */
  get rawTap(): RawTap {
    return this.#decode.tap;
  }

  /** The width of the stream's own frames (its newest, or its source's), or null before any. */
  #mainWidth(): number | null {
    return this.#main.latest?.width ?? this.#main.source?.width ?? null;
  }

  /** The rendition a request asks for, on the ladder; null when it is the stream itself. */
  keyOf(req: ViewRequest): RenditionKey | null {
    const main = this.#mainWidth();
    let width = req.width;
    if (width !== null) {
      width = Math.max(RENDITION_STEP, Math.floor(width / RENDITION_STEP) * RENDITION_STEP);
      if (main !== null && width >= main) width = null;
    }
    const quality = req.quality ?? this.#quality;
    if (width === null && quality === this.#quality) return null;
    return { width: width ?? main ?? 16384, quality };
  }

  /**
   * The hub a viewer of `req` joins: the stream's own, or a rendition's (made or shared). `passive`:
   * a preview's (`?passive=1`), whose rendition never starts the stream's source (see
   * RenditionProducer); its viewers join the rendition's hub, while a passive viewer of the stream
   * itself (the main hub returned) stays a monitor of it.
   */
  hubFor(req: ViewRequest, passive = false): Hub {
    // maxRenditions 0: every viewer gets the stream itself.
    const key = this.#closed || this.#max === 0 ? null : this.keyOf(req);
    if (!key) return this.#main;
    const id = `${passive ? 'p:' : ''}${key.width}:${key.quality}`;
    const have = this.#entries.get(id);
    if (have) return have.hub;
    const live = [...this.#entries.values()].filter((e) => e.hub.transmitting || e.hub.clientCount > 0);
    if (live.length >= this.#max) {
      // No new encoder: the nearest running rendition of the same kind (by width, then quality); a
      // viewer would never be started by a passive one, and a preview must not start the source.
      const same = live.filter((e) => e.passive === passive);
      if (same.length === 0) return this.#main;
      let best = same[0] as Entry;
      const cost = (e: Entry): number =>
        Math.abs(e.key.width - key.width) * 1000 + Math.abs(e.key.quality - key.quality);
      for (const e of same) if (cost(e) < cost(best)) best = e;
      return best.hub;
    }
    // Idle renditions are forgotten before a new one is made: the map stays within `max` live ones.
    for (const [k, e] of this.#entries)
      if (!e.hub.transmitting && e.hub.clientCount === 0) {
        e.hub.close('removed');
        this.#entries.delete(k);
      }
    const hub = new Hub({
      // Called when its first viewer joins (a new producer per run).
      createProducer: () =>
        (entry.producer = new RenditionProducer(this.#main, key, this.#decode.scale, passive)),
      maxClients: this.#maxClients,
      maxWaiting: 0,
      lossless: false,
    });
    // A rendition that stops may leave one running: its frames need no shared pixels any more.
    hub.on('transmission-end', () => this.#decode.trim());
    const entry: Entry = { key, passive, hub, producer: null };
    this.#entries.set(id, entry);
    for (const w of this.#watchers) this.#tell(w, hub);
    return entry.hub;
  }

  /**
   * Calls `watcher` with every rendition's hub, those running now and each one made later (the hooks
   * see a rendition's viewers there); returns the function that stops calling it.
   */
  watchHubs(watcher: (hub: Hub) => void): () => void {
    for (const e of this.#entries.values()) this.#tell(watcher, e.hub);
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  #tell(watcher: (hub: Hub) => void, hub: Hub): void {
    try {
      watcher(hub);
    } catch {
      // A watcher's fault is not the viewers': they join all the same.
    }
  }

  /**
   * `frame` (the stream's) at the size and quality `req` asks for, encoded at most once per frame and
   * rendition (kept for the next asker); the frame itself when `req` is the stream's own.
   */
  snapshot(frame: Frame, req: ViewRequest): Promise<Frame | null> {
    let key = this.#max === 0 ? null : this.keyOf(req);
    if (!key) return Promise.resolve(frame);
    const prefix = `${frame.seq}:${frame.capturedAt}:`;
    // At most `max` sizes of one frame are encoded: beyond them, the nearest one already made.
    const made = [...this.#snapshots.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length).split(':').map(Number) as [number, number]);
    const want = key;
    if (made.length >= this.#max && !made.some(([w, q]) => w === want.width && q === want.quality)) {
      const cost = ([w, q]: [number, number]): number =>
        Math.abs(w - want.width) * 1000 + Math.abs(q - want.quality);
      const [w, q] = made.reduce((a, b) => (cost(b) < cost(a) ? b : a));
      key = { width: w, quality: q };
    }
    const id = `${prefix}${key.width}:${key.quality}`;
    let p = this.#snapshots.get(id);
    if (!p) {
      const k = key;
      p = this.#decode.scaleOne(frame, k).then(
        (out) =>
          new Frame({
            seq: frame.seq,
            width: out.width,
            height: out.height,
            capturedAt: frame.capturedAt,
            encodedAt: Date.now(),
            jpeg: out.jpeg,
            meta: frame.meta,
          }),
        () => null,
      );
      if (this.#snapshots.size >= SNAPSHOT_CACHE)
        this.#snapshots.delete(this.#snapshots.keys().next().value as string);
      this.#snapshots.set(id, p);
    }
    return p;
  }

  /** The renditions running now. */
  report(): RenditionReport[] {
    return [...this.#entries.values()]
      .filter((e) => e.hub.transmitting || e.hub.clientCount > 0)
      .map((e) => ({
        width: e.hub.latest?.width ?? e.key.width,
        quality: e.key.quality,
        viewers: e.hub.clientCount,
        encoded: e.producer?.counts.encoded ?? 0,
        sharedDecode: e.producer?.counts.shared ?? 0,
        fromRaw: e.producer?.counts.raw ?? 0,
        skipped: e.producer?.counts.skipped ?? 0,
        lastEncodeMs: e.producer?.counts.lastEncodeMs ?? null,
        delayMs: e.producer?.delays.percentiles() ?? null,
        passive: e.passive,
      }));
  }

  /** The passive viewers (previews) of renditions now: the stream's monitors beside its own. */
  passiveViewers(): Subscriber[] {
    return [...this.#entries.values()].filter((e) => e.passive).flatMap((e) => [...e.hub.clients]);
  }

  /** Ends every rendition's viewers and encoder. Idempotent. */
  close(reason: 'shutdown' | 'removed' = 'shutdown'): void {
    this.#closed = true;
    for (const e of this.#entries.values()) e.hub.close(reason);
    this.#entries.clear();
    this.#snapshots.clear();
    this.#decode.clear();
  }
}
