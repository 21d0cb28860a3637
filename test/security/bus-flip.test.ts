import { describe, expect, it } from 'vitest';
import { edge, type EdgeNotice } from '../../src/app/edge.js';
import { serve } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/native.js';
import { startNats } from '../helpers/nats.js';
import { freePort } from '../helpers/net.js';
import { sleep } from '../helpers/processes.js';
import { busRig, natsOrFail, sized, until, viewer } from '../bus/support.js';
import { answersDuringFlood, rawPeer, TOKEN } from './bus-support.js';

// A plain NATS client copies the origin's announcement (its instance included) and re-announces the
// stream without its readTokenDigest every 20 ms. Without a bus secret the edge cannot tell it from
// the origin; it must still never open the stream, nor restart it on each flip.

const available = natsOrFail();
const rig = busRig();

describe.skipIf(!available)('bus security: a peer re-announcing a stream without its read token', () => {
  it('opens it to no token-less viewer, kicks no legitimate viewer, and is logged once', async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'locked', source: 'test', width: 160, readToken: TOKEN }],
      bus: { url },
    });
    const notices: EdgeNotice[] = [];
    const e = await edge({ bus: { url }, port: 0, httpPort: null, onNotice: (n) => notices.push(n) });
    rig.edges.push(e);
    const port = e.server.address().port;
    const legit = viewer(port, 'locked', TOKEN);
    await until(() => sized(legit, 160).length >= 3);

    const peer = await rawPeer(url);
    try {
      const heard = JSON.parse(new TextDecoder().decode((await peer.next('framecast.streams')).data)) as {
        streams: Record<string, unknown>[];
      };
      expect(heard.streams[0]?.['readTokenDigest']).toBeDefined();
      const open = JSON.stringify({
        ...heard,
        streams: heard.streams.map(({ readTokenDigest: _d, ...s }) => s),
      });
      const answers = await answersDuringFlood(port, 'locked', 8, () =>
        peer.nc.publish('framecast.streams', open),
      );
      expect(answers).toEqual(Array.from({ length: 8 }, () => ErrorCode.TokenRequired));
    } finally {
      await peer.nc.close();
    }
    // The legitimate viewer was never ended, and is still watching.
    expect(legit.ended).toBeNull();
    const before = sized(legit, 160).length;
    await until(() => sized(legit, 160).length >= before + 3);
    expect(legit.ended).toBeNull();
    legit.close();
    const kept = notices.filter((n) => n.kind === 'kept');
    expect(kept).toHaveLength(1);
    expect(kept[0]?.stream).toBe('locked');
  }, 60_000);

  it("a peer flipping a stream's seed port opens none and restarts the stream never", async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url },
    });
    const notices: EdgeNotice[] = [];
    const e = await edge({ bus: { url }, port: 0, httpPort: null, onNotice: (n) => notices.push(n) });
    rig.edges.push(e);
    const port = e.server.address().port;
    const legit = viewer(port, 'cam');
    await until(() => sized(legit, 160).length >= 3);
    const cam = e.server.streams.get('cam');
    let restarts = 0;
    e.server.streams.on('removed', () => restarts++);
    const seedPort = await freePort();
    const peer = await rawPeer(url);
    try {
      let i = 0;
      const say = (withPort: boolean): string =>
        JSON.stringify({
          origin: 'peer',
          instance: 'peer-1',
          streams: [{ name: 'cam', width: 160, height: 120, ...(withPort ? { legacyPort: seedPort } : {}) }],
        });
      const flood = setInterval(() => peer.nc.publish('framecast.streams', say(i++ % 2 === 0)), 20);
      await sleep(2000);
      clearInterval(flood);
    } finally {
      await peer.nc.close();
    }
    expect(restarts).toBe(0);
    expect(e.server.streams.get('cam')).toBe(cam);
    expect(e.server.legacyAddress('cam')).toBeNull();
    expect(legit.ended).toBeNull();
    legit.close();
    expect(notices.filter((n) => n.kind === 'kept-port')).toHaveLength(1);
  }, 60_000);
});
