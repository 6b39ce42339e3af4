/**
 * What the synth writes into the cloud assembly for the deploy's breakglass check
 * (tools/pipeline/breakglass-check), and where. No imports: the check is bundled from it.
 */

/** The directory of the cloud assembly that holds what the deploy's breakglass check compares against. */
export const BREAKGLASS_CHECK_DIR = 'breakglass-check';
/** Its index, `<BREAKGLASS_CHECK_DIR>/targets.json`. */
export const BREAKGLASS_CHECK_TARGETS = `${BREAKGLASS_CHECK_DIR}/targets.json`;

/** One environment the check may be asked about, as the synth writes it into the cloud assembly. */
export interface BreakglassCheckTarget {
  readonly stageName: string;
  readonly account: string;
  readonly region: string;
  /** The partition of its ARNs (`aws`, `aws-cn`, ...). */
  readonly partition: string;
  readonly stackName: string;
  /**
   * The CDK bootstrap lookup role of the environment's account and region (lib/config/bootstrap.ts),
   * which the check assumes with a session policy for each read: it exists from `cdk bootstrap`
   * on, before the environment's stack (docs/decisions/0035-breakglass-check-through-the-lookup-role.md).
   */
  readonly lookupRoleArn: string;
  /** The manifests this commit renders for it, relative to BREAKGLASS_CHECK_DIR. */
  readonly manifestFile: string;
  /** The config's `breakglassCheck.kmsTableUpgrade` for it (written only when true). */
  readonly kmsTableUpgrade?: boolean;
}

export interface BreakglassCheckTargets {
  readonly environments: readonly BreakglassCheckTarget[];
}
