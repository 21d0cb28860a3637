/**
 * CPU per frame of a 320-px rendition, in a process of its own (run by bench/renditions.ts): the
 * server's scaleJpeg() from an 800-px JPEG and from a 1080p JPEG (libjpeg-turbo's DCT scaling on
 * decode), against a full decode of the same 1080p JPEG, then resize, then encode (no DCT scaling), and
 * sharp's `fastShrinkOnLoad: false` (which still lets libjpeg-turbo scale by 2 when the shrink is 4 or
 * more); and three renditions (320, 480, 640) of each 1080p frame, a decode each against the
 * server's SharedDecode (one decode for the three). sharp as the server sets it: one libvips thread,
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
import { SharedDecode, scaleJpeg } from '../../src/encode/rendition-decode.js';
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

const shared = new SharedDecode(() => LADDER, MAX_PIXELS);
let seq = 0;
/** The same three from one decode of the frame (the server's SharedDecode). */
const ladderShared: Run = async (jpeg) => {
  const frame = new Frame({ seq: seq++, width: 1920, height: 1080, capturedAt: 0, encodedAt: 0, jpeg });
  const outs = await Promise.all(LADDER.map((w) => shared.scale(frame, { width: w, quality })));
  return outs[0]?.jpeg ?? Buffer.alloc(0);
};

async function main(): Promise<void> {
  const pngs = readdirSync(dir)
    .filter((n) => /^f.*\.png$/.test(n))
    .sort()
    .map((n) => readFileSync(join(dir, n)));
  if (!pngs.length) throw new Error(`no f*.png in ${dir}`);
  const hd = await Promise.all(pngs.map((p) => sharp(p).jpeg(JPEG).toBuffer()));
  const sd = await Promise.all(pngs.map((p) => sharp(p).resize({ width: 800 }).jpeg(JPEG).toBuffer()));
  const cases: [keyof RenditionCpu['cases'], string, Buffer[], Run][] = [
    ['from800', 'scaleJpeg(), 800x450 JPEG', sd, rendition],
    ['from1080', 'scaleJpeg(), 1920x1080 JPEG', hd, rendition],
    ['full1080', 'full decode + resize + encode, 1920x1080 JPEG', hd, fullDecode],
    ['noFastShrink1080', 'sharp fastShrinkOnLoad: false, 1920x1080 JPEG', hd, noFastShrink],
    ['ladderSeparate1080', '320 + 480 + 640 px, a decode each, 1920x1080 JPEG', hd, ladderSeparate],
    ['ladderShared1080', '320 + 480 + 640 px, one shared decode, 1920x1080 JPEG', hd, ladderShared],
  ];
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
  for (const [key, name, inputs] of cases) {
    const a = acc.get(key) as NonNullable<ReturnType<typeof acc.get>>;
    const inMeta = await sharp(inputs[0] as Buffer).metadata();
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
