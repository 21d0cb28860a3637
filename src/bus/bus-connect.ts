import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { FramecastError } from '../errors.js';
import { secretProblem } from './bus-sign.js';

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

/**
 * What is wrong with the options' credentials and TLS (one line naming the option), or null.
 * Names are the CLI's; the config file reports its own keys before it gets here.
 */
export function busOptionsProblem(o: BusOptions): string | null {
  const bad = urlProblem(o.url);
  if (bad) return bad;
  const kinds = [
    o.user !== undefined || o.password !== undefined ? 'user/password' : null,
    o.token !== undefined ? 'token' : null,
    o.credsFile !== undefined ? 'creds' : null,
    o.nkeyFile !== undefined ? 'nkey' : null,
  ].filter((k) => k !== null);
  if (kinds.length > 1) return `bus: give one way to log in, not ${kinds.join(' and ')}`;
  if ((o.user === undefined) !== (o.password === undefined))
    return o.user === undefined
      ? 'bus: a password needs a user (--bus-user)'
      : 'bus: a user needs a password (--bus-password or $FRAMECAST_BUS_PASSWORD)';
  for (const [what, v] of [
    ['user', o.user],
    ['password', o.password],
    ['token', o.token],
  ] as const)
    if (v !== undefined && (v === '' || /[\s\0]/.test(v)))
      return `bus ${what} must be non-empty, without spaces or control characters`;
  const secretBad = o.secret === undefined ? null : secretProblem(o.secret);
  if (secretBad) return `bus secret ${secretBad}`;
  const tls = typeof o.tls === 'object' && o.tls !== null ? o.tls : {};
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    return 'bus TLS: a client certificate and its key go together (--bus-tls-cert with --bus-tls-key)';
  for (const [what, path] of [
    ['creds file', o.credsFile],
    ['nkey seed file', o.nkeyFile],
    ['TLS CA file', tls.caFile],
    ['TLS certificate file', tls.certFile],
    ['TLS key file', tls.keyFile],
  ] as const) {
    const why = path === undefined ? null : unreadableFile(path);
    if (why) return `bus ${what} ${path}: ${why}`;
  }
  return null;
}

/** Why `url` (comma-separated) is not a list of nats:// (or tls://) URLs without credentials, or null. */
function urlProblem(url: string): string | null {
  // Checked on the whole list first: a ',' in a password would split it inside the secret.
  if (busUrlFault(url) === 'credentials')
    return `--bus: credentials in the URL are not used ('${busUrlForLog(url)}'); give them with --bus-user and --bus-password (or $FRAMECAST_BUS_PASSWORD)`;
  for (const s of url.split(',').map((u) => u.trim()))
    if (busUrlFault(s)) return `--bus must be nats://HOST:PORT (several separated by commas), got '${s}'`;
  return null;
}

/** nats.js's login and TLS options from ours; files are read here so a bad one is named. */
function natsAuth(o: BusOptions): Partial<ConnectionOptions> {
  const read = (what: string, path: string): Uint8Array => {
    try {
      return readFileSync(path);
    } catch {
      throw new FramecastError('ERR_USAGE', `bus ${what} ${path}: ${unreadableFile(path) ?? 'unreadable'}`, {
        exitCode: 2,
      });
    }
  };
  const out: Partial<ConnectionOptions> = {};
  if (o.user !== undefined) Object.assign(out, { user: o.user, pass: o.password });
  if (o.token !== undefined) out.token = o.token;
  // The authenticators parse their file lazily, at the server's nonce: try one now, so a bad file is
  // named as such rather than surfacing as a connection error.
  const checked = (what: string, path: string, auth: Authenticator): Authenticator => {
    try {
      auth('check');
    } catch (err) {
      throw new FramecastError('ERR_USAGE', `bus ${what} ${path}: ${(err as Error).message}`, {
        exitCode: 2,
      });
    }
    return auth;
  };
  if (o.credsFile !== undefined)
    out.authenticator = checked(
      'creds file',
      o.credsFile,
      credsAuthenticator(read('creds file', o.credsFile)),
    );
  if (o.nkeyFile !== undefined) {
    const seed = new TextDecoder().decode(read('nkey seed file', o.nkeyFile)).trim();
    out.authenticator = checked(
      'nkey seed file',
      o.nkeyFile,
      nkeyAuthenticator(new TextEncoder().encode(seed)),
    );
  }
  if (o.tls) {
    const t = o.tls === true ? {} : o.tls;
    const pem = (what: string, path: string | undefined): string | undefined =>
      path === undefined ? undefined : new TextDecoder().decode(read(what, path));
    const ca = pem('TLS CA file', t.caFile);
    const cert = pem('TLS certificate file', t.certFile);
    const key = pem('TLS key file', t.keyFile);
    out.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }
  return out;
}

