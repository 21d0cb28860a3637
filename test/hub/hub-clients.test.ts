/**
 * The hub's places: who is served, who waits and in which place, who takes no place (uncapped), and
 * what a client that left or was ended no longer gets.
 */
import { describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/hub/subscriber.js';
import type { SourceStatus } from '../../src/hub/producer.js';
import { FakeSub, setup } from './fakes.js';

const subs = (...names: string[]): FakeSub[] => names.map((n) => new FakeSub(n));

describe('Hub: places and the waiting line', () => {
  it('counts served, capped and waiting clients as they come and go', () => {
    const { hub } = setup({ maxClients: 2 });
    const [a, b, c] = subs('a', 'b', 'c') as [FakeSub, FakeSub, FakeSub];
    expect([hub.clientCount, hub.cappedCount, hub.waitingCount]).toEqual([0, 0, 0]);
    hub.join(a);
    hub.join(b);
    hub.join(c);
    expect([hub.clientCount, hub.cappedCount, hub.waitingCount]).toEqual([2, 2, 1]);
    hub.leave(a);
    expect([hub.clientCount, hub.cappedCount, hub.waitingCount]).toEqual([2, 2, 0]);
    expect(hub.clients).toEqual([b, c]);
  });

  it('an uncapped subscriber is served beyond maxClients and takes no place from the others', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 0 });
    const bus = new FakeSub('bus', { uncapped: true });
    const bus2 = new FakeSub('bus2', { uncapped: true });
    const viewer = new FakeSub('viewer');
    expect(hub.join(bus)).toBe(true);
    expect(hub.join(bus2)).toBe(true);
    expect(hub.join(viewer)).toBe(true);
    expect(hub.clients).toEqual([bus, bus2, viewer]);
    expect([hub.clientCount, hub.cappedCount]).toEqual([3, 1]);
    // The one place is the viewer's: nobody else fits, and nobody may wait.
    expect(hub.join(new FakeSub('late'))).toBe(false);
  });

  it('an uncapped subscriber that leaves gives back no place it never took', () => {
    const { hub } = setup({ maxClients: 1 });
    const bus = new FakeSub('bus', { uncapped: true });
    const viewer = new FakeSub('viewer');
    const next = new FakeSub('next');
    hub.join(bus);
    hub.join(viewer);
    hub.join(next);
    hub.leave(bus);
    expect(hub.clients).toEqual([viewer]);
    expect([hub.clientCount, hub.cappedCount, hub.waitingCount]).toEqual([1, 1, 1]);
    expect(next.positions).toEqual([1]);
  });

  it('after a transmission ended, uncapped subscribers of it no longer count against the places', () => {
    const { hub, current } = setup({ maxClients: 1 });
    hub.join(new FakeSub('bus', { uncapped: true }));
    hub.join(new FakeSub('viewer'));
    current().emit('end');
    const [a, b] = subs('a', 'b') as [FakeSub, FakeSub];
    hub.join(a);
    hub.join(b);
    expect(hub.clients).toEqual([a]);
    expect([hub.cappedCount, hub.waitingCount]).toEqual([1, 1]);
  });

  it('a waiting client that leaves changes nothing for those ahead of it', () => {
    const { hub } = setup({ maxClients: 1 });
    const [a, b, c, d] = subs('a', 'b', 'c', 'd') as [FakeSub, FakeSub, FakeSub, FakeSub];
    [a, b, c, d].forEach((s) => hub.join(s));
    hub.leave(c);
    expect(b.positions).toEqual([1]);
    expect(d.positions).toEqual([3, 2]);
    expect(hub.waitingCount).toBe(2);
  });

  it('a place freed lets exactly as many waiting clients in as there are places, in their order', () => {
    const { hub, current } = setup({ maxClients: 2 });
    const [a, b, c, d, e] = subs('a', 'b', 'c', 'd', 'e') as [FakeSub, FakeSub, FakeSub, FakeSub, FakeSub];
    [a, b, c, d, e].forEach((s) => hub.join(s));
    current().emit('end');
    // Both places are free at once: c and d come in, e waits on, now first in line.
    expect(hub.clients).toEqual([c, d]);
    expect(e.positions).toEqual([3, 2, 1]);
    expect(hub.waitingCount).toBe(1);
  });

  it('a client admitted from the line is told admitted, counted as served, and offered the next frames', () => {
    const { hub, current } = setup({ maxClients: 1 });
    const admitted: string[] = [];
    hub.on('admitted', (s) => admitted.push(s.address));
    const [a, b] = subs('a', 'b') as [FakeSub, FakeSub];
    hub.join(a);
    hub.join(b);
    expect(admitted).toEqual(['a']);
    hub.leave(a);
    expect(admitted).toEqual(['a', 'b']);
    expect(hub.totals.clientsServed).toBe(2);
    const f = current().frame();
    expect(b.offered).toEqual([f]);
    expect(a.offered).toEqual([]);
  });

  it('a client that left is offered no further frame, whether it was sent first or not', () => {
    const { hub, current } = setup();
    const first = Object.assign(new FakeSub('native'), { sendFirst: true }) as FakeSub & Subscriber;
    const [seed, stay] = subs('seed', 'stay') as [FakeSub, FakeSub];
    [first, seed, stay].forEach((s) => hub.join(s));
    const f1 = current().frame();
    hub.leave(first);
    hub.leave(seed);
    const f2 = current().frame();
    expect(first.offered).toEqual([f1]);
    expect(seed.offered).toEqual([f1]);
    expect(stay.offered).toEqual([f1, f2]);
  });

  it('clients of an ended transmission are offered nothing of the next one', () => {
    const { hub, current } = setup({ maxClients: 2 });
    const first = Object.assign(new FakeSub('native'), { sendFirst: true }) as FakeSub & Subscriber;
    const [seed, next] = subs('seed', 'next') as [FakeSub, FakeSub];
    [first, seed, next].forEach((s) => hub.join(s));
    current().emit('end');
    const f = current().frame();
    expect(next.offered).toEqual([f]);
    expect(first.offered).toEqual([]);
    expect(seed.offered).toEqual([]);
  });

  it('left is emitted once per client: a leave() of one never admitted, or twice, emits nothing more', () => {
    const { hub } = setup();
    const left: string[] = [];
    hub.on('left', (s) => left.push(s.address));
    const a = new FakeSub('a');
    hub.leave(new FakeSub('stranger'));
    hub.join(a);
    hub.join(new FakeSub('b'));
    hub.leave(a);
    hub.leave(a);
    expect(left).toEqual(['a']);
  });

  it('serves, queues and informs subscribers that have none of the optional methods', () => {
    const { hub, current } = setup({ maxClients: 2 });
    const bare = (address: string): Subscriber & { offered: number } => {
      const sub = {
        id: 0,
        protocol: 'bare',
        address,
        backlogged: false,
        offered: 0,
        offer: () => void sub.offered++,
        end: () => {},
        stats: () => new FakeSub(address).stats(),
      };
      return sub;
    };
    const [a, x, b, c, d] = ['a', 'x', 'b', 'c', 'd'].map(bare) as [
      ReturnType<typeof bare>,
      ReturnType<typeof bare>,
      ReturnType<typeof bare>,
      ReturnType<typeof bare>,
      ReturnType<typeof bare>,
    ];
    [a, x, b, c, d].forEach((s) => expect(hub.join(s)).toBe(true));
    hub.leave(c); // a waiting one leaves: those behind it move up
    const lost: SourceStatus = {
      state: 'no-signal',
      since: 0,
      retries: 1,
      nextRetryAt: null,
      lastError: 'x',
    };
    current().status = lost;
    current().emit('status', lost);
    hub.leave(a); // b is admitted from the line, into a source without signal; d moves up
    current().frame();
    expect(hub.clients).toEqual([x, b]);
    expect([a.offered, x.offered, b.offered, d.offered]).toEqual([0, 1, 1, 0]);
    expect(hub.waitingCount).toBe(1);
  });

  it('a closed hub refuses every client, uncapped ones too', () => {
    const { hub } = setup();
    hub.close();
    expect(hub.join(new FakeSub('a'))).toBe(false);
    expect(hub.join(new FakeSub('bus', { uncapped: true }))).toBe(false);
    expect(hub.clientCount).toBe(0);
  });
});

