import { SafeEmitter } from '../util/safe-emitter.js';
import { commandEnv, runShell, type ShellRun } from '../util/shell.js';
import { streamMatches } from '../util/stream-glob.js';
import { VIEWER_EVENTS, type HookEvent, type HookSpec } from './hook-spec.js';

/** How one event ended for one hook: run (ok, failed, timeout) or dropped (busy, rate). */
export type HookResult = 'ok' | 'failed' | 'timeout' | 'busy' | 'rate';
export const HOOK_RESULTS: readonly HookResult[] = ['ok', 'failed', 'timeout', 'busy', 'rate'];

/** An event's own values: `segmentPath` is FRAMECAST_SEGMENT_PATH for a command, `segmentPath` in JSON. */
export type HookFields = Readonly<Record<string, string | number>>;

/** Events of the hooks. */
export interface HooksEvents {
  /** One line for the server's log: a run that failed or timed out, events dropped. Never a secret. */
  log: [line: string];
  /** A hook's run ended, or an event was dropped for it. */
  result: [hook: string, event: HookEvent, stream: string, result: HookResult];
  'listener-error': [event: string, err: unknown];
}

/** Busy drops are logged at most this often per hook (the count is in the metrics). */
const DROP_LOG_MS = 10_000;

interface HookState {
  readonly spec: HookSpec;
  readonly runs: Set<ShellRun>;
  readonly requests: Set<AbortController>;
  readonly counts: Map<HookResult, number>;
  /** Viewer events: the current one-second window of each stream. */
  readonly windows: Map<string, { start: number; n: number }>;
  /** Runs decided on but not started yet (they start on the next turn). */
  pending: number;
  busyDropped: number;
  lastDropLog: number;
}

