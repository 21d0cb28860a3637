import { describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { newSubscriberId } from '../../src/hub/subscriber.js';

const init = {
  seq: 7,
  width: 640,
  height: 360,
  capturedAt: 1000.5,
  encodedAt: 1012.25,
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
  meta: Buffer.from('{"objects":[]}'),
};

describe('Frame', () => {
  it('carries what it was made with', () => {
    const f = new Frame(init);
    expect({ ...f }).toEqual(init);
    expect(f.jpeg).toBe(init.jpeg);
    expect(new Frame({ ...init, meta: undefined }).meta).toBeNull();
  });

  it('builds each wire form once, on first use, and hands the same buffer to every later caller', () => {
    const f = new Frame(init);
    const builds: string[] = [];
    const seed = (frame: Frame): Buffer => (
      builds.push('seed'),
      Buffer.concat([Buffer.from('S'), frame.jpeg])
    );
    const native = (frame: Frame): Buffer => (builds.push('native'), Buffer.from(`N${frame.seq}`));
    const a = f.wire('seed', seed);
    const b = f.wire('seed', seed);
    const n = f.wire('native', native);
    expect(b).toBe(a);
    expect(a).toEqual(Buffer.from([0x53, 0xff, 0xd8, 0xff, 0xd9]));
    expect(n.toString()).toBe('N7');
    expect(builds).toEqual(['seed', 'native']);
    // Another frame builds its own.
    expect(new Frame({ ...init, seq: 8 }).wire('native', native).toString()).toBe('N8');
  });
});

describe('newSubscriberId', () => {
  it('gives every subscriber its own id, counting up', () => {
    const a = newSubscriberId();
    const b = newSubscriberId();
    expect(b).toBe(a + 1);
    expect(a).toBeGreaterThanOrEqual(1);
  });
});
