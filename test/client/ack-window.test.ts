import { describe, expect, it } from 'vitest';
import { AckWindow } from '../../src/client/ack-window.js';
import { ACK_WINDOW, MAX_ACK_WINDOW } from '../../src/protocol/native.js';

function at30fps(frames: number): AckWindow {
  const w = new AckWindow();
  for (let i = 0; i < frames; i++) w.observe(1_000_000 + (i * 1000) / 30);
  return w;
}

describe('AckWindow', () => {
  it('stays at the default before the rate or the round trip is known', () => {
    expect(new AckWindow().size(100)).toBe(ACK_WINDOW);
    expect(at30fps(10).size(null)).toBe(ACK_WINDOW);
  });

  it('keeps 2 on one host and covers a long round trip at 30 fps', () => {
    const w = at30fps(30);
    expect(w.size(1.5)).toBe(2);
    expect(w.size(100)).toBe(5); // 3 frames per round trip plus 2
    expect(w.size(250)).toBe(9);
  });

  it('is capped, and ignores gaps that are not frame intervals', () => {
    const w = at30fps(30);
    w.observe(0); // clock jump backwards
    w.observe(50_000_000); // a long pause
    expect(w.size(100)).toBe(5);
    expect(w.size(60_000)).toBe(MAX_ACK_WINDOW);
  });
});
