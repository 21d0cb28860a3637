import { SafeEmitter } from '../util/safe-emitter.js';
import { FramecastError } from '../errors.js';
import { Frame } from '../hub/frame.js';
import type { FrameProducer, ProducerEvents, SourceDescription } from '../hub/producer.js';
import { FfmpegSource, type RawFrame } from '../source/ffmpeg-source.js';
import { nowMs } from '../util/clock.js';
import { ImageBound, jpegInfo } from '../util/jpeg.js';
import { EncoderLoad } from './encoder-load.js';
import { qscaleForQuality } from './ffmpeg-quality.js';
import { encodeJpeg } from './jpeg-encoder.js';
import { encodeI420 } from './native-jpeg.js';
import { KEPT_PLANES } from './held-planes.js';
import { encoderPool } from './encoder-pool.js';
import type { PipelineOptions } from './frame-pipeline-types.js';
import { HUFFMAN_MIN_AUDIENCE, NATIVE_HUFFMAN_MIN_AUDIENCE, nativeEncodes } from './encoder-choice.js';

export {
  encoderImplementation,
  HUFFMAN_MIN_AUDIENCE,
  NATIVE_HUFFMAN_MIN_AUDIENCE,
  type JpegEncoderKind,
} from './encoder-choice.js';
export type { PipelineOptions } from './frame-pipeline-types.js';

/** Raw planes lent to the rendition tap: call with the frame made of them, or null (see RawTap.arrive). */
type Lent = (frame: Frame | null) => void;

/** Raw frames read from ffmpeg beyond those being encoded. */
const READ_AHEAD = 2;

/**
 * The media pipeline for one transmission: ffmpeg decodes and scales, libjpeg-turbo encodes
 * `concurrency` frames at a time, and frames come out in source order, each encoded once.
 */
export class FramePipeline extends SafeEmitter<ProducerEvents> implements FrameProducer {
  readonly #opts: PipelineOptions;
  #source: FfmpegSource | null = null;
  #stopped = false;
  #externallyPaused = false;
  #inFlight = 0;
  #nextIndex = 0;
  #seq = 0;
  /** Encoded frames waiting for their turn; `lent`: their raw planes are the rendition tap's (see encode). */
  readonly #ready = new Map<number, { raw: RawFrame; jpeg: Buffer; encodedAt: number; lent?: Lent }>();
  #ended = false;
  #lastEmit = 0;
  #emitTimer: NodeJS.Timeout | null = null;
  #nextDue = -Infinity;
  #width: number | null = null;
  #height: number | null = null;
  #inputFps: number | null;
  readonly #load: EncoderLoad;
  /** Raw frames read ahead, waiting for an encoder slot, in source order. */
  readonly #queued: { raw: RawFrame; index: number }[] = [];
  #encoding = 0;
  readonly #images: ImageBound;
  /** Raw frames are I420 for the native encoder, else RGB24 for sharp. */
  readonly #native: boolean;

  constructor(opts: PipelineOptions) {
    super();
    this.#opts = opts;
    this.#load = new EncoderLoad(opts.concurrency);
    this.#inputFps = opts.inputFps ?? null;
    this.#images = opts.images ?? new ImageBound();
    this.#native = nativeEncodes(opts.encoder ?? 'libjpeg');
  }

  describe(): SourceDescription {
    return {
      kind: this.#opts.spec.kind,
      name: this.#opts.spec.name,
      width: this.#width,
      height: this.#height,
      inputFps: this.#inputFps,
    };
  }

