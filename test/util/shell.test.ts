/**
 * runShell: a command's exit comes with the last line it wrote to stderr (what exec sources and hooks
 * put in their messages), even when the exit is seen before the rest of stderr is read. Also
 * commandEnv, killing a command's group, and the paths where a command cannot start (a fake child).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandEnv, runShell, type ShellRun } from '../../src/util/shell.js';

vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  return { ...real, spawn: vi.fn(real.spawn) };
});

/** Commands a test started, killed after it whatever happened. */
const started: ShellRun[] = [];
const start = (command: string, env: NodeJS.ProcessEnv = process.env): ShellRun => {
  const run = runShell(command, env);
  started.push(run);
  return run;
};

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  vi.useRealTimers();
  for (const run of started.splice(0)) run.kill('SIGKILL');
});

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

  it('the last line: blank lines skipped, trimmed, empty without one, 200 characters of the last 4 KiB', async () => {
    const silent = start('exit 0');
    const blank = start('echo >&2; echo "   " >&2');
    const skips = start('echo "  real error  " >&2; echo "  " >&2');
    const long = start('printf %s "$LINE" >&2', {
      ...process.env,
      LINE: 'A'.repeat(1000) + 'B'.repeat(4000),
    });
    await Promise.all([silent.exited, blank.exited, skips.exited, long.exited]);
    expect(silent.lastLine()).toBe('');
    expect(blank.lastLine()).toBe('');
    expect(skips.lastLine()).toBe('real error');
    expect(long.lastLine()).toBe('A'.repeat(96) + 'B'.repeat(104));
  });

  it('runs with the environment given (NULs removed, unset values left out), never blocking on stdout', async () => {
    const env = { PATH: process.env['PATH'], X: 'a\0b', UNSET: undefined };
    const r = start('head -c 200000 /dev/zero; printf "%s|%s" "$X" "${UNSET-unset}" >&2', env);
    expect(await r.exited).toEqual({ code: 0, signal: null, error: null });
    expect(r.lastLine()).toBe('ab|unset');
  });

  it('kill() signals the whole process group, and the exit names the signal', async () => {
    const kill = vi.spyOn(process, 'kill');
    const r = start('sleep 20');
    r.kill('SIGTERM');
    expect(kill.mock.calls).toEqual([[-(r.pid as number), 'SIGTERM']]);
    expect(await r.exited).toEqual({ code: null, signal: 'SIGTERM', error: null });
    r.kill('SIGTERM');
  });

  it('a command spawn refuses: no pid, its reason (one line) as the exit, nothing to kill', async () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const r = runShell('echo a\0b', process.env);
    expect(r.pid).toBeNull();
    expect(await r.exited).toEqual({
      code: null,
      signal: null,
      // Node's own words (their details vary between versions).
      error: expect.stringMatching(
        /^The argument 'args\[1\]' must be a string without null bytes/,
      ) as unknown,
    });
    expect(r.lastLine()).toBe('');
    r.kill('SIGKILL');
    expect(kill).not.toHaveBeenCalled();
  });

  it('when the process exits, SIGKILLs the groups of the commands still running, and only those', async () => {
    vi.resetModules();
    const shell = await import('../../src/util/shell.js');
    const before = process.listeners('exit');
    await shell.runShell('exit 0', process.env).exited;
    const neverStarted = fakeChild(null);
    const failed = shell.runShell('x', process.env);
    const running = shell.runShell('sleep 20', process.env);
    started.push(running);
    const hooks = process.listeners('exit').filter((l) => !before.includes(l));
    expect(hooks).toHaveLength(1);
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    hooks[0]?.(0);
    process.off('exit', hooks[0] as () => void);
    expect(kill.mock.calls).toEqual([[-(running.pid as number), 'SIGKILL']]);
    neverStarted.emit('error', new Error('spawn /bin/sh EACCES'));
    await failed.exited;
  });
});

/** The next spawn returns this child instead: no pid, `stderr` (null: none). */
function fakeChild(stderr: EventEmitter | null): EventEmitter {
  const child = Object.assign(new EventEmitter(), { pid: undefined, stderr });
  vi.mocked(spawn).mockImplementationOnce(() => child as unknown as ChildProcess);
  return child;
}

/** A child's stderr that only ends when told. */
const fakeStderr = (readableEnded = false): EventEmitter =>
  Object.assign(new EventEmitter(), { readableEnded, setEncoding: () => {} });

/** Lets pending promise callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('runShell, children that fail or end unusually', () => {
  it("a child's 'error' ends it with the error's first line; it has no pid and is never signalled", async () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const child = fakeChild(null);
    const r = runShell('x', process.env);
    expect(r.pid).toBeNull();
    r.kill('SIGTERM');
    expect(kill).not.toHaveBeenCalled();
    child.emit('error', new Error('spawn /bin/sh EACCES\nmore detail'));
    expect(await r.exited).toEqual({ code: null, signal: null, error: 'spawn /bin/sh EACCES' });
  });

  it('a child without stderr ends at its exit', async () => {
    const child = fakeChild(null);
    const r = runShell('x', process.env);
    child.emit('exit', 3, null);
    expect(await r.exited).toEqual({ code: 3, signal: null, error: null });
    expect(r.lastLine()).toBe('');
  });

  it("after the exit, waits for stderr's end or close (not the drain bound); none if it had ended", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (const last of ['end', 'close', null]) {
      const stderr = fakeStderr(last === null);
      const child = fakeChild(stderr);
      let exit: unknown = null;
      void runShell('x', process.env).exited.then((e) => (exit = e));
      child.emit('exit', null, 'SIGTERM');
      await settle();
      if (last !== null) {
        expect(exit).toBeNull();
        stderr.emit(last);
        await settle();
      }
      expect(exit).toEqual({ code: null, signal: 'SIGTERM', error: null });
    }
  });
});

describe('commandEnv', () => {
  it("passes the process's environment but framecast's secrets, plus the extra values", () => {
    vi.stubEnv('FRAMECAST_TOKEN', 's1');
    vi.stubEnv('FRAMECAST_ADMIN_PASSWORD', 's2');
    vi.stubEnv('FRAMECAST_BUS_SECRET_OLD', 's3');
    vi.stubEnv('FRAMECAST_KEY', 's4');
    vi.stubEnv('FRAMECAST_PORT', '9000');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'theirs');
    const env = commandEnv({ FRAMECAST_STREAM: 'cam', FRAMECAST_PORT: '9100' });
    expect(env['PATH']).toBe(process.env['PATH']);
    expect(env['AWS_SECRET_ACCESS_KEY']).toBe('theirs');
    expect(env['FRAMECAST_STREAM']).toBe('cam');
    expect(env['FRAMECAST_PORT']).toBe('9100');
    for (const secret of [
      'FRAMECAST_TOKEN',
      'FRAMECAST_ADMIN_PASSWORD',
      'FRAMECAST_BUS_SECRET_OLD',
      'FRAMECAST_KEY',
    ])
      expect(env).not.toHaveProperty(secret);
  });

  it('an extra value is given even under a secret name', () => {
    vi.stubEnv('FRAMECAST_TOKEN', 'server');
    expect(commandEnv({ FRAMECAST_TOKEN: 'given' })['FRAMECAST_TOKEN']).toBe('given');
  });
});
