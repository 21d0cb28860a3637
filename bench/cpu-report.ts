import type { CpuSection } from './cpu-section.js';
import { table } from './lib/markdown.js';

const f2 = (x: number): string => x.toFixed(2);
const ratio = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);

/** The CPU section as Markdown: the stage-by-stage breakdown, then the cameras-per-core rows. */
export function cpuTables(c: CpuSection): string {
  const out: string[] = [];
  const runs = c.breakdown[0]?.runs ?? 0;
  out.push(
    `\n**CPU per frame, stage by stage** (\`serve FILE --no-pace\` to one \`framecast play\`, 800 px ` +
      `q80; ms of CPU per frame from /proc, thread by thread; median of ${runs} interleaved runs, best fps; ` +
      `run ${c.date.slice(0, 16).replace('T', ' ')} UTC)\n`,
  );
  out.push(
    table(
      [
        'clip',
        'decode',
        'scale + convert',
        'ffmpeg -> node (IPC)',
        'JPEG encode',
        'node main (read, hub, send)',
        'node other',
        'framecast total',
        'floor: decode + scale',
        'FFmpeg CLI',
        'seed server',
        'CPU vs CLI / seed',
        'fps: framecast / CLI / seed',
      ],
      c.breakdown.map((r) => {
        const f = r.framecast;
        return [
          `${r.source} (${r.frames} frames)`,
          f2(r.decodeMs),
          f2(r.floorMs - r.decodeMs),
          f2(f.ffmpegMs - r.floorMs),
          f2(f.encodeMs),
          f2(f.nodeMainMs),
          f2(f.nodeOtherMs),
          `**${f2(f.totalMs)}**`,
          f2(r.floorMs),
          f2(r.ffmpegCli.cpuMs),
          r.seed ? f2(r.seed.cpuMs) : '-',
          `${ratio(r.cpuVsCli)} / ${ratio(r.cpuVsSeed)}`,
          `${f.fps.toFixed(0)} / ${r.ffmpegCli.fps.toFixed(0)} / ${r.seed ? r.seed.fps.toFixed(0) : '-'}`,
        ];
      }),
    ),
  );
  out.push(
    "\ndecode: ffmpeg decoding alone (`-f null`); scale + convert: framecast's own ffmpeg command into " +
      "/dev/null, less decode; IPC: framecast's ffmpeg (exact, from the server's reaped-children " +
      'counters) less that floor; JPEG encode: the libuv pool threads; FFmpeg CLI: decode, area scale to ' +
      '800, mjpeg q:v 3; seed server: servidor.py (OpenCV capture, resize, imencode q80, base64).',
  );
  if (c.cameras.length) {
    out.push(
      "\n**Cameras per core** (paced at the file's 30 fps, looped, one viewer, 800 px q80; CPU over wall time)\n",
    );
    out.push(
      table(
        [
          'stream',
          'seconds',
          'fps',
          'ffmpeg',
          'node main',
          'JPEG encode',
          'node other',
          'total (cores)',
          'cameras per core',
        ],
        c.cameras.map((r) => [
          `${r.source} (${r.width}x${r.height})`,
          r.seconds.toFixed(0),
          r.fps.toFixed(1),
          r.ffmpegCores.toFixed(3),
          r.nodeMainCores.toFixed(3),
          r.encodeCores.toFixed(3),
          r.nodeOtherCores.toFixed(3),
          `**${r.totalCores.toFixed(3)}**`,
          r.camerasPerCore.toFixed(1),
        ]),
      ),
    );
  }
  return out.join('\n');
}
