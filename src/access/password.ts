import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes as the config file holds them: scrypt (Node's own, RFC 7914) in a PHC-style string,
 * `$scrypt$ln=15,r=8,p=1$SALT$HASH` (SALT and HASH base64 without padding). `framecast
 * hash-password` prints one; a plain password is never accepted in the file.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly ln: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** The default cost: N = 2^15, r = 8 (32 MiB, about 50-100 ms on one core). */
export const DEFAULT_LN = 15;
const HASH_BYTES = 32;
const SALT_BYTES = 16;
/** Bounds on a hash from the file: a config cannot ask for hours of work or gigabytes per login. */
const LN_RANGE = [10, 20] as const;
const R_RANGE = [1, 32] as const;
const P_RANGE = [1, 16] as const;
const MAX_MEMORY = 1024 * 1024 * 1024;

const B64 = /^[A-Za-z0-9+/]+$/;

/** The parts of a hash string, or a one-line problem (never echoing the string). */
export function parsePasswordHash(text: string): ScryptParams | string {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([^$]+)\$([^$]+)$/.exec(text);
  if (!m) return 'must be a hash printed by `framecast hash-password` ($scrypt$ln=..,r=..,p=..$SALT$HASH)';
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < LN_RANGE[0] || ln > LN_RANGE[1]) return `scrypt ln must be from ${LN_RANGE[0]} to ${LN_RANGE[1]}`;
  if (r < R_RANGE[0] || r > R_RANGE[1]) return `scrypt r must be from ${R_RANGE[0]} to ${R_RANGE[1]}`;
  if (p < P_RANGE[0] || p > P_RANGE[1]) return `scrypt p must be from ${P_RANGE[0]} to ${P_RANGE[1]}`;
  if (memoryOf(ln, r) > MAX_MEMORY) return 'scrypt ln and r ask for more than 1 GiB per login';
  const [salt, hash] = [m[4] as string, m[5] as string];
  if (!B64.test(salt) || !B64.test(hash)) return 'the salt and hash must be base64';
  const s = Buffer.from(salt, 'base64');
  const h = Buffer.from(hash, 'base64');
  if (s.length < 8 || h.length < 16 || h.length > 64) return 'the salt or hash is too short';
  return { ln, r, p, salt: s, hash: h };
}

function memoryOf(ln: number, r: number): number {
  return 128 * r * 2 ** ln;
}

function derive(
  password: string,
  salt: Buffer,
  length: number,
  ln: number,
  r: number,
  p: number,
): Promise<Buffer> {
  const opts: ScryptOptions = { N: 2 ** ln, r, p, maxmem: memoryOf(ln, r) * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A new hash of `password` (a fresh random salt). */
export async function hashPassword(password: string, ln = DEFAULT_LN): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, HASH_BYTES, ln, 8, 1);
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${ln},r=8,p=1$${b64(salt)}$${b64(key)}`;
}

/** True when `password` is the one `params` was made from (compared in constant time). */
export async function verifyPassword(params: ScryptParams, password: string): Promise<boolean> {
  const key = await derive(password, params.salt, params.hash.length, params.ln, params.r, params.p);
  return timingSafeEqual(key, params.hash);
}
