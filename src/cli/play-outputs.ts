import type { ClockEstimate } from '../client/clock-sync.js';
import { FrameSaver, type SaveSummary } from '../client/frame-saver.js';
import { Recorder, type RecordSummary } from '../client/recorder.js';
import type { SessionClient } from '../client/session-client.js';
import type { ProtocolChoice } from '../client/stream-client.js';
import { UsageError, type FramecastError } from '../errors.js';
import { locateFfmpeg } from '../source/ffmpeg-path.js';
import { resolveToken, tokenProblem, TOKEN_ENV } from '../util/token.js';
import { choiceOption, intOption, numberOption } from './args.js';

/** parseArgs descriptors of the play options for the native protocol, recording and reconnecting. */
export const PLAY_EXTRA_OPTIONS = {
  protocol: { type: 'string' },
  token: { type: 'string' },
  record: { type: 'string' },
  'save-dir': { type: 'string' },
  reconnect: { type: 'boolean' },
  'reconnect-timeout': { type: 'string' },
  at: { type: 'string' },
  speed: { type: 'string' },
  'then-live': { type: 'boolean' },
  width: { type: 'string' },
  quality: { type: 'string' },
  fps: { type: 'string' },
} as const;

/** Help lines for those options. */
export const PLAY_EXTRA_HELP = `  --protocol P         auto (default): native hello, seed framing if the server
                       ignores it; native: require a framecast server; legacy: the
                       seed framing only (send nothing)
  --token T            token for a server started with --token (default: $${TOKEN_ENV})
  --record FILE        write what arrives to FILE: .mp4/.mkv/.mov (H.264 via ffmpeg)
                       or .mjpeg (the JPEGs as they are)
  --save-dir DIR       write each frame to DIR/frame-NNNNNN.jpg
  --reconnect          when the server goes away, retry with backoff and go on
  --reconnect-timeout S  give up after S seconds without a server (default 60; 0 never)
  --at TIME            play the server's recording from TIME (ISO 8601, e.g.
                       2026-12-07T03:00:00Z) instead of live; ends at the recording's end
  --speed X            with --at: playback speed, 0.1-16 (default 1)
  --then-live          with --at: at the recording's end, go on with the live stream
  --width N            ask the server for frames N pixels wide (16-16384; made once per size
  --quality Q          for every viewer of it), JPEG quality Q (1-100), at most
  --fps F              F frames a second (0.1-1000): native protocol`;

