import { describe, expect, it } from 'vitest';
import {
  HOOK_EVENTS,
  HOOK_KEYS,
  HookSpecError,
  MAX_HOOKS,
  VIEWER_EVENTS,
  resolveHook,
  resolveHooks,
} from '../../src/hooks/hook-spec.js';

const KNOWN_EVENTS =
  'ready, notReady, demandStart, demandStop, publisherConnected, publisherGone, segmentComplete, viewerJoined, viewerLeft';

/** The HookSpecError `f` throws: its field, problem and message. */
function error(f: () => unknown): { field: string; problem: string; message: string; name: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(HookSpecError);
    const e = err as HookSpecError;
    return { field: e.field, problem: e.problem, message: e.message, name: e.name };
  }
  throw new Error('no error');
}

const fails = (value: unknown, index = 0): string => error(() => resolveHook(value, index)).message;

describe('hook-spec constants', () => {
  it('lists the events, the viewer events and the settings', () => {
    expect(HOOK_EVENTS.join(', ')).toBe(KNOWN_EVENTS);
    expect([...VIEWER_EVENTS].sort()).toEqual(['viewerJoined', 'viewerLeft']);
    expect(HOOK_KEYS.join(', ')).toBe('name, on, streams, run, url, timeout, maxRunning, maxPerSecond');
    expect(MAX_HOOKS).toBe(64);
  });

  it('HookSpecError carries its field and problem', () => {
    const e = new HookSpecError('hooks[1].url', 'bad');
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('hooks[1].url: bad');
    expect(e.name).toBe('HookSpecError');
    expect(e.field).toBe('hooks[1].url');
    expect(e.problem).toBe('bad');
  });
});

