import {
  ACTIONS_PER_REGION,
  CLOUDFORMATION_MAX_RESOURCES,
  PIPELINE_STACK_RESOURCES,
  ACTIONS_PER_REPLICA_REGION,
  MAX_ACTIONS_PER_STAGE,
  MAX_REGIONS_PER_WAVE,
  MAX_REPLICA_REGIONS,
  MAX_ECR_REPLICATION_DESTINATIONS,
  pipelineStackResourceEstimate,
} from './pipeline-shape';
import type { ConfigProblem, CrossFieldInput } from './schema';

/**
 * Rules from the pipeline's shape: a prod wave deploys its regions in one CodePipeline stage, and
 * the ImageReplicas stage holds one replica stack per region other than the pipeline's; neither
 * may exceed CodePipeline's actions per stage (lib/config/pipeline-shape.ts).
 */
export function checkPipelineLimits(input: CrossFieldInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const waves = new Map<number, number>();
  for (const { path } of input.environments) {
    const m = /^prod\.waves\[(\d+)\]/.exec(path);
    if (m) waves.set(Number(m[1]), (waves.get(Number(m[1])) ?? 0) + 1);
  }
  for (const [wave, size] of [...waves].sort(([a], [b]) => a - b)) {
    if (size > MAX_REGIONS_PER_WAVE) {
      problems.push({
        path: `prod.waves[${wave}]`,
        message: `${size} environments in one wave need ${size * ACTIONS_PER_REGION} pipeline actions (${ACTIONS_PER_REGION} each: deploy, then smoke test and bake), more than the ${MAX_ACTIONS_PER_STAGE} CodePipeline allows in one stage; split it into waves of at most ${MAX_REGIONS_PER_WAVE}`,
      });
    }
  }
  if (input.pipelineRegion !== undefined) {
    const replicaRegions = new Set(
      input.environments.map((e) => e.env.region).filter((r) => r !== input.pipelineRegion),
    );
    if (replicaRegions.size > MAX_REPLICA_REGIONS) {
      problems.push({
        path: 'prod.waves',
        message: `${replicaRegions.size} regions other than the pipeline's (${input.pipelineRegion}) each need an image replica: ${replicaRegions.size * ACTIONS_PER_REPLICA_REGION} actions in the ImageReplicas stage (CodePipeline allows ${MAX_ACTIONS_PER_STAGE} in one stage) and as many destinations of the ECR replication rule (ECR allows ${MAX_ECR_REPLICATION_DESTINATIONS}); use at most ${MAX_REPLICA_REGIONS} such regions`,
      });
    }
  }
  return problems;
}

/**
 * The pipeline stack within CloudFormation's resources per stack, counted from the raw input (so
 * it reports beside the schema's problems): each environment and each email address adds
 * resources (PIPELINE_STACK_RESOURCES). 600 addresses used to pass validation and fail the synth.
 */
export function checkPipelineStackSize(raw: unknown): ConfigProblem[] {
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const root = obj(raw);
  const waves = obj(root.prod).waves;
  const environments =
    1 +
    (Array.isArray(waves)
      ? waves.reduce<number>((n, wave) => n + (Array.isArray(wave) ? wave.length : 0), 0)
      : 0);
  const emails = obj(root.notifications).emails;
  const emailCount = Array.isArray(emails) ? emails.length : 0;
  const others = pipelineStackResourceEstimate(environments, 0);
  const max = CLOUDFORMATION_MAX_RESOURCES;
  if (others > max) {
    return [
      {
        path: 'prod.waves',
        message: `${environments} environments need ${others} resources in the pipeline stack (${PIPELINE_STACK_RESOURCES.perEnvironment} each besides ${PIPELINE_STACK_RESOURCES.fixed} of its own), more than CloudFormation's ${max} per stack; deploy fewer environments from one pipeline`,
      },
    ];
  }
  if (others + emailCount * PIPELINE_STACK_RESOURCES.perEmail > max) {
    return [
      {
        path: 'notifications.emails',
        message: `${emailCount} addresses need ${emailCount} subscriptions in the pipeline stack, which with its ${others} other resources for ${environments} environments exceeds CloudFormation's ${max} resources per stack; at most ${Math.floor((max - others) / PIPELINE_STACK_RESOURCES.perEmail)} fit: subscribe a distribution list instead`,
      },
    ];
  }
  return [];
}
