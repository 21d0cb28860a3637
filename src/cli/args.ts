import { UsageError } from '../errors.js';

/** Runs node:util parseArgs, turning its errors into usage errors a user can act on (exit code 2). */
export function withUsage<R>(command: string, parse: () => R): R {
  try {
    return parse();
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${msg} (see 'framecast ${command} --help')`);
  }
}

/** Reads an integer option within [min, max]; undefined gives the default. */
export function intOption(
  name: string,
  value: string | undefined,
  def: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Reads a number option within [min, max]; undefined gives the default. */
export function numberOption(
  name: string,
  value: string | undefined,
  def: number | null,
  min: number,
  max: number,
): number | null {
  if (value === undefined) return def;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Reads a size like `16MiB`, `512k`, `1048576` (bytes) within [min, max]. */
export function sizeOption(
  name: string,
  value: string | undefined,
  def: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return def;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)$/i.exec(value.trim());
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const n = m ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a size from ${min} to ${max} bytes (e.g. 16MiB), got '${value}'`);
  }
  return n;
}

/** Reads an option restricted to a set of words. */
export function choiceOption<T extends string>(
  name: string,
  value: string | undefined,
  def: T,
  choices: readonly T[],
): T {
  if (value === undefined) return def;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${value}'`);
  }
  return value as T;
}
