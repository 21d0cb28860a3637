/**
 * stream-plan, unit by unit: the checks of a set of streams (names, legacy ports, seed clients,
 * publish tokens), loopback hosts, and what a new list of streams changes.
 */
import { describe, expect, it } from 'vitest';
import { resolveStreamConfig, type StreamConfig } from '../../src/streams/stream-options.js';
import {
  checkPublishTokens,
  checkStreams,
  checkStreamSet,
  diffStreams,
  sameButRecording,
  sameStream,
  type StreamSetContext,
} from '../../src/streams/stream-plan.js';
import { tokenDigest } from '../../src/util/token.js';

const cfg = (name: string, config: Partial<StreamConfig> = {}) =>
  resolveStreamConfig(name, { source: 'test', ...config });

const ctx = (over: Partial<StreamSetContext> = {}): StreamSetContext => ({
  mainPort: 8080,
  host: '0.0.0.0',
  token: null,
  allowLegacy: false,
  allowAnonymousPublish: false,
  ...over,
});

describe('checkStreamSet', () => {
  it('takes distinct names and distinct legacy ports', () => {
    expect(() =>
      checkStreamSet([cfg('a', { legacyPort: 9000 }), cfg('b', { legacyPort: 9001 }), cfg('c')], 8080),
    ).not.toThrow();
  });

  it('refuses a name given twice', () => {
    expect(() => checkStreamSet([cfg('a'), cfg('b'), cfg('a')], 8080)).toThrow(
      new RangeError('streams: a is given twice'),
    );
  });

  it('refuses a legacy port given twice, or the main port', () => {
    expect(() =>
      checkStreamSet([cfg('a', { legacyPort: 9000 }), cfg('b', { legacyPort: 9000 })], 8080),
    ).toThrow(new RangeError("streams: b's legacyPort 9000 is already in use by this server"));
    expect(() => checkStreamSet([cfg('a', { legacyPort: 8080 })], 8080)).toThrow(
      new RangeError("streams: a's legacyPort 8080 is already in use by this server"),
    );
  });

  it('lets any number of streams take legacy port 0 (any free port), even with main port 0', () => {
    expect(() => checkStreamSet([cfg('a', { legacyPort: 0 }), cfg('b', { legacyPort: 0 })], 0)).not.toThrow();
  });

  it('the error is a plain RangeError', () => {
    try {
      checkStreamSet([cfg('a'), cfg('a')], 1);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).name).toBe('RangeError');
    }
  });
});

describe('checkStreams', () => {
  it('needs at least one stream', () => {
    expect(() => checkStreams([], ctx())).toThrow(new RangeError('streams: at least one stream is needed'));
  });

  it('checks the set (names given once)', () => {
    expect(() => checkStreams([cfg('a'), cfg('a')], ctx())).toThrow('streams: a is given twice');
  });

  it('checks legacy ports against the main port', () => {
    expect(() => checkStreams([cfg('a', { legacyPort: 8080 })], ctx({ mainPort: 8080 }))).toThrow(
      "streams: a's legacyPort 8080 is already in use by this server",
    );
  });

  it('takes a legacy port on an open stream without allowLegacy', () => {
    expect(() => checkStreams([cfg('a', { legacyPort: 9000 })], ctx())).not.toThrow();
  });

  it('refuses a legacy port with a server token unless allowLegacy', () => {
    expect(() => checkStreams([cfg('cam', { legacyPort: 9000 })], ctx({ token: 't' }))).toThrow(
      new RangeError(
        'stream cam: legacyPort serves seed clients, which cannot present a token: set allowLegacy',
      ),
    );
    expect(() =>
      checkStreams([cfg('cam', { legacyPort: 9000 })], ctx({ token: 't', allowLegacy: true })),
    ).not.toThrow();
  });

  it('names no stream for the default stream', () => {
    expect(() => checkStreams([cfg('default', { legacyPort: 0 })], ctx({ token: 't' }))).toThrow(
      new RangeError('legacyPort serves seed clients, which cannot present a token: set allowLegacy'),
    );
  });

  it('refuses a legacy port on a stream with a read token (or an origin digest) unless allowLegacy', () => {
    const read = cfg('cam', { legacyPort: 9000, readToken: 'r' });
    expect(() => checkStreams([read], ctx())).toThrow(
      'stream cam: legacyPort serves seed clients, which cannot present a token: set allowLegacy',
    );
    expect(() => checkStreams([read], ctx({ allowLegacy: true }))).not.toThrow();
    const digest = { ...cfg('edge', { legacyPort: 9000 }), readTokenDigest: tokenDigest('r', 'salt') };
    expect(() => checkStreams([digest], ctx())).toThrow(
      'stream edge: legacyPort serves seed clients, which cannot present a token: set allowLegacy',
    );
    const noDigest = { ...cfg('edge', { legacyPort: 9000 }), readTokenDigest: null };
    expect(() => checkStreams([noDigest], ctx())).not.toThrow();
  });

  it('does not mind a token on a stream without a legacy port', () => {
    expect(() => checkStreams([cfg('cam', { readToken: 'r' })], ctx({ token: 't' }))).not.toThrow();
  });

  it('checks publish tokens with the server settings', () => {
    expect(() => checkStreams([cfg('pub', { source: 'publisher' })], ctx())).toThrow(
      'stream pub takes publishers but has no publishToken',
    );
    expect(() =>
      checkStreams([cfg('pub', { source: 'publisher' })], ctx({ host: '127.0.0.1' })),
    ).not.toThrow();
    expect(() => checkStreams([cfg('pub', { source: 'publisher' })], ctx({ token: 't' }))).not.toThrow();
    expect(() =>
      checkStreams([cfg('pub', { source: 'publisher' })], ctx({ allowAnonymousPublish: true })),
    ).not.toThrow();
  });
});

