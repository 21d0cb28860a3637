import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { SharedDecode, scaleJpeg, scaleRaw } from '../../src/encode/rendition-decode.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import type { RawPlanes } from '../../src/encode/held-planes.js';
import { encodeI420, nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';
import { rawFrameSize } from '../../src/source/ffmpeg-source.js';

const MAX_PIXELS = 16_777_216;

/** A 1280x720 picture with detail (a gradient and stripes), as a q85 JPEG. */
async function picture(shift = 0): Promise<Buffer> {
  const w = 1280;
  const h = 720;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x + shift) & 255;
      px[i + 1] = (y * 2) & 255;
      px[i + 2] = ((x >> 4) + (y >> 4)) % 2 ? 230 : 20;
    }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const frameOf = (jpeg: Buffer, seq: number): Frame =>
  new Frame({ seq, width: 1280, height: 720, capturedAt: 1000 + seq, encodedAt: 1000 + seq, jpeg });

/** Running renditions of these widths at q80. */
const keysOf = (widths: number[]): { width: number; quality: number }[] =>
  widths.map((width) => ({ width, quality: 80 }));

/** Mean absolute difference of two same-size JPEGs' pixels (0-255). */
async function meanDiff(a: Buffer, b: Buffer): Promise<number> {
  const pa = await sharp(a).raw().toBuffer();
  const pb = await sharp(b).raw().toBuffer();
  expect(pa.length).toBe(pb.length);
  let sum = 0;
  for (let i = 0; i < pa.length; i++) sum += Math.abs((pa[i] as number) - (pb[i] as number));
  return sum / pa.length;
}

