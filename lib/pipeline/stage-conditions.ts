import { Aws } from 'aws-cdk-lib';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { BakeSettings, DeliveryConfig, DeploymentWindow, EnvironmentConfig } from '../config';
import { bootstrapRoleArn } from '../config/bootstrap';

/** One CodePipeline stage that deploys environments: pre-prod, or a prod wave. */
export interface DeployStage {
  /** The CodePipeline stage's name (EnvironmentConfig.pipelineStageName). */
  readonly stageName: string;
  /** The environments the stage deploys, in parallel: each must bake before the stage succeeds. */
  readonly environments: readonly EnvironmentConfig[];
  /** When set, the stage may only be entered inside this window. */
  readonly deploymentWindow?: DeploymentWindow;
}

/** The stages that deploy environments, in order: pre-prod, then each prod wave with its window. */
export function deployStagesOf(config: DeliveryConfig): DeployStage[] {
  return [
    { stageName: config.preprod.pipelineStageName, environments: [config.preprod] },
    ...config.prod.waves.map((wave, w) => ({
      stageName: wave[0].pipelineStageName,
      environments: wave,
      deploymentWindow: config.prod.deploymentWindows[w],
    })),
  ];
}

/** The prod waves that wait for a deployment window, in order, with their windows. */
export function heldWavesOf(
  config: DeliveryConfig,
): { readonly stageName: string; readonly window: DeploymentWindow }[] {
  return deployStagesOf(config).flatMap((s) =>
    s.deploymentWindow ? [{ stageName: s.stageName, window: s.deploymentWindow }] : [],
  );
}

/** The rule's configuration keys and values, from the CodePipeline rule reference. */
const RULES = {
  // https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
  cloudWatchAlarm: { Category: 'Rule', Owner: 'AWS', Provider: 'CloudWatchAlarm', Version: '1' },
  // https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
  deploymentWindow: { Category: 'Rule', Owner: 'AWS', Provider: 'DeploymentWindow', Version: '1' },
} as const;

/**
 * The role that reads an environment's bake alarm, for the OnSuccess rule and the bake watch: the
 * CDK bootstrap lookup role of the environment's account and region. It exists before the pipeline
 * is created or changed (bootstrapping is the first step of a deployment and of adding a region),
 * which CodePipeline needs of every role a pipeline names (aws/aws-cdk#22489); a role the
 * environment's own stack created would exist only after the pipeline had deployed it
 * (docs/decisions/0023-bake-alarm-through-bootstrap-lookup-role.md).
 */
export function bakeReaderRoleArn(env: EnvironmentConfig): string {
  return bootstrapRoleArn('lookup', env, Aws.PARTITION);
}

/**
 * The OnSuccess rule's WaitTime: "The wait time in minutes to allow for a state change before
 * running the rule result" (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html),
 * a grace period, not a watch: the bake watch owns the bake. One evaluation window of the alarms:
 * enough for an alarm left in ALARM by a bad release to return to OK once the stage holds a
 * healthy one again (a rollback execution), short enough not to hold a good release
 * (docs/decisions/0024-bake-owner-rollback-and-limits.md).
 */
export function bakeGraceMinutes(bake: BakeSettings): number {
  return Math.ceil((bake.periodSeconds * bake.evaluationPeriods) / 60);
}

/**
 * The OnSuccess condition of a deploy stage, the last check after the bake watch passed: one
 * CloudWatchAlarm rule per environment on its composite bake alarm, in the environment's own
 * account and region; an alarm still in ALARM after the grace period rolls the whole stage back.
 * A rule reads the alarm through `RoleArn` in `Region`: the rule declaration's own fields
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-codepipeline-pipeline-ruledeclaration.html);
 * CodePipeline assumes that role with the pipeline's role ("assumed through the roleArn for the
 * pipeline", https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleExecutionInput.html).
 */
export function bakeCondition(stage: DeployStage): Record<string, unknown> {
  return {
    Conditions: [
      {
        Result: 'ROLLBACK',
        Rules: stage.environments.map((env) => ({
          Name: `Bake-${env.stageName}`,
          RuleTypeId: RULES.cloudWatchAlarm,
          Configuration: {
            AlarmName: env.names.bakeAlarm,
            AlarmStates: 'ALARM',
            WaitTime: String(bakeGraceMinutes(env.bake)),
          },
          Region: env.region,
          RoleArn: bakeReaderRoleArn(env),
        })),
      },
    ],
  };
}

/**
 * The BeforeEntry condition of a prod wave with a window. Outside the window the rule holds the
 * stage, and the wave starts when the window opens: the rule reference's own warning ("After the
 * deployment window opens, CodePipeline does not check the CloudWatchAlarm alarm again") describes
 * a rule that waits, not one that fails
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
 * `Result: FAIL` is what an entry condition does if the rule itself fails (SKIP is only for
 * LambdaInvokeVariableCheck rules: https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html).
 * An approved release therefore starts unattended when the window opens; the approval text says
 * so (docs/decisions/0027-approved-release-starts-when-the-window-opens.md).
 */
export function windowCondition(
  stageName: string,
  window: DeploymentWindow,
): Record<string, unknown> {
  return {
    Conditions: [
      {
        Result: 'FAIL',
        Rules: [
          {
            Name: `Window-${stageName}`,
            RuleTypeId: RULES.deploymentWindow,
            Configuration: { Cron: window.cron, TimeZone: window.timeZone },
          },
        ],
      },
    ],
  };
}

/**
 * Adds the bake's last check (OnSuccess → ROLLBACK) to every deploy stage and the window
 * (BeforeEntry, which holds the stage until the window opens) to the stages that have one. CDK
 * Pipelines does not expose stage conditions, so this writes them on the underlying CfnPipeline
 * after `buildPipeline()`, finding each stage by name. It also lets the pipeline's role assume the
 * roles the rules name.
 */
export function addStageConditions(
  pipeline: codepipeline.Pipeline,
  stages: readonly DeployStage[],
): void {
  const cfn = pipeline.node.defaultChild as codepipeline.CfnPipeline;
  const names = pipeline.stages.map((s) => s.stageName);
  for (const stage of stages) {
    const index = names.indexOf(stage.stageName);
    if (index < 0)
      throw new Error(
        `internal: pipeline stage ${stage.stageName} not found among ${names.join(', ')}`,
      );
    cfn.addPropertyOverride(`Stages.${index}.OnSuccess`, bakeCondition(stage));
    if (stage.deploymentWindow)
      cfn.addPropertyOverride(
        `Stages.${index}.BeforeEntry`,
        windowCondition(stage.stageName, stage.deploymentWindow),
      );
  }
  const roleArns = stages.flatMap((s) => s.environments.map(bakeReaderRoleArn));
  pipeline.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadBakeAlarms',
      actions: ['sts:AssumeRole'],
      resources: roleArns,
    }),
  );
}
