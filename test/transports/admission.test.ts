import { describe, expect, it } from 'vitest';
import { admit, type Admissible } from '../../src/transports/admission.js';
import type { Subscriber } from '../../src/hub/subscriber.js';
import { FakeSub, setup } from '../hub/fakes.js';

/** A connection that records how admission treated it; `close()` plays the peer going away. */
class FakeConn implements Admissible {
  refusedWith: string | null = null;
  #closed: (() => void)[] = [];
  onceClosed(fn: () => void): void {
    this.#closed.push(fn);
  }
  refuse(reason: string): void {
    this.refusedWith = reason;
  }
  close(): void {
    for (const fn of this.#closed.splice(0)) fn();
  }
}

function report() {
  const clients: Subscriber[] = [];
  const refused: string[] = [];
  return {
    clients,
    refused,
    onClient: (s: Subscriber) => clients.push(s),
    onRefused: (address: string, reason: string) => refused.push(`${address}: ${reason}`),
  };
}

describe('admit: join, wait or refuse for every transport', () => {
  it('serves while there is a place, queues while the line has room, then refuses as server full', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 1 });
    const r = report();
    const [a, b, c] = [new FakeSub('a'), new FakeSub('b'), new FakeSub('c')];
    const conns = [new FakeConn(), new FakeConn(), new FakeConn()];
    expect(admit(hub, a, conns[0] as FakeConn, r)).toBe(true);
    expect(admit(hub, b, conns[1] as FakeConn, r)).toBe(true);
    expect(b.positions).toEqual([1]);
    expect(admit(hub, c, conns[2] as FakeConn, r)).toBe(false);
    expect(r.clients).toEqual([a, b]);
    expect(r.refused).toEqual(['c: server full']);
    expect(conns.map((x) => x.refusedWith)).toEqual([null, null, 'server full']);
    expect(hub.clients).toEqual([a]);
  });

  it('a closed connection leaves the hub: the waiting viewer takes its place', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 1 });
    const r = report();
    const [a, b] = [new FakeSub('a'), new FakeSub('b')];
    const [ca, cb] = [new FakeConn(), new FakeConn()];
    admit(hub, a, ca, r);
    admit(hub, b, cb, r);
    ca.close();
    expect(hub.clients).toEqual([b]);
    cb.close();
    expect(hub.clients).toEqual([]);
  });

  it('a closed hub refuses everyone', () => {
    const { hub } = setup();
    hub.close();
    const r = report();
    const conn = new FakeConn();
    expect(admit(hub, new FakeSub('late'), conn, r)).toBe(false);
    expect(conn.refusedWith).toBe('server full');
    expect(r.clients).toEqual([]);
  });
});