/** `segmentPath` -> `FRAMECAST_SEGMENT_PATH`. */
export function envName(field: string): string {
  return `FRAMECAST_${field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/**
 * The server's event hooks. `fire()` returns at once: commands and requests run detached from the
 * frame path, each bounded by its timeout (a command's whole process group is killed), each hook by
 * its number of runs at once, viewer events by a rate per stream. Nothing a hook does (fail, hang,
 * exit non-zero) reaches a stream.
 */
export class Hooks extends SafeEmitter<HooksEvents> {
  readonly #hooks: HookState[];
  #closed = false;

  constructor(specs: readonly HookSpec[]) {
    super();
    this.#hooks = specs.map((spec) => ({
      spec,
      runs: new Set(),
      requests: new Set(),
      counts: new Map(),
      windows: new Map(),
      pending: 0,
      busyDropped: 0,
      lastDropLog: 0,
    }));
  }

  /** How many hooks there are. */
  get size(): number {
    return this.#hooks.length;
  }

  /** True when some hook runs on `event` (callers may skip building its fields otherwise). */
  wants(event: HookEvent): boolean {
    return this.#hooks.some((h) => h.spec.on.includes(event));
  }

  /** Runs every hook of `event` for `stream`, detached; never throws, never waits. */
  fire(event: HookEvent, stream: string, fields: HookFields = {}): void {
    if (this.#closed) return;
    const time = new Date();
    for (const h of this.#hooks) {
      if (!h.spec.on.includes(event) || !streamMatches(h.spec.streams, stream)) continue;
      if (VIEWER_EVENTS.has(event) && !this.#withinRate(h, stream, time.getTime())) {
        this.#count(h, event, stream, 'rate');
        continue;
      }
      if (h.pending + h.runs.size + h.requests.size >= h.spec.maxRunning) {
        this.#count(h, event, stream, 'busy');
        this.#dropped(h, time.getTime());
        continue;
      }
      // Started after the caller's turn: a listener on the frame path never pays for a spawn.
      h.pending++;
      setImmediate(() => {
        h.pending--;
        if (this.#closed) return;
        try {
          if (h.spec.run !== null) this.#run(h, h.spec.run, event, stream, time, fields);
          else if (h.spec.url !== null) this.#post(h, h.spec.url, event, stream, time, fields);
        } catch (err) {
          // Nothing a hook meets may escape to the process (an uncaught exception ends the server).
          this.emit('log', `hook ${h.spec.name} (${event}, stream ${stream}) failed: ${causeOf(err)}`);
          this.#count(h, event, stream, 'failed');
        }
      });
    }
  }

  /** How many events each hook ran or dropped, by result (for /metrics). */
  counts(): { hook: string; result: HookResult; n: number }[] {
    return this.#hooks.flatMap((h) =>
      HOOK_RESULTS.map((result) => ({ hook: h.spec.name, result, n: h.counts.get(result) ?? 0 })),
    );
  }

  /** Runs of each hook going on now. */
  running(): { hook: string; n: number }[] {
    return this.#hooks.map((h) => ({ hook: h.spec.name, n: h.pending + h.runs.size + h.requests.size }));
  }

  /** Kills every command still running and aborts every request; later events are ignored. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const h of this.#hooks) {
      for (const r of h.runs) r.kill('SIGKILL');
      for (const a of h.requests) a.abort();
    }
  }

  #withinRate(h: HookState, stream: string, now: number): boolean {
    let w = h.windows.get(stream);
    if (w === undefined || now - w.start >= 1000) {
      // Old windows go with the new one: the map holds only streams seen in the last second or so.
      if (h.windows.size > 1024) h.windows.clear();
      w = { start: now, n: 0 };
      h.windows.set(stream, w);
    }
    return ++w.n <= h.spec.maxPerSecond;
  }

  #dropped(h: HookState, now: number): void {
    h.busyDropped++;
    if (now - h.lastDropLog < DROP_LOG_MS) return;
    h.lastDropLog = now;
    this.emit(
      'log',
      `hook ${h.spec.name}: ${h.busyDropped} event(s) dropped, ${h.spec.maxRunning} run(s) already going on`,
    );
    h.busyDropped = 0;
  }

  #count(h: HookState, event: HookEvent, stream: string, result: HookResult): void {
    h.counts.set(result, (h.counts.get(result) ?? 0) + 1);
    this.emit('result', h.spec.name, event, stream, result);
  }

  #run(
    h: HookState,
    command: string,
    event: HookEvent,
    stream: string,
    time: Date,
    fields: HookFields,
  ): void {
    const env: Record<string, string> = {
      FRAMECAST_EVENT: event,
      FRAMECAST_STREAM: stream,
      FRAMECAST_TIME: time.toISOString(),
    };
    for (const [k, v] of Object.entries(fields)) env[envName(k)] = String(v);
    const run = runShell(command, commandEnv(env));
    h.runs.add(run);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      run.kill('SIGKILL');
    }, h.spec.timeoutMs);
    void run.exited.then((exit) => {
      clearTimeout(timer);
      h.runs.delete(run);
      const what = `hook ${h.spec.name} (${event}, stream ${stream})`;
      if (timedOut) {
        this.emit('log', `${what}: still running after ${h.spec.timeoutMs / 1000} s: killed`);
        this.#count(h, event, stream, 'timeout');
      } else if (exit.code === 0) {
        this.#count(h, event, stream, 'ok');
      } else {
        const why = exit.error ?? (exit.code !== null ? `exit code ${exit.code}` : `ended by ${exit.signal}`);
        this.emit('log', `${what} failed: ${why}`);
        this.#count(h, event, stream, 'failed');
      }
    });
  }

  #post(h: HookState, url: string, event: HookEvent, stream: string, time: Date, fields: HookFields): void {
    // First, so a value JSON cannot hold fails before the request is counted running or timed.
    const body = JSON.stringify({ event, stream, time: time.toISOString(), ...fields });
    const ac = new AbortController();
    h.requests.add(ac);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, h.spec.timeoutMs);
    const what = `hook ${h.spec.name} (${event}, stream ${stream})`;
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: ac.signal,
      redirect: 'error',
    })
      .then(async (res) => {
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return 'ok' as const;
        this.emit('log', `${what} failed: HTTP ${res.status}`);
        return 'failed' as const;
      })
      .catch((err: unknown) => {
        // The URL is not shown: it may carry a secret.
        if (timedOut) this.emit('log', `${what}: no answer after ${h.spec.timeoutMs / 1000} s: aborted`);
        else this.emit('log', `${what} failed: ${causeOf(err)}`);
        return timedOut ? ('timeout' as const) : ('failed' as const);
      })
      .then((result) => {
        clearTimeout(timer);
        h.requests.delete(ac);
        this.#count(h, event, stream, result);
      });
  }
}

/** fetch's "fetch failed" hides the reason (ECONNREFUSED...) in its cause. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? (err.message.split('\n')[0] ?? 'error') : 'error';
}