describe('resolveHook', () => {
  it('fills every default of a minimal run hook', () => {
    expect(resolveHook({ on: 'ready', run: 'echo hi' }, 3)).toEqual({
      name: 'hooks[3]',
      on: ['ready'],
      streams: [],
      run: 'echo hi',
      url: null,
      timeoutMs: 10_000,
      maxRunning: 4,
      maxPerSecond: 10,
    });
  });

  it('keeps every setting given', () => {
    expect(
      resolveHook(
        {
          name: 'Web_1.a:b[2]-x',
          on: ['viewerJoined', 'viewerLeft', 'viewerJoined'],
          streams: ['cam?', 'yard*'],
          url: 'https://example.test/h?k=1',
          timeout: 0.25,
          maxRunning: 64,
          maxPerSecond: 1000,
        },
        0,
      ),
    ).toEqual({
      name: 'Web_1.a:b[2]-x',
      on: ['viewerJoined', 'viewerLeft'],
      streams: ['cam?', 'yard*'],
      run: null,
      url: 'https://example.test/h?k=1',
      timeoutMs: 250,
      maxRunning: 64,
      maxPerSecond: 1000,
    });
  });

  it('a single stream pattern is a list of one; a "*" among them means every stream', () => {
    expect(resolveHook({ on: 'ready', run: 'x', streams: 'cam' }, 0).streams).toEqual(['cam']);
    expect(resolveHook({ on: 'ready', run: 'x', streams: [] }, 0).streams).toEqual([]);
    expect(resolveHook({ on: 'ready', run: 'x', streams: ['a', '*'] }, 0).streams).toEqual([]);
    expect(resolveHook({ on: 'ready', run: 'x', streams: ['a*'] }, 0).streams).toEqual(['a*']);
  });

  it('a hook is a mapping', () => {
    const msg = 'hooks[5]: must be a mapping {on, run or url, streams?, timeout?}';
    for (const v of [null, undefined, 'ready', 3, true, [], [{ on: 'ready', run: 'x' }]])
      expect(fails(v, 5)).toBe(msg);
    expect(error(() => resolveHook(null, 5))).toMatchObject({
      field: 'hooks[5]',
      problem: 'must be a mapping {on, run or url, streams?, timeout?}',
      name: 'HookSpecError',
    });
  });

  it('names an unknown setting and lists the known ones', () => {
    expect(fails({ on: 'ready', run: 'x', when: 'now' }, 1)).toBe(
      'hooks[1].when: unknown hook setting (known: name, on, streams, run, url, timeout, maxRunning, maxPerSecond)',
    );
  });

  it('a name is 1-64 letters, digits or _ . : - [ ]', () => {
    const msg = 'hooks[0].name: must be 1-64 letters, digits or _ . : - [ ]';
    expect(resolveHook({ name: 'a', on: 'ready', run: 'x' }, 0).name).toBe('a');
    expect(resolveHook({ name: 'Z'.repeat(64), on: 'ready', run: 'x' }, 0).name).toBe('Z'.repeat(64));
    // null is no name: the default one.
    expect(resolveHook({ name: null, on: 'ready', run: 'x' }, 6).name).toBe('hooks[6]');
    for (const name of ['', 'a'.repeat(65), 'a b', 'x/y', ' a', 'a ', 'a\n', 'é', 3, ['a']])
      expect(fails({ name, on: 'ready', run: 'x' }), JSON.stringify(name)).toBe(msg);
  });

  it('on: one or more known events', () => {
    expect(fails({ on: [], run: 'x' }, 2)).toBe(`hooks[2].on: required: one or more of ${KNOWN_EVENTS}`);
    expect(fails({ run: 'x' }, 2)).toBe('hooks[2].on: must be an event or a list of events');
    expect(fails({ on: 3, run: 'x' }, 2)).toBe('hooks[2].on: must be an event or a list of events');
    expect(fails({ on: ['ready', 3], run: 'x' }, 2)).toBe(
      'hooks[2].on: must be an event or a list of events',
    );
    expect(fails({ on: { ready: true }, run: 'x' }, 2)).toBe(
      'hooks[2].on: must be an event or a list of events',
    );
    expect(fails({ on: ['ready', 'started'], run: 'x' }, 2)).toBe(
      `hooks[2].on: unknown event "started" (known: ${KNOWN_EVENTS})`,
    );
    expect(resolveHook({ on: [...HOOK_EVENTS], run: 'x' }, 0).on).toEqual([...HOOK_EVENTS]);
  });

  it('streams: at most 64 patterns of stream name characters and wildcards', () => {
    const many = Array.from({ length: 64 }, (_, i) => `s${i}`);
    expect(resolveHook({ on: 'ready', run: 'x', streams: many }, 0).streams).toEqual(many);
    expect(fails({ on: 'ready', run: 'x', streams: [...many, 's64'] }, 4)).toBe(
      'hooks[4].streams: at most 64 patterns',
    );
    expect(fails({ on: 'ready', run: 'x', streams: ['ok', 'a/b'] }, 4)).toBe(
      'hooks[4].streams: "a/b" is not a stream name pattern (letters, digits, _ . - and the wildcards * ?)',
    );
    expect(fails({ on: 'ready', run: 'x', streams: 3 }, 4)).toBe(
      'hooks[4].streams: must be a stream name pattern or a list of them',
    );
    expect(fails({ on: 'ready', run: 'x', streams: ['a', 3] }, 4)).toBe(
      'hooks[4].streams: must be a stream name pattern or a list of them',
    );
  });

  it('exactly one of run and url', () => {
    const msg = 'hooks[0]: give exactly one of run (a command) and url (http or https)';
    expect(fails({ on: 'ready' })).toBe(msg);
    expect(fails({ on: 'ready', run: 'x', url: 'http://h/' })).toBe(msg);
  });

  it('run: a non-empty command of at most 8192 characters, without NUL', () => {
    const msg = 'hooks[0].run: must be a command (a non-empty string of at most 8192 characters)';
    for (const run of ['', '   ', '\n\t', 'a'.repeat(8193), 'echo a\0b', 3, null, ['echo']])
      expect(fails({ on: 'ready', run }), JSON.stringify(run)).toBe(msg);
    expect(resolveHook({ on: 'ready', run: 'a'.repeat(8192) }, 0).run).toBe('a'.repeat(8192));
    expect(resolveHook({ on: 'ready', run: ' x ' }, 0).run).toBe(' x ');
  });

  it('url: an http or https URL with a host, never echoed', () => {
    const msg = 'hooks[0].url: must be an http:// or https:// URL';
    for (const url of [
      'ftp://h/x',
      'file:///etc/passwd',
      'not a url',
      '',
      'http://',
      'mailto:a@b',
      3,
      null,
      // Not strings, though they would read as a URL.
      ['http://h/'],
      { toString: () => 'http://h/' },
    ])
      expect(fails({ on: 'ready', url }), JSON.stringify(url)).toBe(msg);
    expect(resolveHook({ on: 'ready', url: 'http://127.0.0.1:9/x' }, 0).url).toBe('http://127.0.0.1:9/x');
    expect(resolveHook({ on: 'ready', url: 'HTTPS://Example.test' }, 0).url).toBe('HTTPS://Example.test');
  });

  it('timeout: seconds from 0.1 to 3600', () => {
    const t = (timeout: unknown): number => resolveHook({ on: 'ready', run: 'x', timeout }, 0).timeoutMs;
    expect(t(0.1)).toBe(100);
    expect(t(3600)).toBe(3_600_000);
    expect(t(1.5)).toBe(1500);
    for (const [v, shown] of [
      [0.09, '0.09'],
      [3600.5, '3600.5'],
      [-1, '-1'],
      ['5', '"5"'],
      [NaN, 'null'],
      [Infinity, 'null'],
      [null, 'null'],
    ] as const)
      expect(fails({ on: 'ready', run: 'x', timeout: v }, 7)).toBe(
        `hooks[7].timeout: must be from 0.1 to 3600 (seconds), got ${shown}`,
      );
  });

  it('maxRunning: a whole number from 1 to 64', () => {
    const m = (maxRunning: unknown): number =>
      resolveHook({ on: 'ready', run: 'x', maxRunning }, 0).maxRunning;
    expect(m(1)).toBe(1);
    expect(m(64)).toBe(64);
    for (const [v, shown] of [
      [0, '0'],
      [65, '65'],
      [1.5, '1.5'],
      ['2', '"2"'],
    ] as const)
      expect(fails({ on: 'ready', run: 'x', maxRunning: v })).toBe(
        `hooks[0].maxRunning: must be a whole number from 1 to 64 (runs), got ${shown}`,
      );
  });

  it('maxPerSecond: a whole number from 1 to 1000', () => {
    const m = (maxPerSecond: unknown): number =>
      resolveHook({ on: 'ready', run: 'x', maxPerSecond }, 0).maxPerSecond;
    expect(m(1)).toBe(1);
    expect(m(1000)).toBe(1000);
    for (const [v, shown] of [
      [0, '0'],
      [1001, '1001'],
      [2.5, '2.5'],
    ] as const)
      expect(fails({ on: 'ready', run: 'x', maxPerSecond: v })).toBe(
        `hooks[0].maxPerSecond: must be a whole number from 1 to 1000 (runs per second), got ${shown}`,
      );
  });
});

