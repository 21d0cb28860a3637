/**
 * Stream and openStream, unit by unit: what a stream takes from its settings (its hub's limits, its
 * tokens, its renditions), retune, room, close, and the producer each kind of source gets.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encoderImplementation, FramePipeline } from '../../src/encode/frame-pipeline.js';
import { ResilientProducer } from '../../src/encode/resilient-producer.js';
import { ExecRunner } from '../../src/ingest/exec/exec-runner.js';
import { PublisherSlot } from '../../src/ingest/publish/publisher-slot.js';
import { openStream, sourceProducer, Stream } from '../../src/streams/stream.js';
import { resolveStreamConfig, type StreamConfig } from '../../src/streams/stream-options.js';
import { ImageBound } from '../../src/util/jpeg.js';
import { tokenDigest } from '../../src/util/token.js';
import { FakeProducer, FakeSub } from '../hub/fakes.js';
import { FFMPEG, makeClip, makeTempDir } from '../helpers/fixtures.js';

const cfg = (config: Partial<StreamConfig> = {}, name = 'cam') =>
  resolveStreamConfig(name, { source: 'test', ...config });

/** A stream on hand-driven producers (`producers` lists them as the hub makes them). */
function fakeStream(config: Partial<StreamConfig> = {}, finite = false) {
  const producers: FakeProducer[] = [];
  const stream = new Stream(
    cfg(config),
    () => {
      const p = new FakeProducer(producers.length);
      producers.push(p);
      return p;
    },
    {
      spec: finite ? { kind: 'file', name: 'clip.mp4', inputArgs: [], live: false, finite: true } : null,
      ffmpeg: null,
      implementation: 'fake encoder',
    },
  );
  return { stream, producers };
}

