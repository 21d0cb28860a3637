/**
 * The recordings endpoints' query values, one rule for MJPEG playback, export, listing and WebSocket
 * playback: times (ISO 8601 with a zone), a range with `duration`, a playback's speed, and which
 * requests are the `playback` action.
 */
import { describe, expect, it } from 'vitest';
import {
  isPlaybackRequest,
  iso,
  parseRange,
  parseSpeed,
  parseTime,
} from '../../../src/transports/http/recordings-query.js';

const q = (s: string): URLSearchParams => new URLSearchParams(s);
const T0 = Date.UTC(2026, 11, 7, 3, 0, 0);

describe('recordings query values', () => {
  it('reads ISO 8601 times with a zone, to the millisecond', () => {
    expect(parseTime('start', '2026-12-07T03:00:00Z')).toBe(T0);
    expect(parseTime('start', '2026-12-07T04:00:00.250+01:00')).toBe(T0 + 250);
    expect(parseTime('start', '2026-12-07T03:00:00.123456789Z')).toBe(T0 + 123);
    expect(parseTime('start', '2026-12-07T03:00Z')).toBe(T0);
    // The zone with or without its colon.
    expect(parseTime('start', '2026-12-07T04:00:00+0100')).toBe(T0);
    // The whole value is the time: nothing before or after it.
    for (const v of ['x2026-12-07T03:00:00Z', '2026-12-07T03:00:00Zjunk'])
      expect(parseTime('at', v)).toBe(
        `at must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got ${JSON.stringify(v)}`,
      );
    expect(parseTime('at', null)).toBe('at is required (ISO 8601, e.g. 2026-12-07T03:00:00Z)');
    expect(parseTime('at', '')).toMatch(/^at is required/);
    expect(parseTime('end', '2026-12-07T03:00:00')).toBe(
      'end must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got "2026-12-07T03:00:00"',
    );
    expect(parseTime('end', '1700000000')).toMatch(/^end must be an ISO 8601 time/);
    expect(parseTime('end', '2026-13-45T03:00:00Z')).toBe('end is not a real time: "2026-13-45T03:00:00Z"');
    // What is echoed is cut to 64 characters.
    expect(parseTime('end', 'x'.repeat(500))).toBe(
      `end must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got "${'x'.repeat(64)}"`,
    );
  });

  it('prints times as UTC ISO 8601 to the whole millisecond', () => {
    expect(iso(T0 + 250.9)).toBe('2026-12-07T03:00:00.250Z');
  });

  it('a range: start and end each optional unless start is needed, duration shortens it', () => {
    expect(parseRange(q(''), false)).toEqual({ start: -Infinity, end: Infinity });
    expect(parseRange(q(''), true)).toBe('start is required (ISO 8601, e.g. 2026-12-07T03:00:00Z)');
    expect(parseRange(q('start=2026-12-07T03:00:00Z'), true)).toEqual({ start: T0, end: Infinity });
    expect(parseRange(q('end=2026-12-07T03:00:00Z'), false)).toEqual({ start: -Infinity, end: T0 });
    expect(parseRange(q('start=2026-12-07T03:00:00Z&duration=2.5'), true)).toEqual({
      start: T0,
      end: T0 + 2500,
    });
    // The earlier of end and start + duration.
    expect(parseRange(q('start=2026-12-07T03:00:00Z&end=2026-12-07T03:00:01Z&duration=60'), true)).toEqual({
      start: T0,
      end: T0 + 1000,
    });
    for (const d of ['0', '-1', 'abc', '', 'Infinity'])
      expect(parseRange(q(`start=2026-12-07T03:00:00Z&duration=${d}`), true)).toBe(
        `duration must be a number of seconds above 0, got ${JSON.stringify(d)}`,
      );
    expect(parseRange(q('start=2026-12-07T03:00:01Z&end=2026-12-07T03:00:00Z'), false)).toBe(
      'start (2026-12-07T03:00:01.000Z) is after end (2026-12-07T03:00:00.000Z)',
    );
    // A start equal to its end is a range (one instant).
    expect(parseRange(q('start=2026-12-07T03:00:00Z&end=2026-12-07T03:00:00Z'), false)).toEqual({
      start: T0,
      end: T0,
    });
    expect(parseRange(q('start=yesterday'), false)).toMatch(/^start must be an ISO 8601 time/);
  });

  it('a speed from 0.1 to 16, 1 by default', () => {
    expect(parseSpeed(q(''))).toBe(1);
    expect(parseSpeed(q('speed=0.1'))).toBe(0.1);
    expect(parseSpeed(q('speed=16'))).toBe(16);
    for (const s of ['0.09', '16.5', '0', 'fast', '', 'NaN'])
      expect(parseSpeed(q(`speed=${s}`))).toBe(`speed must be from 0.1 to 16, got ${JSON.stringify(s)}`);
  });

  it('the playback action: the recordings endpoints, a snapshot with `at`, a WebSocket with `start`', () => {
    for (const rest of [
      'recordings',
      'recordings/activity',
      'playback.mjpg',
      'playback.mjpeg',
      'export.mkv',
      'list',
    ])
      expect(isPlaybackRequest(rest, q(''))).toBe(true);
    expect(isPlaybackRequest('snapshot.jpg', q('at=2026-12-07T03:00:00Z'))).toBe(true);
    expect(isPlaybackRequest('snapshot.jpeg', q('at='))).toBe(true);
    expect(isPlaybackRequest('snapshot.jpg', q('width=320'))).toBe(false);
    expect(isPlaybackRequest('ws', q('start=2026-12-07T03:00:00Z'))).toBe(true);
    expect(isPlaybackRequest('ws', q('meta=1'))).toBe(false);
    for (const rest of ['stream.mjpg', 'stats', 'recordings/other', 'Recordings', ''])
      expect(isPlaybackRequest(rest, q('start=2026-12-07T03:00:00Z&at=2026-12-07T03:00:00Z'))).toBe(false);
  });
});
