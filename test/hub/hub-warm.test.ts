import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/hub/frame.js';
import { FakeSub, setup } from './fakes.js';

/** A subscriber that notes, in one shared log, when it was offered a frame. */
class OrderSub extends FakeSub {
  constructor(
    name: string,
    readonly log: string[],
    readonly sendFirst = false,
    readonly derived = false,
  ) {
    super(name);
  }
  override offer(frame: Frame): void {
    super.offer(frame);
    this.log.push(this.address);
  }
}

describe('Hub: warm start, preload, held first frames, send order', () => {
  it('warm() starts the source before a client joins; releasing it with nobody joined stops it', () => {
    const { hub, producers, current } = setup();
    const release = hub.warm();
    expect(producers).toHaveLength(1);
    expect(current().started).toBe(1);
    release();
    release(); // idempotent
    expect(current().stopped).toBe(1);
    expect(hub.transmitting).toBe(false);
  });

  it('a client that joins while warm gets the latest frame at once and keeps the same transmission', () => {
    const { hub, producers, current } = setup();
    const release = hub.warm();
    current().frame();
    const f2 = current().frame();
    const a = new FakeSub('a');
    hub.join(a);
    release();
    expect(producers).toHaveLength(1);
    expect(a.offered).toEqual([f2]);
    expect(current().stopped).toBe(0);
  });

  it('lossless: frames made before the first client are held (source paused) and all given to it', () => {
    const { hub, current } = setup({ lossless: true });
    hub.warm();
    const f1 = current().frame();
    expect(current().paused).toBe(true);
    const f2 = current().frame(); // an encode that was already in flight
    const a = new FakeSub('a');
    hub.join(a);
    expect(a.offered).toEqual([f1, f2]);
    expect(current().paused).toBe(false);
  });

  it('preload: the source starts with no client and survives the last client leaving', async () => {
    const { hub, producers, current } = setup({ preload: true });
    await new Promise((r) => setTimeout(r, 5));
    expect(producers).toHaveLength(1);
    const a = new FakeSub('a');
    hub.join(a);
    hub.leave(a);
    expect(current().stopped).toBe(0);
    hub.close();
    expect(current().stopped).toBe(1);
  });

  it('offers each frame to sendFirst subscribers before the others, whatever the order they joined', () => {
    const { hub, current } = setup();
    const log: string[] = [];
    for (const name of ['seed1', 'seed2']) hub.join(new OrderSub(name, log));
    hub.join(new OrderSub('native', log, true));
    hub.join(new OrderSub('seed3', log));
    log.length = 0;
    current().frame();
    expect(log).toEqual(['native', 'seed1', 'seed2', 'seed3']);
  });

  it('offers each frame to derived subscribers (renditions) before every viewer; one that leaves is offered no more', () => {
    const { hub, current } = setup();
    const log: string[] = [];
    hub.join(new OrderSub('seed1', log));
    hub.join(new OrderSub('native', log, true));
    const r320 = new OrderSub('r320', log, false, true);
    hub.join(r320);
    hub.join(new OrderSub('r640', log, true, true));
    log.length = 0;
    current().frame();
    expect(log).toEqual(['r320', 'r640', 'native', 'seed1']);
    hub.leave(r320);
    log.length = 0;
    current().frame();
    expect(log).toEqual(['r640', 'native', 'seed1']);
  });
});
