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
 * Actions the pipeline puts in a deploy stage for each region: the change set (Prepare), its
 * execution (Deploy), the smoke test and the bake watch (lib/pipeline/bake-watch.ts). The image gate runs in a stage of its own before
 * it (one action per region, lib/pipeline/image-gate-stage.ts), so a rollback never re-runs it. A test derives this number
 * from the synthesized pipeline (test/config/pipeline-limits.test.ts): when a step is added per
 * region, change it here and validation follows.
 */
export const ACTIONS_PER_REGION = 4;

/** Actions of the ImageReplicas stage per replica region: the replica stack's change set and its execution. */
export const ACTIONS_PER_REPLICA_REGION = 2;

export const MAX_REGIONS_PER_WAVE = Math.floor(MAX_ACTIONS_PER_STAGE / ACTIONS_PER_REGION);
export const MAX_REPLICA_REGIONS = Math.floor(MAX_ACTIONS_PER_STAGE / ACTIONS_PER_REPLICA_REGION);
