import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { HOOK_RESULTS, Hooks, envName, type HookResult } from '../../src/hooks/hooks.js';
import { resolveHooks, type HookConfig, type HookSpec } from '../../src/hooks/hook-spec.js';

const tmp = mkdtempSync(join(tmpdir(), 'framecast-hooks-units-'));
let fileN = 0;
const tmpFile = (): string => join(tmp, `out${fileN++}`);

const open: Hooks[] = [];
const servers: http.Server[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const h of open.splice(0)) h.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Result = [hook: string, event: string, stream: string, result: HookResult];

function hooksOf(specs: HookConfig[] | HookSpec[], resolve = true) {
  const hooks = new Hooks(resolve ? resolveHooks(specs) : (specs as HookSpec[]));
  open.push(hooks);
  const results: Result[] = [];
  const logs: string[] = [];
  hooks.on('result', (hook, event, stream, r) => results.push([hook, event, stream, r]));
  hooks.on('log', (l) => logs.push(l));
  return { hooks, results, logs };
}

/** A spec as resolveHook makes it, for values the config check would refuse. */
function spec(o: Partial<HookSpec>): HookSpec {
  return {
    name: 'raw',
    on: ['ready'],
    streams: [],
    run: null,
    url: null,
    timeoutMs: 10_000,
    maxRunning: 4,
    maxPerSecond: 10,
    ...o,
  };
}

/** Waits (bounded by the monotonic clock: Date may be faked) until `cond` holds, then asserts it. */
async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

/** One turn of the event loop: the runs `fire` decided on have started. */
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

const count = (results: Result[], r: HookResult): number => results.filter((x) => x[3] === r).length;

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

/** A local HTTP server answering with `answer` (status, headers) and keeping what it received. */
async function receiver(
  answer: (req: http.IncomingMessage) => { status: number; headers?: Record<string, string> } | null,
): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const a = answer(req);
      if (a === null) return; // never answers
      res.writeHead(a.status, a.headers);
      res.end('some body');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, got };
}

describe('envName and the results', () => {
  it('turns an event value into FRAMECAST_ and its words', () => {
    expect(envName('segmentPath')).toBe('FRAMECAST_SEGMENT_PATH');
    expect(envName('segmentStartTime')).toBe('FRAMECAST_SEGMENT_START_TIME');
    expect(envName('a1B')).toBe('FRAMECAST_A1_B');
    expect(envName('aBC')).toBe('FRAMECAST_A_BC');
    expect(envName('ABC')).toBe('FRAMECAST_ABC');
    expect(envName('x')).toBe('FRAMECAST_X');
    expect(envName('a_b')).toBe('FRAMECAST_A_B');
  });

  it('lists the results in order', () => {
    expect(HOOK_RESULTS).toEqual(['ok', 'failed', 'timeout', 'busy', 'rate']);
  });
});