/** The extra play settings, validated. */
export interface PlayExtras {
  protocol: ProtocolChoice;
  token: string | null;
  reconnectTimeoutMs: number | null;
  /** --at/--speed: a playback of the recording, or null for live. */
  playback: { start: number; speed: number } | null;
  /** --then-live: after the playback, live. */
  thenLive: boolean;
  /** --width/--quality/--fps, or null. */
  view: { width: number | null; quality: number | null; fps: number | null } | null;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** --width, --quality and --fps, checked (null when none is given). */
function viewOption(
  values: { width?: string; quality?: string; fps?: string },
  protocol: string,
): PlayExtras['view'] {
  if (values.width === undefined && values.quality === undefined && values.fps === undefined) return null;
  if (protocol === 'legacy')
    throw new UsageError(
      '--width, --quality and --fps need the native protocol (the seed framing cannot ask)',
    );
  return {
    width: values.width === undefined ? null : intOption('width', values.width, 0, 16, 16384),
    quality: values.quality === undefined ? null : intOption('quality', values.quality, 0, 1, 100),
    fps: numberOption('fps', values.fps, null, 0.1, 1000),
  };
}

/** --at and --speed, checked. */
function playbackOption(
  at: string | undefined,
  speed: string | undefined,
  protocol: string,
): PlayExtras['playback'] {
  if (at === undefined) {
    if (speed !== undefined) throw new UsageError('--speed only applies with --at');
    return null;
  }
  const start = ISO_TIME.test(at) ? Date.parse(at.replace(/(\.\d{3})\d+/, '$1')) : NaN;
  if (!Number.isFinite(start))
    throw new UsageError(
      `--at must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got '${at}'`,
    );
  if (protocol === 'legacy')
    throw new UsageError('--at needs the native protocol (the seed framing cannot ask for a time)');
  return { start, speed: numberOption('speed', speed, 1, 0.1, 16) as number };
}

/** Validates the extra options (usage errors name the option). */
export function parsePlayExtras(values: {
  protocol?: string;
  token?: string;
  reconnect?: boolean;
  'reconnect-timeout'?: string;
  at?: string;
  speed?: string;
  'then-live'?: boolean;
  width?: string;
  quality?: string;
  fps?: string;
}): PlayExtras {
  if (values['then-live'] && values.at === undefined)
    throw new UsageError('--then-live only applies with --at');
  const protocol = choiceOption('protocol', values.protocol, 'auto', ['auto', 'native', 'legacy'] as const);
  const token = resolveToken(values.token);
  const problem = token === null ? null : tokenProblem(token);
  if (problem) throw new UsageError(`--token: ${problem}`);
  if (token !== null && protocol === 'legacy' && values.token !== undefined) {
    throw new UsageError('--token needs the native protocol (the seed framing has no way to send it)');
  }
  const timeout = numberOption('reconnect-timeout', values['reconnect-timeout'], 60, 0, 31_536_000) as number;
  if (values['reconnect-timeout'] !== undefined && !values.reconnect) {
    throw new UsageError('--reconnect-timeout only applies with --reconnect');
  }
  return {
    protocol,
    token: protocol === 'legacy' ? null : token,
    reconnectTimeoutMs: values.reconnect ? timeout * 1000 : null,
    playback: playbackOption(values.at, values.speed, protocol),
    thenLive: values['then-live'] ?? false,
    view: viewOption(values, protocol),
  };
}

/** Where received frames are written (--record, --save-dir). */
export interface PlayOutputs {
  write(jpeg: Buffer): void;
  /** Finishes the files; resolves with what they hold. */
  close(): Promise<{ record?: RecordSummary; saved?: SaveSummary }>;
}

/** Opens --record / --save-dir before connecting, so a bad path fails first. */
export function openOutputs(
  values: { record?: string; 'save-dir'?: string },
  onError: (err: FramecastError) => void,
): PlayOutputs {
  const recorder =
    values.record === undefined ? null : new Recorder(values.record, recordFfmpeg(values.record));
  const saver = values['save-dir'] === undefined ? null : new FrameSaver(values['save-dir']);
  recorder?.on('error', onError);
  saver?.on('error', onError);
  return {
    write(jpeg) {
      recorder?.write(jpeg);
      saver?.write(jpeg);
    },
    async close() {
      const [record, saved] = await Promise.all([recorder?.close(), saver?.close()]);
      return { ...(record ? { record } : {}), ...(saved ? { saved } : {}) };
    },
  };
}

function recordFfmpeg(path: string): string {
  // Raw MJPEG needs no ffmpeg; only look it up (and fail early) for containers.
  return /\.mjpe?g$/i.test(path) ? '' : locateFfmpeg().path;
}

/** How latency was measured, for the summary. */
export function clockSummary(
  clock: ClockEstimate | null,
): { sync: 'same-host' | 'offset-corrected'; offsetMs: number; rttMs: number } | null {
  if (!clock) return null;
  const r = (v: number): number => Math.round(v * 100) / 100;
  return {
    sync: clock.sameHost ? 'same-host' : 'offset-corrected',
    offsetMs: r(clock.offsetMs),
    rttMs: r(clock.rttMs),
  };
}

/** The summary fields that come from the session (clock, reconnects) and the outputs. */
export function sessionSummary(client: SessionClient): Record<string, unknown> {
  return {
    clock: clockSummary(client.handshake?.clock ?? null),
    reconnects: client.reconnects,
    gapMs: Math.round(client.gapMs),
    end: client.ended ? { reason: client.ended.reason, message: client.ended.message } : null,
  };
}

/** Human suffix: how latency was measured, reconnects, files written. */
export function humanExtras(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  const end = fields.end as { reason: string; message: string } | null;
  if (end && end.reason !== 'closed') parts.push(`stream ended: ${end.message || end.reason}`);
  const clock = fields.clock as ReturnType<typeof clockSummary>;
  if (clock) {
    parts.push(
      clock.sync === 'same-host'
        ? 'latency exact (same-host clock)'
        : `latency offset-corrected (server clock ${clock.offsetMs >= 0 ? '+' : ''}${clock.offsetMs} ms, ±${Math.round(clock.rttMs / 2)} ms)`,
    );
  }
  if (typeof fields.reconnects === 'number' && fields.reconnects > 0) {
    parts.push(
      `${fields.reconnects} reconnects, ${((fields.gapMs as number) / 1000).toFixed(1)} s without a connection`,
    );
  }
  const record = fields.record as RecordSummary | undefined;
  if (record)
    parts.push(
      `recorded ${record.frames} frames to ${record.file}${record.dropped ? ` (${record.dropped} dropped)` : ''}`,
    );
  const saved = fields.saved as SaveSummary | undefined;
  if (saved)
    parts.push(
      `saved ${saved.saved} JPEGs in ${saved.dir}${saved.dropped ? ` (${saved.dropped} dropped)` : ''}`,
    );
  return parts.length ? `\n  ${parts.join('\n  ')}` : '';
}
