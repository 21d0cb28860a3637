/**
 * Paces a file or the test pattern at its own rate by frame index: frame i is due i/fps after the
 * first. ffmpeg's -re throttles its demuxer instead, so a decoder that needs a few packets before its
 * first picture (B-frames) waited for them in real time: measured 170-185 ms to the first frame of
 * an H.264 clip against 65 ms without -re. Falling more than a second behind (a stall) restarts the
 * schedule from now rather than bursting to catch up.
 */
export class Pacer {
  readonly #interval: number;
  #start = 0;
  #first = -1;
  #notBefore = 0;

  constructor(fps: number) {
    this.#interval = 1000 / fps;
  }

  /** Milliseconds to wait before frame `index` is due (0 or less: send now). */
  wait(index: number, now: number): number {
    if (this.#first < 0 || index < this.#first) this.#rebase(index, Math.max(now, this.#notBefore));
    const due = this.#start + (index - this.#first) * this.#interval;
    if (now - due > 1000) {
      this.#rebase(index, now);
      return 0;
    }
    return due - now;
  }

  /** After a hold (the hub kept the first frames for a client): the next frame is due one interval from `now`. */
  restart(now: number): void {
    this.#first = -1;
    this.#notBefore = now + this.#interval;
  }

  #rebase(index: number, now: number): void {
    this.#first = index;
    this.#start = now;
  }
}
