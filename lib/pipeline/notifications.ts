import { Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as notifications from 'aws-cdk-lib/aws-codestarnotifications';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  type DeploymentWindow,
  type EnvironmentConfig,
  type NotificationSettings,
  notificationTopicName,
} from '../config';

/**
 * What people hear about, as CodeStar Notifications event type ids
 * (https://docs.aws.amazon.com/dtconsole/latest/userguide/concepts.html#events-ref-pipeline).
 * A rollback has no such event type; it is the start of an execution whose trigger is a rollback
 * (ROLLBACK_EVENT_PATTERN below).
 */
export const NOTIFIED_EVENTS = {
  approvalNeeded: 'codepipeline-pipeline-manual-approval-needed',
  stageFailed: 'codepipeline-pipeline-stage-execution-failed',
  pipelineSucceeded: 'codepipeline-pipeline-pipeline-execution-succeeded',
} as const;

/**
 * EventBridge pattern of a rollback: a pipeline execution that starts with trigger type
 * `AutomatedRollback` (a stage condition or OnFailure rolled it back) or `ManualRollback`
 * (ExecutionTrigger.triggerType, https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ExecutionTrigger.html;
 * event fields: https://docs.aws.amazon.com/codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html).
 */
export function rollbackEventPattern(pipelineName: string): events.EventPattern {
  return {
    source: ['aws.codepipeline'],
    detailType: ['CodePipeline Pipeline Execution State Change'],
    detail: {
      pipeline: [pipelineName],
      state: ['STARTED'],
      'execution-trigger': { 'trigger-type': ['AutomatedRollback', 'ManualRollback'] },
    },
  };
}

export interface PipelineNotificationsProps {
  readonly pipelineName: string;
  readonly settings: NotificationSettings;
  /**
   * Accounts whose operators publish a breakglass change to the topic (`npx delivery breakglass`, from
   * the environment's account). @default none
   */
  readonly breakglassAccounts?: readonly string[];
}

/**
 * An encrypted SNS topic that hears: a manual approval waiting, a stage failed, a stage rolled
 * back, the pipeline succeeded (`watch`), and what the change report before the prod approval
 * finds that needs attention (its action publishes). Subscriptions (emails) and AWS Chatbot Slack
 * channels come from config (`notifications`); none by default, so the topic is there to
 * subscribe to. The topic exists before the pipeline is built, so that its steps can publish.
 */