describe('Stream', () => {
  it('takes its name, settings and source description', () => {
    const { stream } = fakeStream();
    expect(stream.name).toBe('cam');
    expect(stream.config).toEqual(cfg());
    expect(stream.spec).toBeNull();
    expect(stream.ffmpeg).toBeNull();
    expect(stream.encoderImplementation).toBe('fake encoder');
    expect(stream.ingest).toBeNull();
    expect(stream.exec).toBeNull();
  });

  it('bounds images at maxImagePixels unless given its bound', () => {
    const { stream } = fakeStream({ maxImagePixels: 1024 });
    expect(stream.images).toBeInstanceOf(ImageBound);
    expect(stream.images.maxPixels).toBe(1024);
    const images = new ImageBound(4096);
    const given = new Stream(cfg(), () => new FakeProducer(0), {
      spec: null,
      ffmpeg: null,
      implementation: 'x',
      images,
    });
    expect(given.images).toBe(images);
  });

  it('caps its hub at maxClients, with maxWaiting in line', () => {
    const { stream } = fakeStream({ maxClients: 1, maxWaiting: 1 });
    expect(stream.hub.join(new FakeSub('a'))).toBe(true);
    expect(stream.hasRoom()).toBe(true);
    expect(stream.room()).toBe(1);
    expect(stream.hub.join(new FakeSub('b'))).toBe(true);
    expect(stream.hub.waitingCount).toBe(1);
    expect(stream.hasRoom()).toBe(false);
    expect(stream.room()).toBe(0);
    expect(stream.hub.join(new FakeSub('c'))).toBe(false);
  });

  it('has room while either the served or the waiting places are free', () => {
    const { stream } = fakeStream({ maxClients: 2, maxWaiting: 0 });
    expect(stream.room()).toBe(2);
    expect(stream.hasRoom()).toBe(true);
    stream.hub.join(new FakeSub('a'));
    expect(stream.room()).toBe(1);
    expect(stream.hasRoom()).toBe(true);
    stream.hub.join(new FakeSub('b'));
    expect(stream.room()).toBe(0);
    expect(stream.hasRoom()).toBe(false);
    const waits = fakeStream({ maxClients: 1, maxWaiting: 2 }).stream;
    waits.hub.join(new FakeSub('a'));
    expect(waits.hasRoom()).toBe(true);
    expect(waits.room()).toBe(2);
  });

  it('passes maxMetaBytes to its hub', () => {
    expect(fakeStream({ maxMetaBytes: 500 }).stream.hub.annotations.maxBytes).toBe(500);
  });

  it('an unpaced hub pauses its source for a backlogged client; a paced one does not', () => {
    for (const pace of [false, true]) {
      const { stream, producers } = fakeStream({ pace });
      const sub = new FakeSub('slow');
      stream.hub.join(sub);
      sub.backlogged = true;
      const p = producers[0] as FakeProducer;
      p.frame();
      expect(p.paused).toBe(!pace);
      stream.close();
    }
  });

  it('lossless is pace off', () => {
    expect(fakeStream({ pace: false }).stream.lossless).toBe(true);
    expect(fakeStream({ pace: true }).stream.lossless).toBe(false);
  });

  it('holds the first frames for the first client when not paced, or for a file', () => {
    for (const [config, finite, held] of [
      [{ pace: false }, false, true],
      [{ pace: true }, true, true],
      [{ pace: true }, false, false],
    ] as const) {
      const { stream, producers } = fakeStream(config, finite);
      const release = stream.hub.warm();
      const p = producers[0] as FakeProducer;
      p.frame();
      expect(p.paused).toBe(held);
      release();
    }
  });

  it('starts its source at once with preload', async () => {
    // `not` first: had it a preload timer, it would fire before `pre`'s.
    const not = fakeStream({ preload: false });
    const pre = fakeStream({ preload: true });
    await vi.waitFor(() => expect(pre.producers.length).toBe(1));
    expect(pre.producers[0]?.started).toBe(1);
    expect(not.producers.length).toBe(0);
    pre.stream.close();
    not.stream.close();
  });

  it('gives its renditions its quality and maxRenditions', () => {
    const { stream } = fakeStream({ quality: 70, maxRenditions: 2 });
    expect(stream.renditions.keyOf({ width: null, quality: 70, fps: null })).toBeNull();
    expect(stream.renditions.keyOf({ width: null, quality: 40, fps: null })).not.toBeNull();
    expect(stream.renditions.hubFor({ width: null, quality: 40, fps: null })).not.toBe(stream.hub);
    const none = fakeStream({ quality: 70, maxRenditions: 0 }).stream;
    expect(none.renditions.hubFor({ width: null, quality: 40, fps: null })).toBe(none.hub);
  });

  it('reads its tokens from its settings', () => {
    const open = fakeStream().stream;
    expect(open.readToken).toBeNull();
    expect(open.annotateToken).toBeNull();
    expect(open.publishToken).toBeNull();
    const s = new Stream(
      cfg({ source: 'publisher', readToken: 'r', annotateToken: 'a', publishToken: 'p' }),
      () => new FakeProducer(0),
      { spec: null, ffmpeg: null, implementation: 'x' },
    );
    expect(s.readToken).toBe('r');
    expect(s.annotateToken).toBe('a');
    expect(s.publishToken).toBe('p');
  });

  it("an edge's stream reads the origin's token digest", () => {
    const digest = tokenDigest('r', 'salt');
    const s = new Stream({ ...cfg(), readTokenDigest: digest }, () => new FakeProducer(0), {
      spec: null,
      ffmpeg: null,
      implementation: 'x',
    });
    expect(s.readToken).toBe(digest);
    const both = new Stream(
      { ...cfg({ readToken: 'own' }), readTokenDigest: digest },
      () => new FakeProducer(0),
      {
        spec: null,
        ffmpeg: null,
        implementation: 'x',
      },
    );
    expect(both.readToken).toBe('own');
  });

  it('retunes with settings of the same name only', () => {
    const { stream } = fakeStream();
    const next = cfg({ record: true });
    stream.retune(next);
    expect(stream.config).toBe(next);
    expect(() => stream.retune(cfg({}, 'other'))).toThrow(
      new TypeError("retune of cam with other's settings"),
    );
    expect(stream.config).toBe(next);
  });

  it('close ends its clients (shutdown by default, or removed) and refuses new ones', () => {
    const a = fakeStream().stream;
    const va = new FakeSub('va');
    a.hub.join(va);
    a.close();
    expect(va.ended).toBe('shutdown');
    expect(a.hub.join(new FakeSub('late'))).toBe(false);
    const b = fakeStream().stream;
    const vb = new FakeSub('vb');
    b.hub.join(vb);
    b.close('removed');
    expect(vb.ended).toBe('removed');
  });

  it('close closes its renditions with the same reason', () => {
    const { stream } = fakeStream({ quality: 70 });
    const spy = vi.spyOn(stream.renditions, 'close');
    stream.close('removed');
    expect(spy).toHaveBeenCalledWith('removed');
  });
});

