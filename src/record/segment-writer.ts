import { join } from 'node:path';
import type { Frame } from '../hub/frame.js';
import type { Annotation } from '../meta/annotations.js';
import { AppendFile } from './append-file.js';
import { MkvMuxer, mkvDuration, mkvHead } from './matroska.js';
import {
  annotationLine,
  frameLine,
  indexHeadLine,
  type IndexedAnnotation,
  type IndexedFrame,
} from './segment-index.js';
import { segmentFileName, type SegmentInfo } from './segment-name.js';

/**
 * The segment being recorded: its .mkv (the JPEGs as blocks) and its .idx (a line per frame and per
 * annotation), appended frame by frame. It keeps its own index in memory too, so the last seconds
 * can be played back before the segment closes (only frames whose bytes are written are read).
 */
export class SegmentWriter {
  readonly name: string;
  readonly start: number;
  readonly width: number;
  readonly height: number;
  /** This segment's frames so far (what playback reads while it is being written). */
  readonly frames: IndexedFrame[] = [];
  readonly annotations: IndexedAnnotation[] = [];
  readonly #mkv: AppendFile;
  readonly #idx: AppendFile;
  readonly #durationOffset: number;
  readonly #mux: MkvMuxer;
  #closed: Promise<SegmentInfo> | null = null;

  private constructor(name: string, first: Frame, mkv: AppendFile, idx: AppendFile, durationOffset: number) {
    this.name = name;
    this.start = first.capturedAt;
    this.width = first.width;
    this.height = first.height;
    this.#mkv = mkv;
    this.#idx = idx;
    this.#durationOffset = durationOffset;
    this.#mux = new MkvMuxer(first.capturedAt);
  }

  /** Creates a segment in `dir` named after `first`'s capture time; `first` is not written yet. */
  static async create(dir: string, stream: string, first: Frame): Promise<SegmentWriter> {
    let name = segmentFileName(first.capturedAt);
    let mkv: AppendFile | null = null;
    // Two segments in the same millisecond (a stream restarted at once): the second gets a suffix.
    for (let i = 1; mkv === null; i++) {
      try {
        mkv = await AppendFile.create(join(dir, `${name}.mkv`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 9) throw err;
        name = `${segmentFileName(first.capturedAt)}-${i}`;
      }
    }
    let idx: AppendFile;
    try {
      idx = await AppendFile.create(join(dir, `${name}.idx`));
    } catch (err) {
      await mkv.close();
      throw err;
    }
    const head = mkvHead({
      width: first.width,
      height: first.height,
      startMs: first.capturedAt,
      title: stream,
    });
    mkv.append(head.bytes);
    idx.append(indexHeadLine({ stream, start: first.capturedAt, width: first.width, height: first.height }));
    return new SegmentWriter(name, first, mkv, idx, head.durationOffset);
  }

  /** Capture time of the newest frame written. */
  get end(): number {
    return this.#mux.last;
  }

  /** Bytes of both files so far. */
  get bytes(): number {
    return this.#mkv.size + this.#idx.size;
  }

  /** Bytes appended and not yet on disk. */
  get pending(): number {
    return this.#mkv.pending + this.#idx.pending;
  }

  /** The first write error, or null. */
  get failed(): Error | null {
    return this.#mkv.failed ?? this.#idx.failed;
  }

  /** Resolves when what was appended so far is written (or failed). */
  flushed(): Promise<void> {
    return this.#mkv.flush();
  }

  /** True when `f`'s JPEG is on disk (it can be read back). */
  isWritten(f: IndexedFrame): boolean {
    return f.offset + f.length <= this.#mkv.written;
  }

  /** Where the .mkv is. */
  get path(): string {
    return this.#mkv.path;
  }

  /** True when `frame` belongs in this segment by size (a new size starts a new segment). */
  fits(frame: Frame): boolean {
    return frame.width === this.width && frame.height === this.height;
  }

  /** Appends a frame; false when the segment failed or closed (nothing written). */
  append(frame: Frame): boolean {
    if (this.#closed || this.failed) return false;
    // Capture times never go back inside a file (a block before its predecessor confuses players).
    const at = this.#mkv.size;
    const { bufs, jpegAt, t } = this.#mux.frame(frame.jpeg, frame.capturedAt);
    if (!this.#mkv.append(...bufs)) return false;
    const entry: IndexedFrame = {
      seq: frame.seq,
      t,
      offset: at + jpegAt,
      length: frame.jpeg.length,
      meta: frame.meta,
    };
    this.frames.push(entry);
    this.#idx.append(frameLine(entry));
    return true;
  }

  /** Files an annotation of a frame (of this segment or an earlier one). */
  annotate(a: Annotation): void {
    if (this.#closed || this.failed) return;
    const entry: IndexedAnnotation = {
      analyzer: a.analyzer,
      seq: a.seq,
      t: a.capturedAt,
      receivedAt: a.receivedAt,
      json: a.json,
    };
    this.annotations.push(entry);
    this.#idx.append(annotationLine(entry));
  }

  /** Writes what is queued and the Duration, closes both files, and says what the segment holds. */
  close(): Promise<SegmentInfo> {
    this.#closed ??= (async () => {
      await this.#mkv.patch(this.#durationOffset, mkvDuration(Math.max(1, this.#mux.last - this.start)));
      await Promise.all([this.#mkv.close(), this.#idx.close()]);
      return {
        name: this.name,
        start: this.start,
        end: this.#mux.last,
        frames: this.frames.length,
        bytes: this.#mkv.written + this.#idx.written,
        width: this.width,
        height: this.height,
      };
    })();
    return this.#closed;
  }
}
