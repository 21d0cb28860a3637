/**
 * The stream registry, unit by unit: the default stream, lookup, add/replace/retune/remove/close and
 * the events each emits, with real Streams fed by hand-driven producers.
 */
import { describe, expect, it } from 'vitest';
import { Stream } from '../../src/streams/stream.js';
import { resolveStreamConfig, type StreamConfig } from '../../src/streams/stream-options.js';
import { StreamRegistry } from '../../src/streams/streams.js';
import { FakeProducer, FakeSub } from '../hub/fakes.js';

const cfg = (name: string, config: Partial<StreamConfig> = {}) =>
  resolveStreamConfig(name, { source: 'test', ...config });

const stream = (name: string, config: Partial<StreamConfig> = {}) =>
  new Stream(cfg(name, config), () => new FakeProducer(0), {
    spec: null,
    ffmpeg: null,
    implementation: 'fake',
  });

/** A registry recording its events as `event:name`. */
function registry() {
  const r = new StreamRegistry();
  const events: string[] = [];
  r.on('added', (s) => events.push(`added:${s.name}`));
  r.on('removed', (s) => events.push(`removed:${s.name}`));
  r.on('retuned', (s) => events.push(`retuned:${s.name}`));
  return { r, events };
}

/** A registry holding streams `a` (the default) and `b`, added in that order. */
function twoStreams() {
  const { r, events } = registry();
  const a = stream('a');
  const b = stream('b');
  r.add(a);
  r.add(b);
  return { r, events, a, b };
}

describe('StreamRegistry', () => {
  it('is empty at first: no default, size 0', () => {
    const { r } = registry();
    expect(r.default).toBeNull();
    expect(r.size).toBe(0);
    expect(r.get(null)).toBeNull();
    expect(r.get(undefined)).toBeNull();
    expect(r.get('cam')).toBeNull();
    expect(r.list()).toEqual([]);
  });

  it('adds streams in order; the first is the default', () => {
    const { r, events, a, b } = twoStreams();
    expect(r.size).toBe(2);
    expect(r.default).toBe(a);
    expect(r.list()).toEqual([a, b]);
    expect(events).toEqual(['added:a', 'added:b']);
  });

  it('gets a stream by name; null or undefined gives the default; an unknown name null', () => {
    const { r } = registry();
    const a = stream('a');
    const b = stream('b');
    r.add(a);
    r.add(b);
    expect(r.get('b')).toBe(b);
    expect(r.get('a')).toBe(a);
    expect(r.get(null)).toBe(a);
    expect(r.get(undefined)).toBe(a);
    expect(r.get('c')).toBeNull();
    expect(r.get('')).toBeNull();
  });

  it('refuses a name already in use', () => {
    const { r, events } = registry();
    const first = stream('a');
    r.add(first);
    expect(() => r.add(stream('a'))).toThrow(new TypeError('stream a already exists'));
    expect(r.get('a')).toBe(first);
    expect(events).toEqual(['added:a']);
  });

  it('replaces a stream in place, closing the old one (its clients get END removed)', () => {
    const { r, events, a, b } = twoStreams();
    const viewer = new FakeSub('v');
    a.hub.join(viewer);
    const a2 = stream('a', { quality: 10 });
    r.replace(a2);
    expect(r.list()).toEqual([a2, b]);
    expect(r.default).toBe(a2);
    expect(viewer.ended).toBe('removed');
    expect(events).toEqual(['added:a', 'added:b', 'removed:a', 'added:a']);
    expect(a2.hub.join(new FakeSub('w'))).toBe(true);
  });

  it('replace of an unknown name adds it', () => {
    const { r, events } = registry();
    const a = stream('a');
    r.replace(a);
    expect(r.list()).toEqual([a]);
    expect(events).toEqual(['added:a']);
  });

  it('retunes a stream and tells the listeners; an unknown name does nothing', () => {
    const { r, events } = registry();
    const a = stream('a');
    r.add(a);
    const next = cfg('a', { record: true });
    r.retune(next);
    expect(a.config).toBe(next);
    expect(r.get('a')).toBe(a);
    r.retune(cfg('zzz'));
    expect(events).toEqual(['added:a', 'retuned:a']);
  });

  it('removes a stream, closing it (its clients get END removed); false for none', () => {
    const { r, events, a, b } = twoStreams();
    const viewer = new FakeSub('v');
    a.hub.join(viewer);
    expect(r.remove('a')).toBe(true);
    expect(viewer.ended).toBe('removed');
    expect(r.get('a')).toBeNull();
    expect(r.default).toBe(b);
    expect(r.size).toBe(1);
    expect(r.remove('a')).toBe(false);
    expect(r.remove('nope')).toBe(false);
    expect(events).toEqual(['added:a', 'added:b', 'removed:a']);
  });

  it('closes every stream (clients get END shutdown) and keeps them listed', () => {
    const { r, events, a, b } = twoStreams();
    const va = new FakeSub('va');
    const vb = new FakeSub('vb');
    a.hub.join(va);
    b.hub.join(vb);
    r.close();
    expect(va.ended).toBe('shutdown');
    expect(vb.ended).toBe('shutdown');
    expect(a.hub.join(new FakeSub('late'))).toBe(false);
    expect(b.hub.join(new FakeSub('late'))).toBe(false);
    expect(r.size).toBe(2);
    expect(events).toEqual(['added:a', 'added:b']);
  });
});