describe('openStream', () => {
  it('a given producer: frames from the publisher, no source', async () => {
    const p = new FakeProducer(0);
    const s = await openStream(cfg(), () => p);
    expect(s.encoderImplementation).toBe('frames from the publisher');
    expect(s.spec).toBeNull();
    expect(s.ffmpeg).toBeNull();
    expect(s.ingest).toBeNull();
    s.hub.join(new FakeSub('v'));
    expect(p.started).toBe(1);
    s.close();
  });

  it('publisher: a publisher slot, passed through, bounded by maxImagePixels', async () => {
    const s = await openStream(cfg({ source: 'publisher', maxImagePixels: 2048, overridePublisher: true }));
    expect(s.ingest).toBeInstanceOf(PublisherSlot);
    expect(s.ingest?.override).toBe(true);
    expect(s.ingest?.images).toBe(s.images);
    expect(s.images.maxPixels).toBe(2048);
    expect(s.exec).toBeNull();
    expect(s.spec).toBeNull();
    expect(s.ffmpeg).toBeNull();
    expect(s.encoderImplementation).toBe('passthrough');
    const closeSlot = vi.spyOn(s.ingest as PublisherSlot, 'close');
    s.close();
    expect(closeSlot).toHaveBeenCalled();
  });

  it('publisher without overridePublisher refuses a second publisher', async () => {
    const s = await openStream(cfg({ source: 'publisher' }));
    expect(s.ingest?.override).toBe(false);
    s.close();
  });

  it("publisher: the hub's source is the publisher slot's producer", async () => {
    const s = await openStream(cfg({ source: 'publisher' }));
    const release = s.hub.warm();
    expect(s.hub.transmitting).toBe(true);
    expect(s.hub.source).not.toBeNull();
    release();
    s.close();
  });

  it('exec:COMMAND: a publisher slot fed by its command, not run until watched', async () => {
    const env = vi.fn(() => ({ X: '1' }));
    const s = await openStream(cfg({ source: 'exec:never-run-here' }), undefined, { paths: null }, { env });
    expect(s.exec).toBeInstanceOf(ExecRunner);
    expect(s.ingest).toBeInstanceOf(PublisherSlot);
    expect(s.encoderImplementation).toBe('passthrough (from its command)');
    expect(env).not.toHaveBeenCalled();
    const closeExec = vi.spyOn(s.exec as ExecRunner, 'close');
    s.close();
    expect(closeExec).toHaveBeenCalled();
  });

  it("exec:COMMAND: the command's environment is asked for its stream's settings as it starts", async () => {
    // null: the server is not listening yet, so the command is not started (nothing runs here).
    const env = vi.fn(() => null);
    const s = await openStream(cfg({ source: 'exec:never-run-here' }), undefined, { paths: null }, { env });
    const release = s.hub.warm();
    expect(s.hub.transmitting).toBe(true);
    expect(s.hub.source).not.toBeNull();
    await vi.waitFor(() => expect(env).toHaveBeenCalledWith(s.config));
    release();
    s.close();
  });

  it('exec:COMMAND: the command runs with the environment given for its stream, or none', async () => {
    const tmp = makeTempDir('framecast-stream-units-');
    try {
      const withEnv = join(tmp.dir, 'with-env');
      const env = vi.fn(() => ({ FC_UNIT_X: 'from-env' }));
      const a = await openStream(
        cfg({ source: `exec:printf %s "$FC_UNIT_X" > '${withEnv}'` }),
        undefined,
        { paths: null },
        { env },
      );
      const releaseA = a.hub.warm();
      const noEnv = join(tmp.dir, 'no-env');
      const b = await openStream(cfg({ source: `exec:printf ok > '${noEnv}'` }));
      const releaseB = b.hub.warm();
      await vi.waitFor(() => expect(readFileSync(withEnv, 'utf8')).toBe('from-env'), { timeout: 20_000 });
      await vi.waitFor(() => expect(readFileSync(noEnv, 'utf8')).toBe('ok'), { timeout: 20_000 });
      releaseA();
      releaseB();
      a.close();
      b.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('a source read by ffmpeg: its spec, ffmpeg and encoder', async () => {
    const s = await openStream(cfg({ encoder: 'ffmpeg' }));
    expect(s.spec?.kind).toBe('test');
    expect(s.ffmpeg?.path).toEqual(expect.any(String));
    expect(s.encoderImplementation).toBe(encoderImplementation('ffmpeg'));
    expect(s.ingest).toBeNull();
    expect(s.images.maxPixels).toBe(cfg().maxImagePixels);
    s.close();
  });
});

describe('openStream: the test pattern, run', () => {
  it('its frames reach a viewer of the stream and one of a smaller rendition', async () => {
    const s = await openStream(cfg({ width: 320, maxRenditions: 2 }));
    const viewer = new FakeSub('main');
    const small = new FakeSub('small');
    try {
      s.hub.join(viewer);
      const hub = s.renditions.hubFor({ width: 160, quality: 50, fps: null });
      expect(hub).not.toBe(s.hub);
      hub.join(small);
      await vi.waitFor(() => expect(viewer.offered.length).toBeGreaterThan(0), { timeout: 20_000 });
      await vi.waitFor(() => expect(small.offered.length).toBeGreaterThan(0), { timeout: 20_000 });
      expect(viewer.offered[0]?.width).toBe(320);
      expect(small.offered[0]?.width).toBe(160);
    } finally {
      s.close();
    }
  });
});

describe('sourceProducer', () => {
  it('the test pattern: a plain pipeline, even with retries', async () => {
    const sp = await sourceProducer(cfg({ retryDelayMs: 1000 }));
    expect(sp.spec.kind).toBe('test');
    expect(sp.create()).toBeInstanceOf(FramePipeline);
  });

  it('a live URL or a camera comes back after a failure (retryDelayMs > 0)', async () => {
    for (const source of ['rtsp://cam.example/live', 'webcam']) {
      const sp = await sourceProducer(cfg({ source, retryDelayMs: 500 }));
      const p = sp.create();
      expect(p).toBeInstanceOf(ResilientProducer);
    }
  });

  it('retryDelayMs 0: no retries', async () => {
    const sp = await sourceProducer(cfg({ source: 'rtsp://cam.example/live', retryDelayMs: 0 }));
    expect(sp.create()).toBeInstanceOf(FramePipeline);
  });

  it('the test pattern runs at its own rate; a file at its probed rate', async () => {
    const test = await sourceProducer(cfg());
    expect(test.create().describe().inputFps).toBe(30);
    const clip = makeClip({ fps: 24, seconds: 1, width: 64, height: 48 });
    const file = await sourceProducer(cfg({ source: clip.path }));
    expect(file.spec.kind).toBe('file');
    expect(file.create().describe().inputFps).toBe(24);
    const rtsp = await sourceProducer(cfg({ source: 'rtsp://cam.example/live', retryDelayMs: 0 }));
    expect(rtsp.create().describe().inputFps).toBeNull();
  });

  it('the test pattern is not probed (passthrough does not check its codec)', async () => {
    const sp = await sourceProducer(cfg({ passthrough: true }));
    expect(sp.spec.kind).toBe('test');
  });

  it('a local file without a duration stays a file (only an HTTP one is live)', async () => {
    const tmp = makeTempDir('framecast-stream-units-');
    try {
      const clip = makeClip({ fps: 24, seconds: 1, width: 64, height: 48 });
      const raw = join(tmp.dir, 'raw.mjpeg');
      const r = spawnSync(
        FFMPEG,
        [
          '-hide_banner',
          '-v',
          'error',
          '-nostdin',
          '-y',
          '-i',
          clip.path,
          '-c:v',
          'mjpeg',
          '-f',
          'mjpeg',
          raw,
        ],
        { timeout: 60_000 },
      );
      expect(r.status).toBe(0);
      const sp = await sourceProducer(cfg({ source: raw }));
      expect(sp.spec.kind).toBe('file');
      expect(sp.spec.live).toBe(false);
      expect(sp.spec.finite).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('passthrough needs a source whose frames are JPEG', async () => {
    const h264 = makeClip({ fps: 24, seconds: 1, width: 64, height: 48 });
    const err = await sourceProducer(cfg({ source: h264.path, passthrough: true })).then(
      () => null,
      (e: unknown) => e as Error & { code?: string; exitCode?: number },
    );
    expect(err?.message).toMatch(/^passthrough needs a source whose frames are JPEG \(MJPEG\); .+ is h264$/);
    expect(err?.code).toBe('ERR_SOURCE_INVALID');
    expect(err?.exitCode).toBe(2);
    const mjpeg = makeClip({ fps: 24, seconds: 1, width: 64, height: 48, format: 'avi' });
    const ok = await openStream(cfg({ source: mjpeg.path, passthrough: true }));
    expect(ok.encoderImplementation).toBe('passthrough');
    expect(ok.spec?.finite).toBe(true);
    ok.close();
  });

  it('refuses an exec: source (it is a stream of its own)', async () => {
    await expect(sourceProducer(cfg({ source: 'exec:x' }))).rejects.toThrow(
      /^an exec: source is a stream of its own/,
    );
  });
});

describe('sourceProducer: HTTP sources', () => {
  let server: Server;
  let base = '';
  const tmp = makeTempDir('framecast-stream-units-');

  beforeAll(async () => {
    const clip = makeClip({ fps: 24, seconds: 1, width: 64, height: 48 });
    const raw = join(tmp.dir, 'cam.mjpeg');
    const r = spawnSync(
      FFMPEG,
      ['-hide_banner', '-v', 'error', '-nostdin', '-y', '-i', clip.path, '-c:v', 'mjpeg', '-f', 'mjpeg', raw],
      {
        timeout: 60_000,
      },
    );
    expect(r.status).toBe(0);
    const files: Record<string, Buffer> = {
      '/clip.mp4': readFileSync(clip.path),
      '/cam.mjpeg': readFileSync(raw),
    };
    server = createServer((req, res) => {
      const body = files[req.url ?? ''];
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
    tmp.cleanup();
  });

  it('an HTTP file is probed: its rate, a file that ends (no retries on its end)', async () => {
    const sp = await sourceProducer(cfg({ source: `${base}/clip.mp4`, retryDelayMs: 0 }));
    expect(sp.spec.kind).toBe('url');
    expect(sp.spec.live).toBe(false);
    expect(sp.spec.finite).toBe(true);
    expect(sp.create().describe().inputFps).toBe(24);
  });

  it('an HTTP stream without a duration is live: a camera, not a file', async () => {
    const sp = await sourceProducer(cfg({ source: `${base}/cam.mjpeg`, retryDelayMs: 0 }));
    expect(sp.spec.kind).toBe('url');
    expect(sp.spec.live).toBe(true);
    expect(sp.spec.finite).toBe(false);
  });
});
