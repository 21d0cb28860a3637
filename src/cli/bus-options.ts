import { prefixProblem, type BusOptions, type BusTlsOptions } from '../bus/bus.js';
import { busOptionsProblem, busUrlForLog } from '../bus/bus-connect.js';
import type { FramecastServer } from '../app/framecast-server.js';
import type { Logger } from './output.js';
import { UsageError } from '../errors.js';
import { BUS_SECRET_ENV, secretProblem } from '../bus/bus-sign.js';

/** The bus flags of `serve` and `edge`, for node:util parseArgs. */
export const BUS_ARGS = {
  bus: { type: 'string' },
  'bus-prefix': { type: 'string' },
  'bus-name': { type: 'string' },
  'bus-user': { type: 'string' },
  'bus-password': { type: 'string' },
  'bus-token': { type: 'string' },
  'bus-creds': { type: 'string' },
  'bus-nkey': { type: 'string' },
  'bus-tls-ca': { type: 'string' },
  'bus-tls-cert': { type: 'string' },
  'bus-tls-key': { type: 'string' },
  'bus-secret': { type: 'string' },
} as const;

/** What parseArgs gives for BUS_ARGS. */
export type BusArgValues = { [K in keyof typeof BUS_ARGS]?: string | undefined };

/** Password and token may come from the environment: a command line shows in `ps`. */
export const BUS_PASSWORD_ENV = 'FRAMECAST_BUS_PASSWORD';
export const BUS_TOKEN_ENV = 'FRAMECAST_BUS_TOKEN';

/** Help lines of the bus flags (after --bus URL, which each command words its own way). */
export const BUS_HELP = `  --bus-prefix P       subject prefix on the bus (default framecast)
  --bus-name N         this process's name on the bus (logs, demand messages)
  --bus-user U         log in to NATS as user U with password P
  --bus-password P     (default: $${BUS_PASSWORD_ENV}; a command line shows in ps)
  --bus-token T        log in with a token (default: $${BUS_TOKEN_ENV})
  --bus-creds FILE     log in with a NATS .creds file (JWT and NKey seed, as nsc writes it)
  --bus-nkey FILE      log in with an NKey user seed file
  --bus-tls-ca FILE    TLS to NATS, trusting this CA (PEM; default: the system's CAs)
  --bus-tls-cert FILE  a client certificate and its key (PEM), for a server that verifies
  --bus-tls-key FILE   clients
  --bus-secret S       sign (origin) and check (edge) what goes on the bus with this shared
                       secret, at least 16 characters (default: $${BUS_SECRET_ENV}; a command
                       line shows in ps); an edge with one ignores origins without it`;

const LOGIN_FLAGS = ['bus-user', 'bus-password', 'bus-token', 'bus-creds', 'bus-nkey'] as const;

/**
 * The bus options from the command line over the config file's `bus:` (or null for no bus). A flag
 * wins over the file key by key, except logins: any login flag replaces the file's login. The
 * environment's password and token fill in only what neither gives, as $FRAMECAST_TOKEN does.
 */
export function busOption(
  v: BusArgValues,
  file: BusOptions | null,
  env: NodeJS.ProcessEnv = process.env,
): BusOptions | null {
  const url = v.bus ?? file?.url;
  if (url === undefined) {
    const stray = (Object.keys(BUS_ARGS) as (keyof BusArgValues)[]).find((k) => v[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} applies with --bus (or bus: in the config file)`);
    return null;
  }
  if (v['bus-prefix'] !== undefined) {
    const problem = prefixProblem(v['bus-prefix']);
    if (problem) throw new UsageError(`--bus-prefix ${problem}`);
  }
  if (v['bus-name'] !== undefined && !/^\S{1,128}$/.test(v['bus-name']))
    throw new UsageError(`--bus-name must be 1 to 128 characters without spaces, got '${v['bus-name']}'`);
  const loginTyped = LOGIN_FLAGS.some((k) => v[k] !== undefined);
  const login: Partial<BusOptions> = loginTyped
    ? {
        ...(v['bus-user'] !== undefined ? { user: v['bus-user'] } : {}),
        ...(v['bus-password'] !== undefined ? { password: v['bus-password'] } : {}),
        ...(v['bus-token'] !== undefined ? { token: v['bus-token'] } : {}),
        ...(v['bus-creds'] !== undefined ? { credsFile: v['bus-creds'] } : {}),
        ...(v['bus-nkey'] !== undefined ? { nkeyFile: v['bus-nkey'] } : {}),
      }
    : pick(file);
  const hasLogin = Object.keys(login).length > 0;
  if (login.user !== undefined && login.password === undefined && env[BUS_PASSWORD_ENV])
    login.password = env[BUS_PASSWORD_ENV];
  if (!hasLogin && env[BUS_TOKEN_ENV]) login.token = env[BUS_TOKEN_ENV];
  const out: BusOptions = {
    url,
    ...(v['bus-prefix'] !== undefined
      ? { prefix: v['bus-prefix'] }
      : file?.prefix
        ? { prefix: file.prefix }
        : {}),
    ...(v['bus-name'] !== undefined ? { name: v['bus-name'] } : file?.name ? { name: file.name } : {}),
    ...login,
  };
  const tls = tlsOption(v, file?.tls ?? null);
  if (tls !== null) out.tls = tls;
  // As the password: the flag, else the file, else the environment (an empty variable is unset).
  const secret = v['bus-secret'] ?? file?.secret ?? (env[BUS_SECRET_ENV] || undefined);
  if (secret !== undefined) {
    const where =
      v['bus-secret'] !== undefined ? '--bus-secret' : file?.secret ? 'bus.secret' : `$${BUS_SECRET_ENV}`;
    const bad = secretProblem(secret);
    if (bad) throw new UsageError(`${where} ${bad}`);
    out.secret = secret;
  }
  const problem = busOptionsProblem(out);
  if (problem) throw new UsageError(problem);
  return out;
}

function pick(file: BusOptions | null): Partial<BusOptions> {
  if (!file) return {};
  const { user, password, token, credsFile, nkeyFile } = file;
  return Object.fromEntries(
    Object.entries({ user, password, token, credsFile, nkeyFile }).filter(([, x]) => x !== undefined),
  );
}

function tlsOption(v: BusArgValues, file: BusTlsOptions | boolean | null): BusTlsOptions | boolean | null {
  const flags: BusTlsOptions = {
    ...(v['bus-tls-ca'] !== undefined ? { caFile: v['bus-tls-ca'] } : {}),
    ...(v['bus-tls-cert'] !== undefined ? { certFile: v['bus-tls-cert'] } : {}),
    ...(v['bus-tls-key'] !== undefined ? { keyFile: v['bus-tls-key'] } : {}),
  };
  if (Object.keys(flags).length === 0) return file;
  return { ...(typeof file === 'object' && file !== null ? file : {}), ...flags };
}

/** Logs the bus connection's losses and returns (an origin's or an edge's). */
export function logBusState(server: FramecastServer, log: Logger): void {
  server.on('bus', (state, server) => {
    // nats.js names the server HOST:PORT.
    const at = server.includes('://') ? server : `nats://${server}`;
    log.event(
      'bus',
      state === 'disconnected'
        ? `bus: lost ${busUrlForLog(at)}; reconnecting (viewers stay, no signal until frames return)`
        : `bus: connected again to ${busUrlForLog(at)}`,
      { state, server: busUrlForLog(at) },
    );
  });
}
