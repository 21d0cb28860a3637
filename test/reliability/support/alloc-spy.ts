/**
 * Records the largest Buffer allocation made while `fn` runs, so a parser test can prove that a
 * forged length never makes it allocate more than its configured limit.
 */
export function largestAllocation<T>(fn: () => T): { result: T; largest: number; calls: number } {
  const B = Buffer as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat'] as const;
  const originals = names.map((n) => B[n] as (...args: unknown[]) => unknown);
  let largest = 0;
  let calls = 0;
  names.forEach((name, i) => {
    const original = originals[i] as (...args: unknown[]) => unknown;
    B[name] = function (this: unknown, ...args: unknown[]): unknown {
      calls++;
      const size =
        name === 'concat'
          ? typeof args[1] === 'number'
            ? args[1]
            : (args[0] as Buffer[]).reduce((s, b) => s + b.length, 0)
          : (args[0] as number);
      if (size > largest) largest = size;
      return original.apply(this, args);
    };
  });
  try {
    return { result: fn(), largest, calls };
  } finally {
    names.forEach((name, i) => {
      B[name] = originals[i] as (...args: unknown[]) => unknown;
    });
  }
}
