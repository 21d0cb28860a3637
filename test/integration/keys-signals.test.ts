/**
 * The 'q' key (through a real pseudo-terminal, util-linux `script`) and SIGTERM/SIGINT on real processes.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectOutput, runPlay, spawnCliInPty, startServe } from '../helpers/cli.js';
import { makeClip, type Clip } from '../helpers/fixtures.js';
import { childPids, isAlive, killTracked, sleep, waitExit } from '../helpers/processes.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

let clip: Clip;
beforeAll(() => {
  clip = makeClip({ seconds: 3 });
});
afterEach(killTracked);
afterAll(killTracked);

/** Waits until `pred` holds, polling; false after `ms`. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(50);
  }
  return pred();
}

/** JSON objects printed by a process running in a pty (lines end in \r there). */
function jsonLines(lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const raw of lines) {
    const line = raw.replace(/\r/g, '').replace(/^.*?(\{)/, '$1');
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* status line or other text */
    }
  }
  return out;
}

/**
 * The framecast node process under `script`: script -> sh -c -> node. Whether the shell execs the
 * command depends on $SHELL (bash does, dash does not), so the match is on the command line's first
 * word being this node binary, not on the line merely containing "node" (sh -c's line does too).
 */
function ptyNodePid(child: ChildProcess): number | null {
  const queue = [child.pid as number];
  while (queue.length) {
    const pid = queue.shift() as number;
    const r = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    const args = r.stdout.trim();
    if (pid !== child.pid && args.startsWith(`${process.execPath} `) && /framecast/.test(args)) return pid;
    queue.push(...childPids(pid));
  }
  return null;
}

describe.skipIf(!hasScript)("'q' key in a terminal", () => {
  it('on serve ends the transmission (clients closed cleanly) and the server keeps serving', async () => {
    const serve = spawnCliInPty(['serve', clip.path, '--port', '0', '--json']);
    const out = collectOutput(serve);
    let port = 0;
    expect(
      await until(() => {
        const l = jsonLines(out.lines).find((e) => e.event === 'listening');
        port = typeof l?.port === 'number' ? l.port : 0;
        return port > 0;
      }, 15_000),
    ).toBe(true);

    const watching = runPlay(port);
    // Wait until frames flow (a status line with a non-zero rate), then press q.
    const flowing = (): boolean =>
      jsonLines(out.lines).some((e) => e.event === 'status' && typeof e.fps === 'number' && e.fps > 0);
    expect(await until(flowing, 10_000)).toBe(true);
    serve.stdin!.write('q');
    const r = await watching;
    // The client was closed cleanly between frames, well before the 3 s file ended.
    expect(r.code).toBe(0);
    expect(r.summary!.frames).toBeGreaterThan(0);
    expect(r.summary!.frames).toBeLessThan(clip.frames);
    expect(r.summary!.badFrames).toBe(0);
    // The server's lines reach us through the pty, possibly after the client already exited.
    const ended = (): boolean => jsonLines(out.lines).some((e) => e.event === 'transmission-end');
    expect(await until(ended, 5000)).toBe(true);
    const events = jsonLines(out.lines);
    expect(events.some((e) => e.event === 'stop')).toBe(true);
    expect(events.find((e) => e.event === 'transmission-end')?.reason).toBe('stopped');
    const node = ptyNodePid(serve);
    expect(node).not.toBeNull();
    // 'q' stopped the source too: no ffmpeg left under the server.
    expect(await until(() => childPids(node as number).length === 0, 2000)).toBe(true);

    // Still listening: the next client gets a fresh transmission.
    const next = await runPlay(port, ['--frames', '5']);
    expect(next.code).toBe(0);
    expect(next.summary!.frames).toBe(5);
    const twice = (): boolean =>
      jsonLines(out.lines).filter((e) => e.event === 'transmission-start').length === 2;
    expect(await until(twice, 5000)).toBe(true);

    // Ctrl-C in the terminal (raw mode turns it into a byte, not a signal) shuts down cleanly.
    serve.stdin!.write('\u0003');
    const exit = await waitExit(serve, 5000);
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
    expect(isAlive(node as number)).toBe(false);
    expect(jsonLines(out.lines).find((e) => e.event === 'shutdown')).toMatchObject({ signal: 'SIGINT' });
  });

  it('Ctrl-C on play (raw terminal) quits with exit code 0', async () => {
    const srv = await startServe(['test']);
    const play = spawnCliInPty(['play', `127.0.0.1:${srv.port}`, '--view', 'none']);
    const out = collectOutput(play);
    expect(await until(() => /frames [1-9]/.test(out.text()), 10_000)).toBe(true);
    play.stdin!.write('\u0003');
    const exit = await waitExit(play, 5000);
    expect(exit).toMatchObject({ code: 0, timedOut: false });
    await srv.stop();
  });

  it('on play quits with exit code 0', async () => {
    const srv = await startServe(['test']);
    const play = spawnCliInPty(['play', `127.0.0.1:${srv.port}`, '--view', 'none']);
    const out = collectOutput(play);
    // The live status line shows frames arriving (the terminal path, not --json).
    expect(await until(() => /frames [1-9]/.test(out.text()), 10_000)).toBe(true);
    play.stdin!.write('q');
    const exit = await waitExit(play, 5000);
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
    expect(out.text()).toMatch(/received \d+ frames \(800x450\)/);
    await srv.stop();
  });
});