describe('checkPublishTokens', () => {
  const pub = cfg('pub', { source: 'publisher' });
  const exec = cfg('run', { source: 'exec:cam-tool' });

  it('refuses a publisher (or exec:) stream without a publish token on a network host', () => {
    expect(() => checkPublishTokens([cfg('a'), pub], '0.0.0.0', null, false)).toThrow(
      new RangeError(
        'stream pub takes publishers but has no publishToken, and the server listens on 0.0.0.0: set a publishToken (or allowAnonymousPublish)',
      ),
    );
    expect(() => checkPublishTokens([exec], '::', null, false)).toThrow(
      'stream run takes publishers but has no publishToken, and the server listens on ::: set',
    );
  });

  it('takes it with a publish token, a server token, a loopback host or allowAnonymous', () => {
    const withToken = cfg('pub', { source: 'publisher', publishToken: 'p' });
    expect(() => checkPublishTokens([withToken], '0.0.0.0', null, false)).not.toThrow();
    expect(() => checkPublishTokens([pub], '0.0.0.0', 't', false)).not.toThrow();
    expect(() => checkPublishTokens([pub], 'localhost', null, false)).not.toThrow();
    expect(() => checkPublishTokens([pub], '0.0.0.0', null, true)).not.toThrow();
  });

  it('does not mind streams that take no publishers', () => {
    expect(() => checkPublishTokens([cfg('a'), cfg('b')], '0.0.0.0', null, false)).not.toThrow();
  });
});

describe('sameStream and sameButRecording', () => {
  it('the same object, or equal settings, are the same stream', () => {
    const a = cfg('a');
    expect(sameStream(a, a)).toBe(true);
    expect(sameStream(a, cfg('a'))).toBe(true);
    expect(sameStream(a, cfg('a', { width: 320 }))).toBe(false);
    expect(sameStream(a, cfg('a', { record: true }))).toBe(false);
  });

  it('sameButRecording ignores the recording fields only', () => {
    const a = cfg('a');
    const rec = cfg('a', {
      record: true,
      recordPath: 'r',
      recordSegmentDuration: 5,
      recordDeleteAfter: 10,
      recordMaxBytes: 4096,
    });
    expect(sameButRecording(a, rec)).toBe(true);
    expect(sameButRecording(a, a)).toBe(true);
    expect(sameButRecording(a, cfg('a', { quality: 50 }))).toBe(false);
    expect(sameButRecording(a, cfg('a', { quality: 50, record: true }))).toBe(false);
    // the configs themselves are left alone
    expect(rec.record).toBe(true);
    expect(rec.recordPath).toBe('r');
  });
});

describe('diffStreams', () => {
  it('sorts a new list into add, restart, retune and remove', () => {
    const running = [cfg('keep'), cfg('change'), cfg('tune'), cfg('gone')];
    const next = [
      cfg('keep'),
      cfg('change', { width: 320 }),
      cfg('tune', { record: true }),
      cfg('new'),
      cfg('new2'),
    ];
    const d = diffStreams(running, next);
    expect(d.add.map((c) => c.name)).toEqual(['new', 'new2']);
    expect(d.restart).toEqual([next[1]]);
    expect(d.retune).toEqual([next[2]]);
    expect(d.remove).toEqual(['gone']);
  });

  it('changes nothing for the same list', () => {
    const running = [cfg('a'), cfg('b')];
    expect(diffStreams(running, running)).toEqual({ add: [], restart: [], retune: [], remove: [] });
    expect(diffStreams(running, [cfg('a'), cfg('b')])).toEqual({
      add: [],
      restart: [],
      retune: [],
      remove: [],
    });
  });

  it('a change of recording and more is a restart, not a retune', () => {
    const d = diffStreams([cfg('a')], [cfg('a', { record: true, quality: 20 })]);
    expect(d.restart.map((c) => c.name)).toEqual(['a']);
    expect(d.retune).toEqual([]);
  });

  it('from nothing, everything is added; to nothing, everything removed', () => {
    expect(diffStreams([], [cfg('a')]).add.map((c) => c.name)).toEqual(['a']);
    expect(diffStreams([cfg('a'), cfg('b')], [])).toEqual({
      add: [],
      restart: [],
      retune: [],
      remove: ['a', 'b'],
    });
  });
});
