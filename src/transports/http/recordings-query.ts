import { MAX_SPEED, MIN_SPEED } from '../../record/recording-producer.js';

/** ISO 8601 with a date, a time and a zone: `2026-12-07T03:00:00Z`, `...T03:00:00.250+01:00`. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A time from a query value: ms since the epoch, or an error message. */
export function parseTime(name: string, v: string | null): number | string {
  if (v === null || v === '') return `${name} is required (ISO 8601, e.g. 2026-12-07T03:00:00Z)`;
  if (!ISO.test(v))
    return `${name} must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got ${JSON.stringify(v.slice(0, 64))}`;
  // Date.parse keeps milliseconds: cut finer fractions to three digits.
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : `${name} is not a real time: ${JSON.stringify(v.slice(0, 64))}`;
}

/** A time as the answers print it (ISO 8601, UTC, whole milliseconds). */
export const iso = (ms: number): string => new Date(Math.floor(ms)).toISOString();

/**
 * `start` and `end` from a query (each optional unless `needStart`), `duration` (seconds) shortening
 * the end; or an error message.
 */
export function parseRange(q: URLSearchParams, needStart: boolean): { start: number; end: number } | string {
  let start = -Infinity;
  let end = Infinity;
  for (const key of ['start', 'end'] as const) {
    if (!q.has(key) && !(needStart && key === 'start')) continue;
    const t = parseTime(key, q.get(key));
    if (typeof t === 'string') return t;
    if (key === 'start') start = t;
    else end = t;
  }
  if (q.has('duration')) {
    const d = Number(q.get('duration'));
    if (!Number.isFinite(d) || d <= 0)
      return `duration must be a number of seconds above 0, got ${JSON.stringify(q.get('duration'))}`;
    end = Math.min(end, start + d * 1000);
  }
  if (start > end) return `start (${iso(start)}) is after end (${iso(end)})`;
  return { start, end };
}

/** A playback's `speed` (default 1), or an error message. */
export function parseSpeed(q: URLSearchParams): number | string {
  const speed = q.has('speed') ? Number(q.get('speed')) : 1;
  if (!Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED)
    return `speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${JSON.stringify(q.get('speed'))}`;
  return speed;
}

/**
 * True when `rest` (with its query) reads a stream's recordings: the `playback` action, not `read`.
 * The one list of them (the endpoints of RecordingsHttp, a WebSocket with `?start=`, MediaMTX's `/list`).
 */
export function isPlaybackRequest(rest: string, q: URLSearchParams): boolean {
  switch (rest) {
    case 'recordings':
    case 'recordings/activity':
    case 'playback.mjpg':
    case 'playback.mjpeg':
    case 'export.mkv':
    case 'list':
      return true;
    case 'snapshot.jpg':
    case 'snapshot.jpeg':
      return q.has('at');
    case 'ws':
      return q.has('start');
  }
  return false;
}
