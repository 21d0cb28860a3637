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
  /** Clients must log in with this user and password, this token, or the NKey seed of this public key. */
  auth?: { user: string; password: string } | { token: string } | { nkey: string };
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
        : 'nkey' in opts.auth
          ? `authorization { users: [ { nkey: ${q(opts.auth.nkey)} } ] }`
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

/** One node of a test cluster. */
export interface NatsNode {
  url: string;
  port: number;
  /** SIGKILL, as a machine's loss would look to its clients; resolves once it exited. */
  kill: () => Promise<void>;
}

/** A running NATS cluster on loopback: every node routes to every other. */
export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL, comma-separated (what --bus takes). */
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts `size` nats-server nodes in one cluster (each `cluster { listen, routes }` to all the others),
 * waiting until each node has a route to every other, so a message published on one reaches the rest.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    routePorts.push(await freePort());
  }
  const { dir, cleanup } = makeTempDir('framecast-nats-cluster-');
  const routes = routePorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
  const children = ports.map((port, i) => {
    const conf = join(dir, `node${i}.conf`);
    writeFileSync(
      conf,
      [
        `listen: 127.0.0.1:${port}`,
        `server_name: node${i}`,
        `cluster { name: framecast-test, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
      ].join('\n') + '\n',
    );
    const child = spawnTracked(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const log = { text: '' };
    child.stderr?.on('data', (d: Buffer) => (log.text += d.toString()));
    return { child, log };
  });
  const routed = (text: string): number => text.match(/Route connection created/g)?.length ?? 0;
  for (let i = 0; i < 200; i++) {
    if (children.every((c) => /Server is ready/.test(c.log.text) && routed(c.log.text) >= size - 1)) break;
    await sleep(50);
  }
  const stop = async (): Promise<void> => {
    for (const c of children) c.child.kill('SIGTERM');
    await Promise.all(children.map((c) => waitExit(c.child, 5000)));
    cleanup();
  };
  const failed = children.find((c) => !/Server is ready/.test(c.log.text) || routed(c.log.text) < size - 1);
  if (failed) {
    await stop();
    throw new Error(`nats-server cluster did not form: ${failed.log.text}`);
  }
  return {
    nodes: ports.map((port, i) => ({
      url: `nats://127.0.0.1:${port}`,
      port,
      kill: async () => {
        const child = children[i]?.child;
        child?.kill('SIGKILL');
        if (child) await waitExit(child, 5000);
      },
    })),
    url: ports.map((p) => `nats://127.0.0.1:${p}`).join(','),
    stop,
  };
}
