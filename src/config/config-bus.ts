import { resolve } from 'node:path';
import {
  busUrlFault,
  busUrlForLog,
  prefixProblem,
  secretProblem,
  unreadableFile,
  type BusOptions,
  type BusTlsOptions,
} from './bus-settings.js';
import { show, type Checker, type Field } from './config-checker.js';

const BUS_KEYS = [
  'url',
  'prefix',
  'name',
  'user',
  'password',
  'token',
  'creds',
  'nkey',
  'tls',
  'secret',
] as const;
const TLS_KEYS = ['ca', 'cert', 'key'] as const;
const LOGINS = [['user', 'password'], ['token'], ['creds'], ['nkey']] as const;

/**
 * The `bus:` section (null or absent: no bus). File paths are resolved against the config file's
 * directory and must be readable now, so a typo fails at start-up and not at the first reconnect.
 */
export function busOf(c: Checker, f: Field, baseDir: string): BusOptions | null {
  if (f.value === null || f.value === false) return null;
  const fields = c.mapping(f.node, 'bus', BUS_KEYS, 'bus setting');
  const get = (key: string): Field | undefined => fields.find((x) => x.key === key);
  const at = (x: Field): Field['node'] => x.node ?? x.keyNode;
  const url = get('url');
  if (!url) c.fail(f.node, 'bus.url', 'required: the NATS server, nats://HOST:PORT (or a list)');
  const out: BusOptions = { url: urlsOf(c, url) };
  const text = (x: Field, secret: boolean): string => {
    const v = x.value;
    // A secret is not echoed, even when mistyped.
    if (typeof v !== 'string')
      c.fail(
        at(x),
        `bus.${x.key}`,
        secret ? 'must be a string (quote it)' : `must be a string, got ${show(v)}`,
      );
    if (v === '' || /[\s\0]/.test(v) || v.length > 1024)
      c.fail(at(x), `bus.${x.key}`, 'must be non-empty, without spaces or control characters');
    return v;
  };
  const file = (x: Field, key: string, what: string): string => {
    if (typeof x.value !== 'string' || x.value.trim() === '')
      c.fail(at(x), key, `must be the path of ${what}, got ${show(x.value)}`);
    const path = resolve(baseDir, x.value);
    const why = unreadableFile(path);
    if (why) c.fail(at(x), key, `${path}: ${why}`);
    return path;
  };
  for (const x of fields) {
    switch (x.key) {
      case 'prefix': {
        const p = text(x, false);
        const problem = prefixProblem(p);
        if (problem) c.fail(at(x), 'bus.prefix', problem);
        out.prefix = p;
        break;
      }
      case 'name':
        out.name = text(x, false);
        if (out.name.length > 128) c.fail(at(x), 'bus.name', 'must be at most 128 characters');
        break;
      case 'user':
        out.user = text(x, false);
        break;
      case 'password':
        out.password = text(x, true);
        break;
      case 'token':
        out.token = text(x, true);
        break;
      case 'creds':
        out.credsFile = file(x, 'bus.creds', 'a NATS .creds file');
        break;
      case 'nkey':
        out.nkeyFile = file(x, 'bus.nkey', 'a file holding an NKey seed');
        break;
      case 'tls':
        out.tls = tlsOf(c, x, (y, what) => file(y, `bus.tls.${y.key}`, what));
        break;
      case 'secret': {
        // Not text(): a secret may hold spaces; it is never echoed.
        if (typeof x.value !== 'string') c.fail(at(x), 'bus.secret', 'must be a string (quote it)');
        const problem = secretProblem(x.value);
        if (problem) c.fail(at(x), 'bus.secret', problem);
        out.secret = x.value;
        break;
      }
    }
  }
  const given = LOGINS.filter((keys) => keys.some((k) => get(k)));
  if (given.length > 1)
    c.fail(
      at(get(given[1]![0]!) ?? f),
      'bus',
      `give one way to log in, not ${given.map((k) => k.join('/')).join(' and ')}`,
    );
  // A user without a password is fine here: the password may come from $FRAMECAST_BUS_PASSWORD.
  if (get('password') && !get('user')) c.fail(at(get('password')!), 'bus.user', 'required with bus.password');
  return out;
}

function urlsOf(c: Checker, f: Field): string {
  const list: unknown[] = Array.isArray(f.value) ? f.value : [f.value];
  if (list.length === 0) c.fail(f.node, 'bus.url', 'must name at least one NATS server');
  for (const u of list) {
    const fault =
      typeof u !== 'string' ? 'malformed' : (busUrlFault(u) ?? (u.includes(',') ? 'malformed' : null));
    // Masked as anywhere a bus URL is shown: a password may hold '@', '/' or ','.
    const shown = typeof u === 'string' ? JSON.stringify(busUrlForLog(u)) : show(u);
    if (fault === 'credentials')
      c.fail(
        f.node,
        'bus.url',
        `credentials in the URL are not used (${shown}); give them as bus.user and bus.password`,
      );
    if (fault) c.fail(f.node, 'bus.url', `must be nats://HOST:PORT (or a list of them), got ${shown}`);
  }
  return (list as string[]).join(',');
}

function tlsOf(
  c: Checker,
  f: Field,
  file: (x: Field, what: string) => string,
): BusTlsOptions | boolean | null {
  if (f.value === null || typeof f.value === 'boolean') return f.value;
  if (typeof f.value !== 'object' || Array.isArray(f.value))
    c.fail(
      f.node,
      'bus.tls',
      `must be true, false or a mapping of ca, cert, key files, got ${show(f.value)}`,
    );
  const fields = c.mapping(f.node, 'bus.tls', TLS_KEYS, 'bus tls setting');
  const out: BusTlsOptions = {};
  for (const x of fields) {
    if (x.key === 'ca') out.caFile = file(x, "the CA's PEM certificate");
    if (x.key === 'cert') out.certFile = file(x, 'a PEM client certificate');
    if (x.key === 'key') out.keyFile = file(x, "the client certificate's PEM key");
  }
  if ((out.certFile === undefined) !== (out.keyFile === undefined))
    c.fail(
      f.node,
      `bus.tls.${out.certFile === undefined ? 'cert' : 'key'}`,
      'required: cert and key go together',
    );
  return out;
}
