import { UsageError } from '../errors.js';
import { formatAddress } from '../client/address.js';
import { intOption } from './args.js';

/** The HTTP transport's default port (the usual alternative HTTP port, as uStreamer and go2rtc use). */
export const DEFAULT_HTTP_PORT = 8080;

/** serve()'s HTTP settings from `--http-port` and `--allow-origin`. */
export interface HttpCliOptions {
  httpPort: number | null;
  /** The port is the default (not typed by the user): a busy 8080 falls back to a free port. */
  httpPortFallback: boolean;
  allowOrigin: string | null;
}

/** Reads `--http-port N|0|off` and `--allow-origin ORIGIN|*`. */
export function httpOptions(port: string | undefined, allowOrigin: string | undefined): HttpCliOptions {
  let httpPort: number | null;
  if (port === undefined) httpPort = DEFAULT_HTTP_PORT;
  else if (port.trim().toLowerCase() === 'off') httpPort = null;
  else {
    try {
      httpPort = intOption('http-port', port, DEFAULT_HTTP_PORT, 0, 65535);
    } catch {
      throw new UsageError(`--http-port must be an integer from 0 to 65535 or 'off', got '${port}'`);
    }
  }
  return { httpPort, httpPortFallback: port === undefined, allowOrigin: originOption(allowOrigin) };
}

function originOption(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (value === '*') return '*';
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    /* reported below */
  }
  // An origin is scheme://host[:port] and nothing else; browsers compare it byte for byte.
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.origin !== value.replace(/\/$/, '')
  ) {
    throw new UsageError(
      `--allow-origin must be '*' or an origin like https://example.com:8443 (no path), got '${value}'`,
    );
  }
  return url.origin;
}

/** The lines `serve` prints about its HTTP endpoints, one per reachable host. */
export function httpLines(
  hosts: readonly string[],
  port: number,
  requested: number | null,
  tokenRequired = false,
): string[] {
  const busy = requested !== null && requested !== 0 && requested !== port ? ` (${requested} was busy)` : '';
  const lines = hosts.map((h) => {
    const base = `http://${formatAddress(h, port)}`;
    return `  watch in a browser: ${base}/   dashboard: ${base}/dashboard   MJPEG: ${base}/stream.mjpg${busy}`;
  });
  // The token itself is never printed (logs end up in places); say how to use it instead.
  if (tokenRequired)
    lines.push('  (a token is required: add ?token=TOKEN to these URLs, or send Authorization: Bearer)');
  return lines;
}
