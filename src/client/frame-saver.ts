import { SafeEmitter } from '../util/safe-emitter.js';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FramecastError, UsageError } from '../errors.js';

/** Writes in flight before frames are dropped (a disk slower than the stream). */
const MAX_IN_FLIGHT = 16;

/** What a FrameSaver wrote. */
export interface SaveSummary {
  dir: string;
  saved: number;
  /** Frames not written because too many writes were pending. */
  dropped: number;
}

/** Events of a FrameSaver. */
export interface FrameSaverEvents {
  error: [err: FramecastError];
}

/**
 * Writes each received frame as its own JPEG file, `frame-000001.jpg` on, numbered in arrival order
 * (so reconnects and new transmissions never overwrite earlier files).
 */
export class FrameSaver extends SafeEmitter<FrameSaverEvents> {
  readonly dir: string;
  #index = 0;
  #saved = 0;
  #dropped = 0;
  #failed = false;
  readonly #pending = new Set<Promise<void>>();

  /** Creates the directory (and parents) now, so a bad path fails before connecting. */
  constructor(dir: string) {
    super();
    this.dir = resolve(dir);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      throw new UsageError(`--save-dir: cannot create '${dir}': ${(err as Error).message}`);
    }
  }

  /** The file name of the n-th frame (1-based). */
  static fileName(n: number): string {
    return `frame-${String(n).padStart(6, '0')}.jpg`;
  }

  /** Writes one frame (dropped and counted when too many writes are pending). */
  write(jpeg: Buffer): void {
    if (this.#failed) return;
    const n = ++this.#index;
    if (this.#pending.size >= MAX_IN_FLIGHT) {
      this.#dropped++;
      return;
    }
    const path = join(this.dir, FrameSaver.fileName(n));
    const p = writeFile(path, jpeg).then(
      () => {
        this.#saved++;
      },
      (err: Error) => {
        if (this.#failed) return;
        this.#failed = true;
        this.emit('error', new FramecastError('ERR_OUTPUT', `cannot write ${path}: ${err.message}`));
      },
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Waits for pending writes and says what was written. */
  async close(): Promise<SaveSummary> {
    await Promise.all([...this.#pending]);
    return { dir: this.dir, saved: this.#saved, dropped: this.#dropped };
  }
}
