/** SafeEmitter: a listener that throws is reported, never breaks the other listeners or the emitter. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LISTENER_ERROR, SafeEmitter } from '../../src/util/safe-emitter.js';

type Events = { tick: [number, string]; error: [unknown]; 'listener-error': [string, unknown] };

/** Captures process warnings synchronously (as `message|code|detail`). */
function captureWarnings(): string[] {
  const seen: string[] = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((
    msg: string,
    opts: { code: string; detail: string },
  ) => {
    seen.push(`${msg}|${opts.code}|${opts.detail}`);
  }) as typeof process.emitWarning);
  return seen;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SafeEmitter.emit', () => {
  it('calls every listener with the arguments and the emitter as `this`, and returns true', () => {
    const e = new SafeEmitter<Events>();
    const calls: unknown[] = [];
    e.on('tick', function (this: unknown, n, s) {
      calls.push([this === e, n, s]);
    });
    e.on('tick', (n) => calls.push(n * 2));
    expect(e.emit('tick', 3, 'x')).toBe(true);
    expect(calls).toEqual([[true, 3, 'x'], 6]);
  });

  it('returns false for an event nobody listens to, without throwing', () => {
    expect(new SafeEmitter<Events>().emit('tick', 1, 'a')).toBe(false);
  });

  it('calls a once() listener only once', () => {
    const e = new SafeEmitter<Events>();
    let n = 0;
    e.once('tick', () => n++);
    e.emit('tick', 1, 'a');
    expect(e.emit('tick', 2, 'b')).toBe(false);
    expect(n).toBe(1);
  });

  it("'error' without a listener throws the Error itself, or an Error of what was emitted", () => {
    const e = new SafeEmitter<Events>();
    const boom = new Error('boom');
    expect(() => e.emit('error', boom)).toThrow(boom);
    expect(() => e.emit('error', 'plain text')).toThrow(new Error('plain text'));
  });

  it("'error' with a listener is delivered like any event", () => {
    const e = new SafeEmitter<Events>();
    const got: unknown[] = [];
    e.on('error', (err) => got.push(err));
    expect(e.emit('error', 'bad')).toBe(true);
    expect(got).toEqual(['bad']);
  });

  it("reports a throwing listener as 'listener-error' (event name and what it threw); the others still run", () => {
    const e = new SafeEmitter<Events>();
    const warnings = captureWarnings();
    const reported: unknown[] = [];
    const after: number[] = [];
    const thrown = new Error('first broke');
    expect(LISTENER_ERROR).toBe('listener-error');
    e.on('listener-error', (event, err) => reported.push([event, err]));
    e.on('tick', () => {
      throw thrown;
    });
    e.on('tick', (n) => after.push(n));
    expect(e.emit('tick', 7, 'x')).toBe(true);
    expect(reported).toEqual([['tick', thrown]]);
    expect(after).toEqual([7]);
    expect(warnings).toEqual([]);
  });

  it('names a symbol event by its String()', () => {
    const e = new SafeEmitter<Record<symbol | string, unknown[]>>();
    const sym = Symbol('frames');
    const reported: unknown[] = [];
    e.on(LISTENER_ERROR, (event: unknown) => reported.push(event));
    e.on(sym, () => {
      throw new Error('x');
    });
    e.emit(sym);
    expect(reported).toEqual(['Symbol(frames)']);
  });

  it("a 'listener-error' listener that throws is skipped: no recursion, no warning, the next reporter runs", () => {
    const e = new SafeEmitter<Events>();
    const warnings = captureWarnings();
    const second: string[] = [];
    e.on(LISTENER_ERROR, () => {
      throw new Error('broken reporter');
    });
    e.on(LISTENER_ERROR, (event) => second.push(event));
    e.on('tick', () => {
      throw new Error('x');
    });
    expect(e.emit('tick', 1, 'a')).toBe(true);
    expect(second).toEqual(['tick']);
    expect(warnings).toEqual([]);
  });

  it("without a 'listener-error' listener: one process warning per emitter and event", () => {
    const warnings = captureWarnings();
    const a = new SafeEmitter<Events>();
    const b = new SafeEmitter<Events>();
    for (const e of [a, b])
      e.on('tick', (n) => {
        if (n === 1) throw new Error('bad tick');
        throw 'a string';
      });
    a.emit('tick', 1, '');
    a.emit('tick', 1, '');
    a.emit('tick', 2, '');
    b.emit('tick', 2, '');
    const detail = 'framecast went on; listen for "listener-error" to handle these';
    expect(warnings).toEqual([
      `a 'tick' listener threw: bad tick|FRAMECAST_LISTENER_ERROR|${detail}`,
      `a 'tick' listener threw: a string|FRAMECAST_LISTENER_ERROR|${detail}`,
    ]);
  });

  it('warns separately for each event of one emitter', () => {
    const warnings = captureWarnings();
    const e = new SafeEmitter<Record<string, unknown[]>>();
    for (const name of ['one', 'two'])
      e.on(name, () => {
        throw new Error(name);
      });
    e.emit('one');
    e.emit('two');
    e.emit('one');
    expect(warnings.map((w) => w.split('|')[0])).toEqual([
      "a 'one' listener threw: one",
      "a 'two' listener threw: two",
    ]);
  });
});