  start(): void {
    const source = new FfmpegSource({
      ffmpeg: this.#opts.ffmpeg,
      spec: this.#opts.spec,
      width: this.#opts.width,
      pace: this.#opts.pace,
      paceFps: this.#inputFps,
      loop: this.#opts.loop,
      // Frames being encoded or read ahead, the one being read, one spare, and those renditions keep.
      poolSize: this.#opts.concurrency + READ_AHEAD + 2 + (this.#opts.rawTap ? KEPT_PLANES : 0),
      ...(this.#opts.passthrough
        ? { copy: true }
        : this.#opts.encoder === 'ffmpeg'
          ? { mjpegQscale: qscaleForQuality(this.#opts.quality) }
          : {}),
      pixelFormat: this.#native ? 'i420' : 'rgb24',
    });
    this.#source = source;
    source.on('info', (input, output) => {
      if (this.#opts.passthrough && input && input.codec !== 'mjpeg') {
        this.#fail(
          new FramecastError(
            'ERR_SOURCE_INVALID',
            `passthrough needs a source whose frames are JPEG (MJPEG); ${this.#opts.spec.name} is ${input.codec}`,
          ),
        );
        return;
      }
      this.#inputFps = input?.fps ?? this.#inputFps;
      this.#width = output.width;
      this.#height = output.height;
    });
    source.on('frame', (raw) => this.#onRaw(raw));
    source.on('end', () => {
      this.#ended = true;
      this.#maybeEnd();
    });
    source.on('error', (err) => this.#fail(err));
    source.start();
  }

  #onRaw(raw: RawFrame): void {
    if (this.#stopped) return;
    const { fps, pace } = this.#opts;
    if (fps !== null && pace && !this.#keep(raw, fps)) return;
    if (this.#opts.passthrough && !this.#passable(raw.data)) {
      raw.release();
      return;
    }
    const index = this.#nextIndex++;
    this.#inFlight++;
    if (this.#opts.encoder === 'ffmpeg' || this.#opts.passthrough) {
      // Already a JPEG: it was encoded when it arrived.
      this.#ready.set(index, { raw, jpeg: raw.data, encodedAt: raw.capturedAt });
      this.#flush();
      if (!this.#stopped) this.#updateFlow();
      return;
    }
    if (this.#encoding < this.#opts.concurrency) this.#encode(raw, index);
    else this.#queued.push({ raw, index });
    this.#updateFlow();
  }

  /**
   * A camera's JPEG goes to viewers untouched, so its SOF is checked as a publisher's is: a
   * compromised camera must not hand every viewer's decoder a 65535x65535 image. Refusals are counted.
   */
  #passable(jpeg: Buffer): boolean {
    const info = jpegInfo(jpeg);
    if (!info || info.width === 0 || info.height === 0) {
      this.#images.unreadable();
      return false;
    }
    return this.#images.refuse(info.width, info.height) === null;
  }

  /**
   * Paced with a cap: files and the test pattern are decimated by media time (frame index and input
   * rate), so a loaded machine that delivers frames in bursts still keeps the right ones; live inputs
   * are decimated by wall clock (10% slack for jitter; after a stall the schedule restarts from now).
   */
  #keep(raw: RawFrame, fps: number): boolean {
    const inputFps = this.#inputFps;
    if (!this.#opts.spec.live && inputFps !== null) {
      if (fps >= inputFps || raw.index === 0) return true;
      return Math.floor((raw.index * fps) / inputFps) !== Math.floor(((raw.index - 1) * fps) / inputFps);
    }
    const interval = 1000 / fps;
    if (raw.capturedAt < this.#nextDue - interval * 0.1) return false;
    this.#nextDue =
      raw.capturedAt - this.#nextDue > interval ? raw.capturedAt + interval : this.#nextDue + interval;
    return true;
  }

  #encode(raw: RawFrame, index: number): void {
    this.#encoding++;
    const startedAt = nowMs();
    // --no-pace asks for frames as fast as possible: CPU is the limit, so standard Huffman tables
    // (half the encode CPU, 10-14% more bytes). Paced, optimised tables once the audience makes them
    // pay, unless encoding falls behind.
    const optimiseCoding =
      this.#opts.pace &&
      (this.#opts.audience?.() ?? 0) >= (this.#native ? NATIVE_HUFFMAN_MIN_AUDIENCE : HUFFMAN_MIN_AUDIENCE) &&
      !this.#load.saturated(startedAt);
    const quality = this.#opts.quality;
    const encoded = encoderPool.run(() =>
      this.#native
        ? encodeI420(raw.data, raw.width, raw.height, {
            quality,
            optimiseCoding,
            limitedRange: raw.limitedRange,
          })
        : encodeJpeg(raw.data, raw.width, raw.height, { quality, optimiseCoding }),
    );
    // While renditions run, the planes are lent to them now (after the main encode took its place
    // first): their encodes start beside this one. Handed over with the frame, or back with null.
    const tap = this.#opts.rawTap;
    const lent = this.#native && tap?.wanted() === true ? tap.arrive(raw) : undefined;
    encoded.then(
      (jpeg) => {
        // The encoder has read the pixels: the buffer can take the next frame, unless they were lent.
        if (!lent) raw.release();
        this.#encoding--;
        this.#load.add(nowMs() - startedAt);
        if (this.#stopped) {
          lent?.(null);
          return;
        }
        this.#ready.set(index, { raw, jpeg, encodedAt: nowMs(), ...(lent ? { lent } : {}) });
        const next = this.#queued.shift();
        if (next) this.#encode(next.raw, next.index);
        this.#flush();
      },
      (err: unknown) => {
        if (lent) lent(null);
        else raw.release();
        this.#encoding--;
        this.#fail(err instanceof FramecastError ? err : new FramecastError('ERR_ENCODE', String(err)));
      },
    );
  }

  /** Emits ready frames in source order; with --no-pace --fps N, spaces them 1/N s apart. */
  #flush(): void {
    if (this.#emitTimer) return;
    const expected = this.#nextIndex - this.#inFlight;
    const done = this.#ready.get(expected);
    if (!done) return;
    const { fps, pace } = this.#opts;
    if (fps !== null && !pace) {
      const wait = this.#lastEmit + 1000 / fps - nowMs();
      if (wait > 0) {
        this.#emitTimer = setTimeout(() => {
          this.#emitTimer = null;
          this.#flush();
        }, wait);
        return;
      }
    }
    this.#ready.delete(expected);
    this.#inFlight--;
    this.#lastEmit = nowMs();
    const { raw, jpeg, encodedAt, lent } = done;
    const frame = new Frame({
      seq: this.#seq++,
      width: raw.width,
      height: raw.height,
      capturedAt: raw.capturedAt,
      encodedAt,
      jpeg,
    });
    // The raw planes to the rendition tap with their frame (its owner from now), before viewers see it.
    lent?.(frame);
    this.emit('frame', frame);
    if (this.#stopped) return;
    this.#updateFlow();
    this.#flush();
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#ended && this.#inFlight === 0 && !this.#stopped) {
      this.#stopped = true;
      this.emit('end');
    }
  }

  #updateFlow(): void {
    const source = this.#source;
    if (!source) return;
    // Reading ahead of the encoders keeps ffmpeg decoding while they work (measured: a 1080p decode
    // stalled on a full pipe during every encode otherwise). inFlight bounds the memory held.
    if (this.#externallyPaused || this.#inFlight >= this.#opts.concurrency + READ_AHEAD) source.pause();
    else source.resume();
  }

  #fail(err: FramecastError): void {
    if (this.#stopped) return;
    this.stop();
    this.emit('error', err);
  }

  pause(): void {
    this.#externallyPaused = true;
    this.#updateFlow();
  }

  resume(): void {
    // Held by the hub (for a first client, or a lossless backlog): paced playback goes on from now.
    if (this.#externallyPaused) this.#source?.restartPacing();
    this.#externallyPaused = false;
    this.#updateFlow();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#emitTimer) clearTimeout(this.#emitTimer);
    this.#emitTimer = null;
    this.#source?.stop();
    for (const r of this.#ready.values()) r.lent?.(null);
    this.#ready.clear();
    for (const q of this.#queued.splice(0)) q.raw.release();
  }
}
