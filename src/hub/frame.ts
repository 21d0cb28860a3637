/** The data every encoded frame carries from the encoder to every transport. */
export interface FrameInit {
  seq: number;
  width: number;
  height: number;
  /** Wall-clock ms when the source produced the frame (decode complete). */
  capturedAt: number;
  /** Wall-clock ms when the JPEG was ready. */
  encodedAt: number;
  jpeg: Buffer;
  /** The publisher's metadata for this frame: one checked JSON object (compact UTF-8), or none. */
  meta?: Buffer | null;
}

/**
 * One encoded frame, shared by every client. Wire forms (seed framing, native framing, ...)
 * are built at most once per frame, by the first transport that needs them, and then reused.
 */
export class Frame implements FrameInit {
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  readonly capturedAt: number;
  readonly encodedAt: number;
  readonly jpeg: Buffer;
  readonly meta: Buffer | null;
  readonly #wire = new Map<string, Buffer>();

  constructor(init: FrameInit) {
    this.seq = init.seq;
    this.width = init.width;
    this.height = init.height;
    this.capturedAt = init.capturedAt;
    this.encodedAt = init.encodedAt;
    this.jpeg = init.jpeg;
    this.meta = init.meta ?? null;
  }

  /** Returns the cached wire form `kind`, building it with `build` the first time. */
  wire(kind: string, build: (frame: Frame) => Buffer): Buffer {
    let buf = this.#wire.get(kind);
    if (buf === undefined) {
      buf = build(this);
      this.#wire.set(kind, buf);
    }
    return buf;
  }
}
