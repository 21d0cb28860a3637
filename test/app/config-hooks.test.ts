import { describe, expect, it } from 'vitest';
import { checkConfigText } from '../../src/config/config-check.js';
import { ConfigError } from '../../src/config/config-error.js';
import { resolveHook, resolveHooks } from '../../src/hooks/hook-spec.js';
import { envName } from '../../src/hooks/hooks.js';

const S = 'streams:\n  cam:\n    source: test\n';

/** The message checking the file fails with. */
function fails(text: string): string {
  try {
    checkConfigText(`${text}${S}`, 'f.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('the hooks section', () => {
  it('reads a list of hooks as written; absent or empty is none', () => {
    expect(checkConfigText(S, 'f.yaml').hooks).toEqual([]);
    expect(checkConfigText(`hooks:\n${S}`, 'f.yaml').hooks).toEqual([]);
    const text =
      'hooks:\n' +
      '  - on: [ready, notReady]\n' +
      '    streams: cam*\n' +
      '    run: ./notify.sh\n' +
      '  - on: viewerJoined\n' +
      '    url: https://example.test/hook\n' +
      '    timeout: 2.5\n' +
      '    maxPerSecond: 3\n';
    const hooks = checkConfigText(`${text}${S}`, 'f.yaml').hooks;
    expect(hooks).toEqual([
      { on: ['ready', 'notReady'], streams: 'cam*', run: './notify.sh' },
      { on: 'viewerJoined', url: 'https://example.test/hook', timeout: 2.5, maxPerSecond: 3 },
    ]);
    expect(
      resolveHooks(hooks).map((h) => [h.name, h.streams, h.timeoutMs, h.maxRunning, h.maxPerSecond]),
    ).toEqual([
      ['hooks[0]', ['cam*'], 10_000, 4, 10],
      ['hooks[1]', [], 2500, 4, 3],
    ]);
  });

  it('names the file, the line and the field of each mistake', () => {
    expect(fails('hooks: 3\n')).toBe('f.yaml:1: hooks: must be a list of hooks, got 3');
    expect(fails('hooks:\n  - on: started\n    run: x\n')).toBe(
      'f.yaml:2: hooks[0].on: unknown event "started" (known: ready, notReady, demandStart, demandStop, publisherConnected, publisherGone, segmentComplete, viewerJoined, viewerLeft)',
    );
    expect(fails('hooks:\n  - on: ready\n')).toBe(
      'f.yaml:2: hooks[0]: give exactly one of run (a command) and url (http or https)',
    );
    expect(fails('hooks:\n  - on: ready\n    run: x\n    url: http://h/\n')).toContain(
      'hooks[0]: give exactly one',
    );
    expect(fails('hooks:\n  - on: ready\n    url: ftp://user:pw@h/\n')).toBe(
      'f.yaml:3: hooks[0].url: must be an http:// or https:// URL',
    );
    expect(fails('hooks:\n  - on: ready\n    run: x\n    timeout: 0\n')).toBe(
      'f.yaml:4: hooks[0].timeout: must be from 0.1 to 3600 (seconds), got 0',
    );
    expect(fails('hooks:\n  - on: ready\n    run: x\n    maxRunning: 1000\n')).toContain(
      'f.yaml:4: hooks[0].maxRunning: must be a whole number from 1 to 64',
    );
    expect(fails('hooks:\n  - on: ready\n    run: x\n    streams: [a/b]\n')).toContain(
      'f.yaml:4: hooks[0].streams: "a/b" is not a stream name pattern',
    );
    expect(fails('hooks:\n  - on: ready\n    run: x\n    when: now\n')).toContain(
      'f.yaml:4: hooks[0].when: unknown hook setting',
    );
    expect(fails('hooks:\n  - { name: a, on: ready, run: x }\n  - { name: a, on: ready, run: y }\n')).toBe(
      'f.yaml:3: hooks[1].name: a is the name of another hook',
    );
  });

  it('checks hooks given to serve() the same way', () => {
    expect(() => resolveHook({ on: 'ready', run: '' }, 0)).toThrow('hooks[0].run: must be a command');
    expect(() => resolveHooks({})).toThrow('hooks: must be a list of hooks');
    expect(() => resolveHooks(Array.from({ length: 65 }, () => ({ on: 'ready', run: 'x' })))).toThrow(
      'at most 64',
    );
    expect(resolveHook({ on: ['ready', 'ready'], run: 'x', streams: ['*', 'a'] }, 2)).toMatchObject({
      name: 'hooks[2]',
      on: ['ready'],
      streams: [],
    });
  });

  it('names an event value FRAMECAST_ and its words', () => {
    expect(envName('segmentPath')).toBe('FRAMECAST_SEGMENT_PATH');
    expect(envName('viewerAddress')).toBe('FRAMECAST_VIEWER_ADDRESS');
    expect(envName('reason')).toBe('FRAMECAST_REASON');
  });
});
