/**
 * Access (`npm run bench -- --only access`): what admitting one connection costs with each way of
 * logging in, against the same server without an `auth:` section. Five servers, one per variant, each
 * in its own process (`serve --config`, one publisher stream kept fresh at 2 fps by a publisher in the
 * bench's process): no auth (a stream open to all), users (HTTP Basic / `USER:PASSWORD`, a real scrypt
 * hash at ln=15), JWT (ES256, JWKS from a file), the HTTP hook (cache on, a loopback hook answering
 * 204), a signed link. Each connection is new: a snapshot GET to its last byte, or a native hello to
 * its WELCOME. The variants take turns in rounds; per round and variant, the wall time of each
 * admission (p50, p99) and the server's CPU (every thread's, from /proc/PID/task/TID/schedstat) over
 * the batch, per connection. A user's first login (one scrypt) is measured apart, once per round.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import sharp from 'sharp';
import { DEFAULT_LN, hashPassword } from '../src/access/password.js';
import { signLink } from '../src/access/signed-link.js';
import {
  hookServer,
  nativeAdmit,
  slowPublisher,
  snapshotAdmit,
  type SlowPublisher,
} from './lib/access-clients.js';
import { sleep, spawnWithFds, stop, threadsCpuNs, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const STREAM = 'cam';
const PUBLISH_TOKEN = 'bench-publish-token-0123456789';
const LINK_SECRET = 'bench-link-secret-0123456789abcdef0123456789';
const HOOK_CACHE_S = 5;

export const ACCESS_VARIANTS = ['no auth', 'users', 'JWT', 'HTTP hook', 'signed link'] as const;
export type AccessVariant = (typeof ACCESS_VARIANTS)[number];
export const ACCESS_TRANSPORTS = ['snapshot', 'native'] as const;
export type AccessTransport = (typeof ACCESS_TRANSPORTS)[number];
/** Each transport one connection after another, then 8 at once (each of 8 clients sequential). */
const MODES: { transport: AccessTransport; parallel: number }[] = [
  { transport: 'snapshot', parallel: 1 },
  { transport: 'native', parallel: 1 },
  { transport: 'snapshot', parallel: 8 },
  { transport: 'native', parallel: 8 },
];

/** One variant on one transport: medians over the rounds of each round's figures. */
export interface AccessRow {
  variant: AccessVariant;
  transport: AccessTransport;
  /** Connections in flight at once (1: one after another). */
  parallel: number;
  /** Connections per round (every one admitted). */
  connections: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerConnection: number;
  /** Each round's CPU per connection, in round order. */
  cpuUsByRound: number[];
  /** Against "no auth" on the same transport and parallelism in the same run. */
  p50Ratio: number;
  cpuRatio: number;
}

/** The access rows of latest.json. */
export interface AccessRows {
  rounds: number;
  connections: number;
  scryptLn: number;
  hookCacheSeconds: number;
  /** Requests the hook server received over the whole run (warm-up included), and admissions through it. */
  hookRequests: number;
  hookAdmissions: number;
  /** A user's first login (one scrypt), one per round: snapshot wall time and the server's CPU. */
  firstLogin: { wallMs: number[]; cpuMs: number[] };
  /** Each server's CPU with nobody connecting (ms per second, median of the rounds'), taken off its rows. */
  idleCpuMsPerSecond: Record<string, number>;
  loadStart: number[];
  loadEnd: number[];
  rows: AccessRow[];
}

interface Server {
  variant: AccessVariant;
  pid: number;
  port: number;
  httpPort: number;
  stop: () => Promise<void>;
  publisher: SlowPublisher;
  /** The Authorization header of a snapshot, and the native hello's token. */
  authorization: string | null;
  token: string;
  /** Its CPU with nobody connecting (ns per ms of wall time), measured before each round. */
  idleNsPerMs: number;
}

/** How long each round's idle CPU is measured (all servers at once). */
const IDLE_MS = 1000;

