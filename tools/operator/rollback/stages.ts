import { type DeliveryConfig, type EnvironmentConfig, allEnvironments } from '../../../lib/config';
import { UsageError } from '../../common/errors';

/** The pipeline stage a `--stage` argument names, and the environments it deploys. */
export interface ResolvedStage {
  /** The CodePipeline stage to roll back (`preprod-eu-west-1`, `prod-wave-2`, ...). */
  readonly pipelineStageName: string;
  /** Every environment that stage deploys: rolling the stage back rolls back all of them. */
  readonly environments: readonly EnvironmentConfig[];
  /** The environment the operator named, when they named one rather than the pipeline stage. */
  readonly requestedEnvironment?: EnvironmentConfig;
}

/**
 * Accepts an environment's stage name (`prod-us-east-1`) or a deploy stage of the pipeline
 * (`prod-wave-2`). Only deploy stages are valid: Source cannot be rolled back, and rolling back
 * Build/UpdatePipeline/Assets/Image changes no running service.
 */
export function resolveStage(cfg: DeliveryConfig, name: string): ResolvedStage {
  const envs = allEnvironments(cfg);
  const membersOf = (stage: string) => envs.filter((e) => e.pipelineStageName === stage);
  const env = envs.find((e) => e.stageName === name);
  if (env)
    return {
      pipelineStageName: env.pipelineStageName,
      environments: membersOf(env.pipelineStageName),
      requestedEnvironment: env,
    };
  if (envs.some((e) => e.pipelineStageName === name))
    return { pipelineStageName: name, environments: membersOf(name) };
  throw new UsageError(`unknown stage "${name}"; valid: ${validStageNames(cfg).join(', ')}`);
}

/** Environment names, then the pipeline's deploy stages that are not already listed. */
export function validStageNames(cfg: DeliveryConfig): string[] {
  const envs = allEnvironments(cfg);
  const names = envs.map((e) => e.stageName);
  for (const e of envs) if (!names.includes(e.pipelineStageName)) names.push(e.pipelineStageName);
  return names;
}

/** One sentence saying what a rollback of this stage touches, wave members included. */
export function describeScope(stage: ResolvedStage): string {
  const names = stage.environments.map((e) => e.stageName);
  const requested = stage.requestedEnvironment;
  if (requested && requested.stageName === stage.pipelineStageName)
    return `stage ${stage.pipelineStageName} deploys ${requested.stageName} only`;
  if (requested) {
    const others = names.filter((n) => n !== requested.stageName);
    const tail =
      others.length > 0
        ? `; rolling back a wave rolls back every region in it: ${names.join(', ')}`
        : ` (the only region in it)`;
    return `${requested.stageName} is deployed by pipeline stage ${stage.pipelineStageName}${tail}`;
  }
  return names.length > 1
    ? `pipeline stage ${stage.pipelineStageName} deploys ${names.join(', ')}; rolling back a wave rolls back every region in it`
    : `pipeline stage ${stage.pipelineStageName} deploys ${names.join(', ')}`;
}
