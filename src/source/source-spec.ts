import { existsSync, statSync } from 'node:fs';
import { FramecastError } from '../errors.js';
import { redactCredentials } from '../util/redact.js';

/** What kind of input a SOURCE argument names. */
export type SourceKind = 'test' | 'file' | 'url' | 'device';

/** A parsed SOURCE: how to hand it to ffmpeg and whether it is live. */
export interface SourceSpec {
  kind: SourceKind;
  /** The SOURCE as the user wrote it (for messages and /stats). */
  name: string;
  /** ffmpeg arguments that open the input (everything up to and including `-i X`). */
  inputArgs: string[];
  /** Live inputs (devices, rtsp) pace themselves; files and the test pattern are paced by us. */
  live: boolean;
  /** Files can loop and end; live inputs and the test pattern cannot end. */
  finite: boolean;
}

/** Size and rate of the built-in test pattern. */
export const TEST_PATTERN = { width: 1280, height: 720, fps: 30 } as const;

function deviceArgs(index: string): string[] {
  switch (process.platform) {
    case 'darwin':
      return ['-f', 'avfoundation', '-framerate', '30', '-i', `${index}:none`];
    case 'win32':
      return ['-f', 'dshow', '-i', `video=${index}`];
    default:
      return ['-f', 'v4l2', '-i', /^\d+$/.test(index) ? `/dev/video${index}` : index];
  }
}

/**
 * Interprets SOURCE: `test` (moving pattern), a webcam (`/dev/videoN`, `webcam[:N]`, or a bare index
 * like OpenCV's VideoCapture(0)), a URL (http, https, rtsp, rtmp, udp, srt...), or a file path.
 */
export function parseSource(source: string): SourceSpec {
  const s = source.trim();
  if (s === '') throw new FramecastError('ERR_USAGE', 'SOURCE is empty', { exitCode: 2 });
  if (s === 'test' || s.startsWith('test:')) {
    const { width, height, fps } = TEST_PATTERN;
    return {
      kind: 'test',
      name: s,
      inputArgs: ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`],
      live: false,
      finite: false,
    };
  }
  const webcam = /^(?:webcam|cam)(?::(.+))?$/.exec(s);
  if (webcam || /^\d+$/.test(s)) {
    const index = webcam ? (webcam[1] ?? '0') : s;
    return { kind: 'device', name: s, inputArgs: deviceArgs(index), live: true, finite: false };
  }
  if (/^\/dev\/video\d+$/.test(s)) {
    if (!existsSync(s)) throw new FramecastError('ERR_SOURCE_NOT_FOUND', `video device not found: ${s}`);
    return { kind: 'device', name: s, inputArgs: ['-f', 'v4l2', '-i', s], live: true, finite: false };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (scheme && scheme !== 'file') {
    const live = !['http', 'https', 'ftp'].includes(scheme);
    const extra = scheme === 'rtsp' || scheme === 'rtsps' ? ['-rtsp_transport', 'tcp'] : [];
    // The name goes to logs and /stats: never the password of a camera URL.
    return { kind: 'url', name: redactCredentials(s), inputArgs: [...extra, '-i', s], live, finite: !live };
  }
  const path = scheme === 'file' ? decodeURIComponent(s.slice('file://'.length)) : s;
  if (!existsSync(path)) throw new FramecastError('ERR_SOURCE_NOT_FOUND', `source file not found: ${path}`);
  if (statSync(path).isDirectory()) {
    throw new FramecastError('ERR_SOURCE_INVALID', `source is a directory, not a video file: ${path}`);
  }
  return { kind: 'file', name: path, inputArgs: ['-i', path], live: false, finite: true };
}
