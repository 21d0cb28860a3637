import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { FILE_FORMATS, parseSource, TEST_PATTERN } from '../../src/source/source-spec.js';
import { makeTempDir } from '../helpers/fixtures.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

function codeOf(fn: () => unknown): { code: string; exitCode: number; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FramecastError);
    const e = err as FramecastError;
    return { code: e.code, exitCode: e.exitCode, message: e.message };
  }
  throw new Error('expected an error');
}

describe('parseSource', () => {
  it('takes `test` for the built-in moving pattern: paced by us, never ends', () => {
    const s = parseSource('test');
    expect(s).toMatchObject({ kind: 'test', name: 'test', live: false, finite: false });
    expect(s.inputArgs).toEqual([
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${TEST_PATTERN.width}x${TEST_PATTERN.height}:rate=${TEST_PATTERN.fps}`,
    ]);
  });

  it('takes an existing file path: finite, not live', () => {
    const f = join(tmp.dir, 'a video.mp4');
    writeFileSync(f, 'x');
    expect(parseSource(f)).toEqual({
      kind: 'file',
      name: f,
      inputArgs: ['-protocol_whitelist', 'file', '-format_whitelist', FILE_FORMATS, '-i', `file:${f}`],
      live: false,
      finite: true,
    });
    expect(parseSource(`file://${encodeURI(f)}`).name).toBe(f);
  });

  it('takes webcams the way OpenCV users name them', () => {
    for (const s of ['0', 'webcam', 'webcam:0', 'cam:2']) {
      expect(parseSource(s), s).toMatchObject({ kind: 'device', live: true, finite: false });
    }
    if (process.platform === 'linux') {
      expect(parseSource('2').inputArgs).toEqual(['-f', 'v4l2', '-i', '/dev/video2']);
      expect(parseSource('webcam').inputArgs).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    }
  });

  it('says a missing /dev/videoN is not found', () => {
    expect(codeOf(() => parseSource('/dev/video97'))).toEqual({
      code: 'ERR_SOURCE_NOT_FOUND',
      exitCode: 1,
      message: 'video device not found: /dev/video97',
    });
  });

  it('takes URLs: rtsp is live over TCP, http is a finite file', () => {
    expect(parseSource('rtsp://cam.local/stream')).toMatchObject({
      kind: 'url',
      live: true,
      finite: false,
      inputArgs: [
        '-protocol_whitelist',
        'rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy',
        '-rtsp_transport',
        'tcp',
        '-i',
        'rtsp://cam.local/stream',
      ],
    });
    expect(parseSource('https://example.org/v.mp4')).toMatchObject({
      kind: 'url',
      live: false,
      finite: true,
    });
    expect(parseSource('udp://239.0.0.1:1234')).toMatchObject({ kind: 'url', live: true });
  });

  it('names a missing file', () => {
    const missing = join(tmp.dir, 'nope.mp4');
    expect(codeOf(() => parseSource(missing))).toEqual({
      code: 'ERR_SOURCE_NOT_FOUND',
      exitCode: 1,
      message: `source file not found: ${missing}`,
    });
  });

  it('refuses a directory', () => {
    const d = join(tmp.dir, 'dir.mp4');
    mkdirSync(d);
    expect(codeOf(() => parseSource(d)).code).toBe('ERR_SOURCE_INVALID');
  });

  it('refuses an empty SOURCE as a usage error', () => {
    expect(codeOf(() => parseSource('  '))).toMatchObject({ code: 'ERR_USAGE', exitCode: 2 });
  });
});
