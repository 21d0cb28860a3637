/**
 * CPU per frame of a 320-px rendition, in a process of its own (run by bench/renditions.ts): the
 * server's scaleJpeg() from an 800-px JPEG and from a 1080p JPEG (libjpeg-turbo's DCT scaling on
 * decode), against a full decode of the same 1080p JPEG, then resize, then encode (no DCT scaling), and
 * sharp's `fastShrinkOnLoad: false` (which still lets libjpeg-turbo scale by 2 when the shrink is 4 or
 * more); and three renditions (320, 480, 640) of each 1080p frame, a decode each against the
 * server's SharedDecode (one decode for the three); and the route of a source ffmpeg decodes: scaleRaw()
 * shrinking the frame's raw I420 planes (800x450 and 1080p, made by ffmpeg from the same frames) and
 * encoding them natively, no decode, and the three renditions from the 800x450 frame's planes against
 * SharedDecode from its JPEG. sharp as the server sets it: one libvips thread,
 * no operation cache. The cases take turns round by round over the same distinct frames, so a change
 * in the machine's load falls on each alike.
 *
 *   tsx bench/lib/rendition-cpu.ts --frames DIR --count N [--rounds 3] [--width 320] [--quality 80]
 *
 * DIR holds 1080p PNG frames (f*.png); the JPEGs are made from them here (q80 4:2:0, as the server
 * encodes). Prints one JSON line (RenditionCpu).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
// The server's sharp settings (concurrency 1, cache off) come with the module that makes them.
import '../../src/encode/jpeg-encoder.js';
import { spawnSync } from 'node:child_process';
import { SharedDecode, scaleJpeg, scaleRaw } from '../../src/encode/rendition-decode.js';
import { nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';
import { locateFfmpeg } from '../../src/source/ffmpeg-path.js';
import { Frame } from '../../src/hub/frame.js';

/** One case: CPU and wall time per frame, and what came out. */
export interface RenditionCpuCase {
  name: string;
  input: { width: number; height: number; meanBytes: number };
  output: { width: number; height: number; meanBytes: number };
  frames: number;
  cpuMsPerFrame: number;
  wallMsPerFrame: number;
}

/** What the child prints. */
export interface RenditionCpu {
  width: number;
  quality: number;
  distinctFrames: number;
  rounds: number;
  sharp: string;
  vips: string;
  cases: {
    from800: RenditionCpuCase;
    from1080: RenditionCpuCase;
    full1080: RenditionCpuCase;
    noFastShrink1080: RenditionCpuCase;
    /** Three renditions (320, 480, 640) of each 1080p frame, each decoding it (absent in older results). */
    ladderSeparate1080?: RenditionCpuCase;
    /** The same three from one decode per frame (SharedDecode, as the server does with 2+ renditions). */
    ladderShared1080?: RenditionCpuCase;
    /** scaleRaw() from the raw I420 planes of an 800x450 / 1080p frame (absent in older results or without the native encoder). */
    raw800?: RenditionCpuCase;
    raw1080?: RenditionCpuCase;
    /** 320 + 480 + 640 px of each 800x450 frame: from its JPEG (SharedDecode), from its raw planes. */
    ladderShared800?: RenditionCpuCase;
    ladderRaw800?: RenditionCpuCase;
  };
}

const { values } = parseArgs({
  options: {
    frames: { type: 'string' },
    count: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    width: { type: 'string', default: '320' },
    quality: { type: 'string', default: '80' },
  },
});
const dir = values.frames as string;
const count = Number(values.count);
const rounds = Number(values.rounds);
const width = Number(values.width);
const quality = Number(values.quality);
const MAX_PIXELS = 16_777_216;
const JPEG = { quality, chromaSubsampling: '4:2:0', optimiseCoding: true, mozjpeg: false } as const;

type Run = (jpeg: Buffer) => Promise<Buffer>;

/** The server's rendition: scaleJpeg(), DCT-scaled decode (shrink-on-load), then resize and encode. */
const rendition: Run = async (jpeg) => (await scaleJpeg(jpeg, { width, quality }, MAX_PIXELS)).jpeg;

