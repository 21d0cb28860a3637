import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, serve, type FramecastServer } from '../../src/index.js';
import { JpegStreamSplitter } from '../../src/source/jpeg-stream-splitter.js';
import { FFMPEG, makeClip } from '../helpers/fixtures.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** The JPEGs inside an MJPEG file, exactly as stored (ffmpeg copies them out). */
function storedJpegs(path: string): Buffer[] {
  const r = spawnSync(FFMPEG, ['-v', 'error', '-i', path, '-c:v', 'copy', '-f', 'mjpeg', '-'], {
    maxBuffer: 1 << 28,
  });
  const out: Buffer[] = [];
  new JpegStreamSplitter().push(r.stdout, (j) => out.push(j));
  return out;
}

describe('passthrough of JPEG sources', () => {
  const clip = makeClip({ seconds: 1, width: 320, height: 240, format: 'avi' });

  it('an MJPEG file is served byte for byte (no scale, no encode) and /stats says passthrough', async () => {
    const stored = storedJpegs(clip.path);
    expect(stored).toHaveLength(clip.frames);
    server = await serve({ source: clip.path, passthrough: true, pace: false, port: 0, httpPort: 0 });
    const got: Buffer[] = [];
    for await (const f of connect(`127.0.0.1:${server.address().port}`)) got.push(f.jpeg);
    expect(got).toHaveLength(clip.frames);
    expect(got.every((j, i) => j.equals(stored[i] as Buffer))).toBe(true);
    const stats = (await (await fetch(`http://127.0.0.1:${server.httpAddress()?.port}/stats`)).json()) as {
      encoder: { kind: string };
    };
    expect(stats.encoder.kind).toBe('passthrough');
  }, 20_000);

  it('a source that is not MJPEG is refused at start-up with the reason', async () => {
    const h264 = makeClip({ seconds: 1, width: 320, height: 240 });
    await expect(serve({ source: h264.path, passthrough: true, port: 0 })).rejects.toThrow(
      /passthrough needs a source whose frames are JPEG \(MJPEG\); .* is h264/,
    );
  });
});
