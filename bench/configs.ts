import * as fs from 'node:fs';
import * as path from 'node:path';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import {
  AWS_REGIONS,
  type DeliveryConfigInput,
  MAX_REGIONS_PER_BAKED_WAVE,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../lib/config';

/** Regions of the `aws` partition, the one the default pipeline (eu-west-1) lives in. */
export function awsPartitionRegions(): string[] {
  return AWS_REGIONS.filter((r) => RegionInfo.get(r).partition === 'aws');
}

/**
 * STACK_ENVIRONMENTS with `regionCount` prod regions: the first wave one region, then the rest
 * split in two waves (the default layout, grown), or in more, even waves where two would exceed
 * the regions one wave can bake (MAX_REGIONS_PER_BAKED_WAVE). The default's regions come first, so
 * the generated configs only add regions to it. Every prod environment uses the default prod
 * account (one account, distinct regions: unique account+region as the validation requires).
 */
export function prodRegionsConfig(regionCount: number): DeliveryConfigInput {
  const defaultRegions = STACK_ENVIRONMENTS.prod.waves.flat().map((e) => e.region);
  const regions = [
    ...defaultRegions,
    ...awsPartitionRegions().filter((r) => !defaultRegions.includes(r)),
  ];
  if (regionCount < 3 || regionCount > regions.length) {
    throw new Error(
      `prod region count must be 3-${regions.length} (the aws partition's regions), got ${regionCount}`,
    );
  }
  const account = STACK_ENVIRONMENTS.prod.waves[0][0].account;
  const [first, ...rest] = regions.slice(0, regionCount);
  const waveCount = Math.max(2, Math.ceil(rest.length / MAX_REGIONS_PER_BAKED_WAVE));
  const waves = [[first]];
  for (let w = 0, start = 0; w < waveCount; w++) {
    const size = Math.ceil((rest.length - start) / (waveCount - w));
    waves.push(rest.slice(start, start + size));
    start += size;
  }
  return {
    ...STACK_ENVIRONMENTS,
    prod: { waves: waves.map((w) => w.map((region) => ({ account, region }))) },
  };
}

/**
 * Writes the config as JSON under `dir` (which must be inside the repository: the config loader
 * refuses files outside it) after validating it, and returns its path relative to `repoRoot`.
 */
export function writeConfig(
  repoRoot: string,
  dir: string,
  name: string,
  config: DeliveryConfigInput,
): string {
  validateConfig(config, `generated ${name}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return path.relative(repoRoot, file);
}
