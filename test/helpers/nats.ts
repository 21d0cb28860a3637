/**
 * A real nats-server for bus tests, on a free loopback port (Debian's nats-server). Tests skip
 * without it, except under CI=true where a missing server is a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './fixtures.js';
import { freePort } from './net.js';
import { spawnTracked, sleep, waitExit } from './processes.js';

/** Debian installs it in /usr/sbin, which a minimal PATH (CI under env -i) does not hold. */
export const NATS_SERVER =
  process.env['NATS_SERVER'] ||
  (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

/** True when nats-server can be run here. */
export function natsAvailable(): boolean {
  return spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A running nats-server; restart() brings it back on the same port. */
export interface NatsServer {
  url: string;
  port: number;
  stop: () => Promise<void>;
  /** Kills it (SIGKILL), waits `downMs`, starts it again on the same port. */
  restart: (downMs?: number) => Promise<void>;
}

/** Options of startNats: all optional, none means a plain server anyone may use. */
export interface NatsOptions {
  maxPayload?: number;
  /** Clients must log in with this user and password, or this token. */
  auth?: { user: string; password: string } | { token: string };
  /** TLS required: server certificate and key (PEM paths); with `ca` and `verify`, clients need a certificate from it. */
  tls?: { cert: string; key: string; ca?: string; verify?: boolean };
}

/** Starts nats-server on 127.0.0.1, waiting until it accepts clients. */
export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const { dir, cleanup } = makeTempDir('framecast-nats-');
  const conf = join(dir, 'nats.conf');
  const q = JSON.stringify;
  const lines = [`listen: 127.0.0.1:${port}`];
  if (opts.maxPayload) lines.push(`max_payload: ${opts.maxPayload}`);
  if (opts.auth)
    lines.push(
      'token' in opts.auth
        ? `authorization { token: ${q(opts.auth.token)} }`
        : `authorization { user: ${q(opts.auth.user)}, password: ${q(opts.auth.password)} }`,
    );
  const t = opts.tls;
  if (t)
    lines.push(
      `tls { cert_file: ${q(t.cert)}, key_file: ${q(t.key)}${t.ca ? `, ca_file: ${q(t.ca)}` : ''}${t.verify ? ', verify: true' : ''}, timeout: 2 }`,
    );
  writeFileSync(conf, lines.join('\n') + '\n');
  let child = spawnTracked(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ready = async (): Promise<void> => {
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 100 && !/Server is ready/.test(log); i++) await sleep(50);
    if (!/Server is ready/.test(log)) throw new Error(`nats-server did not start: ${log}`);
  };
  await ready();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await waitExit(child, 5000);
      cleanup();
    },
    restart: async (downMs = 300) => {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
      await sleep(downMs);
      child = spawnTracked(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      await ready();
    },
  };
}
