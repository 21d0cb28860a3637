/** parseDuration and parseBytes: durations and sizes as written in a config file. */
import { describe, expect, it } from 'vitest';
import { parseBytes, parseDuration } from '../../src/util/units.js';

describe('parseDuration', () => {
  it('takes a finite number as seconds', () => {
    expect(parseDuration(90)).toBe(90);
    expect(parseDuration(2.5)).toBe(2.5);
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeNull();
    expect(parseDuration(Number.NaN)).toBeNull();
  });

  it('reads every unit, seconds without one', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(parseDuration('45s')).toBe(45);
    expect(parseDuration('10m')).toBe(600);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration('3w')).toBe(1814400);
  });

  it('takes decimals and spaces around and before the unit', () => {
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('1.25h')).toBe(4500);
    expect(parseDuration('10 m')).toBe(600);
    expect(parseDuration('  12s  ')).toBe(12);
  });

  it('refuses anything else', () => {
    for (const bad of [
      '',
      's',
      '-1s',
      '1.',
      '.5s',
      '10x',
      '10mm',
      'x10s',
      '10sx',
      '7 days',
      '1e3',
      '10M',
      '1,5s',
    ])
      expect(parseDuration(bad)).toBeNull();
    for (const bad of [null, undefined, true, {}, ['10']]) expect(parseDuration(bad)).toBeNull();
  });
});

describe('parseBytes', () => {
  it('takes a finite number, rounded down', () => {
    expect(parseBytes(1024)).toBe(1024);
    expect(parseBytes(10.7)).toBe(10);
    expect(parseBytes(Number.NaN)).toBeNull();
    expect(parseBytes(Number.NEGATIVE_INFINITY)).toBeNull();
  });

  it('reads every unit, in any case, bytes without one', () => {
    expect(parseBytes('42')).toBe(42);
    expect(parseBytes('42B')).toBe(42);
    expect(parseBytes('3kb')).toBe(3000);
    expect(parseBytes('500MB')).toBe(500e6);
    expect(parseBytes('2GB')).toBe(2e9);
    expect(parseBytes('1tB')).toBe(1e12);
    expect(parseBytes('3KiB')).toBe(3072);
    expect(parseBytes('2mib')).toBe(2 * 2 ** 20);
    expect(parseBytes('2GIB')).toBe(2 * 2 ** 30);
    expect(parseBytes('1TiB')).toBe(2 ** 40);
  });

  it('takes decimals (rounded down to whole bytes) and spaces', () => {
    expect(parseBytes('1.5kb')).toBe(1500);
    expect(parseBytes('1.25kb')).toBe(1250);
    expect(parseBytes('1.5')).toBe(1);
    expect(parseBytes('0.5 KiB')).toBe(512);
    expect(parseBytes(' 7 MB ')).toBe(7e6);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'MB', '-1MB', '1.', '.5MB', '10XB', '10MBB', 'x10', '10 m', 'ten'])
      expect(parseBytes(bad)).toBeNull();
    for (const bad of [null, undefined, false, {}]) expect(parseBytes(bad)).toBeNull();
  });
});
