import { RegionInfo } from 'aws-cdk-lib/region-info';
import { environmentNames, pipelineNames } from './names';

/**
 * Names the tools reach without looking them up, from lib/config/names.ts: the pipeline's
 * notification topic (breakglass publishes to it from an environment's account) and the role in
 * each environment's account through which the deploy's breakglass check reads the audit table.
 * docs/decisions/0032-drift-and-the-breakglass-block.md.
 */

/** The pipeline's notification topic, named after the pipeline so that its ARN follows from the config. */
export function notificationTopicName(pipelineName: string): string {
  return pipelineNames(pipelineName).notificationTopic;
}

export function notificationTopicArn(pipeline: {
  readonly account: string;
  readonly region: string;
  readonly name: string;
}): string {
  const partition = RegionInfo.get(pipeline.region).partition ?? 'aws';
  return `arn:${partition}:sns:${pipeline.region}:${pipeline.account}:${notificationTopicName(pipeline.name)}`;
}

/** The breakglass reader role of an environment of `service` (EnvironmentConfig.names.breakglassReaderRole). */
export function breakglassReaderRoleName(service: string, stageName: string): string {
  return environmentNames(service, stageName).breakglassReaderRole;
}
