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
  readonly stackName: string;
  /** The reader role in the environment's account (breakglassReaderRoleName). */
  readonly roleArn: string;
  /** The CodePipeline stage that deploys it: the check passes while that stage has never succeeded (nothing deployed yet). */
  readonly pipelineStageName: string;
  /** The manifests this commit renders for it, relative to BREAKGLASS_CHECK_DIR. */
  readonly manifestFile: string;
}

export interface BreakglassCheckTargets {
  readonly pipelineName: string;
  readonly pipelineRegion: string;
  readonly environments: readonly BreakglassCheckTarget[];
}
