import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
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

/** Where sources may come from; null `paths` takes a file anywhere (the command line's own files). */
export interface SourcePolicy {
  /** Directories (absolute) a file source must be inside, symlinks resolved; null: anywhere. */
  paths: readonly string[] | null;
}

/**
 * `exec:COMMAND`: a publisher stream whose publisher is a command the server starts while the stream
 * has viewers. It runs a program: taken from the config file and the command line only, never
 * from the API (`execSourceFromApi`).
 */
export const EXEC_PREFIX = 'exec:';
const MAX_EXEC_COMMAND = 8192;

/** The command of an `exec:COMMAND` source, or null when `source` is not one. */
export function execCommand(source: string): string | null {
  const s = source.trimStart();
  return s.startsWith(EXEC_PREFIX) ? s.slice(EXEC_PREFIX.length).trim() : null;
}

/** Why an `exec:` source cannot be used (an empty or oversized command), or null. */
export function execProblem(command: string): string | null {
  if (command === '') return 'exec: needs a command after it (exec:COMMAND)';
  if (command.length > MAX_EXEC_COMMAND || command.includes('\0'))
    return `an exec: command must be at most ${MAX_EXEC_COMMAND} characters, without NUL`;
  return null;
}

/** The one-line refusal of an `exec:` source that came through the API. */
export const EXEC_FROM_API =
  'exec: sources run a command on the server: they are taken from the config file or the command line only, never from the API';

/** Size and rate of the built-in test pattern. */
export const TEST_PATTERN = { width: 1280, height: 720, fps: 30 } as const;

/**
 * URL schemes a SOURCE may use, each with the ffmpeg protocols it may open underneath
 * (`-protocol_whitelist`: a playlist or a redirect cannot reach `file:`, `concat:`, `pipe:`...).
 * Everything else (concat, subfile, pipe, tcp, data, unix, crypto...) is refused.
 */
export const URL_SCHEMES: Readonly<Record<string, string>> = {
  rtsp: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy',
  rtsps: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy',
  rtmp: 'rtmp,rtmps,rtmpt,rtmpts,tcp,tls',
  rtmps: 'rtmp,rtmps,rtmpt,rtmpts,tcp,tls',
  http: 'http,https,tcp,tls,crypto,httpproxy',
  https: 'http,https,tcp,tls,crypto,httpproxy',
  srt: 'srt,udp',
  udp: 'udp,rtp',
  rtp: 'rtp,srtp,udp',
};

/**
 * The demuxers a file source may be read with: video containers and elementary video streams.
 * Text and art formats (`tty` draws any text file as a picture), playlists and `concat` lists (which
 * name other files) are not among them.
 */
export const FILE_FORMATS =
  'mov,matroska,avi,mpegts,mpeg,flv,live_flv,asf,ogg,mxf,nut,dv,ivf,obu,av1,m4v,h264,hevc,mpegvideo,vc1,mjpeg,mpjpeg,smjpeg,yuv4mpegpipe,image2,jpeg_pipe,png_pipe,bmp_pipe,gif,apng,webp_pipe,rm,wtv';

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
 * like OpenCV's VideoCapture(0)), a URL of an allowed scheme (URL_SCHEMES), or a file path (inside
 * `policy.paths` when given). Anything else is refused before ffmpeg runs.
 */
