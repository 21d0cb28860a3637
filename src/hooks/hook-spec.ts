import { STREAM_PATTERN_RE } from '../util/stream-glob.js';

/** The events a hook can be run on (docs/CONFIG.md, "Hooks"). */
export const HOOK_EVENTS = [
  'ready',
  'notReady',
  'demandStart',
  'demandStop',
  'publisherConnected',
  'publisherGone',
  'segmentComplete',
  'viewerJoined',
  'viewerLeft',
] as const;

export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Events that come once per viewer: rate-limited per stream and hook (`maxPerSecond`). */
export const VIEWER_EVENTS: ReadonlySet<HookEvent> = new Set(['viewerJoined', 'viewerLeft']);

/** A hook as written in the config file (or given to serve()): checked by `resolveHook`. */
export interface HookConfig {
  /** A label for logs and metrics (default `hooks[i]`). */
  name?: string;
  on: HookEvent | HookEvent[];
  /** Glob patterns over stream names (default: every stream). */
  streams?: string | string[];
  /** A command run with /bin/sh -c; the event's values are in its environment. */
  run?: string;
  /** An http(s) URL the event is POSTed to as JSON. */
  url?: string;
  /** Seconds before a hook still running is killed (a URL's request aborted). Default 10. */
  timeout?: number;
  /** Runs of this hook at once; events beyond are dropped (and counted). Default 4. */
  maxRunning?: number;
  /** viewerJoined/viewerLeft: runs per second per stream; the rest are dropped (and counted). Default 10. */
  maxPerSecond?: number;
}

/** A checked hook. */
export interface HookSpec {
  name: string;
  on: readonly HookEvent[];
  /** [] = every stream. */
  streams: readonly string[];
  run: string | null;
  url: string | null;
  timeoutMs: number;
  maxRunning: number;
  maxPerSecond: number;
}

export const HOOK_KEYS = [
  'name',
  'on',
  'streams',
  'run',
  'url',
  'timeout',
  'maxRunning',
  'maxPerSecond',
] as const;
/** At most this many hooks in a config. */
export const MAX_HOOKS = 64;
const MAX_COMMAND = 8192;

/** Why a value is not a hook: the field (`hooks[0].url`) and the problem. */
export class HookSpecError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'HookSpecError';
  }
}

/** Checks one hook (`index`: its place in the list, for messages and its default name). */
export function resolveHook(value: unknown, index: number): HookSpec {
  const at = `hooks[${index}]`;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new HookSpecError(at, 'must be a mapping {on, run or url, streams?, timeout?}');
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(HOOK_KEYS as readonly string[]).includes(k))
      throw new HookSpecError(`${at}.${k}`, `unknown hook setting (known: ${HOOK_KEYS.join(', ')})`);
  const name = o.name ?? at;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:[\]-]{1,64}$/.test(name))
    throw new HookSpecError(`${at}.name`, 'must be 1-64 letters, digits or _ . : - [ ]');
  const on = list(o.on, `${at}.on`, 'an event or a list of events');
  if (on.length === 0)
    throw new HookSpecError(`${at}.on`, `required: one or more of ${HOOK_EVENTS.join(', ')}`);
  for (const e of on)
    if (!(HOOK_EVENTS as readonly string[]).includes(e))
      throw new HookSpecError(
        `${at}.on`,
        `unknown event ${JSON.stringify(e)} (known: ${HOOK_EVENTS.join(', ')})`,
      );
  const streams = list(o.streams ?? [], `${at}.streams`, 'a stream name pattern or a list of them');
  if (streams.length > 64) throw new HookSpecError(`${at}.streams`, 'at most 64 patterns');
  for (const p of streams)
    if (!STREAM_PATTERN_RE.test(p))
      throw new HookSpecError(
        `${at}.streams`,
        `${JSON.stringify(p)} is not a stream name pattern (letters, digits, _ . - and the wildcards * ?)`,
      );
  if ((o.run === undefined) === (o.url === undefined))
    throw new HookSpecError(at, 'give exactly one of run (a command) and url (http or https)');
  let run: string | null = null;
  if (o.run !== undefined) {
    if (
      typeof o.run !== 'string' ||
      o.run.trim() === '' ||
      o.run.length > MAX_COMMAND ||
      o.run.includes('\0')
    )
      throw new HookSpecError(
        `${at}.run`,
        `must be a command (a non-empty string of at most ${MAX_COMMAND} characters)`,
      );
    run = o.run;
  }
  let url: string | null = null;
  if (o.url !== undefined) {
    // The URL is not echoed: it may carry a secret.
    if (typeof o.url !== 'string' || !isHttpUrl(o.url))
      throw new HookSpecError(`${at}.url`, 'must be an http:// or https:// URL');
    url = o.url;
  }
  return {
    name,
    on: [...new Set(on as HookEvent[])],
    streams: streams.includes('*') ? [] : streams,
    run,
    url,
    timeoutMs: number(o.timeout, 10, 0.1, 3600, `${at}.timeout`, 'seconds') * 1000,
    maxRunning: number(o.maxRunning, 4, 1, 64, `${at}.maxRunning`, 'runs', true),
    maxPerSecond: number(o.maxPerSecond, 10, 1, 1000, `${at}.maxPerSecond`, 'runs per second', true),
  };
}

/** Checks a list of hooks (at most MAX_HOOKS); names must differ (they label the metrics). */
export function resolveHooks(value: unknown): HookSpec[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new HookSpecError('hooks', 'must be a list of hooks');
  if (value.length > MAX_HOOKS)
    throw new HookSpecError('hooks', `at most ${MAX_HOOKS} hooks, got ${value.length}`);
  const out = value.map((v, i) => resolveHook(v, i));
  const seen = new Set<string>();
  out.forEach((h, i) => {
    if (seen.has(h.name))
      throw new HookSpecError(`hooks[${i}].name`, `${h.name} is the name of another hook`);
    seen.add(h.name);
  });
  return out;
}

function list(v: unknown, field: string, what: string): string[] {
  const items = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(items) || items.some((x) => typeof x !== 'string'))
    throw new HookSpecError(field, `must be ${what}`);
  return items as string[];
}

function number(
  v: unknown,
  dflt: number,
  min: number,
  max: number,
  field: string,
  unit: string,
  integer = false,
): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw new HookSpecError(
      field,
      `must be ${integer ? 'a whole number ' : ''}from ${min} to ${max} (${unit}), got ${JSON.stringify(v)}`,
    );
  return v;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
