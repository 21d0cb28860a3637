import { afterEach, describe, expect, it } from 'vitest';
import { FramePipeline } from '../../src/encode/frame-pipeline.js';
import type { Frame } from '../../src/hub/frame.js';
import { locateFfmpeg } from '../../src/source/ffmpeg-path.js';
import { parseSource } from '../../src/source/source-spec.js';
import { makeClip } from '../helpers/fixtures.js';
import { sleep } from '../helpers/processes.js';
import type { RawPlanes, RawTap } from '../../src/encode/held-planes.js';
import { encodeI420, nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';
import { rawFrameSize } from '../../src/source/ffmpeg-source.js';

const pipelines: FramePipeline[] = [];
afterEach(() => {
  for (const p of pipelines.splice(0)) p.stop();
});

function pipeline(
  source: string,
  opts: { width: number; pace?: boolean; concurrency?: number; rawTap?: RawTap },
): FramePipeline {
  const p = new FramePipeline({
    ffmpeg: locateFfmpeg().path,
    spec: parseSource(source),
    width: opts.width,
    quality: 80,
    pace: opts.pace ?? false,
    loop: false,
    fps: null,
    concurrency: opts.concurrency ?? 2,
    ...(opts.rawTap ? { rawTap: opts.rawTap } : {}),
  });
  pipelines.push(p);
  return p;
}

describe('FramePipeline', () => {
  it('emits every frame of a file once, in order, scaled, then ends', async () => {
    const clip = makeClip({ seconds: 1 });
    const p = pipeline(clip.path, { width: 800 });
    const frames: Frame[] = [];
    p.on('frame', (f) => frames.push(f));
    const ended = new Promise<void>((r) => p.once('end', () => r()));
    p.start();
    await ended;
    expect(frames.map((f) => f.seq)).toEqual([...Array(clip.frames).keys()]);
    expect(new Set(frames.map((f) => `${f.width}x${f.height}`))).toEqual(new Set(['800x450']));
    expect(p.describe()).toMatchObject({ kind: 'file', width: 800, height: 450, inputFps: 30 });
  });

  // --no-pace relies on this: the hub pauses the producer while a client is backlogged, and a
  // lossless client holds at most 8 frames. After a pause the pipe from ffmpeg is full, and one read
  // then holds many tiny frames: they must not all slip out past the next pause.
  it.each([16, 320])('after pause() only the frames already in flight come out (width %i)', async (width) => {
    const p = pipeline('test', { width, concurrency: 2 });
    let sincePause = 0;
    let worst = 0;
    let cycles = 0;
    let paused = false;
    p.on('frame', () => {
      if (paused) {
        sincePause++;
        worst = Math.max(worst, sincePause);
        return;
      }
      // A slow client: stop the source at each frame, let it go again a little later.
      paused = true;
      sincePause = 0;
      p.pause();
      setTimeout(() => {
        cycles++;
        paused = false;
        p.resume();
      }, 30);
    });
    p.start();
    for (let i = 0; i < 200 && cycles < 15; i++) await sleep(20);
    expect(cycles).toBeGreaterThanOrEqual(15);
    expect(worst).toBeLessThanOrEqual(8);
  });

  // Renditions of a raw source shrink the frame's own planes: the tap must get exactly the planes the
  // frame's JPEG was encoded from (not a reused buffer holding a later frame), before viewers see it.
  it.skipIf(!nativeShrinkAvailable())(
    "hands each frame's own raw planes to the rendition tap before the frame is out, only while wanted",
    async () => {
      const clip = makeClip({ seconds: 1 });
      let wanted = true;
      const taken: { frame: Frame; planes: Buffer; raw: RawPlanes }[] = [];
      const seen: Frame[] = [];
      let arrived = 0;
      let bound = 0;
      const tap: RawTap = {
        wanted: () => wanted,
        // Lent as the encode starts, before the frame exists; bound to it before viewers see it.
        arrive: (raw) => {
          arrived++;
          return (frame) => {
            bound++;
            expect(frame).not.toBeNull();
            if (!frame) return;
            expect(seen).not.toContain(frame);
            taken.push({ frame, planes: Buffer.alloc(0), raw });
          };
        },
      };
      const p = pipeline(clip.path, { width: 320, rawTap: tap });
      p.on('frame', (f) => {
        seen.push(f);
        if (f.seq === 9) wanted = false;
        // Held across frames like a slow rendition, read, then handed back: had the pool reused the
        // buffer meanwhile (the newest released is reused first), it would hold a later frame.
        const old = taken.at(-3);
        if (old && old.planes.length === 0) {
          old.planes = Buffer.from(old.raw.data);
          old.raw.release();
        }
      });
      const ended = new Promise<void>((r) => p.once('end', () => r()));
      p.start();
      await ended;
      expect(seen).toHaveLength(clip.frames);
      for (const t of taken) if (t.planes.length === 0) t.planes = Buffer.from(t.raw.data);
      // Frames encoded after `wanted` turned false (a frame or two in flight aside) were not handed over.
      expect(taken.length).toBeGreaterThanOrEqual(10);
      expect(taken.length).toBeLessThanOrEqual(10 + 2);
      expect([arrived, bound]).toEqual([taken.length, taken.length]);
      expect(taken.map((t) => t.frame.seq)).toEqual([...Array(taken.length).keys()]);
      for (const t of taken) {
        expect(t.planes.length).toBeGreaterThanOrEqual(rawFrameSize(320, 180, 'yuvj420p'));
        // No viewers (standard tables): the frame's JPEG is these planes encoded, byte for byte.
        const again = await encodeI420(t.planes, 320, 180, {
          quality: 80,
          optimiseCoding: false,
          limitedRange: t.raw.limitedRange === true,
        });
        expect(again.equals(t.frame.jpeg)).toBe(true);
      }
    },
  );
});
