/** Small statistics for the benchmarks: every figure in the table comes through here. */

/** The value at quantile `q` (0…1) of `values`, linearly interpolated between ranks. */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

export function max(values: readonly number[]): number {
  return values.length ? Math.max(...values) : Number.NaN;
}

/** Rounded for the table and the JSON file (figures are not more precise than this). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nanoseconds (a bigint difference of hrtime) as milliseconds. */
export function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}
