import { streamMatches } from '../util/stream-glob.js';

export { streamMatches };

/**
 * Permissions: what a user, a JWT, a signed link or anonymous requests may do. One permission is an
 * action on a set of streams (glob patterns over stream names); no patterns means every stream.
 *
 * - `read`: watch a stream live (every viewer transport);
 * - `playback`: watch a stream's recordings (playback, snapshot at a time, export, listings);
 * - `publish`: feed a `publisher` stream;
 * - `annotate`: send annotations of a stream's frames (it also reads the stream);
 * - `record`: turn a stream's recording on or off;
 * - `api`: the API (reading and changing streams) and acting on a stream's viewers;
 * - `metrics`: /stats, /metrics and the server's pages that show every stream.
 */
export const PERMISSION_ACTIONS = [
  'read',
  'playback',
  'publish',
  'annotate',
  'record',
  'api',
  'metrics',
] as const;

export type PermissionAction = (typeof PERMISSION_ACTIONS)[number];

/** One grant: an action on the streams whose names match one of `streams` (empty: every stream). */
export interface Permission {
  readonly action: PermissionAction;
  /** Glob patterns over stream names: `*` any run of characters, `?` one character; [] = every stream. */
  readonly streams: readonly string[];
}

/** Who a request turned out to be, and what it may do. */
export interface Identity {
  /** For logs and hooks: a user name, `jwt:SUBJECT`, `link`, `anonymous`. Never a secret. */
  readonly name: string;
  readonly permissions: readonly Permission[];
}

/** Why a value is not a permission list, with the path of the bad part. */
export class PermissionError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'PermissionError';
  }
}

/** Stream patterns are checked against this: stream names' characters plus `*` and `?`. */
const PATTERN_RE = /^[A-Za-z0-9_.*?-]{1,128}$/;
/** Bounds on what a config file, a JWT claim or a hook may hand over. */
export const MAX_PERMISSIONS = 256;
export const MAX_PATTERNS = 64;

/**
 * True when `permissions` allow `action` on stream `name` (null: no particular stream, e.g. the API
 * list or /metrics: a permission for every stream is needed).
 */
export function permits(
  permissions: readonly Permission[],
  action: PermissionAction,
  name: string | null,
): boolean {
  return permissions.some(
    (p) => p.action === action && (name === null ? p.streams.length === 0 : streamMatches(p.streams, name)),
  );
}

/**
 * Checks a permission list from a config file, a JWT claim or a hook: an array (at most
 * MAX_PERMISSIONS) of `{action, streams?}` where `streams` is a pattern or a list of them (at most
 * MAX_PATTERNS); `path` (MediaMTX's word) is taken as a synonym of `streams`. Throws PermissionError.
 */
export function parsePermissions(value: unknown, field: string): Permission[] {
  if (!Array.isArray(value)) throw new PermissionError(field, 'must be a list of {action, streams}');
  if (value.length > MAX_PERMISSIONS)
    throw new PermissionError(field, `at most ${MAX_PERMISSIONS} permissions, got ${value.length}`);
  return value.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw new PermissionError(at, 'must be a mapping {action, streams}');
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (k !== 'action' && k !== 'streams' && k !== 'path')
        throw new PermissionError(`${at}.${k}`, 'unknown field (action, streams)');
    const action = o['action'];
    if (typeof action !== 'string' || !(PERMISSION_ACTIONS as readonly string[]).includes(action))
      throw new PermissionError(`${at}.action`, `must be one of ${PERMISSION_ACTIONS.join(', ')}`);
    const raw = o['streams'] ?? o['path'] ?? [];
    const list = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(list))
      throw new PermissionError(`${at}.streams`, 'must be a pattern or a list of patterns');
    if (list.length > MAX_PATTERNS)
      throw new PermissionError(`${at}.streams`, `at most ${MAX_PATTERNS} patterns, got ${list.length}`);
    const streams = list.map((p: unknown, j) => {
      if (typeof p !== 'string' || !PATTERN_RE.test(p))
        throw new PermissionError(
          `${at}.streams[${j}]`,
          'must be a stream name pattern (letters, digits, _ . - and the wildcards * ?)',
        );
      return p;
    });
    // `*` alone is every stream: the same as no pattern, so null-stream actions (the API list) pass.
    return { action: action as PermissionAction, streams: streams.includes('*') ? [] : streams };
  });
}
