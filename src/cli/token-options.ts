import { UsageError } from '../errors.js';
import { resolveToken, tokenProblem, TOKEN_ENV } from '../util/token.js';

/** Help lines of the serve options for authentication. */
export const SERVE_TOKEN_HELP = `  --token T            clients must present token T (default: $${TOKEN_ENV}); seed-framed
                       clients cannot, so they are refused unless --allow-legacy
  --allow-legacy       with a token, still serve seed-framed clients (unauthenticated)`;

/** Validates --token (or FRAMECAST_TOKEN) and --allow-legacy into serve() options. */
export function serveTokenOptions(
  token: string | undefined,
  allowLegacy: boolean | undefined,
): { token: string | null; allowLegacy: boolean } {
  const t = resolveToken(token);
  const problem = t === null ? null : tokenProblem(t);
  if (problem) throw new UsageError(`--token: ${problem}`);
  if (allowLegacy && t === null) throw new UsageError('--allow-legacy only applies with --token');
  return { token: t, allowLegacy: allowLegacy ?? false };
}