describe('Hooks', () => {
  it('size, wants and zero counts of each hook', () => {
    const { hooks } = hooksOf([
      { name: 'a', on: ['ready', 'notReady'], run: 'true' },
      { name: 'b', on: 'viewerJoined', url: 'http://127.0.0.1:1/' },
    ]);
    expect(hooks.size).toBe(2);
    expect(new Hooks([]).size).toBe(0);
    expect(hooks.wants('ready')).toBe(true);
    expect(hooks.wants('notReady')).toBe(true);
    expect(hooks.wants('viewerJoined')).toBe(true);
    expect(hooks.wants('demandStart')).toBe(false);
    expect(new Hooks([]).wants('ready')).toBe(false);
    expect(hooks.counts()).toEqual([
      { hook: 'a', result: 'ok', n: 0 },
      { hook: 'a', result: 'failed', n: 0 },
      { hook: 'a', result: 'timeout', n: 0 },
      { hook: 'a', result: 'busy', n: 0 },
      { hook: 'a', result: 'rate', n: 0 },
      { hook: 'b', result: 'ok', n: 0 },
      { hook: 'b', result: 'failed', n: 0 },
      { hook: 'b', result: 'timeout', n: 0 },
      { hook: 'b', result: 'busy', n: 0 },
      { hook: 'b', result: 'rate', n: 0 },
    ]);
    expect(hooks.running()).toEqual([
      { hook: 'a', n: 0 },
      { hook: 'b', n: 0 },
    ]);
  });

  it("a command gets the event, stream, time and the event's values in its environment", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-02T03:04:05.678Z'));
    const out = tmpFile();
    const { hooks, results, logs } = hooksOf([
      {
        name: 'env',
        on: 'segmentComplete',
        run: `printf '%s|%s|%s|%s|%s|%s' "$FRAMECAST_EVENT" "$FRAMECAST_STREAM" "$FRAMECAST_TIME" "$FRAMECAST_SEGMENT_PATH" "$FRAMECAST_SEGMENT_FRAMES" "$FRAMECAST_REASON" > "${out}.tmp" && mv "${out}.tmp" "${out}"`,
      },
    ]);
    hooks.fire('segmentComplete', 'cam', { segmentPath: '/r/cam/a b.mkv', segmentFrames: 42, reason: '' });
    await until(() => results.length === 1);
    expect(readFileSync(out, 'utf8')).toBe('segmentComplete|cam|2026-01-02T03:04:05.678Z|/r/cam/a b.mkv|42|');
    expect(results).toEqual([['env', 'segmentComplete', 'cam', 'ok']]);
    expect(logs).toEqual([]);
    expect(hooks.counts().filter((c) => c.n > 0)).toEqual([{ hook: 'env', result: 'ok', n: 1 }]);
    expect(hooks.running()).toEqual([{ hook: 'env', n: 0 }]);
  });

  it('runs only the hooks of the event; a hook with run and url runs its command', async () => {
    const out = tmpFile();
    const { hooks, results } = hooksOf(
      [
        spec({
          name: 'r',
          on: ['ready'],
          run: `echo "$FRAMECAST_EVENT" >> "${out}"`,
          url: 'http://127.0.0.1:1/',
        }),
        spec({ name: 'n', on: ['notReady'], run: 'true' }),
      ],
      false,
    );
    hooks.fire('ready', 'cam');
    hooks.fire('demandStart', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['r', 'ready', 'cam', 'ok']]);
    hooks.fire('notReady', 'cam');
    await until(() => results.length === 2);
    expect(results[1]).toEqual(['n', 'notReady', 'cam', 'ok']);
    expect(readFileSync(out, 'utf8')).toBe('ready\n');
  });

  it('a hook with neither run nor url does nothing', async () => {
    const { hooks, results } = hooksOf([spec({ name: 'none' })], false);
    hooks.fire('ready', 'cam');
    expect(hooks.running()).toEqual([{ hook: 'none', n: 1 }]);
    await nextTurn();
    expect(hooks.running()).toEqual([{ hook: 'none', n: 0 }]);
    await nextTurn();
    expect(results).toEqual([]);
  });

  it('a command that fails: its exit code, or the signal that ended it, is logged and counted', async () => {
    const { hooks, results, logs } = hooksOf([
      { name: 'code', on: 'demandStop', run: 'exit 3' },
      { name: 'sig', on: 'demandStop', run: 'kill -TERM $$; sleep 5' },
    ]);
    hooks.fire('demandStop', 'cam');
    await until(() => results.length === 2);
    expect(results.sort()).toEqual([
      ['code', 'demandStop', 'cam', 'failed'],
      ['sig', 'demandStop', 'cam', 'failed'],
    ]);
    expect(logs.sort()).toEqual([
      'hook code (demandStop, stream cam) failed: exit code 3',
      'hook sig (demandStop, stream cam) failed: ended by SIGTERM',
    ]);
    expect(hooks.counts().filter((c) => c.n > 0)).toEqual([
      { hook: 'code', result: 'failed', n: 1 },
      { hook: 'sig', result: 'failed', n: 1 },
    ]);
  });

  it('a command that cannot be started: why, in the log', async () => {
    const { hooks, results, logs } = hooksOf([spec({ name: 'nul', run: 'echo a\0b' })], false);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['nul', 'ready', 'cam', 'failed']]);
    // Node's own reason (its words vary between versions), not an exit.
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^hook nul \(ready, stream cam\) failed: \S/);
    expect(logs[0]).not.toMatch(/exit code|ended by/);
    expect(hooks.running()).toEqual([{ hook: 'nul', n: 0 }]);
  });

  it('a command still running at its timeout is killed, logged and counted as a timeout', async () => {
    const out = tmpFile();
    const { hooks, results, logs } = hooksOf([
      { name: 'slow', on: 'ready', run: `echo $$ > "${out}"; sleep 30`, timeout: 0.3 },
    ]);
    hooks.fire('ready', 'cam');
    await nextTurn();
    expect(hooks.running()).toEqual([{ hook: 'slow', n: 1 }]);
    await until(() => results.length === 1);
    expect(results).toEqual([['slow', 'ready', 'cam', 'timeout']]);
    expect(logs).toEqual(['hook slow (ready, stream cam): still running after 0.3 s: killed']);
    expect(hooks.running()).toEqual([{ hook: 'slow', n: 0 }]);
    expect(hooks.counts().filter((c) => c.n > 0)).toEqual([{ hook: 'slow', result: 'timeout', n: 1 }]);
  });

  it('a command that ignores SIGTERM is killed all the same at its timeout', async () => {
    const { hooks, results, logs } = hooksOf([
      { name: 'stubborn', on: 'ready', run: "trap '' TERM; sleep 30", timeout: 0.3 },
    ]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['stubborn', 'ready', 'cam', 'timeout']]);
    expect(logs).toEqual(['hook stubborn (ready, stream cam): still running after 0.3 s: killed']);
    expect(hooks.running()).toEqual([{ hook: 'stubborn', n: 0 }]);
  });

  it('a command that ends before its timeout is no timeout', async () => {
    const { hooks, results, logs } = hooksOf([{ name: 'q', on: 'ready', run: 'exit 0', timeout: 5 }]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results[0]?.[3]).toBe('ok');
    expect(logs).toEqual([]);
  });

  it('a thrown error while starting a run is logged (its first line, or its cause code) and counted', async () => {
    const { hooks, results, logs } = hooksOf([{ name: 'c', on: 'ready', run: 'true' }]);
    const throwing = (err: unknown): string =>
      ({
        toString: () => {
          throw err;
        },
      }) as unknown as string;
    hooks.fire('ready', 'a', { x: throwing(new Error('boom\nmore')) });
    hooks.fire('ready', 'b', { x: throwing(Object.assign(new Error('outer'), { cause: { code: 'EWHY' } })) });
    hooks.fire('ready', 'c', { x: throwing('not an error') });
    hooks.fire('ready', 'd', { x: throwing(Object.assign(new Error('plain'), { cause: { code: 7 } })) });
    await until(() => results.length === 4);
    expect(results.map((r) => r[3])).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(logs).toEqual([
      'hook c (ready, stream a) failed: boom',
      'hook c (ready, stream b) failed: EWHY',
      'hook c (ready, stream c) failed: error',
      'hook c (ready, stream d) failed: plain',
    ]);
    expect(hooks.running()).toEqual([{ hook: 'c', n: 0 }]);
  });

  it('busy: runs going on count against maxRunning, pending, running or requesting', async () => {
    const silent = await receiver(() => null);
    const { hooks, results, logs } = hooksOf([
      { name: 'cmd', on: 'ready', run: 'sleep 30', maxRunning: 1 },
      { name: 'web', on: 'notReady', url: `${silent.url}/x`, maxRunning: 1 },
      { name: 'quick', on: 'demandStart', run: 'true', maxRunning: 1 },
    ]);
    hooks.fire('ready', 'cam');
    hooks.fire('notReady', 'cam');
    expect(hooks.running()).toEqual([
      { hook: 'cmd', n: 1 },
      { hook: 'web', n: 1 },
      { hook: 'quick', n: 0 },
    ]);
    await nextTurn();
    // Started now: a process, a request.
    expect(hooks.running()).toEqual([
      { hook: 'cmd', n: 1 },
      { hook: 'web', n: 1 },
      { hook: 'quick', n: 0 },
    ]);
    hooks.fire('ready', 'cam');
    hooks.fire('notReady', 'cam');
    expect(results).toEqual([
      ['cmd', 'ready', 'cam', 'busy'],
      ['web', 'notReady', 'cam', 'busy'],
    ]);
    expect(logs).toEqual([
      'hook cmd: 1 event(s) dropped, 1 run(s) already going on',
      'hook web: 1 event(s) dropped, 1 run(s) already going on',
    ]);
    // A run that ended frees its place.
    hooks.fire('demandStart', 'cam');
    await until(() => results.length === 3);
    expect(results[2]).toEqual(['quick', 'demandStart', 'cam', 'ok']);
    expect(hooks.running()[2]).toEqual({ hook: 'quick', n: 0 });
    hooks.fire('demandStart', 'cam');
    expect(hooks.running()[2]).toEqual({ hook: 'quick', n: 1 });
    await until(() => results.length === 4);
    expect(results[3]).toEqual(['quick', 'demandStart', 'cam', 'ok']);
  });

  it('busy drops are logged at most once per 10 s per hook, with the count since the last line', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = new Date('2026-03-01T00:00:00.000Z').getTime();
    vi.setSystemTime(t0);
    const { hooks, results, logs } = hooksOf([{ name: 'one', on: 'ready', run: 'sleep 30', maxRunning: 1 }]);
    const line = (n: number): string => `hook one: ${n} event(s) dropped, 1 run(s) already going on`;
    hooks.fire('ready', 'cam');
    hooks.fire('ready', 'cam');
    expect(logs).toEqual([line(1)]);
    vi.setSystemTime(t0 + 9_999);
    hooks.fire('ready', 'cam');
    hooks.fire('ready', 'cam');
    expect(logs).toEqual([line(1)]);
    vi.setSystemTime(t0 + 10_000);
    hooks.fire('ready', 'cam');
    expect(logs).toEqual([line(1), line(3)]);
    hooks.fire('ready', 'cam');
    vi.setSystemTime(t0 + 19_999);
    hooks.fire('ready', 'cam');
    expect(logs).toEqual([line(1), line(3)]);
    vi.setSystemTime(t0 + 20_000);
    hooks.fire('ready', 'cam');
    expect(logs).toEqual([line(1), line(3), line(3)]);
    expect(count(results, 'busy')).toBe(7);
    expect(hooks.counts().find((c) => c.result === 'busy')?.n).toBe(7);
  });

  it('viewer events: maxPerSecond per stream in windows of one second; others are not limited', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = new Date('2026-03-01T00:00:00.000Z').getTime();
    vi.setSystemTime(t0);
    const { hooks, results } = hooksOf([
      {
        name: 'v',
        on: ['viewerJoined', 'viewerLeft', 'ready'],
        run: 'true',
        maxPerSecond: 2,
        maxRunning: 64,
      },
    ]);
    const rated = (): string[] => results.filter((r) => r[3] === 'rate').map((r) => `${r[1]}:${r[2]}`);
    hooks.fire('viewerJoined', 'a');
    hooks.fire('viewerLeft', 'a');
    hooks.fire('viewerJoined', 'a');
    hooks.fire('viewerJoined', 'b');
    expect(rated()).toEqual(['viewerJoined:a']);
    vi.setSystemTime(t0 + 999);
    hooks.fire('viewerLeft', 'a');
    hooks.fire('viewerJoined', 'b');
    hooks.fire('viewerJoined', 'b');
    for (let i = 0; i < 3; i++) hooks.fire('ready', 'a');
    expect(rated()).toEqual(['viewerJoined:a', 'viewerLeft:a', 'viewerJoined:b']);
    vi.setSystemTime(t0 + 1000);
    hooks.fire('viewerJoined', 'a');
    hooks.fire('viewerJoined', 'a');
    expect(rated()).toEqual(['viewerJoined:a', 'viewerLeft:a', 'viewerJoined:b']);
    hooks.fire('viewerJoined', 'a');
    expect(rated()).toEqual(['viewerJoined:a', 'viewerLeft:a', 'viewerJoined:b', 'viewerJoined:a']);
    // b's window began at t0: it is over too.
    hooks.fire('viewerJoined', 'b');
    expect(rated()).toHaveLength(4);
    expect(hooks.counts().find((c) => c.result === 'rate')?.n).toBe(4);
    // 2 (a) + 2 (b) in the first windows, 3 (ready), 2 (a) + 1 (b) in the next: every other event runs.
    await until(() => count(results, 'ok') === 10);
  });

  it('the windows are forgotten when over 1024 streams have one', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T00:00:00.000Z'));
    const { hooks, results } = hooksOf([
      { name: 'w', on: 'viewerJoined', run: 'sleep 30', maxPerSecond: 1, maxRunning: 1 },
    ]);
    const last = (): HookResult | undefined => results[results.length - 1]?.[3];
    hooks.fire('viewerJoined', 'a'); // runs (its window: 1 of 1)
    expect(results).toEqual([]);
    for (let i = 0; i < 1023; i++) hooks.fire('viewerJoined', `s${i}`); // busy: each stream's first
    expect(count(results, 'busy')).toBe(1023);
    hooks.fire('viewerJoined', 'a');
    expect(last()).toBe('rate');
    // 1024 windows: one more is kept with them.
    hooks.fire('viewerJoined', 'new1');
    expect(last()).toBe('busy');
    hooks.fire('viewerJoined', 'a');
    expect(last()).toBe('rate');
    // 1025: the next new window clears them, a's with them.
    hooks.fire('viewerJoined', 'new2');
    hooks.fire('viewerJoined', 'a');
    expect(last()).toBe('busy');
    hooks.fire('viewerJoined', 'a');
    expect(last()).toBe('rate');
  });

  it('close kills the commands running and aborts the requests; later events are ignored', async () => {
    const silent = await receiver(() => null);
    const { hooks, results, logs } = hooksOf([
      { name: 'cmd', on: 'ready', run: 'sleep 30', timeout: 60 },
      { name: 'web', on: 'ready', url: `${silent.url}/x`, timeout: 60 },
    ]);
    hooks.fire('ready', 'cam');
    await nextTurn();
    await until(() => silent.got.length === 1);
    hooks.close();
    await until(() => results.length === 2);
    expect(results.sort()).toEqual([
      ['cmd', 'ready', 'cam', 'failed'],
      ['web', 'ready', 'cam', 'failed'],
    ]);
    const sorted = logs.sort();
    expect(sorted[0]).toBe('hook cmd (ready, stream cam) failed: ended by SIGKILL');
    // The request's abort, in Node's words.
    expect(sorted[1]).toMatch(/^hook web \(ready, stream cam\) failed: .*abort/i);
    expect(sorted).toHaveLength(2);
    expect(hooks.running()).toEqual([
      { hook: 'cmd', n: 0 },
      { hook: 'web', n: 0 },
    ]);
    hooks.fire('ready', 'cam');
    expect(hooks.running()).toEqual([
      { hook: 'cmd', n: 0 },
      { hook: 'web', n: 0 },
    ]);
    await nextTurn();
    expect(results).toHaveLength(2);
    hooks.close();
  });

  it('an event fired just before close never starts', async () => {
    const out = tmpFile();
    const { hooks, results } = hooksOf([{ name: 'late', on: 'ready', run: `sleep 2; touch "${out}"` }]);
    hooks.fire('ready', 'cam');
    hooks.close();
    await nextTurn();
    await nextTurn();
    expect(hooks.running()).toEqual([{ hook: 'late', n: 0 }]);
    expect(results).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });
});

