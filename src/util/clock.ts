/** Wall-clock time in milliseconds with sub-millisecond resolution (epoch based, like Date.now()). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