describe('Hub.replace: a connection that changed its protocol keeps its place', () => {
  it('served: the new subscriber is served at once, nobody waiting moves up, the transmission goes on', () => {
    const { hub, producers, ends } = setup({ maxClients: 1 });
    const old = new FakeSub('a');
    const waiting = new FakeSub('b');
    const left: string[] = [];
    hub.on('left', (st) => left.push(st.address));
    hub.join(old);
    hub.join(waiting);
    const next = new FakeSub('a');
    expect(hub.replace(old, next)).toBe(true);
    expect(hub.clients).toEqual([next]);
    expect(hub.waitingCount).toBe(1);
    expect(left).toEqual(['a']);
    expect(producers).toHaveLength(1);
    expect(ends).toHaveLength(0);
    // A subscriber no longer in the hub cannot be replaced.
    expect(hub.replace(old, new FakeSub('c'))).toBe(false);
    expect(hub.clients).toEqual([next]);
  });

  it('waiting: the new subscriber takes the same position in the line and is told it', () => {
    const { hub } = setup({ maxClients: 1 });
    hub.join(new FakeSub('a'));
    const first = new FakeSub('b');
    const second = new FakeSub('c');
    hub.join(first);
    hub.join(second);
    const next = new FakeSub('c');
    expect(hub.replace(second, next)).toBe(true);
    expect(next.positions).toEqual([2]);
    expect(hub.waitingCount).toBe(2);
  });
});
