import { describe, expect, it } from 'vitest';
import { admit, admitInPlace, type Admissible } from '../../src/transports/admission.js';
import type { Subscriber } from '../../src/hub/subscriber.js';
import { FakeSub, setup } from '../hub/fakes.js';

/** A connection that records how admission treated it; `close()` plays the peer going away. */
class FakeConn implements Admissible {
  readonly refused: string[] = [];
  readonly #closed: (() => void)[] = [];
  onceClosed(fn: () => void): void {
    this.#closed.push(fn);
  }
  refuse(reason: string): void {
    this.refused.push(reason);
  }
  get watchers(): number {
    return this.#closed.length;
  }
  close(): void {
    for (const fn of this.#closed.splice(0)) fn();
  }
}

function report() {
  const clients: Subscriber[] = [];
  const refused: Array<[string, string]> = [];
  return {
    clients,
    refused,
    onClient: (s: Subscriber): void => {
      clients.push(s);
    },
    onRefused: (address: string, reason: string): void => {
      refused.push([address, reason]);
    },
  };
}

describe('admit', () => {
  it('an admitted viewer is reported as a client, not refused, and served', () => {
    const { hub } = setup({ maxClients: 2 });
    const r = report();
    const a = new FakeSub('10.0.0.1:5');
    const conn = new FakeConn();
    expect(admit(hub, a, conn, r)).toBe(true);
    expect(r.clients).toEqual([a]);
    expect(r.refused).toEqual([]);
    expect(conn.refused).toEqual([]);
    expect(hub.clients).toEqual([a]);
    expect(conn.watchers).toBe(1);
  });

  it('a refused viewer is reported with its address and "server full", and its connection refused so', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 0 });
    const r = report();
    const a = new FakeSub('a');
    const b = new FakeSub('[::1]:9');
    expect(admit(hub, a, new FakeConn(), r)).toBe(true);
    const conn = new FakeConn();
    expect(admit(hub, b, conn, r)).toBe(false);
    expect(r.refused).toEqual([['[::1]:9', 'server full']]);
    expect(conn.refused).toEqual(['server full']);
    expect(r.clients).toEqual([a]);
    expect(hub.clients).toEqual([a]);
    expect(hub.waitingCount).toBe(0);
  });

  it('the viewer leaves the hub when its connection closes, served or waiting', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 2 });
    const r = report();
    const [a, b, c] = [new FakeSub('a'), new FakeSub('b'), new FakeSub('c')];
    const [ca, cb, cc] = [new FakeConn(), new FakeConn(), new FakeConn()];
    admit(hub, a, ca, r);
    admit(hub, b, cb, r);
    admit(hub, c, cc, r);
    expect(hub.waitingCount).toBe(2);
    cb.close();
    expect(hub.waitingCount).toBe(1);
    expect(hub.clients).toEqual([a]);
    ca.close();
    expect(hub.clients).toEqual([c]);
    expect(hub.waitingCount).toBe(0);
    cc.close();
    expect(hub.clients).toEqual([]);
  });
});

describe('admitInPlace', () => {
  it('the new subscriber takes a served one’s place without a new admission', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 0 });
    const r = report();
    const old = new FakeSub('old');
    admit(hub, old, new FakeConn(), r);
    const next = new FakeSub('next');
    const conn = new FakeConn();
    expect(admitInPlace(hub, old, next, conn, r)).toBe(true);
    expect(hub.clients).toEqual([next]);
    expect(r.clients).toEqual([old, next]);
    expect(r.refused).toEqual([]);
    expect(conn.refused).toEqual([]);
    conn.close();
    expect(hub.clients).toEqual([]);
  });

  it('the new subscriber takes a waiting one’s place in the line', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 1 });
    const r = report();
    const a = new FakeSub('a');
    const old = new FakeSub('old');
    const ca = new FakeConn();
    admit(hub, a, ca, r);
    admit(hub, old, new FakeConn(), r);
    const next = new FakeSub('next');
    const conn = new FakeConn();
    expect(admitInPlace(hub, old, next, conn, r)).toBe(true);
    expect(next.positions).toEqual([1]);
    ca.close();
    expect(hub.clients).toEqual([next]);
    conn.close();
    expect(hub.clients).toEqual([]);
  });

  it('refuses as "gone" when the old subscriber already left, and reports no client', () => {
    const { hub } = setup();
    const r = report();
    const old = new FakeSub('old');
    const oldConn = new FakeConn();
    admit(hub, old, oldConn, r);
    oldConn.close();
    const next = new FakeSub('1.2.3.4:7');
    const conn = new FakeConn();
    expect(admitInPlace(hub, old, next, conn, r)).toBe(false);
    expect(r.refused).toEqual([['1.2.3.4:7', 'gone']]);
    expect(conn.refused).toEqual(['gone']);
    expect(r.clients).toEqual([old]);
    expect(hub.clients).toEqual([]);
    expect(conn.watchers).toBe(1);
  });
});
