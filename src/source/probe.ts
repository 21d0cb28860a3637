import { spawn } from 'node:child_process';
import { FramecastError } from '../errors.js';
import { LineTail, parseVideoStreamLine, type VideoStreamInfo } from './ffmpeg-log.js';
import type { SourceSpec } from './source-spec.js';

/** What a probe learns: the video stream, and whether the input has an end. */
export interface ProbeResult extends VideoStreamInfo {
  /** ffmpeg reported no duration: a live stream (e.g. a camera's MJPEG over HTTP), not a file. */
  endless: boolean;
}

/**
 * Opens a file or URL with ffmpeg (no output) to check it holds a video stream, before we listen.
 * Turns ffmpeg's failure modes into one-line errors a user can act on.
 */
export function probeSource(ffmpeg: string, spec: SourceSpec, timeoutMs = 10_000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-nostdin', ...spec.inputArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const tail = new LineTail(200);
    let video: VideoStreamInfo | null = null;
    let sawStreams = false;
    let duration = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of tail.push(chunk)) {
        if (/Stream #\d+:\d+/.test(line)) sawStreams = true;
        if (/^\s*Duration: \d/.test(line)) duration = true;
        video ??= parseVideoStreamLine(line);
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new FramecastError(
          'ERR_SOURCE_INVALID',
          `source did not open within ${timeoutMs / 1000} s: ${spec.name}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new FramecastError('ERR_FFMPEG_NOT_FOUND', `cannot run ffmpeg (${ffmpeg}): ${err.message}`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      tail.push('\n');
      if (video) return resolve({ ...video, endless: !duration });
      const text = tail.lines.join('\n');
      if (sawStreams) {
        reject(new FramecastError('ERR_SOURCE_NO_VIDEO', `source has no video stream: ${spec.name}`));
      } else if (/No such file or directory/.test(text)) {
        reject(new FramecastError('ERR_SOURCE_NOT_FOUND', `source not found: ${spec.name}`));
      } else if (/Invalid data found|could not find codec|Invalid argument|moov atom not found/i.test(text)) {
        reject(
          new FramecastError('ERR_SOURCE_INVALID', `source is not a video ffmpeg can read: ${spec.name}`),
        );
      } else {
        const why = tail.lastError();
        reject(
          new FramecastError('ERR_SOURCE_INVALID', `cannot open source ${spec.name}${why ? `: ${why}` : ''}`),
        );
      }
    });
  });
}
