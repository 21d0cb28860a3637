/**
 * Per-frame metadata and annotations are one JSON object each, checked the same way wherever they come
 * from (a native publisher, an HTTP part, the API, an analyzer): valid UTF-8 JSON, an object at the
 * top, at most `maxBytes` long and `MAX_META_DEPTH` deep. What passes is kept as compact JSON bytes,
 * parsed once here and never again on the way to viewers.
 */

/** Default cap on one frame's metadata or one annotation (bytes of JSON): per stream `maxMetaBytes`. */
export const DEFAULT_MAX_META_BYTES = 64 * 1024;
/** Largest `maxMetaBytes` a stream may set (a reader's cap on the wire is the same). */
export const MAX_META_BYTES_LIMIT = 1024 * 1024;
/** Deepest nesting of arrays and objects (a deeply nested document costs a parser's stack). */
export const MAX_META_DEPTH = 32;

/** The checked JSON, or why it was refused. */
export type MetaCheck = { readonly json: Buffer } | { readonly problem: string };

/** Nesting depth of a parsed JSON value (a scalar is 0), stopping once past `limit`. */
function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit < 0) return 1;
  let deepest = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const d = depthOf(v, limit - 1);
    if (d > deepest) deepest = d;
    if (deepest > limit) break;
  }
  return 1 + deepest;
}

/**
 * Checks a bytes-of-JSON value. The nesting is bounded before parsing (by counting brackets outside
 * strings), so a 64 KiB run of `[` cannot reach the parser's recursion.
 */
export function checkMetaBytes(bytes: Buffer, maxBytes: number): MetaCheck {
  if (bytes.length > maxBytes) return { problem: `metadata of ${bytes.length} bytes is over ${maxBytes}` };
  if (bracketDepth(bytes) > MAX_META_DEPTH)
    return { problem: `metadata nested deeper than ${MAX_META_DEPTH} levels` };
  const text = bytes.toString('utf8');
  if (Buffer.byteLength(text, 'utf8') !== bytes.length || text.includes('\uFFFD'))
    return { problem: 'metadata is not valid UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `metadata is not JSON: ${(err as Error).message}` };
  }
  return checkMetaValue(value, maxBytes);
}

/** Checks an already parsed value (from a JSON API body): an object, within depth and size. */
export function checkMetaValue(value: unknown, maxBytes: number): MetaCheck {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { problem: 'metadata must be a JSON object' };
  if (depthOf(value, MAX_META_DEPTH) > MAX_META_DEPTH)
    return { problem: `metadata nested deeper than ${MAX_META_DEPTH} levels` };
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  if (json.length > maxBytes) return { problem: `metadata of ${json.length} bytes is over ${maxBytes}` };
  return { json };
}

/** Deepest bracket nesting of JSON text, strings skipped (a cheap bound before JSON.parse). */
function bracketDepth(bytes: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}
