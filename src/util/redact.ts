/**
 * A URL's scheme and userinfo. The userinfo runs to the authority's LAST '@' (as ffmpeg splits it,
 * so a password with '@' in it is masked whole); the authority ends at '/', '?', '#' or a space. The
 * scheme starts after anything but a letter, so a URL glued to a word (`cam_rtsp://`, `1rtsp://`) is
 * masked too. A scheme is at most 32 characters (real ones are a few): each place is tried over that
 * many, so a long line costs linear time, whatever it holds.
 */
const USERINFO = /(?<![a-z])([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#]*)@/gi;

/** A query parameter: its separator, name and value (to '&', '#', a space, a quote or ffmpeg's `: `). */
const PARAM = /([?&])([^\s=&#?]+)=([^\s&#"']*?)(?=:\s|:$|[\s&#"']|$)/g;

/**
 * Words of a query parameter's name that mean its value is a secret (case-insensitive; the name is
 * split at `-`, `_` and `.`, and also taken whole, so `apiKey`, `api_key` and `X-Amz-Signature` count).
 */
export const SECRET_PARAM_WORDS: ReadonlySet<string> = new Set([
  'pwd',
  'pass',
  'passwd',
  'password',
  'passphrase',
  'key',
  'apikey',
  'token',
  'accesstoken',
  'secret',
  'auth',
  'authorization',
  'sig',
  'signature',
  'credential',
  'credentials',
]);

/** True when a query parameter called `name` holds a secret (see SECRET_PARAM_WORDS). */
export function isSecretParam(name: string): boolean {
  const lower = name.toLowerCase();
  if (SECRET_PARAM_WORDS.has(lower.replace(/[-_.]/g, ''))) return true;
  return lower.split(/[-_.]+/).some((w) => SECRET_PARAM_WORDS.has(w));
}

/**
 * Removes credentials from URLs inside any text, so camera passwords never reach logs, /stats, the
 * API or error messages: the password of the userinfo (`rtsp://admin:p@ss@cam/` ->
 * `rtsp://admin:***@cam/`) and the value of every query parameter whose name means a secret
 * (`?user=admin&pwd=X` -> `?user=admin&pwd=***`). Masking twice changes nothing.
 */
export function redactCredentials(text: string): string {
  return text
    .replace(USERINFO, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon < 0 ? userinfo : userinfo.slice(0, colon)}:***@`;
    })
    .replace(PARAM, (m, sep: string, name: string, value: string) =>
      value !== '' && isSecretParam(name) ? `${sep}${name}=***` : m,
    );
}
