/**
 * Renditions, driven by hand: a stream's hub fed JPEG frames by a fake producer, viewers that record
 * what they get. The ladder, one hub per rendition shared by its viewers, maxRenditions and the
 * nearest running rendition beyond it, passive previews, snapshots encoded once per size, the report.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import type { SourceDescription } from '../../src/hub/producer.js';
import { Renditions, type ViewRequest } from '../../src/streams/renditions.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { FakeProducer, FakeSub } from '../hub/fakes.js';

const MAX_PIXELS = 16_777_216;

/** A 640x360 picture as a JPEG. */
const picture = sharp({
  create: { width: 640, height: 360, channels: 3, background: { r: 40, g: 140, b: 220 } },
})
  .jpeg({ quality: 90 })
  .toBuffer();

/** A producer that emits the picture as the stream's frames. */
class JpegProducer extends FakeProducer {
  #seq = 0;
  override describe(): SourceDescription {
    return { ...super.describe(), width: 640, height: 360 };
  }
  async emitFrame(): Promise<Frame> {
    const f = new Frame({
      seq: this.#seq++,
      width: 640,
      height: 360,
      capturedAt: 1,
      encodedAt: 1,
      jpeg: await picture,
    });
    this.emit('frame', f);
    return f;
  }
}

function setup(opts: { max?: number; quality?: number } = {}) {
  const producers: JpegProducer[] = [];
  const main = new Hub({
    createProducer: () => {
      const p = new JpegProducer(producers.length);
      producers.push(p);
      return p;
    },
    maxClients: 100,
    maxWaiting: 0,
    lossless: false,
  });
  const renditions = new Renditions(main, {
    quality: opts.quality ?? 80,
    max: opts.max ?? 4,
    maxPixels: MAX_PIXELS,
    maxClients: 100,
  });
  const producer = (): JpegProducer => producers.at(-1) as JpegProducer;
  return { main, renditions, producer };
}

const ask = (width: number | null, quality: number | null = null): ViewRequest => ({
  width,
  quality,
  fps: null,
});

