import { constants } from 'node:fs';
import { access, lstat, mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { SafeEmitter } from '../util/safe-emitter.js';
import type { Stream } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/streams.js';
import { RecordingStore } from './recording-store.js';
import type { Hub } from '../hub/hub.js';
import { playbackHub, type PlaybackRequest } from './recording-producer.js';
import type { SegmentInfo } from './segment-name.js';
import { StreamRecorder, type RecorderStatus } from './stream-recorder.js';

/** How often retention runs (and after every closed segment). */
export const RETENTION_INTERVAL_MS = 30_000;

/** Where recordings go and the server-wide cap. */
export interface RecordingsOptions {
  /** The folder relative recordPaths are resolved in (the config file's, or the working directory). */
  baseDir: string;
  /** The default recordPath: `recordings`. */
  defaultPath?: string;
  /** Bytes of every stream's recordings together, or null. */
  maxBytes: number | null;
}

export interface RecordingsEvents {
  failed: [stream: string, err: Error];
  resumed: [stream: string];
  segment: [stream: string, info: SegmentInfo];
  deleted: [stream: string, info: SegmentInfo, why: 'age' | 'stream-size' | 'server-size'];
  /** A recording folder repaired at load (a segment cut by a crash), or a retention step that failed. */
  note: [stream: string, message: string];
  'listener-error': [event: string, err: unknown];
}

/** A stream's recording state for /stats and the API. */
export interface RecordingReport extends RecorderStatus {
  /** Segments and bytes on disk (every segment of the stream, recorded now or before). */
  segments: number;
  bytes: number;
  oldest: number | null;
  newest: number | null;
}

/**
 * Every stream's recordings: a recorder for each stream whose `record` is on (started and stopped as
 * streams come, go and change, without touching their viewers), the stores that read them back, and
 * retention (by age and bytes per stream, and bytes for the whole server: oldest first, never the
 * segment being written).
 */
export class Recordings extends SafeEmitter<RecordingsEvents> {
  readonly #registry: StreamRegistry;
  readonly #opts: RecordingsOptions;
  readonly #stores = new Map<string, Promise<RecordingStore>>();
  readonly #recorders = new Map<Stream, { recorder: StreamRecorder | null; dir: string }>();
  readonly #timer: NodeJS.Timeout;
  readonly #off: () => void;
  #retention: Promise<void> | null = null;
  #closed = false;

  constructor(registry: StreamRegistry, opts: RecordingsOptions) {
    super();
    this.#registry = registry;
    this.#opts = opts;
    const sync = (): void => this.sync();
    const removed = (s: Stream): void => void this.#stop(s);
    registry.on('added', sync);
    registry.on('retuned', sync);
    registry.on('removed', removed);
    this.#off = () => {
      registry.off('added', sync);
      registry.off('retuned', sync);
      registry.off('removed', removed);
    };
    this.#timer = setInterval(() => void this.retain(), RETENTION_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * Loads the recordings of every stream being recorded (repairing what a crash cut) and starts
   * their recorders. Returns what the loads repaired, one line per thing (also emitted as `note`).
   */
  async start(): Promise<{ stream: string; message: string }[]> {
    const notes: { stream: string; message: string }[] = [];
    const collect = (stream: string, message: string): void => void notes.push({ stream, message });
    this.on('note', collect);
    try {
      for (const s of this.#registry.list())
        if (s.config.record) await this.store(s.name)?.catch(() => undefined);
    } finally {
      this.off('note', collect);
    }
    this.sync();
    return notes;
  }

  /** The folder of `stream`'s recordings: recordPath (or `recordings`), then its name. */
  dirOf(stream: Stream): string {
    const root = stream.config.recordPath ?? this.#opts.defaultPath ?? 'recordings';
    return join(isAbsolute(root) ? root : resolve(this.#opts.baseDir, root), stream.name);
  }

  /** The recordings of stream `name` (null when there is no such stream). */
  store(name: string): Promise<RecordingStore> | null {
    const stream = this.#registry.get(name);
    if (!stream || stream.name !== name) return null;
    return this.#storeAt(this.dirOf(stream), name);
  }

  #storeAt(dir: string, name: string): Promise<RecordingStore> {
    let p = this.#stores.get(dir);
    if (!p) {
      const notes: string[] = [];
      p = RecordingStore.load(dir, name, notes).then((s) => {
        for (const n of notes) this.emit('note', name, n);
        return s;
      });
      this.#stores.set(dir, p);
      // A failed load (unreadable folder) is tried again on the next ask.
      p.catch(() => this.#stores.delete(dir));
    }
    return p;
  }

  /** Starts and stops recorders to match the streams' `record` settings. */
  sync(): void {
    if (this.#closed) return;
    for (const stream of this.#registry.list()) {
      const have = this.#recorders.get(stream);
      const dir = this.dirOf(stream);
      if (stream.config.record && have?.dir === dir) continue;
      if (have) void this.#stop(stream);
      if (stream.config.record) this.#start(stream, dir);
    }
  }

  #start(stream: Stream, dir: string): void {
    const name = stream.name;
    const entry: { recorder: StreamRecorder | null; dir: string } = { recorder: null, dir };
    this.#recorders.set(stream, entry);
    void this.#storeAt(dir, name).then(
      (store) => {
        if (this.#recorders.get(stream) !== entry || this.#closed) return;
        entry.recorder = new StreamRecorder(stream.hub, store, stream.config.recordSegmentDuration * 1000, {
          failed: (err) => this.emit('failed', name, err),
          resumed: () => this.emit('resumed', name),
          segment: (info) => {
            this.emit('segment', name, info);
            void this.retain();
          },
        });
        entry.recorder.start();
      },
      (err: unknown) => {
        if (this.#recorders.get(stream) === entry) this.#recorders.delete(stream);
        this.emit('failed', name, err as Error);
      },
    );
  }

  async #stop(stream: Stream): Promise<void> {
    const have = this.#recorders.get(stream);
    if (!have) return;
    this.#recorders.delete(stream);
    await have.recorder?.stop();
  }

  /**
   * A hub of its own that plays stream `name`'s recording from `req.start` (lossless: every frame,
   * the clock held while its one viewer is slow), or why there is nothing to play.
   */
  async playback(name: string, req: PlaybackRequest): Promise<Hub | string> {
    const store = await this.store(name);
    if (!store) return `no stream named ${name}`;
    return playbackHub(store, req);
  }

  /** `name`'s recording state, or null when it has no recordings and records nothing. */
  async report(name: string): Promise<RecordingReport | null> {
    const stream = this.#registry.get(name);
    if (!stream) return null;
    const rec = this.#recorders.get(stream)?.recorder ?? null;
    const store = await this.store(name)?.catch(() => null);
    const segs = store?.segments() ?? [];
    if (!rec && segs.length === 0) return null;
    const status: RecorderStatus = rec?.status ?? {
      state: 'stopped',
      error: null,
      framesWritten: 0,
      framesDropped: 0,
      segmentsWritten: 0,
      since: Date.now(),
    };
    return {
      ...status,
      segments: segs.length,
      bytes: store?.bytes ?? 0,
      oldest: segs[0]?.info.start ?? null,
      newest: segs[segs.length - 1]?.info.end ?? null,
    };
  }

  /** The recorder's state of stream `name`, or null when it is not being recorded (synchronous, for /stats). */
  status(name: string): RecorderStatus | null {
    const stream = this.#registry.get(name);
    return (stream && this.#recorders.get(stream)?.recorder?.status) ?? null;
  }

  /** The recorder's state of each stream being recorded (synchronous, for /metrics). */
  states(): { stream: string; status: RecorderStatus }[] {
    const out: { stream: string; status: RecorderStatus }[] = [];
    for (const [stream, { recorder }] of this.#recorders)
      if (recorder) out.push({ stream: stream.name, status: recorder.status });
    return out;
  }

  /**
   * Deletes what retention says: segments older than their stream's recordDeleteAfter, the oldest of
   * a stream past its recordMaxBytes, then the oldest of all past the server's maxBytes. Never the
   * segment being written. One run at a time.
   */
  retain(now = Date.now()): Promise<void> {
    this.#retention ??= this.#retain(now).finally(() => (this.#retention = null));
    return this.#retention;
  }

  async #retain(now: number): Promise<void> {
    const stores: { stream: Stream; store: RecordingStore }[] = [];
    for (const stream of this.#registry.list()) {
      const p = this.#stores.get(this.dirOf(stream));
      if (!p) continue;
      const store = await p.catch(() => null);
      if (store) stores.push({ stream, store });
    }
    for (const { stream, store } of stores) {
      const c = stream.config;
      try {
        if (c.recordDeleteAfter !== null) {
          const before = now - c.recordDeleteAfter * 1000;
          for (let s = store.oldestClosed(); s && s.end < before; s = store.oldestClosed())
            await this.#delete(store, s, 'age');
        }
        if (c.recordMaxBytes !== null)
          for (let s = store.oldestClosed(); s && store.bytes > c.recordMaxBytes; s = store.oldestClosed())
            await this.#delete(store, s, 'stream-size');
      } catch (err) {
        this.emit('note', stream.name, `retention: ${(err as Error).message}`);
      }
    }
    const max = this.#opts.maxBytes;
    if (max === null) return;
    let total = stores.reduce((n, s) => n + s.store.bytes, 0);
    while (total > max) {
      let oldest: { store: RecordingStore; info: SegmentInfo } | null = null;
      for (const { store } of stores) {
        const first = store.oldestClosed();
        if (first && (!oldest || first.start < oldest.info.start)) oldest = { store, info: first };
      }
      if (!oldest) break;
      try {
        await this.#delete(oldest.store, oldest.info, 'server-size');
      } catch (err) {
        this.emit('note', oldest.store.stream, `retention: ${(err as Error).message}`);
        break;
      }
      total -= oldest.info.bytes;
    }
  }

  async #delete(
    store: RecordingStore,
    info: SegmentInfo,
    why: 'age' | 'stream-size' | 'server-size',
  ): Promise<void> {
    await store.remove(info);
    this.emit('deleted', store.stream, info, why);
  }

  /** Stops every recorder (each closes its segment with every frame it took). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#off();
    clearInterval(this.#timer);
    await Promise.all([...this.#recorders.keys()].map((s) => this.#stop(s)));
    await this.#retention;
  }
}

/**
 * Checks at start-up that a recording folder can be written: made when missing, refused when it is
 * a symbolic link or not writable. Throws an Error naming the path.
 */
export async function checkRecordDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const st = await lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new Error(`${dir} is not a folder (a link is not followed)`);
  await access(dir, constants.W_OK);
}
