import { redactCredentials } from '../util/redact.js';

/** What ffmpeg's banner says about a video stream. */
export interface VideoStreamInfo {
  codec: string;
  width: number;
  height: number;
  /** Frames per second, or null when ffmpeg did not say. */
  fps: number | null;
  /** Pixel format (e.g. `yuv420p`, `yuvj420p`), or null when ffmpeg did not say. */
  pixelFormat: string | null;
}

const STREAM_RE = /Stream #\d+:\d+[^:]*: Video: ([^\s,]+).*?,\s(\d{1,5})x(\d{1,5})[\s,]/;
/** The first word after the codec's part: `Video: rawvideo (I420 / 0x30323449), yuv420p(tv, ...` */
const PIX_RE = /Video: [^,]+,\s([a-z0-9_]+)(?:\(|,)/;
const FPS_RE = /,\s(\d+(?:\.\d+)?)(k?) (?:fps|tbr)\b/;

/** Parses a `Stream #0:0: Video: ...` line of ffmpeg's log; null for any other line. */
export function parseVideoStreamLine(line: string): VideoStreamInfo | null {
  const m = STREAM_RE.exec(line);
  if (!m) return null;
  const f = FPS_RE.exec(line);
  const fps = f ? Number(f[1]) * (f[2] === 'k' ? 1000 : 1) : null;
  return {
    codec: m[1] as string,
    width: Number(m[2]),
    height: Number(m[3]),
    fps: fps && fps > 0 ? fps : null,
    pixelFormat: PIX_RE.exec(line)?.[1] ?? null,
  };
}

/** Splits a chunked text stream into lines, keeping the last few for error messages. */
export class LineTail {
  readonly lines: string[] = [];
  #partial = '';
  readonly #keep: number;

  constructor(keep = 20) {
    this.#keep = keep;
  }

  /** Feeds a chunk; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const parts = (this.#partial + chunk).split(/\r?\n|\r/);
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      this.lines.push(line);
      if (this.lines.length > this.#keep) this.lines.shift();
    }
    return parts;
  }

  /** The most telling error line ffmpeg printed, trimmed of its `[component @ 0x...]` prefix. */
  lastError(): string | null {
    const all = this.#partial ? [...this.lines, this.#partial] : this.lines;
    for (let i = all.length - 1; i >= 0; i--) {
      const line = (all[i] as string).replace(/^\[[^\]]*\]\s*/, '').trim();
      // ffmpeg echoes input URLs, which may carry a camera's password.
      if (line && !/^(?:frame=|size=|video:|Press \[q\]|Conversion failed)/.test(line))
        return redactCredentials(line);
    }
    return null;
  }
}
