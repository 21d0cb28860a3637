const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]*)(?::[^\s@/]*)?@/gi;

/**
 * Removes passwords from URLs inside any text (`rtsp://admin:secret@cam/` -> `rtsp://admin:***@cam/`),
 * so camera credentials never reach logs, /stats or error messages.
 */
export function redactCredentials(text: string): string {
  return text.replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:***@`);
}
