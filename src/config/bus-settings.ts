import { accessSync, constants, statSync } from 'node:fs';

/**
 * The bus settings as a config file and the command line give them, and the checks of their values:
 * the config room reads them, the bus room uses them (docs/PROTOCOL.md, "Bus").
 */

/** TLS to the bus: PEM files (absolute or relative to the working directory). */
export interface BusTlsOptions {
  /** The CA that signed the NATS server's certificate (default: the system's CAs). */
  caFile?: string;
  /** A client certificate, for a server that verifies clients (give keyFile too). */
  certFile?: string;
  keyFile?: string;
}

/** Where the frame bus is, how its subjects are named, and how to log in to it. */
export interface BusOptions {
  /**
   * `nats://HOST:PORT` (several separated by commas), without credentials: nats.js does not take them
   * from a URL (`u:1234@h:4222` even dials port 1234), so one that has them is refused.
   */
  url: string;
  /** Subject prefix (default `framecast`). */
  prefix?: string;
  /** Name of this process on the bus (logs and the demand messages). */
  name?: string;
  /** User and password (both, or neither). */
  user?: string;
  password?: string;
  token?: string;
  /** A NATS `.creds` file (user JWT and NKey seed), as `nsc` writes it. */
  credsFile?: string;
  /** A file holding an NKey user seed (`SU...`). */
  nkeyFile?: string;
  /** TLS: true trusts the system's CAs; files for a private CA or a client certificate. */
  tls?: BusTlsOptions | boolean | null;
  /**
   * The bus secret (at least 16 characters, shared by origins and edges): origins sign what they
   * publish with it, edges drop what does not verify. Never logged.
   */
  secret?: string;
}

/**
 * A bus URL (or a list) as it may be shown: everything up to the last '@' is masked, since a password
 * may itself hold '@', '/' or ',' (where the URL would not parse, or a list would split inside it).
 */
export function busUrlForLog(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  return `${scheme}***${url.slice(at)}`;
}

/**
 * What is wrong with one bus URL, or null: credentials in it (any '@': with a '/' or ',' in the
 * password it does not even parse), or not nats://HOST:PORT (or tls://).
 */
export function busUrlFault(url: string): 'credentials' | 'malformed' | null {
  if (url.includes('@')) return 'credentials';
  try {
    const u = new URL(url.trim());
    return (u.protocol === 'nats:' || u.protocol === 'tls:') && u.hostname !== '' ? null : 'malformed';
  } catch {
    return 'malformed';
  }
}

/** Why `path` cannot be used as a file to read ("no such file", ...), or null when it can. */
export function unreadableFile(path: string): string | null {
  try {
    // Not only regular files: a secret may come through a pipe (`--bus-creds <(vault ...)`).
    if (statSync(path).isDirectory()) return 'is a directory';
    accessSync(path, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    return (err as Error).message;
  }
}

/** Why `prefix` cannot be a subject prefix, or null: NATS subject tokens, no wildcards. */
export function prefixProblem(prefix: string): string | null {
  if (/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix) && prefix.length <= 128) return null;
  return `must be NATS subject tokens (letters, digits, _ -, dots between; at most 128 characters), got '${prefix}'`;
}

/** The shortest bus secret taken. */
export const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_BYTES = 1024;

/** Why `secret` cannot be a bus secret (never quoting it), or null. */
export function secretProblem(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH)
    return `must be at least ${MIN_SECRET_LENGTH} characters (openssl rand -hex 32 makes one)`;
  if (Buffer.byteLength(secret, 'utf8') > MAX_SECRET_BYTES)
    return `must be at most ${MAX_SECRET_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(secret)) return 'must not hold control characters';
  return null;
}
