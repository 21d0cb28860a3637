import { resolve } from 'node:path';
import { tokenProblem } from '../util/token.js';
import { parseBytes } from '../util/units.js';
import { show, type Checker, type Field } from './config-checker.js';
import { authOf } from './config-auth.js';
import type { ServerFileSettings } from './config-types.js';

/** The server-wide keys of a config file (beside bus, streamDefaults and streams). */
export const SERVER_KEYS = [
  'host',
  'port',
  'httpPort',
  'token',
  'adminToken',
  'allowLegacy',
  'allowOrigin',
  'maxClientsPerIp',
  'stallTimeout',
  'tls',
  'sourcePaths',
  'recordMaxBytes',
  'auth',
] as const;

/** The server-wide settings of the file's top level, each checked with its range. */
export function serverSettings(c: Checker, top: Field[], baseDir: string): ServerFileSettings {
  const s: ServerFileSettings = {};
  for (const f of top) {
    const { key, node, value: v } = f;
    const fail = (problem: string): never => c.fail(node ?? f.keyNode, key, problem);
    const int = (min: number, max: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
        fail(`must be an integer from ${min} to ${max}, got ${show(v)}`);
      return v as number;
    };
    const token = (): string | null => {
      if (v === null) return null;
      // The value is not echoed: it is a secret, even when mistyped.
      if (typeof v !== 'string') fail('must be a string (quote it)');
      const problem = tokenProblem(v as string);
      if (problem) fail(problem);
      return v as string;
    };
    switch (key) {
      case 'host':
        if (typeof v !== 'string' || v.trim() === '' || /\s/.test(v))
          fail(`must be an address such as 127.0.0.1 or 0.0.0.0, got ${show(v)}`);
        s.host = v as string;
        break;
      case 'port':
        s.port = int(0, 65535);
        break;
      case 'httpPort':
        s.httpPort =
          v === null || v === 'off'
            ? null
            : typeof v === 'number'
              ? int(0, 65535)
              : fail(`must be an integer from 0 to 65535 or off, got ${show(v)}`);
        break;
      case 'token':
        s.token = token();
        break;
      case 'adminToken':
        s.adminToken = token();
        break;
      case 'allowLegacy':
        if (typeof v !== 'boolean') fail(`must be true or false, got ${show(v)}`);
        s.allowLegacy = v as boolean;
        break;
      case 'allowOrigin':
        s.allowOrigin =
          v === null
            ? null
            : (originOf(v) ??
              fail(`must be '*' or an origin like https://example.com:8443 (no path), got ${show(v)}`));
        break;
      case 'maxClientsPerIp':
        s.maxClientsPerIp = int(0, 100_000);
        break;
      case 'stallTimeout':
        // Seconds, as --stall-timeout; under a second would cut healthy clients on any hiccup.
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 86_400 || (v > 0 && v < 1))
          fail(`must be 0 or from 1 to 86400 seconds, got ${show(v)}`);
        s.stallTimeoutMs = Math.round((v as number) * 1000);
        break;
      case 'tls':
        s.tls = tlsOf(c, f, baseDir);
        break;
      case 'auth':
        s.auth = authOf(c, f, baseDir);
        break;
      case 'sourcePaths': {
        const list = typeof v === 'string' ? [v] : v;
        if (
          !Array.isArray(list) ||
          list.length === 0 ||
          list.some((d) => typeof d !== 'string' || d.trim() === '')
        )
          fail(`must be a directory or a list of directories, got ${show(v)}`);
        s.sourcePaths = (list as string[]).map((d) => resolve(baseDir, d));
        break;
      }
      case 'recordMaxBytes': {
        const n = v === null ? null : parseBytes(v);
        if (v !== null && (n === null || n < 1024))
          fail(`must be at least 1024 bytes (a number, or e.g. 500MB, 50GiB), or null, got ${show(v)}`);
        s.recordMaxBytes = n;
        break;
      }
    }
  }
  return s;
}

function tlsOf(c: Checker, f: Field, baseDir: string): ServerFileSettings['tls'] {
  if (f.value === null) return null;
  const fields = c.mapping(f.node, 'tls', ['cert', 'key'], 'tls setting');
  const path = (key: 'cert' | 'key'): string => {
    const field = fields.find((x) => x.key === key);
    if (!field)
      c.fail(
        f.node,
        `tls.${key}`,
        `required: the ${key === 'cert' ? 'certificate' : 'private key'}'s PEM file`,
      );
    if (typeof field.value !== 'string' || field.value.trim() === '')
      c.fail(field.node ?? field.keyNode, `tls.${key}`, `must be a file path, got ${show(field.value)}`);
    return resolve(baseDir, field.value);
  };
  return { certPath: path('cert'), keyPath: path('key') };
}

/** An HTTP(S) origin, scheme://host[:port] and nothing else (browsers compare it byte for byte), or '*'. */
function originOf(v: unknown): string | null {
  if (v === '*') return '*';
  if (typeof v !== 'string') return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return null;
  }
  const ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === v.replace(/\/$/, '');
  return ok ? url.origin : null;
}
