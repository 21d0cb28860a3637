/** Durations and sizes as people write them in a config file: `90`, `60s`, `7d`, `500MB`, `2GiB`. */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/;
const SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds from a number (seconds) or a string such as `60s`, `10m`, `7d`; null when it is neither. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = DURATION.exec(v.trim());
  if (!m) return null;
  return Number(m[1]) * (SECONDS[m[2] ?? 's'] as number);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/i;
const BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes from a number or a string such as `500MB`, `2GiB`; null when it is neither. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.floor(v) : null;
  if (typeof v !== 'string') return null;
  const m = SIZE.exec(v.trim());
  if (!m) return null;
  return Math.floor(Number(m[1]) * (BYTES[(m[2] ?? 'b').toLowerCase()] as number));
}
