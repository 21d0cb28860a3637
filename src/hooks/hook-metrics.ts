import { Counter, Gauge, type Registry } from 'prom-client';
import type { Hooks } from './hooks.js';

/**
 * The hooks' series in a server's /metrics, read at scrape time: runs by result (`ok`, `failed`,
 * `timeout`; dropped: `busy` when maxRunning were going on, `rate` over a viewer event's maxPerSecond)
 * and runs going on now.
 */
export function registerHookMetrics(registry: Registry, hooks: Hooks): void {
  const registers = [registry];
  new Counter({
    name: 'framecast_hook_runs_total',
    help: 'Events each hook ran (result ok, failed, timeout) or dropped (busy, rate)',
    labelNames: ['hook', 'result'],
    registers,
    collect() {
      this.reset();
      for (const c of hooks.counts()) this.inc({ hook: c.hook, result: c.result }, c.n);
    },
  });
  new Gauge({
    name: 'framecast_hook_running',
    help: 'Runs of each hook going on now (commands running, requests waiting for an answer)',
    labelNames: ['hook'],
    registers,
    collect() {
      this.reset();
      for (const r of hooks.running()) this.set({ hook: r.hook }, r.n);
    },
  });
}
