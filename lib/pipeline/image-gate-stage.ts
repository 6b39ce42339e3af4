/**
 * The image gate runs in a stage of its own, just before the stage it guards, never inside it:
 * CodePipeline's stage rollback re-runs every action of the rolled-back stage
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html), so a gate inside
 * the deploy stage would judge the older image again, and a CRITICAL found since, or an expired
 * scan, would block the rollback exactly when it is needed. A gate stage is never rolled back (it
 * deploys nothing). See docs/decisions/0011-rollback-never-gated.md.
 */
export function imageGateStageName(deployStageName: string): string {
  return `ImageGate-${deployStageName}`;
}
