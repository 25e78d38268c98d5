/**
 * Unsigned bytewise comparison of two ranges, shorter first on a common prefix (`Buffer.compare`'s
 * order). Short ranges (ids: 9 bytes for an int64) are compared in a JS loop: `Buffer#compare` with
 * offsets validates its five arguments in JS before its native call, which measured ~0.5 µs per
 * call and dominated the fold of a chain's delta indexes (docs/benchmarks.md).
 */
export function compareBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const la = aEnd - aStart;
  const lb = bEnd - bStart;
  const n = la < lb ? la : lb;
  if (n > 64) {
    const d = Buffer.compare(a.subarray(aStart, aStart + n), b.subarray(bStart, bStart + n));
    return d !== 0 ? d : la - lb;
  }
  for (let i = 0; i < n; i++) {
    const d = (a[aStart + i] as number) - (b[bStart + i] as number);
    if (d !== 0) return d;
  }
  return la - lb;
}
