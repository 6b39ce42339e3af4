/** Small statistics for the benchmark: medians of repeated runs and a least-squares line. */

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface LinearFit {
  /** Change in y per unit of x. */
  readonly slope: number;
  readonly intercept: number;
  /** Coefficient of determination (1 = the points lie on the line). */
  readonly r2: number;
}

/** Ordinary least squares y = intercept + slope * x over the points. */
export function leastSquares(points: ReadonlyArray<{ x: number; y: number }>): LinearFit {
  if (points.length < 2) throw new Error('a line needs at least two points');
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  if (sxx === 0) throw new Error('a line needs at least two distinct x values');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const ssTot = points.reduce((s, p) => s + (p.y - my) ** 2, 0);
  const ssRes = points.reduce((s, p) => s + (p.y - (intercept + slope * p.x)) ** 2, 0);
  return { slope, intercept, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}
