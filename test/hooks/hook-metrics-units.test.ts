import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { registerHookMetrics } from '../../src/hooks/hook-metrics.js';
import { Hooks } from '../../src/hooks/hooks.js';
import { resolveHooks } from '../../src/hooks/hook-spec.js';

const open: Hooks[] = [];
afterEach(() => {
  for (const h of open.splice(0)) h.close();
});

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

/** The lines of the scrape about the hooks' series (HELP, TYPE and samples). */
async function hookLines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.includes('framecast_hook_'));
}

describe('registerHookMetrics', () => {
  it('runs by hook and result, and runs going on, read at each scrape', async () => {
    const hooks = new Hooks(
      resolveHooks([
        { name: 'bad', on: 'ready', run: 'exit 1', maxRunning: 1 },
        { name: 'slow', on: 'notReady', run: 'sleep 30', maxRunning: 1 },
      ]),
    );
    open.push(hooks);
    const results: string[] = [];
    hooks.on('result', (h, _e, _s, r) => results.push(`${h}:${r}`));
    const registry = new Registry();
    registerHookMetrics(registry, hooks);
    const zero = (hook: string): string[] =>
      ['ok', 'failed', 'timeout', 'busy', 'rate'].map(
        (r) => `framecast_hook_runs_total{hook="${hook}",result="${r}"} 0`,
      );
    expect(await hookLines(registry)).toEqual([
      '# HELP framecast_hook_runs_total Events each hook ran (result ok, failed, timeout) or dropped (busy, rate)',
      '# TYPE framecast_hook_runs_total counter',
      ...zero('bad'),
      ...zero('slow'),
      '# HELP framecast_hook_running Runs of each hook going on now (commands running, requests waiting for an answer)',
      '# TYPE framecast_hook_running gauge',
      'framecast_hook_running{hook="bad"} 0',
      'framecast_hook_running{hook="slow"} 0',
    ]);

    hooks.fire('ready', 'cam');
    await until(() => results.length === 1);
    hooks.fire('ready', 'cam');
    await until(() => results.length === 2);
    hooks.fire('notReady', 'cam');
    hooks.fire('notReady', 'cam');
    hooks.fire('notReady', 'cam');
    // The run starts on the next turn.
    await new Promise((r) => setImmediate(r));
    const lines = await hookLines(registry);
    expect(lines).toContain('framecast_hook_runs_total{hook="bad",result="failed"} 2');
    expect(lines).toContain('framecast_hook_runs_total{hook="slow",result="busy"} 2');
    expect(lines).toContain('framecast_hook_runs_total{hook="slow",result="ok"} 0');
    expect(lines).toContain('framecast_hook_running{hook="bad"} 0');
    expect(lines).toContain('framecast_hook_running{hook="slow"} 1');
    // Read again: the same values, not added up.
    expect(await hookLines(registry)).toEqual(lines);
    hooks.close();
    await until(() => results.length === 5);
    const after = await hookLines(registry);
    expect(after).toContain('framecast_hook_running{hook="slow"} 0');
    expect(after).toContain('framecast_hook_runs_total{hook="slow",result="failed"} 1');
    expect(after).toContain('framecast_hook_runs_total{hook="bad",result="failed"} 2');
  });

  it('no hooks: the series are there, without samples', async () => {
    const registry = new Registry();
    registerHookMetrics(registry, new Hooks([]));
    const lines = await hookLines(registry);
    expect(lines.filter((l) => !l.startsWith('#'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('# TYPE'))).toEqual([
      '# TYPE framecast_hook_runs_total counter',
      '# TYPE framecast_hook_running gauge',
    ]);
  });
});
