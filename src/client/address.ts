import { UsageError } from '../errors.js';

/** A server address as the client uses it. */
export interface ServerAddress {
  host: string;
  port: number;
  tls: boolean;
  /** The stream asked for (`HOST:PORT/NAME`), or null/absent for the server's default stream. */
  stream?: string | null;
}

const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Parses `HOST[:PORT][/STREAM]`, `[v6]:PORT[/STREAM]`, a bare IPv6 address, or `tcp://` / `tls://`
 * URLs with the same parts.
 */
export function parseServerAddress(text: string | undefined, defaultPort = 9999): ServerAddress {
  let s = (text ?? '127.0.0.1').trim();
  let tls = false;
  const scheme = /^([a-z]+):\/\//i.exec(s);
  if (scheme) {
    const name = (scheme[1] as string).toLowerCase();
    if (name !== 'tcp' && name !== 'tls')
      throw new UsageError(`unsupported address scheme '${name}://' (use tcp:// or tls://)`);
    tls = name === 'tls';
    s = s.slice(scheme[0].length);
  }
  let stream: string | null = null;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const name = s.slice(slash + 1).replace(/\/$/, '');
    s = s.slice(0, slash);
    if (name !== '' && !STREAM_NAME.test(name))
      throw new UsageError(
        `invalid stream name '${name}' in address '${text}' (letters, digits, _ . -, at most 64)`,
      );
    stream = name === '' ? null : name;
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) {
    host = v6[1] as string;
    portText = v6[2];
  } else if ((s.match(/:/g) ?? []).length > 1) {
    host = s; // bare IPv6, no port
  } else {
    const i = s.lastIndexOf(':');
    host = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  if (!host) host = '127.0.0.1';
  let port = defaultPort;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new UsageError(`invalid port '${portText}' in address '${text}' (expected 1..65535)`);
    }
  }
  return { host, port, tls, stream };
}

/**
 * Parses one address, or several separated by commas (`edge1:9999,edge2:9999`): a client that loses
 * one moves to the next when it reconnects.
 */
export function parseServerAddresses(text: string | undefined, defaultPort = 9999): ServerAddress[] {
  if (text === undefined || !text.includes(',')) return [parseServerAddress(text, defaultPort)];
  return text
    .split(',')
    .filter((t) => t.trim() !== '')
    .map((t) => parseServerAddress(t, defaultPort));
}

/** Formats an address for messages: `host:port`, with brackets for IPv6. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
