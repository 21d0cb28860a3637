/**
 * Glob patterns over stream names (`*` any run of characters, `?` one character), shared by the
 * permissions and the event hooks so that a pattern means the same thing in both.
 */

const patternCache = new Map<string, RegExp>();

/** The regular expression of one glob pattern (anchored; only `*` and `?` are special). */
function patternRegExp(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\-]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    if (patternCache.size >= 4096) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re;
}

/** Stream patterns are checked against this: stream names' characters plus `*` and `?`. */
export const STREAM_PATTERN_RE = /^[A-Za-z0-9_.*?-]{1,128}$/;

/** True when `name` matches one of `patterns` ([] matches every name). */
export function streamMatches(patterns: readonly string[], name: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => patternRegExp(p).test(name));
}
