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
import { parseViewRequest, Renditions, type ViewRequest } from '../../src/streams/renditions.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { FakeProducer, FakeSub, setup as hubSetup } from '../hub/fakes.js';

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
  const { hub: main, current: producer } = hubSetup({ maxWaiting: 0 }, (i) => new JpegProducer(i));
  const renditions = new Renditions(main, {
    quality: opts.quality ?? 80,
    max: opts.max ?? 4,
    maxPixels: MAX_PIXELS,
    maxClients: 100,
  });
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

  it('keeps at most 16 snapshots of other sizes: the oldest is made again when asked again', async () => {
    const { main, renditions, producer } = setup({ max: 1 });
    main.join(new FakeSub('v'));
    const frames: Frame[] = [];
    for (let i = 0; i < 17; i++) frames.push(await producer().emitFrame());
    const first = renditions.snapshot(frames[0] as Frame, ask(320));
    expect(renditions.snapshot(frames[0] as Frame, ask(320))).toBe(first);
    for (const f of frames.slice(1, 16)) await renditions.snapshot(f, ask(320));
    expect(renditions.snapshot(frames[0] as Frame, ask(320))).toBe(first); // 16 kept
    await renditions.snapshot(frames[16] as Frame, ask(320));
    const again = renditions.snapshot(frames[0] as Frame, ask(320));
    expect(again).not.toBe(first);
    expect(((await again) as Frame).width).toBe(320);
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

  it('before the first frame, the width of the running source decides what is the stream itself', () => {
    const { main, renditions } = setup();
    main.join(new FakeSub('main viewer'));
    expect(main.latest).toBeNull();
    expect(renditions.keyOf(ask(700))).toBeNull();
    expect(renditions.keyOf(ask(320))).toEqual({ width: 320, quality: 80 });
  });

  it('beyond max, only the running renditions of the same kind are offered: an active viewer never gets a preview', () => {
    const { main, renditions } = setup({ max: 1 });
    renditions.hubFor(ask(320), true).join(new FakeSub('preview'));
    expect(renditions.hubFor(ask(320))).toBe(main);
    expect(renditions.hubFor(ask(480), true)).not.toBe(main);
  });

  it('the nearest is by width first (1000 to 1), then by quality', () => {
    const { renditions } = setup({ max: 3 });
    const a = renditions.hubFor(ask(320, 80));
    a.join(new FakeSub('a'));
    const b = renditions.hubFor(ask(480, 50));
    b.join(new FakeSub('b'));
    const c = renditions.hubFor(ask(320, 40));
    c.join(new FakeSub('c'));
    expect(renditions.hubFor(ask(336, 50))).toBe(c); // 16 px from both 320s, then 10 from q40
    expect(renditions.hubFor(ask(336, 70))).toBe(a);
    expect(renditions.hubFor(ask(464, 90))).toBe(b);
  });

  it('a new size forgets the sizes handed out but never joined (a hub closed), never a running one', () => {
    const { renditions } = setup();
    const running = renditions.hubFor(ask(160));
    running.join(new FakeSub('r'));
    const idle = renditions.hubFor(ask(320));
    renditions.hubFor(ask(480));
    expect(idle.join(new FakeSub('late'))).toBe(false);
    expect(running.join(new FakeSub('r2'))).toBe(true);
    expect(renditions.hubFor(ask(160))).toBe(running);
    expect(renditions.report().map((r) => `${r.width}:${r.viewers}`)).toEqual(['160:2']);
  });

  it('two renditions running share one decode of each frame; a size handed out but not joined does not count', async () => {
    const { renditions, producer } = setup();
    const a = new FakeSub('a');
    renditions.hubFor(ask(320)).join(a);
    renditions.hubFor(ask(480)); // not joined
    await producer().emitFrame();
    await until(() => a.offered.length === 1);
    expect(renditions.report()).toEqual([
      expect.objectContaining({ width: 320, encoded: 1, sharedDecode: 0 }),
    ]);
    const b = new FakeSub('b');
    renditions.hubFor(ask(480)).join(b);
    await producer().emitFrame();
    // (b's rendition starts from the newest frame, then takes this one.)
    await until(() => a.offered.length === 2 && b.offered.length === 2);
    const report = renditions.report();
    expect(report.map((r) => `${r.width}:${r.sharedDecode}`)).toEqual(['320:1', '480:2']);
    expect(report.every((r) => r.fromRaw === 0 && r.skipped === 0 && r.lastEncodeMs !== null)).toBe(true);
  });

  it("watchHubs() sees the renditions running and every one made later, until it stops; a watcher's throw harms no viewer", () => {
    const { renditions } = setup();
    const first = renditions.hubFor(ask(320));
    first.join(new FakeSub('a'));
    const seen: Hub[] = [];
    const stop = renditions.watchHubs((h) => seen.push(h));
    renditions.watchHubs(() => {
      throw new Error('a hook gone wrong');
    });
    expect(seen).toEqual([first]);
    const second = renditions.hubFor(ask(480));
    expect(second.join(new FakeSub('b'))).toBe(true);
    expect(seen).toEqual([first, second]);
    stop();
    renditions.hubFor(ask(160)).join(new FakeSub('c'));
    expect(seen).toHaveLength(2);
  });

  it('passiveViewers() lists the previews only', () => {
    const { renditions } = setup();
    const viewer = new FakeSub('viewer');
    renditions.hubFor(ask(320)).join(viewer);
    const p1 = new FakeSub('p1');
    const p2 = new FakeSub('p2');
    renditions.hubFor(ask(160), true).join(p1);
    renditions.hubFor(ask(160), true).join(p2);
    expect(renditions.passiveViewers()).toEqual([p1, p2]);
  });
});

