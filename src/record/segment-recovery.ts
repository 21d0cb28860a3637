import { constants } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mkvDuration } from './matroska.js';
import { scanMkv } from './matroska-scan.js';
import { readSafe, writeNew } from './safe-files.js';
import { annotationLine, frameLine, indexHeadLine, parseIndex, type IndexedFrame } from './segment-index.js';
import type { SegmentInfo } from './segment-name.js';

/** A problem found while loading a stream's recordings (one line for the log). */
export type RecoveryNote = string;

/**
 * A segment left by a process that stopped while writing it: the .mkv is cut after its last whole
 * frame (and its Duration written), the index rebuilt from the .mkv for the frames it lacks (their
 * metadata is lost: it lives only in the index). Returns what it holds, or null (nothing usable:
 * both files are deleted).
 */
export async function recoverSegment(
  dir: string,
  stream: string,
  name: string,
  notes: RecoveryNote[] = [],
): Promise<SegmentInfo | null> {
  const mkvPath = join(dir, `${name}.mkv`);
  const idxPath = join(dir, `${name}.idx`);
  const mkv = await readSafe(dir, `${name}.mkv`);
  const idx = parseIndex(await readSafe(dir, `${name}.idx`).catch(() => Buffer.alloc(0)));
  const scan = scanMkv(mkv);
  const width = idx.width ?? scan.width;
  const height = idx.height ?? scan.height;
  if (scan.frames.length === 0 || width === null || height === null) {
    await unlink(mkvPath).catch(() => undefined);
    await unlink(idxPath).catch(() => undefined);
    notes.push(`${mkvPath}: no whole frame, deleted`);
    return null;
  }
  const frames = idx.frames.filter((f) => f.offset + f.length <= scan.end);
  const last = frames[frames.length - 1];
  const start = idx.start ?? frames[0]?.t ?? scan.startMs ?? 0;
  let rebuilt = 0;
  for (const s of scan.frames) {
    if (last && s.offset <= last.offset) continue;
    const prev = frames[frames.length - 1];
    frames.push({
      seq: (prev?.seq ?? 0) + 1,
      t: Math.max(start + s.timeMs, prev?.t ?? -Infinity),
      offset: s.offset,
      length: s.length,
      meta: null,
    });
    rebuilt++;
  }
  const cut = mkv.length - scan.end;
  if (cut > 0 || scan.durationOffset !== null) {
    const fh = await open(mkvPath, constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      if (cut > 0) await fh.truncate(scan.end);
      const first = frames[0] as IndexedFrame;
      const end = (frames[frames.length - 1] as IndexedFrame).t;
      if (scan.durationOffset !== null)
        await fh.write(mkvDuration(Math.max(1, end - first.t)), 0, 8, scan.durationOffset);
    } finally {
      await fh.close();
    }
  }
  if (rebuilt > 0 || frames.length !== idx.frames.length) {
    const lines = [
      indexHeadLine({ stream, start, width, height }),
      ...frames.map(frameLine),
      ...idx.annotations.map(annotationLine),
    ];
    await writeNew(`${idxPath}.tmp`, Buffer.concat(lines));
    await rename(`${idxPath}.tmp`, idxPath);
  }
  notes.push(
    `${mkvPath}: recovered after an unclean stop (${frames.length} frames${cut > 0 ? `, ${cut} bytes of a cut frame removed` : ''}${
      rebuilt > 0 ? `, ${rebuilt} frames indexed from the video` : ''
    })`,
  );
  const idxSize = (await lstat(idxPath)).size;
  return {
    name,
    start: (frames[0] as IndexedFrame).t,
    end: (frames[frames.length - 1] as IndexedFrame).t,
    frames: frames.length,
    bytes: scan.end + idxSize,
    width,
    height,
  };
}
