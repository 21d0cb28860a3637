/**
 * `framecast play --json-frames`: one JSON line per received frame on stdout (and, with
 * `--annotations`, one per analyzer's annotation), for scripts that watch a stream's frames, their
 * metadata (`--meta`) and what analyzers say about them.
 */
import type { FrameAnnotation } from '../client/frame-meta.js';
import type { StreamFrame } from '../client/received-frame.js';
import { UsageError } from '../errors.js';

/** parseArgs descriptors of the per-frame JSON options. */
export const PLAY_JSON_OPTIONS = {
  'json-frames': { type: 'boolean' },
  meta: { type: 'boolean' },
  annotations: { type: 'boolean' },
} as const;

/** Help lines for those options. */
export const PLAY_JSON_HELP = `  --json-frames        one JSON line per frame on stdout: {"type":"frame","seq","capturedAt",
                       "width","height","bytes"} (before the --json summary, if any)
  --meta               with --json-frames: each frame's metadata from its publisher ("meta",
                       an object or null); native protocol only
  --annotations        with --json-frames: analyzers' annotations as lines {"type":"annotation",
                       "analyzer","seq","capturedAt","data"} (seq: the frame they belong to)`;

/** What the per-frame JSON options asked for. */
export interface PlayJson {
  frames: boolean;
  meta: boolean;
  annotations: boolean;
}

/** Validates the options (usage errors name the option). */
export function parsePlayJson(
  values: { 'json-frames'?: boolean; meta?: boolean; annotations?: boolean },
  protocol: string,
): PlayJson {
  const out = {
    frames: values['json-frames'] ?? false,
    meta: values.meta ?? false,
    annotations: values.annotations ?? false,
  };
  for (const name of ['meta', 'annotations'] as const) {
    if (!out[name]) continue;
    if (!out.frames) throw new UsageError(`--${name} prints with --json-frames`);
    if (protocol === 'legacy')
      throw new UsageError(`--${name} needs the native protocol (not --protocol legacy)`);
  }
  return out;
}

/** The JSON line of a received frame. */
export function frameLine(f: StreamFrame, withMeta: boolean): string {
  const line: Record<string, unknown> = {
    type: 'frame',
    seq: f.seq,
    capturedAt: f.capturedAt,
    width: f.width,
    height: f.height,
    bytes: f.jpeg.length,
  };
  if (withMeta) line.meta = f.meta;
  return JSON.stringify(line) + '\n';
}

/** The JSON line of an annotation. */
export function annotationLine(a: FrameAnnotation): string {
  return JSON.stringify({ type: 'annotation', ...a }) + '\n';
}
