import { Aws, Duration, type Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import {
  CodeBuildStep,
  type IFileSetProducer,
  ManualApprovalStep,
  type ManualApprovalStepProps,
} from 'aws-cdk-lib/pipelines';
import type { ChangeReportFinding } from '../config';
import { OUTPUTS } from '../stacks/eks-app-stack';
import { shellQuote } from './shell-quote';
import { TOOLS_DIR } from './steps';

/** Where the report goes in the artifact bucket: `<prefix>/<execution id>/report.md`. */
export const CHANGE_REPORT_PREFIX = 'change-reports';
/** The action's variables the approval reads. */
export const CHANGE_REPORT_VARIABLES = { summary: 'CHANGE_SUMMARY', url: 'REPORT_URL' } as const;
/** The directory the tool writes its outputs to inside the build. */
const OUT_DIR = 'change-report-out';

/** One prod stage's stack, as the pipeline deploys it. */
export interface ChangeReportTarget {
  readonly stageName: string;
  /** The stage's stack: its synthesizer names the bootstrap lookup role to read it through. */
  readonly stack: Stack;
}

export interface ChangeReportStepProps {
  /** The cloud assembly (the synth output): the templates the prod waves will deploy, and the bundled tool. */
  readonly assembly: IFileSetProducer;
  /** The prod stages, wave by wave, in deployment order. */
  readonly waves: readonly (readonly ChangeReportTarget[])[];
  readonly pipelineName: string;
  /** Where the report is stored (the pipeline's artifact bucket) and its key. */
  readonly bucket: s3.IBucket;
  readonly bucketKey?: kms.IKey;
  /** Told when something needs attention (the pipeline's notification topic) and its key. */
  readonly topic: sns.ITopic;
  readonly topicKey?: kms.IKey;
  /** Findings that fail the action (config prod.changeReport.blockOn). */
  readonly blockOn: readonly ChangeReportFinding[];
  /** The most characters the summary for the approval's text may take (`changeSummaryBudget`). @default CHANGE_SUMMARY_MAX */
  readonly summaryMax?: number;
  /** @default 30 */
  readonly callTimeoutSeconds?: number;
}

/** The longest the approval's summary line is ever given. */
export const CHANGE_SUMMARY_MAX = 300;

/** The lookup role of a stage's stack, as its synthesizer (and so the cloud assembly) names it. */
export function lookupRoleArnOf(stack: Stack): string {
  const synth = stack.synthesizer as { lookupRole?: string };
  if (!synth.lookupRole)
    throw new Error(
      `internal: the stack ${stack.node.path} has no bootstrap lookup role (a DefaultStackSynthesizer names one)`,
    );
  return synth.lookupRole.replace(/\$\{AWS::Partition\}/g, Aws.PARTITION);
}

/**
 * Before the prod approval, beside the prod image gate: what deploying this execution would
 * change in every prod stack of every wave, against what is deployed there
 * (tools/pipeline/change-report, docs/decisions/0030-change-report.md). It reads each deployed
 * template through the CDK bootstrap lookup role of the stack's account and region (read-only),
 * stores the report next to the pipeline's artifacts, tells the topic when something needs
 * attention, and exports the summary and the report's link for the approval. With
 * `prod.changeReport.blockOn` it fails on those findings, so the approval is never offered.
 */
export class ChangeReportStep extends CodeBuildStep {
  constructor(id: string, props: ChangeReportStepProps) {
    const lookupRoles = [...new Set(props.waves.flat().map((t) => lookupRoleArnOf(t.stack)))];
    const waves = props.waves.map((w) => w.map((t) => t.stageName).join(',')).join(';');
    const args = [
      `--waves ${shellQuote(waves)}`,
      `--pipeline ${shellQuote(props.pipelineName)}`,
      '--execution-id "$EXECUTION_ID"',
      '--bucket "$REPORT_BUCKET"',
      `--prefix ${CHANGE_REPORT_PREFIX}`,
      '--topic-arn "$TOPIC_ARN"',
      '--partition "$PARTITION"',
      `--call-timeout ${props.callTimeoutSeconds ?? 30}`,
      `--summary-max ${props.summaryMax ?? CHANGE_SUMMARY_MAX}`,
      // a new image changes the workload's manifests in every stack: that is the release, not infrastructure
      `--image-output ${OUTPUTS.imageTag}`,
      `--out ${OUT_DIR}`,
      ...(props.blockOn.length > 0 ? [`--block-on ${props.blockOn.join(',')}`] : []),
    ];
    super(id, {
      input: props.assembly,
      env: {
        EXECUTION_ID: codepipeline.GlobalVariables.executionId,
        REPORT_BUCKET: props.bucket.bucketName,
        TOPIC_ARN: props.topic.topicArn,
        PARTITION: Aws.PARTITION,
      },
      commands: [
        `node ${TOOLS_DIR}/change-report.cjs ${args.join(' ')}`,
        // the approval reads these two (CodeBuild exports them at the end of the build)
        `export ${CHANGE_REPORT_VARIABLES.summary}="$(cat ${OUT_DIR}/summary.txt)" ${CHANGE_REPORT_VARIABLES.url}="$(cat ${OUT_DIR}/url.txt)"`,
      ],
      buildEnvironment: { computeType: codebuild.ComputeType.SMALL },
      // every AWS call is bounded (--call-timeout) and the stacks are read side by side
      timeout: Duration.minutes(15),
      rolePolicyStatements: [
        // Read-only in the prod accounts: the bootstrap lookup role carries ReadOnlyAccess and
        // denies kms:Decrypt (aws-cdk bootstrap template).
        new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: lookupRoles }),
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [props.bucket.arnForObjects(`${CHANGE_REPORT_PREFIX}/*`)],
        }),
        ...(props.bucketKey
          ? [
              // a single-part upload to an SSE-KMS bucket needs only this on the key
              // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html)
              new iam.PolicyStatement({
                actions: ['kms:GenerateDataKey'],
                resources: [props.bucketKey.keyArn],
              }),
            ]
          : []),
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
        // a publisher to an encrypted topic needs these on its key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)
        ...(props.topicKey
          ? [
              new iam.PolicyStatement({
                actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
                resources: [props.topicKey.keyArn],
              }),
            ]
          : []),
      ],
    });
  }

  /** The one-line summary for the approval's text (`#{ns.CHANGE_SUMMARY}`). */
  get summary(): string {
    return this.exportedVariable(CHANGE_REPORT_VARIABLES.summary);
  }

  /** The report's link for the approval's review URL. */
  get reportUrl(): string {
    return this.exportedVariable(CHANGE_REPORT_VARIABLES.url);
  }
}

/**
 * A manual approval whose review URL may name another step's output variable. aws-cdk-lib's
 * ManualApprovalStep looks for step outputs in its comment only, and fails the synth ("Output for
 * step ... not configured") when the review URL names one; CodePipeline itself resolves variables
 * in every action configuration field before the action runs
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html#reference-variables-resolution).
 */
export class ReviewedApprovalStep extends ManualApprovalStep {
  constructor(id: string, props: ManualApprovalStepProps) {
    super(id, props);
    this.discoverReferencedOutputs(props.reviewUrl);
  }
}