describe('Hooks: url', () => {
  it('POSTs the event as JSON, with its values as they are', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-02T03:04:05.678Z'));
    const r = await receiver(() => ({ status: 204 }));
    const { hooks, results, logs } = hooksOf([{ name: 'web', on: 'viewerLeft', url: `${r.url}/h?k=1` }]);
    hooks.fire('viewerLeft', 'cam', { viewerId: 7, viewerAddress: '1.2.3.4:5', seconds: 1.5 });
    await until(() => results.length === 1);
    expect(results).toEqual([['web', 'viewerLeft', 'cam', 'ok']]);
    expect(logs).toEqual([]);
    expect(r.got).toHaveLength(1);
    expect(r.got[0]?.method).toBe('POST');
    expect(r.got[0]?.url).toBe('/h?k=1');
    expect(r.got[0]?.contentType).toBe('application/json');
    expect(JSON.parse(r.got[0]?.body ?? '')).toEqual({
      event: 'viewerLeft',
      stream: 'cam',
      time: '2026-01-02T03:04:05.678Z',
      viewerId: 7,
      viewerAddress: '1.2.3.4:5',
      seconds: 1.5,
    });
    expect(Object.keys(JSON.parse(r.got[0]?.body ?? ''))).toEqual([
      'event',
      'stream',
      'time',
      'viewerId',
      'viewerAddress',
      'seconds',
    ]);
    expect(hooks.running()).toEqual([{ hook: 'web', n: 0 }]);
    expect(hooks.counts().filter((c) => c.n > 0)).toEqual([{ hook: 'web', result: 'ok', n: 1 }]);
  });

  it('an answer that is not 2xx is a failure, logged with its status', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const { hooks, results, logs } = hooksOf([{ name: 'web', on: 'ready', url: `${r.url}/x?token=S3CRET` }]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['web', 'ready', 'cam', 'failed']]);
    expect(logs).toEqual(['hook web (ready, stream cam) failed: HTTP 500']);
    expect(hooks.running()).toEqual([{ hook: 'web', n: 0 }]);
  });

  it('a value JSON cannot hold fails that event only: the hook is not left running, its next event is sent', async () => {
    const r = await receiver(() => ({ status: 200 }));
    const { hooks, results, logs } = hooksOf(
      [spec({ name: 'web', url: `${r.url}/x`, maxRunning: 1 })],
      false,
    );
    // Not a HookFields value (a caller's mistake the types would catch), as a plugin's could be.
    hooks.fire('ready', 'cam', { big: 1n } as unknown as Record<string, number>);
    await until(() => results.length === 1);
    expect(results).toEqual([['web', 'ready', 'cam', 'failed']]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^hook web \(ready, stream cam\) failed: .*BigInt/);
    expect(hooks.running()).toEqual([{ hook: 'web', n: 0 }]);
    hooks.fire('ready', 'cam', { n: 2 });
    await until(() => results.length === 2);
    expect(results[1]).toEqual(['web', 'ready', 'cam', 'ok']);
    expect(r.got.map((g) => JSON.parse(g.body) as { n?: number }).map((b) => b.n)).toEqual([2]);
  });

  it('a redirect is not followed: a failure', async () => {
    const r = await receiver((req) =>
      req.url === '/ok' ? { status: 200 } : { status: 302, headers: { location: '/ok' } },
    );
    const { hooks, results, logs } = hooksOf([{ name: 'web', on: 'ready', url: `${r.url}/moved` }]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['web', 'ready', 'cam', 'failed']]);
    // fetch's own failure (Node's words), not the redirect's target answering.
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^hook web \(ready, stream cam\) failed: \S/);
    expect(r.got.map((g) => g.url)).toEqual(['/moved']);
  });

  it('no answer within the timeout: aborted, logged and counted as a timeout', async () => {
    const r = await receiver(() => null);
    const { hooks, results, logs } = hooksOf([
      { name: 'mute', on: 'ready', url: `${r.url}/x`, timeout: 0.3 },
    ]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['mute', 'ready', 'cam', 'timeout']]);
    expect(logs).toEqual(['hook mute (ready, stream cam): no answer after 0.3 s: aborted']);
    expect(hooks.running()).toEqual([{ hook: 'mute', n: 0 }]);
    expect(hooks.counts().filter((c) => c.n > 0)).toEqual([{ hook: 'mute', result: 'timeout', n: 1 }]);
  });

  it('a refused connection is a failure named by its code', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const { hooks, results, logs } = hooksOf([
      { name: 'gone', on: 'ready', url: `http://127.0.0.1:${port}/` },
    ]);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    expect(results).toEqual([['gone', 'ready', 'cam', 'failed']]);
    expect(logs).toEqual(['hook gone (ready, stream cam) failed: ECONNREFUSED']);
  });
});