describe('parseViewRequest: width, quality and fps from a query, each checked', () => {
  const parse = (q: string): ReturnType<typeof parseViewRequest> => parseViewRequest(new URLSearchParams(q));

  it('takes each in its range, none when absent', () => {
    expect(parse('')).toEqual({ width: null, quality: null, fps: null });
    expect(parse('width=16&quality=1&fps=0.1')).toEqual({ width: 16, quality: 1, fps: 0.1 });
    expect(parse('width=16384&quality=100&fps=1000')).toEqual({ width: 16384, quality: 100, fps: 1000 });
    expect(parse('width=%20320%20&fps=7.5')).toEqual({ width: 320, quality: null, fps: 7.5 });
  });

  it.each([
    ['width=abc', 'width must be an integer from 16 to 16384, got "abc"'],
    ['width=-1', 'width must be an integer from 16 to 16384, got "-1"'],
    ['width=15', 'width must be an integer from 16 to 16384, got "15"'],
    ['width=16385', 'width must be an integer from 16 to 16384, got "16385"'],
    ['width=320.5', 'width must be an integer from 16 to 16384, got "320.5"'],
    ['width=', 'width must be an integer from 16 to 16384, got ""'],
    ['width=%20', 'width must be an integer from 16 to 16384, got " "'],
    ['quality=0', 'quality must be an integer from 1 to 100, got "0"'],
    ['quality=500', 'quality must be an integer from 1 to 100, got "500"'],
    ['quality=80.5', 'quality must be an integer from 1 to 100, got "80.5"'],
    ['fps=0', 'fps must be a number from 0.1 to 1000, got "0"'],
    ['fps=1001', 'fps must be a number from 0.1 to 1000, got "1001"'],
    ['fps=Infinity', 'fps must be a number from 0.1 to 1000, got "Infinity"'],
    ['width=320&quality=80&fps=NaN', 'fps must be a number from 0.1 to 1000, got "NaN"'],
    ['width=320&quality=x', 'quality must be an integer from 1 to 100, got "x"'],
    [`width=${'9'.repeat(50)}`, `width must be an integer from 16 to 16384, got "${'9'.repeat(32)}"`],
  ])('%s: %s', (q, message) => {
    expect(parse(q)).toBe(message);
  });
});
