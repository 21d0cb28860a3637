/** Shared bits of the recording tests. */

/**
 * A live viewer's seqs: the largest jump between two frames it got, or Infinity when they ever went
 * back (the stream restarted). A viewer on a loaded machine may miss a few frames (latest frame wins);
 * a restart or a stall shows here.
 */
export function liveGaps(seqs: number[]): number {
  let worst = 1;
  for (let i = 1; i < seqs.length; i++) {
    const d = (seqs[i] as number) - (seqs[i - 1] as number);
    if (d <= 0) return Infinity;
    worst = Math.max(worst, d);
  }
  return worst;
}
