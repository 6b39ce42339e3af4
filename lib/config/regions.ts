import { RegionInfo } from 'aws-cdk-lib/region-info';

/**
 * Real AWS regions, from aws-cdk-lib's region database (no hand-kept list). This module imports
 * nothing but `aws-cdk-lib/region-info`, so the bundled pipeline tools (tools/pipeline/bundle.ts) can use
 * it without pulling in the CDK constructs.
 */
export const AWS_REGIONS: readonly string[] = RegionInfo.regions.map((r) => r.name);

/** The region closest in spelling to `input` (at most 3 edits away), for "did you mean" hints. */
export function nearestRegion(input: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const r of AWS_REGIONS) {
    const d = levenshtein(input, r);
    if (d < bestDistance) {
      best = r;
      bestDistance = d;
    }
  }
  return bestDistance <= 3 ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