describe('signals', () => {
  it('SIGTERM on serve mid-transmission exits 0 within 2 s and leaves no ffmpeg behind', async () => {
    const srv = await startServe([clip.path]);
    const watching = runPlay(srv.port);
    await srv.waitForEvent('status', 10_000, (e) => (e.fps as number) > 0);
    const ffmpegs = childPids(srv.pid);
    expect(ffmpegs.length).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    const exit = await srv.stop('SIGTERM', 5000);
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await until(() => ffmpegs.every((p) => !isAlive(p)), 1500)).toBe(true);
    // The client saw a clean close between frames.
    const r = await watching;
    expect(r.code).toBe(0);
    expect(r.summary!.badFrames).toBe(0);
    expect(srv.events.find((e) => e.event === 'shutdown')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('ffmpeg runs only while someone watches: the last client leaving stops it', async () => {
    const srv = await startServe(['test']);
    expect(childPids(srv.pid)).toEqual([]);
    const r = await runPlay(srv.port, ['--frames', '10']);
    expect(r.summary!.frames).toBe(10);
    const end = await srv.waitForEvent('transmission-end');
    expect(end.reason).toBe('idle');
    expect(await until(() => childPids(srv.pid).length === 0, 2000)).toBe(true);
    // The next client starts it again.
    const again = await runPlay(srv.port, ['--frames', '5']);
    expect(again.summary!.frames).toBe(5);
    expect(srv.events.filter((e) => e.event === 'transmission-start')).toHaveLength(2);
    await srv.stop();
  });

  it('SIGINT on an idle serve exits 0 promptly', async () => {
    const srv = await startServe([clip.path]);
    const t0 = Date.now();
    const exit = await srv.stop('SIGINT', 5000);
    expect(exit).toMatchObject({ code: 0, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('SIGTERM on play exits 0 with its summary', async () => {
    const srv = await startServe(['test']);
    const watching = runPlay(srv.port);
    await srv.waitForEvent('status', 10_000, (e) => (e.fps as number) > 0);
    await sleep(300);
    // runPlay's process is the only play child; find it by its parent (our test process).
    const pids = childPids(process.pid).filter((p) => {
      const r = spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' });
      return / play 127\.0\.0\.1:/.test(r.stdout);
    });
    expect(pids).toHaveLength(1);
    process.kill(pids[0] as number, 'SIGTERM');
    const r = await watching;
    expect(r.code).toBe(0);
    expect(r.summary!.frames).toBeGreaterThan(0);
    await srv.stop();
  });
});