/** Each server's CPU over IDLE_MS with nobody connecting: sets its idleNsPerMs. */
async function measureIdle(servers: Server[]): Promise<void> {
  const t0 = performance.now();
  const before = servers.map((s) => threadsCpuNs(s.pid));
  await sleep(IDLE_MS);
  const ms = performance.now() - t0;
  servers.forEach((s, i) => (s.idleNsPerMs = Math.max(0, threadsCpuNs(s.pid) - (before[i] as number)) / ms));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

async function startServer(
  variant: AccessVariant,
  dir: string,
  auth: Record<string, unknown> | null,
  jpeg: { data: Buffer; width: number; height: number },
  creds: { authorization: string | null; token: string },
): Promise<Server> {
  const config = join(dir, `access-${variant.replace(/ /g, '-')}.yaml`);
  const streams = { [STREAM]: { source: 'publisher', publishToken: PUBLISH_TOKEN } };
  // YAML reads JSON.
  writeFileSync(config, JSON.stringify(auth ? { streams, auth } : { streams }, null, 2));
  const child = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    ...['--config', config, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--json'],
  ]);
  const m = await waitForLine(child, /"event":"listening".*?"port":(\d+),"httpPort":(\d+)/, 20_000);
  // Its log goes on (a line per connection): drained so the pipe never stalls it.
  child.stdout?.resume();
  child.stderr?.resume();
  const port = Number(m[1]);
  const publisher = slowPublisher(port, STREAM, PUBLISH_TOKEN, jpeg, 2);
  await publisher.firstAck;
  return {
    variant,
    pid: child.pid as number,
    port,
    httpPort: Number(m[2]),
    stop: async () => {
      publisher.stop();
      await stop(child);
    },
    publisher,
    ...creds,
    idleNsPerMs: 0,
  };
}

function admit(s: Server, transport: AccessTransport): Promise<number> {
  return transport === 'snapshot'
    ? snapshotAdmit(s.httpPort, STREAM, s.authorization)
    : nativeAdmit(s.port, STREAM, s.token);
}

/**
 * `n` admissions, `parallel` at a time (each of `parallel` clients one after another): each one's
 * wall time, and the server's CPU over them (ns) less what it spends idle (its publisher's frames,
 * its timers) over the same wall time.
 */
