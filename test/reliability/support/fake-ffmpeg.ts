import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FFMPEG } from '../../helpers/fixtures.js';

/** A stand-in for ffmpeg that plays a live camera failing on cue. */
export interface FakeFfmpeg {
  /** Give as FFMPEG_PATH. */
  path: string;
  /** How many times it was started. */
  runs(): number;
  cleanup(): void;
}

/**
 * Writes an ffmpeg wrapper that ignores its input and decodes a 320x240 test pattern instead. `plan[i]`
 * says what run i does: N > 0 sends N frames then crashes (exit 1), 0 fails at once like a camera
 * that is gone (printing a URL with a password, to check it is redacted), -1 (and every run past the
 * plan) streams until stopped. The real ffmpeg runs as its child and is killed with it.
 */
export function fakeFfmpeg(plan: number[]): FakeFfmpeg {
  const dir = mkdtempSync(join(tmpdir(), 'framecast-fake-ffmpeg-'));
  const state = join(dir, 'runs');
  writeFileSync(state, '0');
  const path = join(dir, 'ffmpeg');
  writeFileSync(
    path,
    `#!/bin/bash
n=$(cat '${state}')
echo $((n + 1)) > '${state}'
plan=(${plan.join(' ')})
frames=\${plan[$n]:--1}
if [ "$frames" = 0 ]; then
  echo "[tcp @ 0x1] rtsp://admin:hunter2@127.0.0.1:1/cam: Connection refused" >&2
  exit 1
fi
limit=()
[ "$frames" != -1 ] && limit=(-frames:v "$frames")
# Raw frames in the layout the caller asked for (its last -pix_fmt): rgb24 or yuvj420p; I420 in
# YUV4MPEG2 when it asks for yuv4mpegpipe.
pixfmt=rgb24 muxer=rawvideo prev=
for a in "$@"; do [ "$a" = yuv4mpegpipe ] && pixfmt=yuv420p muxer=yuv4mpegpipe; done
for a in "$@"; do [ "$prev" = -pix_fmt ] && pixfmt=$a; prev=$a; done
'${FFMPEG}' -hide_banner -nostdin -loglevel info -nostats -re -f lavfi -i testsrc2=size=320x240:rate=30 \\
  "\${limit[@]}" -f "$muxer" -pix_fmt "$pixfmt" pipe:1 &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM INT
wait $child
[ "$frames" != -1 ] && { echo "fake ffmpeg: simulated crash after $frames frames" >&2; exit 1; }
exit 0
`,
  );
  chmodSync(path, 0o755);
  return {
    path,
    runs: () => Number(readFileSync(state, 'utf8')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
