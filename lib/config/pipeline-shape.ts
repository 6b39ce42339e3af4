/**
 * Pipeline-shape limits that configuration validation enforces before anything is built
 * (lib/config/pipeline-limits.ts) and the pipeline stack checks after it (lib/pipeline). They live
 * in lib/config, the lowest layer, so that the validator never imports the pipeline
 * (test/toolchain/layout.test.ts); no imports, so anything may use them.
 *
 * CodePipeline allows at most 50 actions in one stage
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html), and CDK Pipelines,
 * rather than fail, splits a longer stage into `<name>.1`, `<name>.2`, ... (aws-cdk-lib
 * pipelines/lib/codepipeline/codepipeline.ts, `chunkTranches(50, ...)`). A split stage would lose
 * its automatic rollback and the names the rollback command and diagram know, so the
 * configuration may not ask for one.
 */
export const MAX_ACTIONS_PER_STAGE = 50;

/**
 * Actions the pipeline puts in a deploy stage for each region: the stack's deployment (one
 * CloudFormation create-or-update, no change set) and the smoke test with the bake after it (one
 * CodeBuild action, lib/pipeline/steps.ts). The image gates run outside the deploy stages, so a
 * rollback never re-runs them (lib/pipeline/image-gate-stage.ts). A test derives this number from
 * the synthesized pipeline (test/config/pipeline-limits.test.ts): when a step is added per
 * region, change it here and validation follows.
 */
export const ACTIONS_PER_REGION = 2;

/** Actions of the ImageReplicas stage per replica region: the replica stack's deployment. */
export const ACTIONS_PER_REPLICA_REGION = 1;

export const MAX_REGIONS_PER_WAVE = Math.floor(MAX_ACTIONS_PER_STAGE / ACTIONS_PER_REGION);
/**
 * ECR: one replication rule holds at most 25 destinations (AWS::ECR::ReplicationConfiguration
 * ReplicationRule, `Destinations`, maximum 25:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecr-replicationconfiguration-replicationrule.html),
 * and the pipeline replicates with one rule (lib/constructs/image-repository.ts).
 */
export const MAX_ECR_REPLICATION_DESTINATIONS = 25;

export const MAX_REPLICA_REGIONS = Math.min(
  Math.floor(MAX_ACTIONS_PER_STAGE / ACTIONS_PER_REPLICA_REGION),
  MAX_ECR_REPLICATION_DESTINATIONS,
);

/**
 * CloudFormation takes at most 500 resources in one template
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html,
 * "Resources"); aws-cdk-lib refuses a larger stack at synth (`@aws-cdk/core:stackResourceLimit`).
 */
export const CLOUDFORMATION_MAX_RESOURCES = 500;

/**
 * Resources of the pipeline stack (lib/pipeline/pipeline-stack.ts), as counts the configuration
 * decides: a fixed part, counted with every optional resource present (the CodeCommit repository
 * the stack creates and its event rule, the registry scanning and replication settings, the
 * change report's CodeBuild project with its role and policy); per
 * environment, its smoke-test-and-bake CodeBuild project with its role and policy; per email
 * address, its SNS subscription. test/config/pipeline-stack-size.test.ts derives these numbers
 * from synthesized pipelines: when the pipeline gains a resource, change them here.
 */
// fixed: 46, and 6 for the two breakglass checks beside the gates (a CodeBuild project, its role
// and policy each: lib/pipeline/steps.ts BreakglassCheckStep).
export const PIPELINE_STACK_RESOURCES = { fixed: 52, perEnvironment: 3, perEmail: 1 } as const;

/** The most resources the pipeline stack holds for this many environments and email addresses. */
export function pipelineStackResourceEstimate(environments: number, emails: number): number {
  return (
    PIPELINE_STACK_RESOURCES.fixed +
    PIPELINE_STACK_RESOURCES.perEnvironment * environments +
    PIPELINE_STACK_RESOURCES.perEmail * emails
  );
}

/**
 * A CodeBuild action in CodePipeline stops after 8 hours ("CodeBuild build action and test action:
 * 8 hours", https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html), whatever the
 * project's own timeout says. The bake runs inside the SmokeAndBake CodeBuild action, after the
 * smoke test (lib/pipeline/steps.ts), so the three share it: the smoke test's bound, the bake, and
 * time for the build to start (provisioning, the queue, downloading the cloud assembly).
 */
export const CODEBUILD_ACTION_MAX_MINUTES = 8 * 60;
/** How long the smoke test may take to see the new version (tools/pipeline/smoke-test). */
export const SMOKE_TEST_MINUTES = 10;
/** The SmokeAndBake build's time for everything but the smoke test and the bake. */
export const BUILD_START_MINUTES = 15;
/** The longest `bake.minutes` its action can hold. */
export const MAX_BAKE_MINUTES =
  CODEBUILD_ACTION_MAX_MINUTES - SMOKE_TEST_MINUTES - BUILD_START_MINUTES;