const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe('Renditions by hand', () => {
  it("snaps widths down to the ladder (multiples of 16, at least 16); the stream's own width or more is the stream", async () => {
    const { main, renditions, producer } = setup();
    const v = new FakeSub('main viewer');
    main.join(v);
    await producer().emitFrame();
    expect(renditions.keyOf(ask(330))).toEqual({ width: 320, quality: 80 });
    expect(renditions.keyOf(ask(335, 60))).toEqual({ width: 320, quality: 60 });
    expect(renditions.keyOf(ask(16))).toEqual({ width: 16, quality: 80 });
    expect(renditions.keyOf(ask(17))).toEqual({ width: 16, quality: 80 });
    expect(renditions.keyOf(ask(31))).toEqual({ width: 16, quality: 80 });
    expect(renditions.keyOf(ask(32))).toEqual({ width: 32, quality: 80 });
    expect(renditions.keyOf(ask(639))).toEqual({ width: 624, quality: 80 });
    expect(renditions.keyOf(ask(640))).toBeNull();
    expect(renditions.keyOf(ask(5000))).toBeNull();
    expect(renditions.keyOf(ask(null))).toBeNull();
    expect(renditions.keyOf(ask(null, 80))).toBeNull();
    // Another quality at the stream's own size is a rendition of its width.
    expect(renditions.keyOf(ask(null, 50))).toEqual({ width: 640, quality: 50 });
    expect(renditions.keyOf(ask(9000, 50))).toEqual({ width: 640, quality: 50 });
    expect(renditions.hubFor(ask(null))).toBe(main);
    expect(renditions.hubFor(ask(700))).toBe(main);
  });

  it("viewers of one size share one hub, which makes frames of that size from the stream's frames", async () => {
    // (A hub handed out but not joined yet is forgotten when another size is asked: join at once.)
    const { main, renditions, producer } = setup();
    const hub = renditions.hubFor(ask(330));
    expect(hub).not.toBe(main);
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    expect(hub.join(a)).toBe(true);
    expect(renditions.hubFor(ask(320))).toBe(hub);
    expect(renditions.hubFor(ask(320, 80))).toBe(hub);
    expect(hub.join(b)).toBe(true);
    // The rendition watches the stream: its source runs for it.
    expect(main.transmitting).toBe(true);
    await producer().emitFrame();
    await until(() => a.offered.length === 1 && b.offered.length === 1);
    const got = a.offered[0] as Frame;
    expect(b.offered[0]).toBe(got);
    expect([got.width, got.height]).toEqual([320, 180]);
    expect(jpegInfo(got.jpeg)).toMatchObject({ width: 320, height: 180 });
    expect(got.seq).toBe(0);
    expect(renditions.report()).toEqual([
      expect.objectContaining({
        width: 320,
        quality: 80,
        viewers: 2,
        encoded: 1,
        skipped: 0,
        passive: false,
      }),
    ]);
    // After its last viewer, it stops and leaves the stream.
    hub.leave(a);
    hub.leave(b);
    await until(() => !main.transmitting);
    expect(renditions.report()).toEqual([]);
  });

  it('beyond maxRenditions a request gets the nearest running rendition, never a new one', async () => {
    const { renditions } = setup({ max: 2 });
    const h320 = renditions.hubFor(ask(320));
    h320.join(new FakeSub('x'));
    const h480 = renditions.hubFor(ask(480));
    h480.join(new FakeSub('y'));
    expect(renditions.hubFor(ask(352))).toBe(h320);
    expect(renditions.hubFor(ask(448))).toBe(h480);
    expect(renditions.hubFor(ask(400))).toBe(h320); // 80 from 320, 80 from 480: the first found
    expect(renditions.hubFor(ask(16))).toBe(h320);
    // Same width, another quality: the nearest by width first, then by quality.
    expect(renditions.hubFor(ask(480, 30))).toBe(h480);
    expect(renditions.report()).toHaveLength(2);
    // Idle ones do not count: with one left, a new size is made again.
    for (const c of [...h480.clients]) h480.leave(c);
    await until(() => renditions.report().length === 1);
    const h240 = renditions.hubFor(ask(240));
    expect([h320, h480]).not.toContain(h240);
  });

  it('maxRenditions 0: every viewer and snapshot gets the stream itself', async () => {
    const { main, renditions, producer } = setup({ max: 0 });
    expect(renditions.hubFor(ask(320))).toBe(main);
    main.join(new FakeSub('v'));
    const f = await producer().emitFrame();
    expect(await renditions.snapshot(f, ask(320))).toBe(f);
  });

  it('a passive preview never starts the stream, and is a rendition apart from the active one', async () => {
    const { main, renditions, producer } = setup();
    const passive = renditions.hubFor(ask(320), true);
    const p = new FakeSub('preview');
    passive.join(p);
    expect(main.transmitting).toBe(false);
    expect(renditions.hubFor(ask(320))).not.toBe(passive);
    expect(renditions.passiveViewers()).toEqual([p]);
    // Someone else makes the stream transmit: the preview gets frames at its size.
    main.join(new FakeSub('main viewer'));
    await producer().emitFrame();
    await until(() => p.offered.length === 1);
    expect((p.offered[0] as Frame).width).toBe(320);
    expect(renditions.report()).toEqual([expect.objectContaining({ width: 320, passive: true, viewers: 1 })]);
  });

  it('a snapshot of a size is encoded once per frame; beyond max sizes of one frame, the nearest made', async () => {
    const { main, renditions, producer } = setup({ max: 2 });
    main.join(new FakeSub('v'));
    const f = await producer().emitFrame();
    expect(await renditions.snapshot(f, ask(null))).toBe(f);
    const a = renditions.snapshot(f, ask(330));
    expect(renditions.snapshot(f, ask(320))).toBe(a);
    const s320 = (await a) as Frame;
    expect([s320.width, s320.height, s320.seq]).toEqual([320, 180, f.seq]);
    const s160 = (await renditions.snapshot(f, ask(160))) as Frame;
    expect(s160.width).toBe(160);
    // Two sizes of this frame made (max 2): a third size gets the nearest of them.
    expect(await renditions.snapshot(f, ask(300))).toBe(s320);
    expect(await renditions.snapshot(f, ask(100))).toBe(s160);
    // The next frame: sizes of its own.
    const g = await producer().emitFrame();
    const g300 = (await renditions.snapshot(g, ask(300))) as Frame;
    expect(g300.width).toBe(288);
  });

  it("close() ends every rendition's viewers; afterwards every request gets the stream", async () => {
    const { main, renditions } = setup();
    const hub = renditions.hubFor(ask(320));
    const v = new FakeSub('v');
    hub.join(v);
    renditions.close('removed');
    expect(v.ended).toBe('removed');
    expect(renditions.hubFor(ask(320))).toBe(main);
    expect(renditions.report()).toEqual([]);
    expect(renditions.rawTap.wanted()).toBe(false);
  });
});
