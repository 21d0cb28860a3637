import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { choiceOption, intOption, numberOption, sizeOption, withUsage } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('withUsage', () => {
  const parse = (args: string[]) => () =>
    parseArgs({ args, strict: true, allowPositionals: true, options: { port: { type: 'string' } } });

  it('passes a good parse through', () => {
    expect(withUsage('serve', parse(['--port', '1', 'x'])).values.port).toBe('1');
  });

  it('turns an unknown option into a usage error naming the command and its help', () => {
    const msg = usage(() => withUsage('serve', parse(['--bogus'])));
    expect(msg).toMatch(/^serve: Unknown option '--bogus'/);
    expect(msg).toContain("(see 'framecast serve --help')");
    expect(msg).not.toMatch(/To specify a positional argument/);
  });

  it('turns a missing option value into a usage error', () => {
    expect(usage(() => withUsage('play', parse(['--port'])))).toMatch(/^play: .*--port/);
  });
});

describe('intOption', () => {
  it('gives the default when absent and parses integers in range', () => {
    expect(intOption('port', undefined, 9999, 0, 65535)).toBe(9999);
    expect(intOption('port', '0', 9999, 0, 65535)).toBe(0);
    expect(intOption('port', '65535', 9999, 0, 65535)).toBe(65535);
    expect(intOption('n', '-5', 0, -10, 10)).toBe(-5);
  });

  it.each(['65536', '-1', '1.5', 'abc', '', ' ', '1e3', '0x10', '12abc'])('rejects %j', (v) => {
    expect(usage(() => intOption('port', v, 9999, 0, 65535))).toBe(
      `--port must be an integer from 0 to 65535, got '${v}'`,
    );
  });
});

describe('numberOption', () => {
  it('parses decimals in range and keeps a null default', () => {
    expect(numberOption('fps', undefined, null, 0.1, 1000)).toBeNull();
    expect(numberOption('fps', '29.97', null, 0.1, 1000)).toBeCloseTo(29.97);
    expect(numberOption('fps', '0.1', null, 0.1, 1000)).toBe(0.1);
  });

  it.each(['0', '1001', 'NaN', 'Infinity', '', 'ten', '-5'])('rejects %j', (v) => {
    expect(usage(() => numberOption('fps', v, null, 0.1, 1000))).toBe(
      `--fps must be a number from 0.1 to 1000, got '${v}'`,
    );
  });
});

describe('sizeOption', () => {
  it.each([
    ['1048576', 1048576],
    ['16MiB', 16 * 1024 * 1024],
    ['16M', 16 * 1024 * 1024],
    ['512k', 512 * 1024],
    ['512KB', 512 * 1024],
    ['1.5m', Math.floor(1.5 * 1024 * 1024)],
    ['1G', 1024 ** 3],
    ['64', 64],
  ])('reads %s', (v, n) => {
    expect(sizeOption('max-frame-size', v, 0, 64, 1024 ** 3)).toBe(n);
  });

  it.each(['63', '2G', 'abc', '', '-1', '10 parsecs', '5T'])('rejects %j', (v) => {
    expect(usage(() => sizeOption('max-frame-size', v, 0, 64, 1024 ** 3))).toMatch(
      /^--max-frame-size must be a size from 64 to 1073741824 bytes \(e\.g\. 16MiB\), got '/,
    );
  });
});

describe('choiceOption', () => {
  it('accepts listed words and refuses others, listing the choices', () => {
    expect(choiceOption('view', undefined, 'none', ['none', 'window'] as const)).toBe('none');
    expect(choiceOption('view', 'window', 'none', ['none', 'window'] as const)).toBe('window');
    expect(usage(() => choiceOption('view', 'vr', 'none', ['none', 'window'] as const))).toBe(
      "--view must be one of none, window, got 'vr'",
    );
  });
});