export class PipelineNotifications extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;
  private readonly slackChannels: chatbot.ISlackChannelConfiguration[];
  private readonly pipelineName: string;

  constructor(scope: Construct, id: string, props: PipelineNotificationsProps) {
    super(scope, id);
    this.pipelineName = props.pipelineName;
    const key = new kms.Key(this, 'TopicKey', {
      description: `Notifications of ${props.pipelineName}`,
      enableKeyRotation: true,
    });
    // Services publishing to an encrypted topic need the key (SNS developer guide, "Enable compatibility
    // between event sources from AWS services and encrypted topics").
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PublishToEncryptedTopic',
        principals: [
          new iam.ServicePrincipal('codestar-notifications.amazonaws.com'),
          new iam.ServicePrincipal('events.amazonaws.com'),
        ],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      // A name that follows from the config: breakglass publishes to it from the environments'
      // accounts without looking it up (lib/config/breakglass-names.ts).
      topicName: notificationTopicName(props.pipelineName),
      displayName: `${props.pipelineName} notifications`,
      masterKey: key,
      enforceSSL: true,
    });
    const publishers = [...new Set(props.breakglassAccounts ?? [])];
    if (publishers.length > 0) {
      // Breakglass tells the team that an environment was changed by hand. Cross-account publishing
      // needs the topic's policy and, the topic being encrypted, the key's, used through SNS only
      // (SNS developer guide, "Amazon SNS access control" and "Key management").
      const principals = publishers.map((a) => new iam.AccountPrincipal(a));
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'BreakglassPublish',
          principals,
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
        }),
      );
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'BreakglassPublishThroughSns',
          principals,
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'kms:ViaService': `sns.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
    for (const email of props.settings.emails)
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    this.key = key;
    this.slackChannels = props.settings.chatbotSlackChannelArns.map((arn, i) =>
      chatbot.SlackChannelConfiguration.fromSlackChannelConfigurationArn(this, `Slack${i}`, arn),
    );
  }

  /** The pipeline's events the topic hears (call once, after the pipeline is built). */
  watch(pipeline: codepipeline.Pipeline): void {
    new notifications.NotificationRule(this, 'Rule', {
      source: pipeline,
      events: Object.values(NOTIFIED_EVENTS),
      targets: [this.topic, ...this.slackChannels],
      detailType: notifications.DetailType.FULL,
    });

    new events.Rule(this, 'RolledBack', {
      description: `A stage of ${this.pipelineName} was rolled back`,
      eventPattern: rollbackEventPattern(this.pipelineName),
      targets: [
        new targets.SnsTopic(this.topic, {
          message: events.RuleTargetInput.fromText(
            `Pipeline ${events.EventField.fromPath('$.detail.pipeline')}: a stage is rolling back (${events.EventField.fromPath('$.detail.execution-trigger.trigger-type')}, execution ${events.EventField.fromPath('$.detail.execution-id')}). See docs/runbooks/alarm-rollback.md.`,
          ),
        }),
      ],
    });
  }
}

/**
 * CodePipeline takes at most 1000 characters per action configuration value, the approval's text
 * included (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionConfiguration.html),
 * and resolves its variables when the action runs. The longest each variable can be, where that
 * is bounded; the change report's summary gets what is left (`changeSummaryBudget`).
 */
export const APPROVAL_VARIABLE_MAX = {
  /** A Git commit id (SHA-1, hex). */
  commit: 40,
  /** tools/pipeline/rollback-guard clips its line at 200 characters. */
  rollbackTargets: 200,
  /** scripts/node-ami-signal.sh writes one of its fixed lines, at most 120 (test/pipeline/build-step.test.ts). */
  nodeAmis: 120,
} as const;

/** The most the approval's text resolves to, per CodePipeline. */
export const APPROVAL_TEXT_MAX = 1000;

/**
 * The characters left for the change report's summary in the approval text once every other
 * variable is at its longest (`imageTagLength`: the tag's format is fixed, `app-<16 hex>`), at most
 * `cap`. The report picks the longest form of its summary that fits (tools/pipeline/change-report).
 */
export function changeSummaryBudget(
  preprod: EnvironmentConfig,
  imageTagLength: number,
  heldWaves: readonly HeldWave[],
  cap: number,
): number {
  const worst = approvalComment(
    preprod,
    {
      commit: 'x'.repeat(APPROVAL_VARIABLE_MAX.commit),
      imageTag: 'x'.repeat(imageTagLength),
      changeSummary: 'x',
      rollbackTargets: 'x'.repeat(APPROVAL_VARIABLE_MAX.rollbackTargets),
      nodeAmis: 'x'.repeat(APPROVAL_VARIABLE_MAX.nodeAmis),
    },
    heldWaves,
  );
  return Math.max(0, Math.min(cap, APPROVAL_TEXT_MAX - (worst.length - 1)));
}

/** A prod wave held by a deployment window: its pipeline stage and the window. */
export interface HeldWave {
  readonly stageName: string;
  readonly window: DeploymentWindow;
}

/**
 * The manual approval's text: what is being promoted, how pre-prod baked, and, when prod waves
 * have deployment windows, that approving releases them unattended when their window opens.
 * CodePipeline resolves the variables in the approval's CustomData when the action runs
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html); the
 * approval stage is entered only after pre-prod's bake watch (and its OnSuccess condition, unless
 * `bake.alarmRule` is false) passed, so reaching it means pre-prod baked with its alarm OK.
 *
 * A window does not fail a wave outside it: the DeploymentWindow rule holds the stage until the
 * window opens, and then the wave starts with nobody approving again
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html;
 * docs/decisions/0027-approved-release-starts-when-the-window-opens.md).
 */
export function approvalComment(
  preprod: EnvironmentConfig,
  variables: {
    readonly commit: string;
    readonly imageTag: string;
    /** The change report's one line (lib/pipeline/change-report-step.ts). @default not shown */
    readonly changeSummary?: string;
    /** The Build step's one line on rollback targets (tools/pipeline/rollback-guard). @default not shown */
    readonly rollbackTargets?: string;
    /** The Build step's one line on the node AMIs (scripts/node-ami-signal.sh). @default not shown */
    readonly nodeAmis?: string;
  },
  heldWaves: readonly HeldWave[] = [],
): string {
  const held = heldWaves
    .map((h) => `${h.stageName} (window "${h.window.cron}" ${h.window.timeZone})`)
    .join(', ');
  const waits =
    heldWaves.length === 1
      ? 'waits for its window and starts on its own when its window opens'
      : 'wait for their windows and start on their own when their window opens';
  const windows =
    heldWaves.length === 0
      ? ''
      : ` After you approve, ${held} ${waits}; nobody approves again. To hold a wave: docs/runbooks/alarm-rollback.md#deployment-windows.`;
  return (
    `Promote commit ${variables.commit} (image ${variables.imageTag}) to prod? ` +
    `Pre-prod (${preprod.stageName}) passed its smoke test and baked ${preprod.bake.minutes} min with alarm ${preprod.names.bakeAlarm} OK ` +
    `(5xx <= ${preprod.bake.errorRatePercent}%, p99 <= ${preprod.bake.p99LatencyMs} ms, >= ${preprod.replicas.min} pods).` +
    (variables.changeSummary ? ` Changes: ${variables.changeSummary} (review link).` : '') +
    (variables.rollbackTargets ? ` Rollback targets: ${variables.rollbackTargets}.` : '') +
    (variables.nodeAmis ? ` Node AMIs: ${variables.nodeAmis}.` : '') +
    windows
  );
}
