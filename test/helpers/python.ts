/**
 * Runs Python with OpenCV for the seed interop tests. Debian's python3-opencv is importable only by
 * /usr/bin/python3 (not by a pyenv `python3` on PATH), so that interpreter is the default;
 * SEED_PYTHON overrides it.
 */
import { spawnSync } from 'node:child_process';

/** The interpreter that has cv2. */
export const PYTHON = process.env.SEED_PYTHON || '/usr/bin/python3';

let cv2: { ok: boolean; why: string } | undefined;

/** Whether `PYTHON` can import cv2 and numpy; `why` says what failed (for a clear skip message). */
export function cv2Available(): { ok: boolean; why: string } {
  cv2 ??= (() => {
    const r = spawnSync(PYTHON, ['-c', 'import cv2, numpy; print(cv2.__version__)'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (r.status === 0) return { ok: true, why: `OpenCV ${r.stdout.trim()}` };
    const msg = (r.error?.message ?? r.stderr.trim().split('\n').pop() ?? 'unknown error').trim();
    return { ok: false, why: `${PYTHON} cannot import cv2 (${msg}); install python3-opencv` };
  })();
  return cv2;
}