async function batch(
  s: Server,
  transport: AccessTransport,
  n: number,
  parallel = 1,
): Promise<{ walls: number[]; cpuNs: number }> {
  const walls: number[] = [];
  const t0 = performance.now();
  const before = threadsCpuNs(s.pid);
  const client = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      try {
        walls.push(await admit(s, transport));
      } catch (err) {
        throw new Error(`access bench, ${s.variant} over ${transport}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, k) => client(Math.floor((n + k) / parallel))));
  const idleNs = s.idleNsPerMs * (performance.now() - t0);
  return { walls, cpuNs: threadsCpuNs(s.pid) - before - idleNs };
}

const basic = (user: string, pw: string): string =>
  `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

export async function accessRows(opts: {
  dir: string;
  connections: number;
  rounds: number;
  log: (s: string) => void;
}): Promise<AccessRows> {
  const loadStart = loadavg();
  const { dir, connections, rounds, log } = opts;
  const read = [{ action: 'read', streams: STREAM }];
  const data = await sharp({ create: { width: 320, height: 180, channels: 3, background: '#468' } })
    .jpeg({ quality: 80 })
    .toBuffer();
  const jpeg = { data, width: 320, height: 180 };
  // One user for the steady logins, one more per round for its first login (one scrypt each).
  const users: Record<string, unknown> = {};
  for (const name of ['alice', ...Array.from({ length: rounds }, (_, r) => `first${r}`)])
    users[name] = { password: await hashPassword(`${name}-password`, DEFAULT_LN), permissions: read };
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'access-jwks.json'), JSON.stringify({ keys: [jwk] }));
  const jwt = await new SignJWT({ framecast_permissions: read })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  const link = signLink(
    { stream: STREAM, actions: ['read'], expiresAt: Date.now() + 2 * 3600_000 },
    LINK_SECRET,
  );
  const hook = await hookServer();
  const bearer = (t: string): { authorization: string; token: string } => ({
    authorization: `Bearer ${t}`,
    token: t,
  });
  const plan: [
    AccessVariant,
    Record<string, unknown> | null,
    { authorization: string | null; token: string },
  ][] = [
    ['no auth', null, { authorization: null, token: '' }],
    ['users', { users }, { authorization: basic('alice', 'alice-password'), token: 'alice:alice-password' }],
    ['JWT', { jwt: { jwksFile: 'access-jwks.json' } }, bearer(jwt)],
    ['HTTP hook', { http: { url: hook.url, cache: HOOK_CACHE_S } }, bearer('an-opaque-token-the-hook-knows')],
    ['signed link', { linkSecret: LINK_SECRET }, bearer(link)],
  ];
  const servers: Server[] = [];
  try {
    for (const [variant, auth, creds] of plan)
      servers.push(await startServer(variant, dir, auth, jpeg, creds));
    const users_ = servers[1] as Server;
    const firstLogin = { wallMs: [] as number[], cpuMs: [] as number[] };
    const walls = new Map<string, { p50: number[]; p99: number[]; cpuUs: number[] }>();
    let hookAdmissions = 0;
    // Warm-up (JIT, the verified-password cache's first scrypt, the JWKS file read, the hook's cache).
    for (const s of servers) for (const t of ACCESS_TRANSPORTS) await batch(s, t, 30);
    hookAdmissions += 60;
    const idle = new Map<AccessVariant, number[]>();
    for (let r = 0; r < rounds; r++) {
      await measureIdle(servers);
      for (const s of servers) idle.set(s.variant, [...(idle.get(s.variant) ?? []), s.idleNsPerMs]);
      const before = threadsCpuNs(users_.pid);
      const t0 = performance.now();
      await snapshotAdmit(users_.httpPort, STREAM, basic(`first${r}`, `first${r}-password`));
      firstLogin.wallMs.push(performance.now() - t0);
      firstLogin.cpuMs.push((threadsCpuNs(users_.pid) - before) / 1e6);
      // The order turns each round, so no variant always runs first or last.
      const order = servers.map((_, i) => servers[(i + r) % servers.length] as Server);
      for (const { transport: t, parallel } of MODES)
        for (const s of order) {
          const b = await batch(s, t, connections, parallel);
          if (s.variant === 'HTTP hook') hookAdmissions += connections;
          const sorted = b.walls.sort((x, y) => x - y);
          const key = `${s.variant}|${t}|${parallel}`;
          const w = walls.get(key) ?? { p50: [], p99: [], cpuUs: [] };
          w.p50.push(quantile(sorted, 0.5));
          w.p99.push(quantile(sorted, 0.99));
          w.cpuUs.push(b.cpuNs / 1000 / connections);
          walls.set(key, w);
        }
      log(`access round ${r + 1}/${rounds} done (first login ${firstLogin.wallMs[r]?.toFixed(1)} ms)`);
    }
    const rows: AccessRow[] = [];
    for (const { transport: t, parallel } of MODES) {
      const base = walls.get(`no auth|${t}|${parallel}`) as { p50: number[]; cpuUs: number[] };
      for (const v of ACCESS_VARIANTS) {
        const w = walls.get(`${v}|${t}|${parallel}`) as { p50: number[]; p99: number[]; cpuUs: number[] };
        const row: AccessRow = {
          variant: v,
          transport: t,
          parallel,
          connections,
          p50Ms: median(w.p50),
          p99Ms: median(w.p99),
          cpuUsPerConnection: median(w.cpuUs),
          cpuUsByRound: w.cpuUs,
          p50Ratio: median(w.p50) / median(base.p50),
          cpuRatio: median(w.cpuUs) / median(base.cpuUs),
        };
        rows.push(row);
        log(
          `${v} ${t}${parallel > 1 ? ` x${parallel}` : ''}: p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, ` +
            `CPU ${row.cpuUsPerConnection.toFixed(0)} us/connection (${row.cpuRatio.toFixed(2)}x)`,
        );
      }
    }
    return {
      rounds,
      connections,
      scryptLn: DEFAULT_LN,
      hookCacheSeconds: HOOK_CACHE_S,
      hookRequests: hook.requests(),
      hookAdmissions,
      firstLogin,
      idleCpuMsPerSecond: Object.fromEntries([...idle].map(([v, xs]) => [v, median(xs) / 1000])),
      loadStart,
      loadEnd: loadavg(),
      rows,
    };
  } finally {
    for (const s of servers) await s.stop();
    await hook.close();
  }
}
