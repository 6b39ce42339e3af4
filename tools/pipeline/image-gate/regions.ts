/**
 * The AWS regions the gate accepts: lib/config's own list (lib/config/regions.ts imports nothing
 * but aws-cdk-lib's region database, so the bundle stays small and reads no file beside itself).
 */
export { AWS_REGIONS as KNOWN_REGIONS, nearestRegion } from '../../../lib/config/regions';

/** `image.failOn`'s default in lib/config (DEFAULTS.image.failOn; test/tools/pipeline/image-gate/args.test.ts holds them equal). */
export const DEFAULT_FAIL_ON = 'CRITICAL';

/** `image.scanning`'s default in lib/config (DEFAULTS.image.scanning; test/tools/pipeline/image-gate/args.test.ts holds them equal). */
export const DEFAULT_SCAN_TYPE = 'ENHANCED';
