import { RegionInfo } from 'aws-cdk-lib/region-info';

/**
 * The AWS regions the gate accepts: the same list as `AWS_REGIONS` in lib/config, built the same
 * way from aws-cdk-lib's region database (test/tools/image-gate/args.test.ts holds the two equal).
 * Not imported from lib/config because its index also loads the CDK constructs (aws-eks-v2, the
 * kubectl layer, ...): bundled, they would make image-gate.cjs 15 MB instead of 3 and bring in
 * code that reads files next to its own sources (`__dirname`), which do not exist beside the bundle.
 */
export const KNOWN_REGIONS: readonly string[] = RegionInfo.regions.map((r) => r.name);

/** `image.failOn`'s default in lib/config (DEFAULTS.image.failOn; the same test holds them equal). */
export const DEFAULT_FAIL_ON = 'CRITICAL';
