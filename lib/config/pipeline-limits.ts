import {
  ACTIONS_PER_REGION,
  ACTIONS_PER_REPLICA_REGION,
  MAX_ACTIONS_PER_STAGE,
  MAX_REGIONS_PER_WAVE,
  MAX_REPLICA_REGIONS,
  MAX_ECR_REPLICATION_DESTINATIONS,
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
