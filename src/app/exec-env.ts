import type { FramecastServer } from './framecast-server.js';
import type { ResolvedStreamConfig } from '../streams/stream-options.js';

/** The address a command on this machine dials to reach a server bound to `host`. */
function localHost(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The environment of an `exec:` stream's command: where and how to publish into its stream, so that
 * `framecast publish SOURCE $FRAMECAST_PUBLISH_ADDRESS/$FRAMECAST_STREAM` works as it is (the publish
 * token comes from FRAMECAST_PUBLISH_TOKEN). Read when the command starts: the ports are known then.
 */
export function execEnv(
  server: FramecastServer,
  config: ResolvedStreamConfig,
  token: string | null,
): Record<string, string> {
  const host = localHost(server.options.host);
  const env: Record<string, string> = {
    FRAMECAST_STREAM: config.name,
    FRAMECAST_PUBLISH_ADDRESS: `${host}:${server.address().port}`,
  };
  const http = server.httpAddress();
  if (http) {
    const scheme = server.options.tls ? 'https' : 'http';
    env.FRAMECAST_PUBLISH_URL = `${scheme}://${host}:${http.port}/streams/${encodeURIComponent(config.name)}/publish`;
  }
  const publishToken = config.publishToken ?? token;
  if (publishToken !== null) {
    env.FRAMECAST_TOKEN = publishToken;
    env.FRAMECAST_PUBLISH_TOKEN = publishToken;
  }
  return env;
}
