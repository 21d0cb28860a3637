import { BlockList, isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { parsePasswordHash, type ScryptParams } from './password.js';
import { parsePermissions, PermissionError, type Permission } from './permissions.js';

/**
 * The `auth:` section of the config file, checked: users with a password hash, each with permissions
 * and optional source address ranges; what anonymous requests may do; JWT; the HTTP hook; the secret
 * of signed links; how many failed logins an address may make. Pure (no file is read here but the
 * JWKS file's path is resolved); the config checker turns an AuthSettingsError into `file:line`.
 */
export interface AuthSettings {
  readonly users: ReadonlyMap<string, UserEntry>;
  readonly anonymous: Grant;
  readonly jwt: JwtConfig | null;
  readonly http: HookConfig | null;
  /** The HMAC key of signed links (at least 32 bytes), or null: links are off. */
  readonly linkSecret: string | null;
  readonly failedLogins: { readonly max: number; readonly perMs: number };
}

/** Permissions, and the source addresses they hold from (null: any). */
export interface Grant {
  readonly permissions: readonly Permission[];
  readonly ips: BlockList | null;
  /** The ranges as written, for messages and the docs' examples. */
  readonly ipRanges: readonly string[];
}

export interface UserEntry extends Grant {
  readonly name: string;
  readonly password: ScryptParams;
}

export interface JwtConfig {
  readonly jwks: { readonly url: string } | { readonly file: string };
  readonly issuer?: string;
  readonly audience?: string;
  readonly claim: string;
  readonly clockToleranceSec: number;
}

export interface HookConfig {
  readonly url: string;
  readonly timeoutMs: number;
  readonly cacheMs: number;
}

/** A problem in the section: `field` is a path below the top (`auth.users.alice.permissions[0]`). */
export class AuthSettingsError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'AuthSettingsError';
  }
}

const USER_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
const TOP = ['users', 'anonymous', 'jwt', 'http', 'linkSecret', 'failedLogins'] as const;

/** No auth section: everything as before (tokens only), no limits lifted. */
export const NO_GRANT: Grant = { permissions: [], ips: null, ipRanges: [] };

type Obj = Record<string, unknown>;

function mapping(v: unknown, field: string, known: readonly string[]): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new AuthSettingsError(field, 'must be a mapping');
  for (const k of Object.keys(v))
    if (!known.includes(k))
      throw new AuthSettingsError(`${field}.${k}`, `unknown setting (known: ${known.join(', ')})`);
  return v as Obj;
}

function text(v: unknown, field: string, what: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 2048 || /[\0\r\n]/.test(v))
    throw new AuthSettingsError(field, `must be ${what}`);
  return v;
}

function number(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new AuthSettingsError(field, `must be a number from ${min} to ${max}`);
  return v;
}

function httpUrl(v: unknown, field: string): string {
  const s = text(v, field, 'an http:// or https:// URL');
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new AuthSettingsError(field, 'must be an http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new AuthSettingsError(field, 'must be an http:// or https:// URL');
  return s;
}

/** Address ranges (`10.0.0.0/8`, `::1`, `192.168.1.7`) as a BlockList. */
function ipsOf(v: unknown, field: string): { ips: BlockList | null; ipRanges: string[] } {
  if (v === undefined || v === null) return { ips: null, ipRanges: [] };
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > 256)
    throw new AuthSettingsError(field, 'must be an address range or a list of 1 to 256 of them');
  const ips = new BlockList();
  const ranges = list.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'string') throw new AuthSettingsError(at, 'must be an address or ADDRESS/BITS');
    const [addr = '', bits, extra] = item.split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (bits !== undefined && !/^\d{1,3}$/.test(bits)) ||
      Number(bits) > max
    )
      throw new AuthSettingsError(
        at,
        `must be an IPv4 or IPv6 address or ADDRESS/BITS, got ${JSON.stringify(item)}`,
      );
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) ips.addAddress(addr, type);
    else ips.addSubnet(addr, Number(bits), type);
    return item;
  });
  return { ips, ipRanges: ranges };
}

function grantOf(o: Obj, field: string): Grant {
  const permissions = permissionsOf(o['permissions'], `${field}.permissions`);
  return { permissions, ...ipsOf(o['ips'], `${field}.ips`) };
}

function permissionsOf(v: unknown, field: string): Permission[] {
  if (v === undefined || v === null) return [];
  try {
    return parsePermissions(v, field);
  } catch (err) {
    if (err instanceof PermissionError) throw new AuthSettingsError(err.field, err.problem);
    throw err;
  }
}