export function parseSource(source: string, policy: SourcePolicy = { paths: null }): SourceSpec {
  const s = source.trim();
  if (s === '') throw new FramecastError('ERR_USAGE', 'SOURCE is empty', { exitCode: 2 });
  if (execCommand(s) !== null)
    throw new FramecastError(
      'ERR_SOURCE_INVALID',
      'an exec: source is a stream of its own (serve NAME=exec:COMMAND), not something ffmpeg reads',
      { exitCode: 2 },
    );
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
  // `name:` at the start is a protocol to ffmpeg (concat:, subfile:, pipe:), with or without `//`.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'file' && !(process.platform === 'win32' && scheme.length === 1)) {
    const protocols = Object.hasOwn(URL_SCHEMES, scheme) ? URL_SCHEMES[scheme] : undefined;
    if (protocols === undefined || !s.slice(scheme.length).startsWith('://'))
      throw new FramecastError(
        'ERR_SOURCE_INVALID',
        `source scheme '${scheme}:' is not allowed (allowed: ${Object.keys(URL_SCHEMES).join(', ')}, a file path, a webcam or test; a file whose name has ':' can be given as ./NAME): ${redactCredentials(s)}`,
        { exitCode: 2 },
      );
    const live = !['http', 'https'].includes(scheme);
    const extra = scheme === 'rtsp' || scheme === 'rtsps' ? ['-rtsp_transport', 'tcp'] : [];
    // The name goes to logs and /stats: never the password of a camera URL.
    return {
      kind: 'url',
      name: redactCredentials(s),
      inputArgs: ['-protocol_whitelist', protocols, ...extra, '-i', s],
      live,
      finite: !live,
    };
  }
  const given = scheme === 'file' ? fileUrlPath(s) : s;
  const path = resolve(given);
  if (!existsSync(path)) throw new FramecastError('ERR_SOURCE_NOT_FOUND', `source file not found: ${path}`);
  const stat = statSync(path);
  if (stat.isDirectory())
    throw new FramecastError('ERR_SOURCE_INVALID', `source is a directory, not a video file: ${path}`);
  if (!stat.isFile())
    throw new FramecastError(
      'ERR_SOURCE_INVALID',
      `source is not a regular file (a device, pipe or socket): ${path}`,
    );
  if (policy.paths !== null && !insideAny(path, policy.paths))
    throw new FramecastError(
      'ERR_SOURCE_INVALID',
      `source file ${path} is outside the allowed source paths (${policy.paths.join(', ') || 'none'}): add its directory to sourcePaths`,
      { exitCode: 2 },
    );
  return {
    kind: 'file',
    name: given,
    // `file:` so that a name such as `concat:x` is never read as a protocol.
    inputArgs: ['-protocol_whitelist', 'file', '-format_whitelist', FILE_FORMATS, '-i', `file:${path}`],
    live: false,
    finite: true,
  };
}

function fileUrlPath(s: string): string {
  const rest = s.slice('file:'.length);
  // file:///abs/path and file:relative; a host (file://host/path) is not a local file.
  const p = rest.startsWith('//') ? rest.slice(2) : rest;
  if (rest.startsWith('//') && !p.startsWith('/'))
    throw new FramecastError('ERR_SOURCE_INVALID', `a file URL must name a local path (file:///...): ${s}`);
  if (/[?#]/.test(p))
    throw new FramecastError('ERR_SOURCE_INVALID', `a file URL takes no query or fragment: ${s}`);
  try {
    return decodeURIComponent(p);
  } catch {
    throw new FramecastError('ERR_SOURCE_INVALID', `a file URL with a broken %-escape: ${s}`);
  }
}

/** True when `path` (symlinks resolved) is one of `dirs` or inside one. */
function insideAny(path: string, dirs: readonly string[]): boolean {
  const real = realOrSelf(path);
  return dirs.some((d) => {
    const dir = realOrSelf(d);
    return real === dir || real.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  });
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * The default source paths: the working directory, the config file's directory, and the directory
 * of every file source the server starts with (the operator named those).
 */
export function defaultSourcePaths(configPath: string | null, sources: readonly string[]): string[] {
  const dirs = [process.cwd()];
  if (configPath !== null) dirs.push(dirname(resolve(configPath)));
  for (const src of sources) {
    const s = src.trim();
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'file') continue;
    if (s === 'test' || s.startsWith('test:') || /^(?:webcam|cam)(?::.*)?$|^\d+$|^\/dev\//.test(s)) continue;
    let path: string;
    try {
      path = resolve(scheme === 'file' ? fileUrlPath(s) : s);
    } catch {
      continue;
    }
    if (isAbsolute(path)) dirs.push(dirname(path));
  }
  return [...new Set(dirs)];
}
