import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Hooks, type HookResult } from '../../src/hooks/hooks.js';
import { resolveHooks, type HookConfig } from '../../src/hooks/hook-spec.js';
import { sleep } from '../helpers/processes.js';

const open: Hooks[] = [];
afterEach(() => {
  for (const h of open.splice(0)) h.close();
});

function hooksOf(config: HookConfig[]): {
  hooks: Hooks;
  results: [string, string, HookResult][];
  logs: string[];
} {
  const hooks = new Hooks(resolveHooks(config));
  open.push(hooks);
  const results: [string, string, HookResult][] = [];
  const logs: string[] = [];
  hooks.on('result', (hook, _e, stream, r) => results.push([hook, stream, r]));
  hooks.on('log', (l) => logs.push(l));
  return { hooks, results, logs };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  expect(cond()).toBe(true);
}

const count = (results: [string, string, HookResult][], r: HookResult, stream?: string): number =>
  results.filter((x) => x[2] === r && (stream === undefined || x[1] === stream)).length;

describe('Hooks limits', () => {
  it('a burst in one turn starts at most maxRunning runs; the rest are dropped, counted and logged once', async () => {
    const { hooks, results, logs } = hooksOf([
      { name: 'slow', on: 'demandStart', run: 'sleep 5', timeout: 10, maxRunning: 2 },
    ]);
    for (let i = 0; i < 10; i++) hooks.fire('demandStart', 'cam');
    expect(count(results, 'busy')).toBe(8);
    expect(hooks.running()).toEqual([{ hook: 'slow', n: 2 }]);
    expect(logs).toEqual(['hook slow: 1 event(s) dropped, 2 run(s) already going on']);
    expect(hooks.counts().find((c) => c.result === 'busy')?.n).toBe(8);
    // Closing kills what runs, and nothing starts after.
    hooks.close();
    hooks.fire('demandStart', 'cam');
    await until(() => hooks.running()[0]?.n === 0);
    expect(count(results, 'busy')).toBe(8);
  });

  it('viewer events: at most maxPerSecond per stream, each stream on its own; other events are not rate-limited', async () => {
    const { hooks, results } = hooksOf([
      { name: 'v', on: ['viewerJoined', 'publisherConnected'], run: 'true', maxPerSecond: 3, maxRunning: 64 },
    ]);
    for (let i = 0; i < 20; i++) {
      hooks.fire('viewerJoined', 'a');
      hooks.fire('viewerJoined', 'b');
    }
    for (let i = 0; i < 5; i++) hooks.fire('publisherConnected', 'a');
    hooks.fire('viewerJoined', 'c', { viewerAddress: '127.0.0.1:1' });
    expect(count(results, 'rate', 'a')).toBe(17);
    expect(count(results, 'rate', 'b')).toBe(17);
    await until(() => count(results, 'ok') === 3 + 3 + 5 + 1);
    expect(count(results, 'ok', 'a')).toBe(3 + 5);
  });

  it('a value no environment can hold (a NUL) does not stop the run, nor the server', async () => {
    const { hooks, results } = hooksOf([
      { name: 'n', on: 'publisherGone', run: 'test -n "$FRAMECAST_REASON"' },
    ]);
    hooks.fire('publisherGone', 'cam', { reason: 'bad\0frame' });
    await until(() => results.length === 1);
    expect(results[0]?.[2]).toBe('ok');
  });

  it('streams patterns choose the streams a hook runs for', async () => {
    const { hooks, results } = hooksOf([{ name: 'p', on: 'ready', run: 'true', streams: ['cam?', 'yard'] }]);
    for (const s of ['cam1', 'cam22', 'yard', 'yard2', 'x']) hooks.fire('ready', s);
    await until(() => results.length === 2);
    await sleep(200);
    expect(results.map((r) => r[1]).sort()).toEqual(['cam1', 'yard']);
  });

  it('a URL that refuses or never answers is a failure or a timeout, logged without the URL', async () => {
    const silent = http.createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const refusing = net.createServer();
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const closedPort = (refusing.address() as net.AddressInfo).port;
    await new Promise<void>((r) => refusing.close(() => r()));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const { hooks, results, logs } = hooksOf([
        { name: 'mute', on: 'ready', url: `http://127.0.0.1:${port}/x?token=SECRET1`, timeout: 0.5 },
        { name: 'gone', on: 'ready', url: `http://127.0.0.1:${closedPort}/x?token=SECRET2` },
      ]);
      hooks.fire('ready', 'cam');
      await until(() => results.length === 2);
      expect(results.find((r) => r[0] === 'mute')?.[2]).toBe('timeout');
      expect(results.find((r) => r[0] === 'gone')?.[2]).toBe('failed');
      expect(logs).toContain('hook mute (ready, stream cam): no answer after 0.5 s: aborted');
      expect(logs).toContain('hook gone (ready, stream cam) failed: ECONNREFUSED');
      expect(logs.join('\n')).not.toContain('SECRET');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
