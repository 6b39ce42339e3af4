import { createHash } from 'node:crypto';
import { RegionInfo } from 'aws-cdk-lib/region-info';

/**
 * Names that the stacks create and the tools reach without looking them up: the pipeline's
 * notification topic (breakglass publishes to it from an environment's account) and the role in
 * each environment's account through which the deploy's breakglass check reads the audit table.
 * docs/decisions/0032-drift-and-the-breakglass-block.md.
 */

/** The pipeline's notification topic, named after the pipeline so that its ARN follows from the config. */
export function notificationTopicName(pipelineName: string): string {
  return `${pipelineName}-notifications`;
}

export function notificationTopicArn(pipeline: {
  readonly account: string;
  readonly region: string;
  readonly name: string;
}): string {
  const partition = RegionInfo.get(pipeline.region).partition ?? 'aws';
  return `arn:${partition}:sns:${pipeline.region}:${pipeline.account}:${notificationTopicName(pipeline.name)}`;
}

/** IAM role names are at most 64 characters (IAM User Guide, "IAM object quotas"). */
const MAX_ROLE_NAME = 64;

/**
 * The role in an environment's account that the deploy's breakglass check assumes (created by its
 * stack). A stack name too long for it is shortened and made unique again with a hash of it.
 */
export function breakglassReaderRoleName(stackName: string): string {
  const suffix = '-bg-reader';
  const name = `${stackName}${suffix}`;
  if (name.length <= MAX_ROLE_NAME) return name;
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, 8);
  return `${stackName.slice(0, MAX_ROLE_NAME - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}