/** A full decode to pixels, then the same resize and encode from them: no DCT scaling. */
const fullDecode: Run = async (jpeg) => {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .resize({ width, kernel: 'lanczos3' })
    .jpeg(JPEG)
    .toBuffer();
};

/** sharp's `fastShrinkOnLoad: false`: still a DCT-scaled decode, by at most half the shrink. */
const noFastShrink: Run = (jpeg) =>
  sharp(jpeg)
    .resize({ width, withoutEnlargement: true, kernel: 'lanczos3', fastShrinkOnLoad: false })
    .jpeg(JPEG)
    .toBuffer();

/** The three widths of the ladder cases (the viewers' run asks for the same). */
const LADDER = [320, 480, 640];

/** Three renditions of one frame, each from its own decode (as before renditions shared one). */
const ladderSeparate: Run = async (jpeg) => {
  const outs = await Promise.all(LADDER.map((w) => scaleJpeg(jpeg, { width: w, quality }, MAX_PIXELS)));
  return outs[0]?.jpeg ?? Buffer.alloc(0);
};

const shared = new SharedDecode(() => LADDER.map((width) => ({ width, quality })), MAX_PIXELS);
let seq = 0;
/** The same three from one decode of the frame (the server's SharedDecode). */
const ladderShared: Run = async (jpeg) => {
  const frame = new Frame({ seq: seq++, width: 1920, height: 1080, capturedAt: 0, encodedAt: 0, jpeg });
  const outs = await Promise.all(LADDER.map((w) => shared.scale(frame, { width: w, quality })));
  return outs[0]?.jpeg ?? Buffer.alloc(0);
};

/** A frame's raw I420 planes (full range, as ffmpeg's yuvj420p) at a known size. */
const planesOf = (w: number, h: number) => (data: Buffer) => ({
  data,
  width: w,
  height: h,
  release: () => {},
});

/** scaleRaw() of one frame's planes at `width` (the server's route for a source ffmpeg decodes). */
const raw =
  (w: number, h: number): Run =>
  async (planes) =>
    (await scaleRaw(planesOf(w, h)(planes), { width, quality })).jpeg;

/** The three from the frame's planes, each shrunk and encoded (what the server does with them). */
const ladderRaw =
  (w: number, h: number): Run =>
  async (planes) => {
    const outs = await Promise.all(
      LADDER.map((lw) => scaleRaw(planesOf(w, h)(planes), { width: lw, quality })),
    );
    return outs[0]?.jpeg ?? Buffer.alloc(0);
  };

