import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { FramecastError } from '../errors.js';
import { nowMs } from '../util/clock.js';
import { LineTail, parseVideoStreamLine, type VideoStreamInfo } from './ffmpeg-log.js';
import { RawFrameSplitter } from './raw-frame-splitter.js';
import type { SourceSpec } from './source-spec.js';

/** One decoded, scaled frame as packed RGB24, stamped when its last byte left ffmpeg. */
export interface RawFrame {
  data: Buffer;
  width: number;
  height: number;
  /** 0-based index within this run of the source. */
  index: number;
  /** Wall-clock ms when the frame was complete. */
  capturedAt: number;
}

/** Options for one run of ffmpeg over a source. */
export interface FfmpegSourceOptions {
  ffmpeg: string;
  spec: SourceSpec;
  /** Output width; 0 keeps the source's width. Height follows the aspect ratio, truncated like the seed. */
  width: number;
  /** Read at the input's native rate (ffmpeg -re); ignored for live inputs, which pace themselves. */
  pace: boolean;
  /** Restart a file at its end. */
  loop: boolean;
}

/** Events of an FfmpegSource. */
export interface FfmpegSourceEvents {
  info: [input: VideoStreamInfo | null, output: { width: number; height: number }];
  frame: [frame: RawFrame];
  end: [];
  error: [err: FramecastError];
}

const children = new Set<ChildProcessByStdio<null, Readable, Readable>>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave an orphan ffmpeg behind, whatever way the process ends.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/** Builds the ffmpeg command line: decode, scale with area averaging (OpenCV's INTER_AREA), raw RGB24 out. */
export function ffmpegArgs(opts: Omit<FfmpegSourceOptions, 'ffmpeg'>): string[] {
  const { spec, width, pace, loop } = opts;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats'];
  if (pace && !spec.live) args.push('-re');
  if (loop && spec.finite) args.push('-stream_loop', '-1');
  args.push(...spec.inputArgs, '-map', '0:v:0', '-an', '-sn', '-dn');
  if (width > 0) args.push('-vf', `scale=${width}:trunc(ih*(${width}/iw)):flags=area`);
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/**
 * One ffmpeg process decoding a source into raw frames. `pause()`/`resume()` apply backpressure
 * through the pipe, so ffmpeg itself blocks when we cannot keep up.
 */
export class FfmpegSource extends EventEmitter<FfmpegSourceEvents> {
  readonly #opts: FfmpegSourceOptions;
  #child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  #stopped = false;
  #paused = false;
  #index = 0;

  constructor(opts: FfmpegSourceOptions) {
    super();
    this.#opts = opts;
  }

  /** Spawns ffmpeg. Emits 'info' once the output size is known, then 'frame's, then 'end' or 'error'. */
  start(): void {
    if (this.#child || this.#stopped) throw new FramecastError('ERR_INVALID_STATE', 'source already started');
    installExitHook();
    const child = spawn(this.#opts.ffmpeg, ffmpegArgs(this.#opts), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    children.add(child);
    const tail = new LineTail(30);
    let input: VideoStreamInfo | null = null;
    let inOutput = false;
    let splitter: RawFrameSplitter | null = null;
    let width = 0;
    let height = 0;
    const early: Buffer[] = [];

    const onData = (chunk: Buffer): void => {
      if (this.#stopped) return;
      if (!splitter) {
        early.push(chunk);
        return;
      }
      splitter.push(chunk, (data) => {
        this.emit('frame', { data, width, height, index: this.#index++, capturedAt: nowMs() });
      });
    };

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      for (const line of tail.push(text)) {
        if (/^Output #0/.test(line)) inOutput = true;
        const info = parseVideoStreamLine(line);
        if (!info) continue;
        if (!inOutput) {
          input ??= info;
        } else if (!splitter) {
          width = info.width;
          height = info.height;
          splitter = new RawFrameSplitter(width * height * 3);
          this.emit('info', input, { width, height });
          for (const chunk of early.splice(0)) onData(chunk);
        }
      }
    });
    child.stdout.on('data', onData);
    if (this.#paused) child.stdout.pause();

    child.on('error', (err) => {
      children.delete(child);
      if (!this.#stopped) {
        this.emit('error', new FramecastError('ERR_SOURCE_FAILED', `cannot run ffmpeg: ${err.message}`));
      }
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      this.#child = null;
      if (this.#stopped) return;
      this.#stopped = true;
      if (code === 0) {
        this.emit('end');
        return;
      }
      const why = tail.lastError() ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
      this.emit(
        'error',
        new FramecastError('ERR_SOURCE_FAILED', `source ${this.#opts.spec.name} failed: ${why}`),
      );
    });
  }

  /** Stops reading ffmpeg's output; ffmpeg blocks once the pipe is full. */
  pause(): void {
    this.#paused = true;
    this.#child?.stdout.pause();
  }

  /** Resumes reading after pause(). */
  resume(): void {
    this.#paused = false;
    this.#child?.stdout.resume();
  }

  /** Kills ffmpeg (idempotent). No event follows a stop. */
  stop(): void {
    if (this.#stopped && !this.#child) return;
    this.#stopped = true;
    const child = this.#child;
    if (!child) return;
    child.stdout.destroy();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    timer.unref();
    child.once('close', () => clearTimeout(timer));
  }

  /** True while ffmpeg is running. */
  get running(): boolean {
    return this.#child !== null;
  }
}
