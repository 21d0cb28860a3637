import { SafeEmitter } from '../util/safe-emitter.js';
import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { FramecastError } from '../errors.js';
import { nowMs } from '../util/clock.js';
import { LineTail, parseVideoStreamLine, type VideoStreamInfo } from './ffmpeg-log.js';
import { openRawChannel, type RawChannel } from './raw-channel.js';
import { JpegReader } from './jpeg-reader.js';
import { RawReader } from './raw-reader.js';
import { ffmpegArgs, rawFrameSize, type FfmpegSourceOptions, type RawFrame } from './ffmpeg-args.js';
import { Pacer } from './pacer.js';

export {
  ffmpegArgs,
  rawFrameSize,
  type FfmpegSourceOptions,
  type RawFrame,
  type RawPixelFormat,
} from './ffmpeg-args.js';

/** Events of an FfmpegSource. */
export interface FfmpegSourceEvents {
  info: [input: VideoStreamInfo | null, output: { width: number; height: number }];
  frame: [frame: RawFrame];
  end: [];
  error: [err: FramecastError];
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave an orphan ffmpeg behind, whatever way the process ends.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/**
 * One ffmpeg process decoding a source into raw frames. `pause()`/`resume()` apply backpressure
 * through ffmpeg's stdout, so ffmpeg itself blocks when we cannot keep up; a pause takes effect at
 * the next frame boundary.
 */
export class FfmpegSource extends SafeEmitter<FfmpegSourceEvents> {
  readonly #opts: FfmpegSourceOptions;
  #child: ChildProcess | null = null;
  /** What we read ffmpeg's stdout from: our end of the socket pair, or the child's stdout pipe. */
  #output: net.Socket | NodeJS.ReadableStream | null = null;
  /** Our end of the socket pair, whose reads land in the reader directly (null: a stdout pipe). */
  #channelReader: net.Socket | null = null;
  #started = false;
  #stopped = false;
  #index = 0;
  #width = 0;
  #height = 0;
  /** What ffmpeg's output line said, for `i420` frames. */
  #limitedRange = false;
  readonly #reader: RawReader | JpegReader;
  readonly #pacer: Pacer | null;
  #pacing: NodeJS.Timeout | null = null;
  #pausedByUser = false;

