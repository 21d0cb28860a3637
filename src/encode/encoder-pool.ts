import { availableParallelism } from 'node:os';

/**
 * One bound on JPEG encodes in flight for the whole process, shared by every stream's pipeline.
 * Encodes run on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise); each
 * pipeline already limits itself to a few, but six cameras at four each would queue 24 encodes on 4
 * threads and 2 cores, and every frame would wait behind the other streams' backlog. Waiting here
 * keeps the order fair (first come, first served) and the queue visible.
 */
export class EncoderPool {
  readonly size: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`encoder pool size must be >= 1, got ${size}`);
    this.size = size;
  }

  /** Encodes waiting for a slot now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Runs `task` once a slot is free; the slot is held until its promise settles. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#running++;
        let p: Promise<T>;
        try {
          p = task();
        } catch (err) {
          p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
        // One reaction per encode (a `.finally` after `.then` cost two more promises per frame).
        const settle = (): void => {
          this.#running--;
          this.#queue.shift()?.();
        };
        p.then(
          (value) => {
            settle();
            resolve(value);
          },
          (err: unknown) => {
            settle();
            reject(err);
          },
        );
      };
      if (this.#running < this.size) start();
      else this.#queue.push(start);
    });
  }
}

/** Threads libuv gives encodes (and file I/O): UV_THREADPOOL_SIZE, else 4. */
function threadPoolSize(): number {
  const n = Number(process.env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? n : 4;
}

/** The process-wide pool: as many encodes at once as there are cores, at most the thread pool's size. */
export const encoderPool = new EncoderPool(Math.max(1, Math.min(availableParallelism(), threadPoolSize())));
