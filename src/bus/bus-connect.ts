import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { FramecastError } from '../errors.js';
import {
  busUrlFault,
  busUrlForLog,
  secretProblem,
  unreadableFile,
  type BusOptions,
} from '../config/bus-settings.js';

export {
  busUrlFault,
  busUrlForLog,
  unreadableFile,
  type BusOptions,
  type BusTlsOptions,
} from '../config/bus-settings.js';

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
