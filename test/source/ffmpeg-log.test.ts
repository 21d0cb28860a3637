import { describe, expect, it } from 'vitest';
import { LineTail, parseVideoStreamLine } from '../../src/source/ffmpeg-log.js';

// Lines as ffmpeg 6/7 prints them.
const INPUT =
  '  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p(progressive), ' +
  '640x360 [SAR 1:1 DAR 16:9], 1897 kb/s, 30 fps, 30 tbr, 15360 tbn (default)';
const OUTPUT =
  '  Stream #0:0(und): Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/unknown/unknown, progressive), ' +
  '800x450 [SAR 1:1 DAR 16:9], q=2-31, 259200 kb/s, 30 fps, 30 tbn (default)';

describe('parseVideoStreamLine', () => {
  it('reads codec, size and fps of an input stream (ignoring the hex codec tag)', () => {
    expect(parseVideoStreamLine(INPUT)).toEqual({
      codec: 'h264',
      width: 640,
      height: 360,
      fps: 30,
      pixelFormat: 'yuv420p',
    });
  });

  it('reads the output stream of a rawvideo pipe', () => {
    expect(parseVideoStreamLine(OUTPUT)).toEqual({
      codec: 'rawvideo',
      width: 800,
      height: 450,
      fps: 30,
      pixelFormat: 'rgb24',
    });
  });

  it('reads fractional fps, falls back to tbr, and understands k', () => {
    const ntsc = '  Stream #0:0: Video: mjpeg, yuvj422p(pc), 1280x720, 29.97 fps, 29.97 tbr, 1k tbn';
    expect(parseVideoStreamLine(ntsc)?.fps).toBeCloseTo(29.97);
    const tbrOnly = '  Stream #0:0: Video: vp9, yuv420p(tv), 320x240, 25 tbr, 1k tbn';
    expect(parseVideoStreamLine(tbrOnly)).toEqual({
      codec: 'vp9',
      width: 320,
      height: 240,
      fps: 25,
      pixelFormat: 'yuv420p',
    });
    const k = '  Stream #0:0: Video: rawvideo, rgb24, 16x16, 1k tbr, 1k tbn';
    expect(parseVideoStreamLine(k)?.fps).toBe(1000);
  });

  it('reads the pixel format, which says whether 4:2:0 planes are full range (yuvj420p) or limited', () => {
    const out = (fmt: string): string =>
      `  Stream #0:0(und): Video: rawvideo (I420 / 0x30323449), ${fmt}, 800x450 [SAR 1:1 DAR 16:9], 30 fps`;
    expect(parseVideoStreamLine(out('yuv420p(tv, progressive)'))?.pixelFormat).toBe('yuv420p');
    expect(parseVideoStreamLine(out('yuvj420p(pc, bt470bg/unknown/unknown, progressive)'))?.pixelFormat).toBe(
      'yuvj420p',
    );
    expect(
      parseVideoStreamLine('  Stream #0:0: Video: mjpeg, yuvj422p(pc), 1280x720, 30 fps')?.pixelFormat,
    ).toBe('yuvj422p');
  });

  it('gives fps null when the line has none', () => {
    expect(parseVideoStreamLine('  Stream #0:0: Video: png, rgb24, 64x48, 1k tbn')?.fps).toBeNull();
  });

  it('returns null for audio streams and other lines', () => {
    expect(parseVideoStreamLine('  Stream #0:0: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s')).toBeNull();
    expect(parseVideoStreamLine("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'c.mp4':")).toBeNull();
    expect(parseVideoStreamLine('')).toBeNull();
  });
});

describe('LineTail', () => {
  it('joins lines split across chunks and splits on \\n, \\r\\n and \\r', () => {
    const t = new LineTail();
    expect(t.push('first li')).toEqual([]);
    expect(t.push('ne\r\nsecond\rthird\npart')).toEqual(['first line', 'second', 'third']);
    expect(t.lines).toEqual(['first line', 'second', 'third']);
  });

  it('keeps only the last N non-blank lines', () => {
    const t = new LineTail(3);
    t.push('a\n\n  \nb\nc\nd\ne\n');
    expect(t.lines).toEqual(['c', 'd', 'e']);
  });

  it('finds the telling error line, stripped of its [component @ 0x...] prefix', () => {
    const t = new LineTail();
    t.push('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55fd37bcf840] moov atom not found\n');
    t.push('frame=   10 fps=0.0 q=-0.0 size=N/A\nConversion failed!\n');
    expect(t.lastError()).toBe('moov atom not found');
  });

  it('counts an unterminated last line and gives null when there is nothing useful', () => {
    const t = new LineTail();
    t.push('/x.mp4: No such file or directory');
    expect(t.lastError()).toBe('/x.mp4: No such file or directory');
    const empty = new LineTail();
    empty.push('Press [q] to stop\nframe=1\n');
    expect(empty.lastError()).toBeNull();
  });
});