/** The frames as raw I420 planes at w x h, made by ffmpeg (full range, BT.601). */
function i420Frames(w: number, h: number): Buffer[] {
  const r = spawnSync(
    locateFfmpeg().path,
    [
      ...['-hide_banner', '-v', 'error', '-nostdin', '-i', join(dir, 'f%03d.png')],
      ...['-vf', `scale=${w}:${h}`, '-pix_fmt', 'yuvj420p', '-f', 'rawvideo', '-'],
    ],
    { maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not make I420 frames: ${r.stderr.toString()}`);
  const size = w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2);
  const out: Buffer[] = [];
  for (let o = 0; o + size <= r.stdout.length; o += size)
    out.push(Buffer.from(r.stdout.subarray(o, o + size)));
  return out;
}

async function main(): Promise<void> {
  const pngs = readdirSync(dir)
    .filter((n) => /^f.*\.png$/.test(n))
    .sort()
    .map((n) => readFileSync(join(dir, n)));
  if (!pngs.length) throw new Error(`no f*.png in ${dir}`);
  const hd = await Promise.all(pngs.map((p) => sharp(p).jpeg(JPEG).toBuffer()));
  const sd = await Promise.all(pngs.map((p) => sharp(p).resize({ width: 800 }).jpeg(JPEG).toBuffer()));
  const shared800 = new SharedDecode(() => LADDER.map((width) => ({ width, quality })), MAX_PIXELS);
  const ladderShared800: Run = async (jpeg) => {
    const frame = new Frame({ seq: seq++, width: 800, height: 450, capturedAt: 0, encodedAt: 0, jpeg });
    const outs = await Promise.all(LADDER.map((w) => shared800.scale(frame, { width: w, quality })));
    return outs[0]?.jpeg ?? Buffer.alloc(0);
  };
  /** [key, name, inputs, run, the inputs' size when they are raw planes] */
  const cases: [keyof RenditionCpu['cases'], string, Buffer[], Run, [number, number]?][] = [
    ['from800', 'scaleJpeg(), 800x450 JPEG', sd, rendition],
    ['from1080', 'scaleJpeg(), 1920x1080 JPEG', hd, rendition],
    ['full1080', 'full decode + resize + encode, 1920x1080 JPEG', hd, fullDecode],
    ['noFastShrink1080', 'sharp fastShrinkOnLoad: false, 1920x1080 JPEG', hd, noFastShrink],
    ['ladderSeparate1080', '320 + 480 + 640 px, a decode each, 1920x1080 JPEG', hd, ladderSeparate],
    ['ladderShared1080', '320 + 480 + 640 px, one shared decode, 1920x1080 JPEG', hd, ladderShared],
  ];
  if (nativeShrinkAvailable()) {
    cases.push(
      ['raw800', 'scaleRaw(), 800x450 raw I420 frame', i420Frames(800, 450), raw(800, 450), [800, 450]],
      [
        'raw1080',
        'scaleRaw(), 1920x1080 raw I420 frame',
        i420Frames(1920, 1080),
        raw(1920, 1080),
        [1920, 1080],
      ],
      ['ladderShared800', '320 + 480 + 640 px, one shared decode, 800x450 JPEG', sd, ladderShared800],
      [
        'ladderRaw800',
        '320 + 480 + 640 px, each from the raw planes, 800x450 I420',
        i420Frames(800, 450),
        ladderRaw(800, 450),
        [800, 450],
      ],
    );
  }
  const acc = new Map<string, { cpu: number; wall: number; frames: number; outBytes: number; out: Buffer }>();
  // Warm-up: each case once per frame (libvips and the JIT settle), not counted.
  for (const [, , inputs, run] of cases) for (const j of inputs) await run(j);
  const perRound = Math.ceil(count / rounds);
  for (let r = 0; r < rounds; r++) {
    for (const [key, , inputs, run] of cases) {
      const a = acc.get(key) ?? { cpu: 0, wall: 0, frames: 0, outBytes: 0, out: Buffer.alloc(0) };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        const out = await run(inputs[(r * perRound + i) % inputs.length] as Buffer);
        a.outBytes += out.length;
        a.out = out;
      }
      a.wall += performance.now() - t0;
      const c = process.cpuUsage(c0);
      a.cpu += (c.user + c.system) / 1000;
      a.frames += perRound;
      acc.set(key, a);
    }
  }
  const mean = (bs: Buffer[]): number => bs.reduce((s, b) => s + b.length, 0) / bs.length;
  const out = {} as RenditionCpu['cases'];
  for (const [key, name, inputs, , rawSize] of cases) {
    const a = acc.get(key) as NonNullable<ReturnType<typeof acc.get>>;
    const inMeta = rawSize
      ? { width: rawSize[0], height: rawSize[1] }
      : await sharp(inputs[0] as Buffer).metadata();
    const outMeta = await sharp(a.out).metadata();
    out[key] = {
      name,
      input: { width: inMeta.width ?? 0, height: inMeta.height ?? 0, meanBytes: Math.round(mean(inputs)) },
      output: {
        width: outMeta.width ?? 0,
        height: outMeta.height ?? 0,
        meanBytes: Math.round(a.outBytes / a.frames),
      },
      frames: a.frames,
      cpuMsPerFrame: a.cpu / a.frames,
      wallMsPerFrame: a.wall / a.frames,
    };
  }
  const result: RenditionCpu = {
    width,
    quality,
    distinctFrames: pngs.length,
    rounds,
    sharp: sharp.versions.sharp ?? '?',
    vips: sharp.versions.vips,
    cases: out,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`rendition-cpu: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
