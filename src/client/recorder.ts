import { SafeEmitter } from '../util/safe-emitter.js';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { Writable, Readable } from 'node:stream';
import { FramecastError, UsageError } from '../errors.js';

/** Containers written through FFmpeg (H.264), and the raw MJPEG extensions written as is. */
const VIDEO_EXTS = new Set(['.mp4', '.mkv', '.mov']);
const MJPEG_EXTS = new Set(['.mjpeg', '.mjpg']);
/** Bytes queued to the writer before frames are dropped (a disk or encoder slower than the stream). */
const MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
/** FFmpeg gets this long to finish the file after its input ended. */
const FINISH_TIMEOUT_MS = 30_000;

/** What a recording wrote. */
export interface RecordSummary {
  file: string;
  format: 'h264' | 'mjpeg';
  frames: number;
  /** Frames not written because the writer fell behind. */
  dropped: number;
}

/** Events of a Recorder. */
export interface RecorderEvents {
  /** The recording failed (FFmpeg died, disk error); nothing more is written. */
  error: [err: FramecastError];
}

/** Checks a --record path before anything connects: known extension, existing directory. */
export function checkRecordPath(path: string): { file: string; format: 'h264' | 'mjpeg' } {
  const file = resolve(path);
  const ext = extname(file).toLowerCase();
  const format = VIDEO_EXTS.has(ext) ? 'h264' : MJPEG_EXTS.has(ext) ? 'mjpeg' : null;
  if (!format) {
    throw new UsageError(
      `--record: '${path}' must end in .mp4, .mkv, .mov (H.264 via FFmpeg) or .mjpeg (frames as is)`,
    );
  }
  const dir = dirname(file);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--record: directory '${dir}' does not exist`);
  }
  return { file, format };
}

/**
 * Writes received JPEGs to a file: `.mjpeg` concatenates them as they are (a stream any MJPEG reader
 * opens); `.mp4`/`.mkv`/`.mov` pipes them to FFmpeg, which encodes H.264 with each frame stamped at
 * its arrival time (variable frame rate, one output frame per frame received).
 */
export class Recorder extends SafeEmitter<RecorderEvents> {
  readonly file: string;
  readonly format: 'h264' | 'mjpeg';
  #out: Writable;
  #child: ChildProcessByStdio<Writable, null, Readable> | null = null;
  #stderrTail = '';
  #frames = 0;
  #dropped = 0;
  #failed = false;
  #exited: Promise<number | null> = Promise.resolve(0);

  /** Opens the output (spawns FFmpeg for video containers). `ffmpeg` is the binary to use. */
  constructor(path: string, ffmpeg: string) {
    super();
    const { file, format } = checkRecordPath(path);
    this.file = file;
    this.format = format;
    if (format === 'mjpeg') {
      const ws: WriteStream = createWriteStream(file);
      ws.on('error', (err) => this.#fail(`cannot write ${file}: ${err.message}`));
      this.#out = ws;
      return;
    }
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-use_wallclock_as_timestamps',
      '1',
      '-f',
      'mjpeg',
      '-i',
      'pipe:0',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      // One output frame per input frame: no duplicates or drops to fit a constant rate.
      '-vsync',
      'passthrough',
      '-y',
      file,
    ];
    // Its own process group: a Ctrl-C meant for play must not kill ffmpeg before it finishes the file
    // (it ends by itself when its input closes, even if play dies).
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.#child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.#stderrTail = (this.#stderrTail + s).slice(-2000);
    });
    child.stdin.on('error', () => {}); // EPIPE when FFmpeg died: reported by the exit handler.
    this.#exited = new Promise((res) => {
      child.once('error', (err) => {
        this.#fail(`cannot run ffmpeg (${ffmpeg}): ${err.message}`);
        res(null);
      });
      child.once('exit', (code) => {
        if (code !== 0)
          this.#fail(`ffmpeg failed recording ${file}: ${this.#lastLine() || `exit code ${code}`}`);
        res(code);
      });
    });
    this.#out = child.stdin;
  }

  #lastLine(): string {
    return this.#stderrTail.trim().split('\n').pop()?.trim() ?? '';
  }

  #fail(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.emit('error', new FramecastError('ERR_OUTPUT', message));
  }

  /** Appends one JPEG (dropped and counted when the writer is behind). */
  write(jpeg: Buffer): void {
    if (this.#failed || this.#out.writableEnded) return;
    if (this.#out.writableLength > MAX_BACKLOG_BYTES) {
      this.#dropped++;
      return;
    }
    this.#out.write(jpeg);
    this.#frames++;
  }

  /** Ends the file (FFmpeg finishes encoding) and says what was written. Idempotent. */
  async close(): Promise<RecordSummary> {
    if (!this.#out.writableEnded) {
      await new Promise<void>((res) => {
        this.#out.end(() => res());
        this.#out.once('error', () => res());
      });
    }
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => child.kill('SIGKILL'), FINISH_TIMEOUT_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    return { file: this.file, format: this.format, frames: this.#frames, dropped: this.#dropped };
  }

  /** Stops at once (FFmpeg killed, file possibly incomplete). */
  abort(): void {
    this.#child?.kill('SIGKILL');
    this.#out.destroy();
  }
}