describe('SharedDecode: one decode per frame for a stream’s renditions', () => {
  it('three renditions running: one decode per frame, each rendition encoded at its own size and quality, close to a decode of its own', async () => {
    const widths = [320, 480, 640];
    const shared = new SharedDecode(() => keysOf(widths), MAX_PIXELS);
    const keys = [
      { width: 320, quality: 80 },
      { width: 480, quality: 60 },
      { width: 640, quality: 80 },
    ];
    const f1 = frameOf(await picture(), 1);
    const outs = await Promise.all(keys.map((k) => shared.scale(f1, k)));
    expect(shared.counts.decodes).toBe(1);
    expect(outs.map((o) => `${o.width}x${o.height}`)).toEqual(['320x180', '480x270', '640x360']);
    expect(outs.map((o) => jpegInfo(o.jpeg)?.width)).toEqual([320, 480, 640]);
    expect(outs.every((o) => o.shared === true)).toBe(true);
    // The same picture as each rendition decoding the JPEG itself (one more resample, no visible change).
    for (const [i, k] of keys.entries()) {
      const own = await scaleJpeg(f1.jpeg, k, MAX_PIXELS);
      expect(await meanDiff((outs[i] as { jpeg: Buffer }).jpeg, own.jpeg)).toBeLessThan(4);
    }
    // Each rendition's quality is its own: q60 is smaller than q80 at the same width.
    const q80at480 = await shared.scale(f1, { width: 480, quality: 80 });
    expect(shared.counts.decodes).toBe(1); // the frame's decode, kept
    expect((outs[1] as { jpeg: Buffer }).jpeg.length).toBeLessThan(q80at480.jpeg.length);
    // The next frame: one more decode for all three.
    const f2 = frameOf(await picture(40), 2);
    await Promise.all(keys.map((k) => shared.scale(f2, k)));
    expect(shared.counts.decodes).toBe(2);
    expect(shared.counts.fromShared).toBe(7);
    // Two renditions stop: the pixels held go with them (asked again, the frame is decoded again).
    widths.splice(1);
    shared.trim();
    widths.push(480, 640);
    await shared.scale(f2, keys[0] as (typeof keys)[number]);
    expect(shared.counts.decodes).toBe(3);
  });

  it('one rendition decodes on its own; a rendition wider than the running ones too; a JPEG that does not decode is each asker’s error', async () => {
    let widths = [320];
    const shared = new SharedDecode(() => keysOf(widths), MAX_PIXELS);
    const f = frameOf(await picture(), 1);
    const one = await shared.scale(f, { width: 320, quality: 80 });
    expect(one.width).toBe(320);
    expect(one.shared).toBeUndefined();
    expect(shared.counts.decodes).toBe(0);
    widths = [320, 480];
    const wide = await shared.scale(f, { width: 960, quality: 80 });
    expect([wide.width, wide.shared]).toEqual([960, undefined]);
    expect(shared.counts.decodes).toBe(0);
    const bad = frameOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), 2);
    const results = await Promise.allSettled([
      shared.scale(bad, { width: 320, quality: 80 }),
      shared.scale(bad, { width: 480, quality: 80 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(shared.counts.decodes).toBe(1);
    expect(((results[0] as PromiseRejectedResult).reason as { code?: string }).code).toBe('ERR_ENCODE');
  });
});

describe.skipIf(!nativeShrinkAvailable())('SharedDecode: renditions of a raw source from its planes', () => {
  /** 64x36 full-range I420 planes of one grey level, counting their releases. */
  const planesOf = (level: number): RawPlanes & { released: number } => {
    const p = {
      data: Buffer.alloc(rawFrameSize(64, 36, 'yuvj420p'), 128).fill(level, 0, 64 * 36),
      width: 64,
      height: 36,
      limitedRange: false,
      released: 0,
      release: () => {
        p.released++;
      },
    };
    return p;
  };
  /** A frame whose JPEG is another picture than its planes: which one a rendition came from shows. */
  const frame = async (seq: number): Promise<Frame> =>
    new Frame({ seq, width: 64, height: 36, capturedAt: seq, encodedAt: seq, jpeg: await picture(seq) });

  it('while wanted, a frame handed over is shrunk from its planes; one not handed over from its JPEG', async () => {
    let widths = [32];
    const shared = new SharedDecode(() => keysOf(widths), MAX_PIXELS);
    expect(shared.tap.wanted()).toBe(true);
    const f = await frame(0);
    const p = planesOf(200);
    shared.tap.arrive(p)(f);
    const out = await shared.scale(f, { width: 32, quality: 100 });
    expect(out).toMatchObject({ width: 32, height: 18, raw: true });
    const px = await sharp(out.jpeg).raw().toBuffer();
    expect(px.every((v) => v === 200)).toBe(true);
    // A frame the pipeline did not hand over: from its JPEG (1280 wide), not from any planes.
    const other = await shared.scale(await frame(1), { width: 32, quality: 100 });
    expect(other.raw).toBeUndefined();
    expect(other.height).toBe(18);
    expect(shared.counts.fromRaw).toBe(1);
    // One rendition stops and one still runs: the planes are kept for it.
    shared.trim();
    expect(p.released).toBe(0);
    expect((await shared.scale(f, { width: 16, quality: 100 })).raw).toBe(true);
    // The renditions stop: the planes go back to their pool, and none are wanted any more.
    widths = [];
    shared.trim();
    expect(p.released).toBe(1);
    expect(shared.tap.wanted()).toBe(false);
  });

  it("planes lent as they arrive: each running rendition's encode starts at once, one at a time, and is what that rendition gets", async () => {
    const keys = [
      { width: 32, quality: 100 },
      { width: 16, quality: 100 },
    ];
    const shared = new SharedDecode(() => keys, MAX_PIXELS);
    const f = await frame(0);
    const p = planesOf(200);
    const bind = shared.tap.arrive(p);
    expect(shared.counts.early).toBe(2);
    // Another frame arrives while those run: no second early encode of the same renditions; its
    // frame is never made (a failed encode), so its planes go straight back.
    const p2 = planesOf(50);
    shared.tap.arrive(p2)(null);
    expect(shared.counts.early).toBe(2);
    expect(p2.released).toBe(1);
    bind(f);
    const out = await shared.scale(f, keys[0] as (typeof keys)[number]);
    expect(out).toMatchObject({ width: 32, height: 18, raw: true });
    expect((await sharp(out.jpeg).raw().toBuffer()).every((v) => v === 200)).toBe(true);
    expect(shared.counts).toMatchObject({ earlyTaken: 1, fromRaw: 1 });
    // Taken once: asked again, the frame is shrunk again from its planes.
    const again = await shared.scale(f, keys[0] as (typeof keys)[number]);
    expect(again.jpeg).not.toBe(out.jpeg);
    expect(again.jpeg.equals(out.jpeg)).toBe(true);
    expect(shared.counts).toMatchObject({ earlyTaken: 1, fromRaw: 2 });
    expect((await shared.scale(f, keys[1] as (typeof keys)[number])).width).toBe(16);
    expect(shared.counts.earlyTaken).toBe(2);
    // Those done, the next arrival starts both again; the renditions close before its frame is made:
    // it is not kept, and its planes go back once its early encodes are done, as do the kept ones.
    const p3 = planesOf(10);
    const bind3 = shared.tap.arrive(p3);
    expect(shared.counts.early).toBe(4);
    shared.clear();
    bind3(await frame(1));
    expect(p.released).toBe(1);
    await vi.waitFor(() => expect(p3.released).toBe(1));
    expect(await shared.scale(await frame(1), keys[0] as (typeof keys)[number])).not.toHaveProperty('raw');
  });

  it("a snapshot shares a rendition's early encode of its frame without taking it from the rendition", async () => {
    const key = { width: 32, quality: 100 };
    const shared = new SharedDecode(() => [key], MAX_PIXELS);
    const f = await frame(3);
    shared.tap.arrive(planesOf(120))(f);
    const snap = await shared.scaleOne(f, key);
    expect(snap).toMatchObject({ width: 32, raw: true });
    expect(shared.counts.earlyTaken).toBe(0);
    const rendition = await shared.scale(f, key);
    expect(rendition.jpeg).toBe(snap.jpeg); // the one early encode, for both
    expect(shared.counts).toMatchObject({ early: 1, earlyTaken: 1 });
  });

  it('a snapshot of a frame whose planes are kept is made from them, and clear() hands them back', async () => {
    const shared = new SharedDecode(() => keysOf([48]), MAX_PIXELS);
    const f = await frame(2);
    const p = planesOf(90);
    shared.tap.arrive(p)(f);
    const out = await shared.scaleOne(f, { width: 16, quality: 100 });
    expect(out).toMatchObject({ width: 16, height: 9, raw: true });
    shared.clear();
    expect(p.released).toBe(1);
    expect((await shared.scaleOne(f, { width: 16, quality: 100 })).raw).toBeUndefined();
  });
});

describe('rendition encodes: the settings they are made with', () => {
  /** The JPEG's frame type: baseline (SOF0) or progressive (SOF2). */
  const sofType = (jpeg: Buffer): string =>
    jpeg.includes(Buffer.from([0xff, 0xc2]))
      ? 'progressive'
      : jpeg.includes(Buffer.from([0xff, 0xc0]))
        ? 'baseline'
        : '?';

  it('from a JPEG: baseline 4:2:0 with optimised Huffman tables, never enlarged, bounded in pixels', async () => {
    const jpeg = await picture();
    const out = await scaleJpeg(jpeg, { width: 320, quality: 80 }, MAX_PIXELS);
    expect(sofType(out.jpeg)).toBe('baseline');
    expect(await sharp(out.jpeg).metadata()).toMatchObject({ chromaSubsampling: '4:2:0' });
    // Optimised tables: fewer bytes than the standard ones for the same pixels.
    const standard = await sharp(jpeg)
      .resize({ width: 320, kernel: 'lanczos3' })
      .jpeg({ quality: 80, chromaSubsampling: '4:2:0', optimiseCoding: false, mozjpeg: false })
      .toBuffer();
    expect(out.jpeg.length).toBeLessThan(standard.length);
    // A width over the picture's keeps its size.
    expect((await scaleJpeg(jpeg, { width: 2000, quality: 80 }, MAX_PIXELS)).width).toBe(1280);
    // A picture over the pixel bound is refused, alone or decoded for several renditions, naming what failed.
    await expect(scaleJpeg(jpeg, { width: 320, quality: 80 }, 1280 * 720 - 1)).rejects.toMatchObject({
      code: 'ERR_ENCODE',
      message: expect.stringMatching(/^rendition 320px q80: .*pixel/i) as unknown,
      cause: expect.any(Error) as unknown,
    });
    const shared = new SharedDecode(() => keysOf([320, 480]), 1280 * 720 - 1);
    await expect(shared.scale(frameOf(jpeg, 1), { width: 320, quality: 80 })).rejects.toMatchObject({
      code: 'ERR_ENCODE',
      message: expect.stringMatching(/^rendition decode at 480px: .*pixel/i) as unknown,
      cause: expect.any(Error) as unknown,
    });
  });

  it.skipIf(!nativeShrinkAvailable())(
    "from raw planes: the native shrink with optimised tables and the planes' range, byte for byte",
    async () => {
      const w = 128;
      const h = 72;
      const data = Buffer.alloc(rawFrameSize(w, h, 'yuvj420p'));
      for (let i = 0; i < data.length; i++) data[i] = 16 + ((i * 37) % 220);
      for (const limitedRange of [false, true]) {
        const out = await scaleRaw(
          { data, width: w, height: h, limitedRange, release: () => {} },
          { width: 64, quality: 75 },
        );
        const expected = await encodeI420(data, w, h, {
          quality: 75,
          optimiseCoding: true,
          limitedRange,
          out: { width: 64, height: 36 },
        });
        expect(out).toMatchObject({ width: 64, height: 36, raw: true });
        expect(out.jpeg.equals(expected)).toBe(true);
      }
    },
  );
});

describe('SharedDecode: which decodes it keeps', () => {
  it('keeps the two newest frames decoded at the widest running width; a change of that width decodes again', async () => {
    let widths = [320, 640];
    const shared = new SharedDecode(() => keysOf(widths), MAX_PIXELS);
    const k = { width: 320, quality: 80 };
    const [f1, f2, f3] = [
      frameOf(await picture(), 1),
      frameOf(await picture(8), 2),
      frameOf(await picture(16), 3),
    ];
    await shared.scale(f1, k);
    await shared.scale(f2, k);
    await shared.scale(f1, k);
    expect(shared.counts.decodes).toBe(2); // both kept
    await shared.scale(f3, k);
    await shared.scale(f2, k);
    expect(shared.counts.decodes).toBe(3); // f2 still kept
    await shared.scale(f1, k);
    expect(shared.counts.decodes).toBe(4); // f1 was the oldest: decoded again
    // The widest rendition stops: f1 is decoded again at the new widest width, once.
    widths = [320, 480];
    const at480 = await shared.scale(f1, { width: 480, quality: 80 });
    expect(at480.width).toBe(480);
    expect(shared.counts.decodes).toBe(5);
    await shared.scale(f1, k);
    expect(shared.counts.decodes).toBe(5);
    // trim() with two or more running keeps the decodes; clear() does not.
    shared.trim();
    await shared.scale(f1, k);
    expect(shared.counts.decodes).toBe(5);
    shared.clear();
    await shared.scale(f1, k);
    expect(shared.counts.decodes).toBe(6);
  });
});
