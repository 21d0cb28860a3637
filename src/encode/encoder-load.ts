import { nowMs } from '../util/clock.js';

/**
 * How busy the JPEG encoder slots are, measured over short windows, so the pipeline spends CPU on
 * optimised Huffman tables only when it has the CPU to spare. At a paced 30 fps the slots are a few
 * percent busy and every frame gets the smaller encoding; when encoding is the bottleneck (--no-pace,
 * or a source faster than the machine), frames get the cheaper standard tables instead of being late.
 * Hysteresis keeps it from flapping: standard tables make encodes faster, which lowers the load.
 */
export class EncoderLoad {
  readonly #slots: number;
  readonly #windowMs: number;
  readonly #high: number;
  readonly #low: number;
  #windowStart = nowMs();
  #busyMs = 0;
  #saturated = false;
  #utilisation = 0;

  /** `high`/`low`: utilisation (0..1 of all slots) above which it saturates, below which it recovers. */
  constructor(slots: number, opts: { windowMs?: number; high?: number; low?: number } = {}) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`bad slot count ${slots}`);
    this.#slots = slots;
    this.#windowMs = opts.windowMs ?? 500;
    this.#high = opts.high ?? 0.75;
    this.#low = opts.low ?? 0.4;
  }

  /** Records one finished encode that took `busyMs`; `now` is injectable for tests. */
  add(busyMs: number, now = nowMs()): void {
    this.#busyMs += busyMs;
    this.#roll(now);
  }

  /** True while the encoders are the bottleneck (cheap encodes wanted). */
  saturated(now = nowMs()): boolean {
    this.#roll(now);
    return this.#saturated;
  }

  /** Utilisation of the last complete window, 0..1. */
  get utilisation(): number {
    return this.#utilisation;
  }

  #roll(now: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    this.#utilisation = Math.min(1, this.#busyMs / (elapsed * this.#slots));
    if (this.#utilisation >= this.#high) this.#saturated = true;
    else if (this.#utilisation <= this.#low) this.#saturated = false;
    this.#windowStart = now;
    this.#busyMs = 0;
  }
}
