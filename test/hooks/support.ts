import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { HookConfig } from '../../src/hooks/hook-spec.js';
import { sleep } from '../helpers/processes.js';

/** Waits (bounded) until `cond` holds, then asserts it. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

/** As until, for a condition that has to ask (a scrape). */
export async function untilAsync(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await sleep(50);
  expect(await cond()).toBe(true);
}

/** A maker of fresh folders under `base`, one per test's hook outputs. */
export function outDirs(base: string): () => string {
  let n = 0;
  return () => {
    const d = join(base, `t${n++}`);
    mkdirSync(d);
    return d;
  };
}

/** The FRAMECAST_ variables (and the leak probe) each hook run wrote, by event. */
export function envFiles(dir: string): Map<string, Record<string, string>[]> {
  const out = new Map<string, Record<string, string>[]>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.env'))) {
    const env: Record<string, string> = {};
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0 && line.startsWith('FRAMECAST_')) env[line.slice(0, i)] = line.slice(i + 1);
    }
    const ev = f.split('.')[0] as string;
    out.set(ev, [...(out.get(ev) ?? []), env]);
  }
  return out;
}

/** A hook whose command writes its environment to DIR/EVENT.PID.env (written whole, then renamed). */
export function envHook(dir: string, on: HookConfig['on'], extra: Partial<HookConfig> = {}): HookConfig {
  return {
    on,
    run: `env > "${dir}/.$$.tmp" && mv "${dir}/.$$.tmp" "${dir}/$FRAMECAST_EVENT.$$.env"`,
    ...extra,
  };
}