describe('resolveHooks', () => {
  it('null or absent is no hooks; anything but a list is an error', () => {
    expect(resolveHooks(null)).toEqual([]);
    expect(resolveHooks(undefined)).toEqual([]);
    expect(resolveHooks([])).toEqual([]);
    for (const v of [{}, 'x', 3, { on: 'ready', run: 'x' }])
      expect(error(() => resolveHooks(v)).message).toBe('hooks: must be a list of hooks');
  });

  it('at most 64 hooks', () => {
    const hooks = (n: number): unknown[] =>
      Array.from({ length: n }, (_, i) => ({ name: `h${i}`, on: 'ready', run: 'x' }));
    expect(resolveHooks(hooks(64)).map((h) => h.name)).toEqual(hooks(64).map((_, i) => `h${i}`));
    expect(error(() => resolveHooks(hooks(65)))).toMatchObject({
      field: 'hooks',
      message: 'hooks: at most 64 hooks, got 65',
    });
  });

  it('checks each hook at its place; names must differ', () => {
    expect(error(() => resolveHooks([{ on: 'ready', run: 'x' }, { on: 'ready' }])).field).toBe('hooks[1]');
    expect(
      resolveHooks([
        { on: 'ready', run: 'x' },
        { on: 'ready', run: 'y' },
      ]).map((h) => h.name),
    ).toEqual(['hooks[0]', 'hooks[1]']);
    expect(
      error(() =>
        resolveHooks([
          { name: 'a', on: 'ready', run: 'x' },
          { name: 'b', on: 'ready', run: 'x' },
          { name: 'a', on: 'ready', run: 'y' },
        ]),
      ).message,
    ).toBe('hooks[2].name: a is the name of another hook');
    // A default name taken by another hook's own name is a clash too.
    expect(
      error(() =>
        resolveHooks([
          { name: 'hooks[1]', on: 'ready', run: 'x' },
          { on: 'ready', run: 'y' },
        ]),
      ).message,
    ).toBe('hooks[1].name: hooks[1] is the name of another hook');
  });
});
