/**
 * runShell: a command's exit comes with the last line it wrote to stderr (what exec sources and hooks
 * put in their messages), even when the exit is seen before the rest of stderr is read.
 */
import { describe, expect, it } from 'vitest';
import { runShell } from '../../src/util/shell.js';

describe('runShell', () => {
  it('the last stderr line is known once the exit is, every time (40 commands at once)', async () => {
    const runs = Array.from({ length: 40 }, (_, i) =>
      runShell(`echo "first ${i}" >&2; echo "cannot open camera ${i}" >&2; exit 4`, process.env),
    );
    const lines = await Promise.all(runs.map(async (r) => ({ exit: await r.exited, line: r.lastLine() })));
    for (const [i, got] of lines.entries())
      expect(got).toEqual({ exit: { code: 4, signal: null, error: null }, line: `cannot open camera ${i}` });
  });

  it('a child left holding stderr open does not hold the exit (ends within the drain bound)', async () => {
    const t0 = Date.now();
    const r = runShell('sleep 5 & echo "left a child" >&2; exit 3', process.env);
    expect(await r.exited).toEqual({ code: 3, signal: null, error: null });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.lastLine()).toBe('left a child');
    r.kill('SIGKILL');
  });
});