/** Checks the `auth:` value (a plain object from the YAML); `baseDir` resolves a JWKS file's path. */
export function parseAuthSettings(value: unknown, baseDir: string): AuthSettings {
  const top = mapping(value, 'auth', TOP);
  const users = new Map<string, UserEntry>();
  if (top['users'] !== undefined && top['users'] !== null) {
    const u = top['users'];
    if (typeof u !== 'object' || Array.isArray(u))
      throw new AuthSettingsError(
        'auth.users',
        'must be a mapping of user names to {password, permissions, ips}',
      );
    const entries = Object.entries(u as Obj);
    if (entries.length > 10_000) throw new AuthSettingsError('auth.users', 'at most 10000 users');
    for (const [name, entry] of entries) {
      const field = `auth.users.${name}`;
      if (!USER_RE.test(name))
        throw new AuthSettingsError(field, 'a user name is 1 to 64 letters, digits or _ . @ -');
      const o = mapping(entry, field, ['password', 'permissions', 'ips']);
      if (typeof o['password'] !== 'string')
        throw new AuthSettingsError(
          `${field}.password`,
          'required: a hash from `framecast hash-password` (quote it)',
        );
      const password = parsePasswordHash(o['password']);
      if (typeof password === 'string') throw new AuthSettingsError(`${field}.password`, password);
      users.set(name, { name, password, ...grantOf(o, field) });
    }
  }
  const anonymous =
    top['anonymous'] === undefined || top['anonymous'] === null
      ? NO_GRANT
      : grantOf(mapping(top['anonymous'], 'auth.anonymous', ['permissions', 'ips']), 'auth.anonymous');
  let jwt: JwtConfig | null = null;
  if (top['jwt'] !== undefined && top['jwt'] !== null) {
    const o = mapping(top['jwt'], 'auth.jwt', [
      'jwks',
      'jwksFile',
      'issuer',
      'audience',
      'claim',
      'clockTolerance',
    ]);
    if ((o['jwks'] === undefined) === (o['jwksFile'] === undefined))
      throw new AuthSettingsError('auth.jwt', 'needs exactly one of jwks (a URL) and jwksFile (a path)');
    const file = o['jwksFile'] === undefined ? null : text(o['jwksFile'], 'auth.jwt.jwksFile', 'a file path');
    jwt = {
      jwks:
        file === null
          ? { url: httpUrl(o['jwks'], 'auth.jwt.jwks') }
          : { file: isAbsolute(file) ? file : resolve(baseDir, file) },
      ...(o['issuer'] === undefined ? {} : { issuer: text(o['issuer'], 'auth.jwt.issuer', 'a string') }),
      ...(o['audience'] === undefined
        ? {}
        : { audience: text(o['audience'], 'auth.jwt.audience', 'a string') }),
      claim:
        o['claim'] === undefined
          ? 'framecast_permissions'
          : text(o['claim'], 'auth.jwt.claim', 'a claim name'),
      clockToleranceSec:
        o['clockTolerance'] === undefined
          ? 30
          : number(o['clockTolerance'], 'auth.jwt.clockTolerance', 0, 600),
    };
  }
  let http: HookConfig | null = null;
  if (top['http'] !== undefined && top['http'] !== null) {
    const o = mapping(top['http'], 'auth.http', ['url', 'timeout', 'cache']);
    http = {
      url: httpUrl(o['url'], 'auth.http.url'),
      timeoutMs:
        o['timeout'] === undefined ? 2000 : number(o['timeout'], 'auth.http.timeout', 0.1, 30) * 1000,
      cacheMs: o['cache'] === undefined ? 5000 : number(o['cache'], 'auth.http.cache', 0, 3600) * 1000,
    };
  }
  let linkSecret: string | null = null;
  if (top['linkSecret'] !== undefined && top['linkSecret'] !== null) {
    // A secret is not echoed, even when mistyped.
    if (typeof top['linkSecret'] !== 'string' || Buffer.byteLength(top['linkSecret']) < 32)
      throw new AuthSettingsError('auth.linkSecret', 'must be a string of at least 32 bytes (quote it)');
    linkSecret = top['linkSecret'];
  }
  let failedLogins = { max: 10, perMs: 60_000 };
  if (top['failedLogins'] !== undefined && top['failedLogins'] !== null) {
    const o = mapping(top['failedLogins'], 'auth.failedLogins', ['max', 'per']);
    failedLogins = {
      max: o['max'] === undefined ? 10 : Math.floor(number(o['max'], 'auth.failedLogins.max', 1, 100_000)),
      perMs: o['per'] === undefined ? 60_000 : number(o['per'], 'auth.failedLogins.per', 1, 86_400) * 1000,
    };
  }
  return { users, anonymous, jwt, http, linkSecret, failedLogins };
}

/** True when `grant`'s address ranges let `ip` in (no ranges: every address). */
export function ipAllowed(grant: Grant, ip: string): boolean {
  if (grant.ips === null) return true;
  const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(plain);
  if (family === 0) return false;
  return grant.ips.check(plain, family === 6 ? 'ipv6' : 'ipv4');
}
