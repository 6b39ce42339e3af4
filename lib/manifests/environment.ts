import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { DeliveryConfig, EnvironmentConfig } from '../config';
import { imageUri } from '../image/tag';
import { renderWorkload, toYaml, workloadPropsFor } from './workload';

/**
 * One environment's manifests as git renders them for an image tag, with the image's URI written
 * out as CloudFormation resolves it (the partition's URL suffix): what `npm run drift` compares
 * with S3 and the cluster. The stacks render the same objects (their URI with the suffix as a token).
 */
export function renderEnvironmentYaml(
  config: DeliveryConfig,
  env: EnvironmentConfig,
  tag: string,
): string {
  const uri = imageUri({
    registryAccount: config.pipeline.account,
    region: env.region,
    urlSuffix: RegionInfo.get(env.region).domainSuffix ?? 'amazonaws.com',
    repositoryName: config.image.repositoryName,
    tag,
  });
  return toYaml(renderWorkload(workloadPropsFor(env, { uri, tag })));
}
