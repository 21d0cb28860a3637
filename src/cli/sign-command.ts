import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { PermissionAction } from '../access/permissions.js';
import { LINK_ACTIONS, MIN_LINK_SECRET_BYTES, parseDuration, signLink } from '../access/signed-link.js';
import { UsageError } from '../errors.js';
import { withUsage } from './args.js';

/** The environment variable that holds the link secret. */
export const LINK_SECRET_ENV = 'FRAMECAST_LINK_SECRET';

/** Help text of `framecast sign`. */
export const SIGN_HELP = `Usage: framecast sign --stream NAME --expires DURATION [options]

Makes a signed link: a token that lets whoever holds it do ACTIONS on stream NAME until it expires,
with no user account. It is a token, so it goes wherever a token goes (?token=, Authorization:
Bearer, framecast play --token). The server checks it with the same secret (auth.linkSecret).

Options:
  --stream NAME        the one stream (no wildcards)
  --actions A,B        what it allows: ${LINK_ACTIONS.join(', ')} (default read)
  --expires DURATION   how long it is valid: 90s, 15m, 2h, 7d (1s to 365d)
  --url BASE           print ready URLs of the server's HTTP address BASE (http://host:8080):
                       the viewer page, stream.mjpg and snapshot.jpg (read), playback.mjpg
                       (playback; add &start=TIME) instead of the bare token
  --config FILE        read the secret from auth.linkSecret of this YAML config file
                       (default: $${LINK_SECRET_ENV}, at least ${MIN_LINK_SECRET_BYTES} bytes)
  -h, --help           show this help

Exit codes: 0 printed, 2 usage error (a bad option, no secret).`;

/** `framecast sign`: prints a signed link (or URLs carrying it); returns the exit code. */
export function signCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const { values } = withUsage('sign', () =>
    parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        stream: { type: 'string' },
        actions: { type: 'string' },
        expires: { type: 'string' },
        url: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(SIGN_HELP + '\n');
    return 0;
  }
  if (values.stream === undefined)
    throw new UsageError("sign: --stream NAME is required (see 'framecast sign --help')");
  if (values.expires === undefined)
    throw new UsageError("sign: --expires DURATION is required, e.g. 15m (see 'framecast sign --help')");
  const actions = actionsOption(values.actions ?? 'read');
  let ttl: number;
  try {
    ttl = parseDuration(values.expires);
  } catch (err) {
    throw new UsageError(`--expires: ${(err as Error).message}`);
  }
  const base = values.url === undefined ? null : baseUrl(values.url);
  const secret = values.config !== undefined ? secretFromConfig(values.config) : secretFromEnv(env);
  const expiresAt = Date.now() + ttl;
  let token: string;
  try {
    token = signLink({ stream: values.stream, actions, expiresAt }, secret);
  } catch (err) {
    const where = /secret/.test((err as Error).message) ? '' : '--stream: ';
    throw new UsageError(`${where}${(err as Error).message}`);
  }
  if (base === null) {
    process.stdout.write(token + '\n');
  } else {
    const at = `${base}/streams/${encodeURIComponent(values.stream)}/`;
    const q = `?token=${encodeURIComponent(token)}`;
    const lines: string[] = [];
    if (actions.includes('read'))
      lines.push(`viewer    ${at}${q}`, `mjpeg     ${at}stream.mjpg${q}`, `snapshot  ${at}snapshot.jpg${q}`);
    if (actions.includes('playback')) lines.push(`playback  ${at}playback.mjpg${q}`);
    lines.push(`token     ${token}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  process.stderr.write(`valid until ${new Date(expiresAt).toISOString()}\n`);
  return 0;
}

function actionsOption(text: string): PermissionAction[] {
  const list = text.split(',').map((a) => a.trim());
  for (const a of list)
    if (!(LINK_ACTIONS as readonly string[]).includes(a))
      throw new UsageError(`--actions: each must be one of ${LINK_ACTIONS.join(', ')}, got '${a}'`);
  return [...new Set(list)] as PermissionAction[];
}

function baseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url: not a URL: '${text}' (e.g. http://host:8080)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '')
    throw new UsageError(`--url: an http:// or https:// address without ?query or #, got '${text}'`);
  return url.href.replace(/\/+$/, '');
}

function secretFromEnv(env: NodeJS.ProcessEnv): string {
  const s = env[LINK_SECRET_ENV];
  if (s === undefined || s === '')
    throw new UsageError(
      `sign: no secret: set $${LINK_SECRET_ENV} or give --config FILE with auth.linkSecret`,
    );
  return checked(s, `$${LINK_SECRET_ENV}`);
}

/** Reads only auth.linkSecret (the server checks the rest of the file). */
function secretFromConfig(path: string): string {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0];
    throw new UsageError(`--config ${path}: ${why}`);
  }
  const auth = isRecord(doc) ? doc['auth'] : undefined;
  const secret = isRecord(auth) ? auth['linkSecret'] : undefined;
  if (secret === undefined || secret === null || secret === '')
    throw new UsageError(`--config ${path}: auth.linkSecret is not set`);
  if (typeof secret !== 'string') throw new UsageError(`--config ${path}: auth.linkSecret must be a string`);
  return checked(secret, `${path}: auth.linkSecret`);
}

function checked(secret: string, where: string): string {
  if (Buffer.byteLength(secret, 'utf8') < MIN_LINK_SECRET_BYTES)
    throw new UsageError(
      `${where}: the link secret must be at least ${MIN_LINK_SECRET_BYTES} bytes (e.g. openssl rand -base64 32)`,
    );
  return secret;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