/** How long the first connection may take (nats.js's default is 20 s: too long to learn of a typo). */
const CONNECT_TIMEOUT_MS = 5000;

/** One line saying what went wrong connecting and what to check. */
function explain(
  o: BusOptions,
  err: Error,
): { code: 'ERR_AUTH' | 'ERR_TLS' | 'ERR_CONNECTION'; text: string } {
  const msg = err.message;
  const errno = (err as NodeJS.ErrnoException).code ?? '';
  if (err.name === 'AuthorizationError' || /authorization violation|authentication/i.test(msg)) {
    const hint =
      o.user !== undefined
        ? 'check --bus-user/--bus-password'
        : o.token !== undefined
          ? 'check --bus-token'
          : o.credsFile !== undefined
            ? 'check --bus-creds'
            : o.nkeyFile !== undefined
              ? 'check the nkey seed'
              : 'the server wants credentials: --bus-user/--bus-password, --bus-token or --bus-creds';
    return { code: 'ERR_AUTH', text: `authorization violation (${hint})` };
  }
  if (/does not support 'tls'/.test(msg))
    return {
      code: 'ERR_TLS',
      text: 'the server does not offer TLS (drop the bus TLS options, or enable tls in nats-server)',
    };
  if (
    /certificate|self[- ]signed|UNABLE_TO|CERT_|ERR_TLS|ERR_SSL|ERR_OSSL|ssl|tls/i.test(`${msg} ${errno}`)
  ) {
    const hint = /verify|self[- ]signed|issuer|UNABLE_TO/i.test(`${msg} ${errno}`)
      ? " (give the server's CA with --bus-tls-ca)"
      : '';
    return { code: 'ERR_TLS', text: `TLS: ${msg}${hint}` };
  }
  if (err.name === 'TimeoutError' && o.tls && (o.tls === true || o.tls.certFile === undefined))
    return {
      code: 'ERR_TLS',
      text: 'timed out in the TLS handshake (does the server verify clients? give --bus-tls-cert/--bus-tls-key)',
    };
  if (/refused/i.test(msg))
    return { code: 'ERR_CONNECTION', text: 'connection refused (is nats-server running there?)' };
  if (err.name === 'TimeoutError')
    return {
      code: 'ERR_CONNECTION',
      text: `no answer within ${CONNECT_TIMEOUT_MS / 1000} s (is it a NATS server?)`,
    };
  return { code: 'ERR_CONNECTION', text: msg };
}

/**
 * Connects to NATS. The first connection must succeed (a wrong password or certificate fails here,
 * at once, with one line); after it, reconnects are NATS's job and go on for ever.
 */
export async function connectBus(opts: BusOptions): Promise<NatsConnection> {
  const servers = opts.url.split(',').map((u) => u.trim());
  const problem = busOptionsProblem(opts);
  if (problem) throw new FramecastError('ERR_USAGE', problem, { exitCode: 2 });
  const auth = natsAuth(opts);
  try {
    return await connect({
      servers,
      name: opts.name ?? 'framecast',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // false: each server is tried once and connect() rejects, rather than retrying for ever.
      waitOnFirstConnect: false,
      // Once connected, a login refused later (credentials rotated on the server) is a state to wait
      // out like any other outage, not a reason to close the connection for good after two refusals.
      ignoreAuthErrorAbort: true,
      timeout: CONNECT_TIMEOUT_MS,
      ...auth,
    });
  } catch (err) {
    const { code, text } = explain(opts, err as Error);
    throw new FramecastError(code, `bus ${busUrlForLog(opts.url)}: ${text}`, { cause: err });
  }
}

/** What a server says of its bus connection: lost (NATS retries on its own) or back. */
export type BusState = 'disconnected' | 'reconnected';

/** Calls `on` for each loss and return of the bus connection until it is closed. */
export function watchBus(nc: NatsConnection, on: (state: BusState, server: string) => void): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') on('disconnected', s.server);
      else if (s.type === 'reconnect') on('reconnected', s.server);
    }
  })().catch(() => undefined);
}