  constructor(opts: FfmpegSourceOptions) {
    super();
    this.#opts = opts;
    const fps = opts.paceFps ?? 0;
    this.#pacer = opts.pace && !opts.spec.live && fps > 0 ? new Pacer(fps) : null;
    const onFrame = (data: Buffer, release: () => void): void => {
      if (this.#stopped) return;
      const index = this.#index++;
      const send = (): void => {
        if (this.#stopped) return release();
        const limitedRange = this.#limitedRange;
        const width = this.#width;
        const height = this.#height;
        this.emit('frame', { data, width, height, index, capturedAt: nowMs(), limitedRange, release });
      };
      const wait = this.#pacer?.wait(index, nowMs()) ?? 0;
      if (wait <= 0) return send();
      // Hold this frame until it is due; the reader (and so ffmpeg, through the pipe) waits with it.
      this.#pacing = setTimeout(() => {
        this.#pacing = null;
        send();
        this.#flow();
      }, wait);
      this.#flow();
    };
    this.#reader =
      opts.mjpegQscale === undefined && !opts.copy
        ? new RawReader(onFrame, opts.poolSize ?? 4, opts.pixelFormat === 'i420' ? 'y4m' : 'raw', (err) =>
            this.#failStream(err),
          )
        : new JpegReader(onFrame, (err) => this.#failStream(err));
  }

  /** A malformed or oversized MJPEG stream: ffmpeg is stopped and the error reported. */
  #failStream(err: FramecastError): void {
    if (this.#stopped) return;
    this.stop();
    this.emit('error', err);
  }

  /** Spawns ffmpeg. Emits 'info' once the output size is known, then 'frame's, then 'end' or 'error'. */
  start(): void {
    if (this.#started || this.#stopped)
      throw new FramecastError('ERR_INVALID_STATE', 'source already started');
    this.#started = true;
    installExitHook();
    openRawChannel(this.#reader).then(
      (channel) => this.#spawn(channel),
      () => this.#spawn(null),
    );
  }

  #spawn(channel: RawChannel | null): void {
    if (this.#stopped) {
      channel?.childEnd.destroy();
      channel?.reader.destroy();
      return;
    }
    const stdout = channel ? channel.childEnd : 'pipe';
    const child = spawn(this.#opts.ffmpeg, ffmpegArgs(this.#opts), { stdio: ['ignore', stdout, 'pipe'] });
    // ffmpeg holds its own copy of the socket now; ours must close without shutting the connection down.
    channel?.childEnd.destroy();
    this.#child = child;
    children.add(child);
    const tail = new LineTail(30);
    let input: VideoStreamInfo | null = null;
    let inOutput = false;
    let sized = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let outputClosed = false;

    const output: net.Socket | NodeJS.ReadableStream = channel
      ? channel.reader
      : (child.stdout as NodeJS.ReadableStream);
    this.#output = output;
    this.#channelReader = channel?.reader ?? null;
    if (channel) {
      // Bytes land in the reader via onread; flowing mode only makes 'end'/'close' arrive.
      channel.reader.on('error', () => {});
      channel.reader.resume();
    } else {
      output.on('data', (chunk: Buffer) => this.#reader.push(chunk));
    }
    if (this.#reader.paused && !channel) output.pause();
    output.once('close', () => {
      outputClosed = true;
      settle();
    });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      for (const line of tail.push(text)) {
        if (/^Output #0/.test(line)) inOutput = true;
        const info = parseVideoStreamLine(line);
        if (!info) continue;
        if (!inOutput) {
          input ??= info;
        } else if (!sized) {
          sized = true;
          this.#width = info.width;
          this.#height = info.height;
          this.#limitedRange = this.#opts.pixelFormat === 'i420' && info.pixelFormat !== 'yuvj420p';
          this.emit('info', input, { width: info.width, height: info.height });
          this.#reader.setFrameSize(rawFrameSize(info.width, info.height, this.#opts.pixelFormat ?? 'rgb24'));
        }
      }
    });

    child.on('error', (err) => {
      children.delete(child);
      if (!this.#stopped) {
        this.#stopped = true;
        this.#reader.close();
        channel?.reader.destroy();
        this.emit('error', new FramecastError('ERR_SOURCE_FAILED', `cannot run ffmpeg: ${err.message}`));
      }
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      this.#child = null;
      exit = { code, signal };
      settle();
    });

    // The end comes once ffmpeg exited AND its output was read to the last byte (a paused reader may
    // still hold frames after ffmpeg is gone); a failure is reported as soon as ffmpeg exits.
    const settle = (): void => {
      if (this.#stopped || exit === null) return;
      if (exit.code === 0 && !outputClosed) return;
      this.#stopped = true;
      if (exit.code === 0) {
        this.emit('end');
        return;
      }
      this.#reader.close();
      if (channel) channel.reader.destroy();
      const why = tail.lastError() ?? (exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
      this.emit(
        'error',
        new FramecastError('ERR_SOURCE_FAILED', `source ${this.#opts.spec.name} failed: ${why}`),
      );
    };
  }

  /** The schedule starts again at the next frame (after a hold, so the frames held are not followed by a burst). */
  restartPacing(): void {
    this.#pacer?.restart(nowMs());
  }

  /** Stops taking frames after the current one; ffmpeg blocks once its output buffer is full. */
  pause(): void {
    this.#pausedByUser = true;
    this.#flow();
  }

  /** Resumes after pause(): frames already received come out first. */
  resume(): void {
    this.#pausedByUser = false;
    this.#flow();
  }

  /**
   * On the socket pair the reader alone stops reading (its `filled()` returns false, and node stops
   * the handle); `resume()` on the still-flowing socket only restarts the handle. Pausing the socket
   * itself meant a stream pause and resume per paced frame (nextTick, read(0), maybeReadMore).
   */
  #flow(): void {
    const output = this.#output;
    const direct = output !== null && output === this.#channelReader;
    if (this.#pausedByUser || this.#pacing) {
      this.#reader.pause();
      if (!direct) output?.pause();
    } else {
      this.#reader.resume();
      if (!this.#reader.paused && !this.#pacing) output?.resume();
    }
  }

  /** Kills ffmpeg (idempotent). No event follows a stop. */
  stop(): void {
    if (this.#stopped && !this.#child) return;
    this.#stopped = true;
    if (this.#pacing) clearTimeout(this.#pacing);
    this.#pacing = null;
    this.#reader.close();
    const output = this.#output;
    if (output && 'destroy' in output) (output as net.Socket).destroy();
    const child = this.#child;
    if (!child) return;
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
