import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileStreams, type LoadedConfig, type ServerFileSettings } from '../config/config-file.js';
import { reloadStreams } from '../app/stream-api.js';
import { UsageError } from '../errors.js';
import type { FramecastServer, ServeOptions } from '../app/serve.js';
import type { StreamConfig } from '../streams/stream-options.js';
import { readTlsFiles } from '../transports/tls-config.js';
import { tokenProblem } from '../util/token.js';
import type { Logger } from './output.js';

/** A token option: the flag's value, else its environment variable's, checked like --token. */
function tokenOption(flag: string, env: string, value: string | undefined): string | null {
  const t = value ?? (process.env[env] || null);
  const problem = t === null ? null : tokenProblem(t);
  if (problem) throw new UsageError(`--${flag}: ${problem}`);
  return t;
}

/** --admin-token, else FRAMECAST_ADMIN_TOKEN. */
export function adminTokenOption(value: string | undefined): string | null {
  return tokenOption('admin-token', 'FRAMECAST_ADMIN_TOKEN', value);
}

/** --publish-token, else FRAMECAST_PUBLISH_TOKEN. */
export function publishTokenOption(value: string | undefined): string | null {
  return tokenOption('publish-token', 'FRAMECAST_PUBLISH_TOKEN', value);
}

/**
 * serve()'s options from a config file and the command line: a flag given on the command line wins
 * over the file (`given` holds only those), the file wins over the defaults.
 */
export function optionsFromFile(
  config: LoadedConfig,
  given: ServeOptions,
  streamFlags: Omit<StreamConfig, 'source'>,
): ServeOptions {
  const streams = fileStreams(config, streamFlags).map(({ name, ...rest }) => ({ name, ...rest }));
  return {
    ...serverOptionsFromFile(config.server),
    ...given,
    streams,
    configPath: config.path,
    streamOverrides: streamFlags,
  };
}

/** serve()'s server-wide options from a config file's (an absent key stays absent: the default applies). */
export function serverOptionsFromFile(f: ServerFileSettings): ServeOptions {
  return {
    ...(f.host !== undefined ? { host: f.host } : {}),
    ...(f.port !== undefined ? { port: f.port } : {}),
    ...(f.httpPort !== undefined ? { httpPort: f.httpPort } : {}),
    ...(f.token !== undefined ? { token: f.token } : {}),
    ...(f.adminToken !== undefined ? { adminToken: f.adminToken } : {}),
    ...(f.allowLegacy !== undefined ? { allowLegacy: f.allowLegacy } : {}),
    ...(f.allowOrigin !== undefined ? { allowOrigin: f.allowOrigin } : {}),
    ...(f.maxClientsPerIp !== undefined ? { maxClientsPerIp: f.maxClientsPerIp } : {}),
    ...(f.stallTimeoutMs !== undefined ? { stallTimeoutMs: f.stallTimeoutMs } : {}),
    ...(f.tls ? { tls: readTlsFiles(f.tls.certPath, f.tls.keyPath) } : {}),
    ...(f.sourcePaths !== undefined ? { sourcePaths: f.sourcePaths } : {}),
    ...(f.recordMaxBytes !== undefined ? { recordMaxBytes: f.recordMaxBytes } : {}),
    ...(f.auth !== undefined ? { auth: f.auth } : {}),
  };
}

/**
 * Reloads the config file on SIGHUP and when the file changes (its directory is watched: an editor or
 * our own API saves by renaming a new file over it). Streams are applied as the file now says;
 * a file that does not load is refused with one log line and the running streams stay.
 */
export function watchConfig(
  server: FramecastServer,
  path: string,
  streamFlags: Omit<StreamConfig, 'source'>,
  log: Logger,
): () => void {
  let timer: NodeJS.Timeout | null = null;
  const reload = (why: string): void => {
    reloadStreams(server, path, streamFlags).then(
      (r) => {
        if (r.added.length + r.restarted.length + r.removed.length === 0) return;
        log.event(
          'reload',
          `config reloaded (${why}): added ${r.added.join(', ') || 'none'}; restarted ${r.restarted.join(', ') || 'none'}; removed ${r.removed.join(', ') || 'none'}`,
          { reason: why, ...r },
        );
      },
      (err: unknown) =>
        log.event(
          'reload-refused',
          `reload refused (${why}): ${(err as Error).message}; the running config stays`,
          {
            reason: why,
            error: (err as Error).message,
          },
        ),
    );
  };
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(path), (_event, file) => {
      if (file !== null && file !== basename(path)) return;
      if (timer) clearTimeout(timer);
      // Editors write in several steps: wait for the file to settle.
      timer = setTimeout(() => reload('file changed'), 250);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    /* no file watching on this system: SIGHUP still reloads */
  }
  return () => {
    process.off('SIGHUP', onHup);
    watcher?.close();
    if (timer) clearTimeout(timer);
  };
}
