/**
 * RenditionProducer driven by hand: a stream's hub fed by a fake producer, a scaler the test settles.
 * Latest frame wins while an encode runs (the replaced ones counted), each frame keeps its seq,
 * capture time and metadata, analyzers' annotations wait for their frame, one failed frame costs that
 * frame only, the stream's failure is the rendition's, a passive one only listens.
 */
import { describe, expect, it } from 'vitest';
import { RenditionProducer } from '../../src/encode/rendition-producer.js';
import type { RenditionKey, ScaledJpeg } from '../../src/encode/rendition-decode.js';
import { Frame } from '../../src/hub/frame.js';
import type { Annotation } from '../../src/meta/annotations.js';
import { FramecastError } from '../../src/errors.js';
import { setup as hubSetup } from '../hub/fakes.js';

const KEY: RenditionKey = { width: 320, quality: 70 };

/** A scaler whose encodes the test settles one by one (`next()`), recording what it was asked. */
function manualScaler() {
  const asked: { frame: Frame; key: RenditionKey; settle: (out: ScaledJpeg | Error) => void }[] = [];
  const scale = (frame: Frame, key: RenditionKey): Promise<ScaledJpeg> =>
    new Promise((resolve, reject) => {
      asked.push({ frame, key, settle: (out) => (out instanceof Error ? reject(out) : resolve(out)) });
    });
  const out = (seq: number, extra: Partial<ScaledJpeg> = {}): ScaledJpeg => ({
    jpeg: Buffer.from(`small ${seq}`),
    width: 320,
    height: 180,
    ...extra,
  });
  return { asked, scale, out };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(passive = false) {
  const { hub, current } = hubSetup();
  const s = manualScaler();
  const rp = new RenditionProducer(hub, KEY, s.scale, passive);
  const frames: Frame[] = [];
  const notes: [string, number, Buffer][] = [];
  const events: string[] = [];
  rp.on('frame', (f) => frames.push(f));
  rp.on('annotation', (analyzer, seq, json) => notes.push([analyzer, seq, json]));
  rp.on('end', () => events.push('end'));
  rp.on('error', (e) => events.push(`error ${(e as FramecastError).code}`));
  return { hub, current, rp, frames, notes, events, ...s };
}

const note = (seq: number, analyzer = 'det'): Annotation => ({
  analyzer,
  seq,
  capturedAt: seq,
  receivedAt: 0,
  json: Buffer.from(`{"n":${seq}}`),
});

describe('RenditionProducer by hand', () => {
  it("joins the stream's hub as an uncapped subscriber and encodes each frame, keeping its seq, time and metadata", async () => {
    const { hub, current, rp, frames, asked, out } = start();
    rp.start();
    expect(hub.transmitting).toBe(true);
    expect(hub.cappedCount).toBe(0);
    const sub = hub.clients[0];
    expect(sub).toMatchObject({ protocol: 'rendition', address: '(320px q70)', uncapped: true });
    const src = new Frame({
      seq: 0,
      width: 640,
      height: 360,
      capturedAt: 1234,
      encodedAt: 1240,
      jpeg: Buffer.from('big'),
      meta: Buffer.from('{"k":1}'),
    });
    current().emit('frame', src);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.frame).toBe(src);
    expect(asked[0]?.key).toBe(KEY);
    asked[0]?.settle(out(0, { raw: true }));
    await tick();
    expect(frames).toHaveLength(1);
    const f = frames[0] as Frame;
    expect([f.seq, f.width, f.height, f.capturedAt, f.jpeg.toString(), f.meta?.toString()]).toEqual([
      0,
      320,
      180,
      1234,
      'small 0',
      '{"k":1}',
    ]);
    expect(f.encodedAt).toBeGreaterThanOrEqual(1240);
    expect(rp.counts).toMatchObject({ encoded: 1, raw: 1, shared: 0, skipped: 0 });
    expect(rp.counts.lastEncodeMs).not.toBeNull();
    expect(rp.describe()).toMatchObject({
      kind: 'rendition',
      name: 'fake#0 at 320px q70',
      width: 320,
      height: 180,
    });
    expect(sub?.stats()).toMatchObject({ protocol: 'rendition', framesSent: 1, drops: 0 });
    rp.stop();
    expect(hub.clientCount).toBe(0);
  });

  it('latest frame wins while an encode runs: the newest waiting frame is encoded next, the replaced ones counted', async () => {
    const { current, rp, frames, asked, out } = start();
    rp.start();
    const f0 = current().frame();
    current().frame();
    current().frame();
    const f3 = current().frame();
    expect(asked).toHaveLength(1); // one encode at a time
    asked[0]?.settle(out(0, { shared: true }));
    await tick();
    expect(asked).toHaveLength(2);
    expect(asked[1]?.frame).toBe(f3);
    asked[1]?.settle(out(3));
    await tick();
    expect(frames.map((f) => f.seq)).toEqual([f0.seq, f3.seq]);
    expect(rp.counts).toMatchObject({ encoded: 2, shared: 1, raw: 0, skipped: 2 });
    expect(rp.counts.lastEncodeMs).toBeGreaterThanOrEqual(0);
    expect(rp.counts.lastEncodeMs).toBeLessThan(10_000);
  });

  it("its delay counts from the stream's offer, a wait for the encode in progress included", async () => {
    const { current, rp, asked, out } = start();
    rp.start();
    expect(rp.delays.percentiles()).toBeNull();
    current().frame();
    const f1 = current().frame(); // waits for the first encode
    await sleep(40);
    asked[0]?.settle(out(0));
    await tick();
    expect(asked[1]?.frame).toBe(f1);
    await sleep(15);
    asked[1]?.settle(out(1));
    await tick();
    const d = rp.delays.percentiles();
    expect(d?.samples).toBe(2);
    // The first frame: its 40 ms encode. The second: its 40 ms wait, then its own 15 ms encode.
    expect(d?.p50).toBeGreaterThanOrEqual(39);
    expect(d?.p99).toBeGreaterThanOrEqual(54);
    expect((d?.p99 ?? 0) - (d?.p50 ?? 0)).toBeGreaterThanOrEqual(14);
    expect(rp.counts.lastEncodeMs).toBeLessThan(39);
  });

  it('a frame that fails to encode costs that frame only', async () => {
    const { current, rp, frames, asked, out } = start();
    rp.start();
    current().frame();
    current().frame();
    asked[0]?.settle(new Error('odd JPEG'));
    await tick();
    asked[1]?.settle(out(1));
    await tick();
    expect(frames.map((f) => f.seq)).toEqual([1]);
    expect(rp.counts).toMatchObject({ encoded: 1, skipped: 1 });
  });

  it("annotations wait for their frame's rendition; older ones pass at once; one of a skipped frame is dropped", async () => {
    const { hub, current, rp, notes, asked, out } = start();
    rp.start();
    const sub = hub.clients[0];
    current().frame(); // 0, encoding
    sub?.annotation?.(note(0));
    expect(notes).toEqual([]);
    current().frame(); // 1, waiting
    current().frame(); // 2 replaces it
    sub?.annotation?.(note(1));
    sub?.annotation?.(note(2));
    asked[0]?.settle(out(0));
    await tick();
    expect(notes.map(([a, s]) => `${a}:${s}`)).toEqual(['det:0']);
    expect(notes[0]?.[2].toString()).toBe('{"n":0}');
    asked[1]?.settle(out(2));
    await tick();
    // Frame 1 was never made: its annotation went; frame 2's came with its frame.
    expect(notes.map(([a, s]) => `${a}:${s}`)).toEqual(['det:0', 'det:2']);
    // An annotation of a frame already out passes at once; one of a newer frame waits for it.
    sub?.annotation?.(note(2, 'late'));
    sub?.annotation?.(note(0, 'later'));
    expect(notes.map(([a, s]) => `${a}:${s}`).slice(2)).toEqual(['late:2', 'later:0']);
    current().frame(); // 3
    sub?.annotation?.(note(3));
    expect(notes).toHaveLength(4);
    asked[2]?.settle(out(3));
    await tick();
    expect(notes.map(([a, s]) => `${a}:${s}`).slice(4)).toEqual(['det:3']);
  });

  it('holds at most 64 annotations of frames not made yet (the oldest go first)', async () => {
    const { hub, current, rp, notes, asked, out } = start();
    rp.start();
    const sub = hub.clients[0];
    current().frame(); // 0, encoding
    for (let i = 0; i < 70; i++) sub?.annotation?.(note(0, `a${i}`));
    asked[0]?.settle(out(0));
    await tick();
    expect(notes).toHaveLength(64);
    expect(notes[0]?.[0]).toBe('a6');
    expect(notes.at(-1)?.[0]).toBe('a69');
  });

  it("the stream's failure is the rendition's error, its end the rendition's end; after stop() neither", () => {
    const a = start();
    a.rp.start();
    a.current().emit('error', new FramecastError('ERR_SOURCE_FAILED', 'camera gone'));
    expect(a.events).toEqual(['error ERR_SOURCE_FAILED']);
    expect(a.hub.clientCount).toBe(0);
    const b = start();
    b.rp.start();
    b.current().emit('end');
    expect(b.events).toEqual(['end']);
    const c = start();
    c.rp.start();
    c.rp.stop();
    c.current().emit('end');
    expect(c.events).toEqual([]);
  });

  it('stop() while encoding: the frame in flight and the waiting one are never emitted', async () => {
    const { current, rp, frames, asked, out } = start();
    rp.start();
    current().frame();
    current().frame();
    rp.stop();
    asked[0]?.settle(out(0));
    await tick();
    expect(frames).toEqual([]);
    expect(asked).toHaveLength(1);
  });

  it('describes itself before any frame, with no stream source yet', () => {
    const { rp } = start();
    expect(rp.describe()).toEqual({
      kind: 'rendition',
      name: 'stream at 320px q70',
      width: null,
      height: null,
      inputFps: null,
    });
  });

  it("a passive one never joins the stream's hub: it encodes the frames others make it transmit, from the newest", async () => {
    const { hub, current, rp, frames, asked, out, notes } = start(true);
    const viewer = new (await import('../hub/fakes.js')).FakeSub('someone');
    hub.join(viewer);
    const first = current().frame();
    rp.start();
    expect(hub.clientCount).toBe(1);
    expect(asked[0]?.frame).toBe(first); // the newest frame at once
    asked[0]?.settle(out(0));
    await tick();
    current().frame();
    asked[1]?.settle(out(1));
    await tick();
    expect(frames.map((f) => f.seq)).toEqual([0, 1]);
    // Analyzers' annotations reach it from the stream's hub too.
    hub.annotate('det', { seq: 1 }, { n: 1 });
    expect(notes.map(([a, s2, j]) => `${a}:${s2}:${j.toString()}`)).toEqual(['det:1:{"n":1}']);
    rp.stop();
    hub.annotate('det', { seq: 1 }, { n: 2 });
    expect(notes).toHaveLength(1);
    current().frame();
    expect(asked).toHaveLength(2);
  });
});
