import { open, type FileHandle } from 'node:fs/promises';

/**
 * A file written only at its end, one write in flight at a time: what is appended while a write runs
 * goes out with the next one (one `writev`), so a recording costs a few system calls per frame and
 * nothing waits on the disk. `written` is how much of it is on disk (in the OS's cache: a killed
 * process loses nothing that was written), `size` how much was appended. The first write error is
 * kept: every later append is refused and `failed` says why.
 */
export class AppendFile {
  readonly path: string;
  #fh: FileHandle;
  #queue: Buffer[] = [];
  #queued = 0;
  #flushing: Promise<void> | null = null;
  #size: number;
  #written: number;
  #error: Error | null = null;
  #closed = false;

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.#fh = fh;
    this.#size = size;
    this.#written = size;
  }

  /** Creates `path` (it must not exist). */
  static async create(path: string): Promise<AppendFile> {
    return new AppendFile(path, await open(path, 'wx'), 0);
  }

  /** Opens `path` to append to it, after its first `size` bytes (a longer file is cut to them). */
  static async reopen(path: string, size: number): Promise<AppendFile> {
    const fh = await open(path, 'r+');
    await fh.truncate(size);
    const f = new AppendFile(path, fh, size);
    return f;
  }

  /** Bytes appended (written or queued). */
  get size(): number {
    return this.#size;
  }

  /** Bytes known to be written. */
  get written(): number {
    return this.#written;
  }

  /** Bytes appended and not yet written. */
  get pending(): number {
    return this.#size - this.#written;
  }

  /** The first write error, or null. */
  get failed(): Error | null {
    return this.#error;
  }

  /** Queues `bufs` at the end of the file; false (nothing queued) after an error or close. */
  append(...bufs: Buffer[]): boolean {
    if (this.#error || this.#closed) return false;
    for (const b of bufs) {
      this.#queue.push(b);
      this.#queued += b.length;
      this.#size += b.length;
    }
    this.#flushing ??= this.#drain();
    return true;
  }

  /** Resolves when everything appended so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Writes `buf` at `position` (inside what is already written), e.g. a header field. */
  async patch(position: number, buf: Buffer): Promise<void> {
    await this.flush();
    if (this.#error) return;
    try {
      await this.#fh.write(buf, 0, buf.length, position);
    } catch (err) {
      this.#error ??= err as Error;
    }
  }

  /** Writes what is queued, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#fh.close().catch(() => undefined);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#error) {
        const bufs = this.#queue;
        const bytes = this.#queued;
        this.#queue = [];
        this.#queued = 0;
        try {
          let done = 0;
          // writev may write less than asked (a full disk part way): go on from where it stopped.
          while (done < bytes) {
            const rest = done === 0 ? bufs : remainder(bufs, done);
            const { bytesWritten } = await this.#fh.writev(rest);
            if (bytesWritten <= 0) throw new Error(`no bytes written to ${this.path}`);
            done += bytesWritten;
            this.#written += bytesWritten;
          }
        } catch (err) {
          this.#error = err as Error;
        }
      }
    } finally {
      this.#flushing = null;
    }
  }
}

/** `bufs` without their first `skip` bytes. */
function remainder(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const b of bufs) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
