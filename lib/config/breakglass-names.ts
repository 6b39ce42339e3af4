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

/** The role in an environment's account that the deploy's breakglass check assumes (created by its stack). */
export function breakglassReaderRoleName(stackName: string): string {
  return `${stackName}-breakglass-reader`;
}
