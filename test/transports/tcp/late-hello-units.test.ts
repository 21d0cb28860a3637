/** watchLateHello (tcp/late-hello.ts) over a stand-in socket: which bytes are a late native hello. */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { watchLateHello } from '../../../src/transports/tcp/late-hello.js';

function socket(): { s: net.Socket; paused: () => boolean; send: (b: string) => void } {
  const e = new EventEmitter() as EventEmitter & { pause: () => void };
  let paused = false;
  e.pause = () => void (paused = true);
  return {
    s: e as unknown as net.Socket,
    paused: () => paused,
    send: (b) => void e.emit('data', Buffer.from(b, 'latin1')),
  };
}

describe('watchLateHello', () => {
  it('the magic split over writes is a hello: the bytes so far, the socket paused, once', () => {
    const { s, paused, send } = socket();
    const got: string[] = [];
    watchLateHello(s, (h) => got.push(h.toString('latin1')));
    send('F');
    send('CS');
    expect(got).toEqual([]);
    expect(paused()).toBe(false);
    send('T\u0001rest');
    expect(got).toEqual(['FCST\u0001rest']);
    expect(paused()).toBe(true);
    send('FCST');
    expect(got).toHaveLength(1);
    // Nobody listens for the hello's bytes any more: the native handshake reads the socket.
    expect((s as unknown as EventEmitter).listenerCount('data')).toBe(0);
  });

  it('exactly the four bytes of the magic are enough (the rest of the hello may come later)', () => {
    const { s, paused, send } = socket();
    const got: string[] = [];
    watchLateHello(s, (h) => got.push(h.toString('latin1')));
    send('FC');
    send('ST');
    expect(got).toEqual(['FCST']);
    expect(paused()).toBe(true);
  });

  it('anything else is ignored from its first byte that is not the magic on, a later magic too', () => {
    for (const first of ['FCSX', 'GET ', 'x']) {
      const { s, paused, send } = socket();
      const got: Buffer[] = [];
      watchLateHello(s, (h) => got.push(h));
      send(first);
      send('FCST');
      expect(got).toEqual([]);
      expect(paused()).toBe(false);
      // Still read (and dropped), so the socket's buffer never fills.
      expect((s as unknown as EventEmitter).listenerCount('data')).toBe(1);
    }
  });
});
