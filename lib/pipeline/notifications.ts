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
import type { EnvironmentConfig, NotificationSettings } from '../config';
import { BAKE_NAMES } from '../constructs/alarms';

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
      displayName: `${props.pipelineName} notifications`,
      masterKey: key,
      enforceSSL: true,
    });
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
 * The manual approval's text: what is being promoted and how pre-prod baked. CodePipeline
 * resolves the variables in the approval's CustomData when the action runs
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html); the
 * approval stage is entered only after pre-prod's OnSuccess condition passed, so reaching it means
 * pre-prod baked with its alarm OK.
 */
export function approvalComment(
  preprod: EnvironmentConfig,
  variables: {
    readonly commit: string;
    readonly imageTag: string;
    /** The change report's one-line summary (lib/pipeline/change-report-step.ts). */
    readonly changeSummary: string;
  },
): string {
  return (
    `Promote commit ${variables.commit} (image ${variables.imageTag}) to prod? ` +
    `Pre-prod (${preprod.stageName}) passed its smoke test and baked ${preprod.bake.minutes} min with alarm ${BAKE_NAMES.bakeAlarm(preprod.stageName)} OK ` +
    `(5xx <= ${preprod.bake.errorRatePercent}%, p99 <= ${preprod.bake.p99LatencyMs} ms, >= ${preprod.replicas.min} pods). ` +
    `Change report: ${variables.changeSummary}. Read it (review link) before approving.`
  );
}
