import { Aws } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { IMAGE_ARTIFACT_FILE } from '../image/tag';
import { GO_TOOLCHAIN, RUNTIME_VERSIONS } from './codebuild-images';
import { shellQuote } from './shell-quote';

/**
 * Where the Build step's tools keep their caches. Set explicitly (not left to each tool's default
 * under $HOME, which goenv and the image may move) so that the cache paths below are the real ones.
 */
export const BUILD_CACHE_DIRS = {
  npm: '/root/.npm',
  pip: '/root/.cache/pip',
  goBuild: '/root/.cache/go-build',
  goModules: '/root/go/pkg/mod',
} as const;

/** Where the Build step's S3 cache lives in the artifact bucket (the bucket's lifecycle expires its old versions after a day). */
export const BUILD_CACHE_PREFIX = 'codebuild-cache/build';

export interface BuildStepProps {
  readonly input: pipelines.IFileSetProducer;
  /** Path of the config file the pipeline was deployed with, relative to the repository root. */
  readonly configFile?: string;
  /** What the Build step reads in AWS after the synth (rollback guard, node AMI signal). */
  readonly reads: BuildStepReads;
}

/** The AWS resources the Build step reads after the synth; its role may read exactly these. */
export interface BuildStepReads {
  readonly account: string;
  /** The pipeline's region (its stack, its executions, its image repository). */
  readonly region: string;
  readonly pipelineName: string;
  /** CloudFormation name of the stack that holds the pipeline. */
  readonly pipelineStackName: string;
  readonly repositoryArn: string;
  /** Every region that hosts an environment (node-updates reads the public AMI parameters there). */
  readonly environmentRegions: readonly string[];
}

/**
 * Variables the Build step exports: one line each, for the approval text (lib/pipeline/notifications.ts).
 * ROLLBACK_TARGETS from the rollback guard, NODE_AMIS from the node AMI signal.
 */
export const BUILD_VARIABLES = {
  rollbackTargets: 'ROLLBACK_TARGETS',
  nodeAmis: 'NODE_AMIS',
} as const;

/**
 * The pipeline's Build step: every check that gates a release, then the synth. In order, each
 * stopping the pipeline before anything is built or deployed: the Go service's vet, race tests and
 * staticcheck and the manifest validator over every environment (scripts/release-checks.sh), the
 * unit tests (jest, with moto_server and the Go validator), then `cdk synth` and the bundled tools.
 * Then two read-only signals, each exported as one line for the approval text:
 * - the rollback guard (tools/pipeline/rollback-guard): which deploy stages would have a rollback
 *   target if this release failed there; with `pipeline.requireRollbackTarget` it refuses a new
 *   image while one would not (docs/decisions/0026-rollback-targets-across-pipeline-changes.md);
 * - the node AMI signal (scripts/node-ami-signal.sh runs `npx delivery node-updates`): the compliance
 *   signal of the nodes, a warning only, never failing the release (docs/decisions/0018-node-patching.md).
 */
export function buildStep(props: BuildStepProps): pipelines.CodeBuildStep {
  // The path is validated as a safe path (lib/config/config-file.ts) and quoted as well: it goes into a shell.
  const configArg = props.configFile ? ` -c ${shellQuote(`config=${props.configFile}`)}` : '';
  const manifestsConfigArg = props.configFile ? ` --config ${shellQuote(props.configFile)}` : '';
  const step = new pipelines.CodeBuildStep('Synth', {
    input: props.input,
    // The unit tests include moto_server integration tests (pinned Python tools, .venv).
    installCommands: ['npm ci', 'bash scripts/setup-python.sh'],
    commands: [
      `bash scripts/release-checks.sh${manifestsConfigArg}`,
      // A failing test stops the pipeline here, before anything deploys.
      'npm run test:unit',
      `npx cdk synth${configArg}`,
      // CDK's built-in CloudFormation validation is off; cfn-lint gates the templates (ADR 0019).
      'bash scripts/cfn-lint.sh cdk.out',
      'npm run bundle:tools',
      // Read-only; exits 1 only to refuse (pipeline.requireRollbackTarget). Buildspec 0.2 runs every
      // command in one shell, so the exports reach CodeBuild's exported variables.
      `npx tsx tools/pipeline/rollback-guard/cli.ts --assembly cdk.out --tag-file cdk.out/${IMAGE_ARTIFACT_FILE} --summary-file .rollback-targets${manifestsConfigArg}`,
      `export ${BUILD_VARIABLES.rollbackTargets}="$(cat .rollback-targets)"`,
      `bash scripts/node-ami-signal.sh --summary-file .node-amis${manifestsConfigArg}`,
      `export ${BUILD_VARIABLES.nodeAmis}="$(cat .node-amis)"`,
    ],
    primaryOutputDirectory: 'cdk.out',
    rolePolicyStatements: buildStepReadPolicy(props.reads),
  });
  // Declared here so the buildspec lists them whether or not the approval reads them.
  for (const name of Object.values(BUILD_VARIABLES)) step.exportedVariable(name);
  return step;
}

/** What the rollback guard and node-updates read, each on the one resource they read. */
function buildStepReadPolicy(r: BuildStepReads): iam.PolicyStatement[] {
  const partition = Aws.PARTITION;
  return [
    new iam.PolicyStatement({
      sid: 'GuardReadsDeployedPipelineTemplate',
      actions: ['cloudformation:GetTemplate'],
      resources: [
        `arn:${partition}:cloudformation:${r.region}:${r.account}:stack/${r.pipelineStackName}/*`,
      ],
    }),
    new iam.PolicyStatement({
      sid: 'GuardReadsRollbackTargets',
      actions: ['codepipeline:ListPipelineExecutions'],
      resources: [`arn:${partition}:codepipeline:${r.region}:${r.account}:${r.pipelineName}`],
    }),
    new iam.PolicyStatement({
      sid: 'GuardReadsImageTags',
      actions: ['ecr:DescribeImages'],
      resources: [r.repositoryArn],
    }),
    // Public parameters carry no account in their ARN:
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html
    new iam.PolicyStatement({
      sid: 'NodeUpdatesReadsPublicAmiParameters',
      actions: ['ssm:GetParameter'],
      resources: [...new Set(r.environmentRegions)].map(
        (region) => `arn:${partition}:ssm:${region}::parameter/aws/service/eks/optimized-ami/*`,
      ),
    }),
  ];
}

/**
 * CodeBuild settings of the Build step: Go and Python besides Node (the pipeline-wide default), the
 * exact Go toolchain, and a cache of npm, pip and Go's build and module caches in S3.
 *
 * S3, not CodeBuild's local cache: a local cache lives on one build host for a short while and is
 * best-effort, so a pipeline that runs a few times a day would mostly miss it; the S3 cache is
 * restored on every run (https://docs.aws.amazon.com/codebuild/latest/userguide/build-caching.html).
 * It lives under its own prefix in the pipeline's artifact bucket (KMS-encrypted, access-logged).
 */
export function buildStepCodeBuildOptions(cacheBucket: s3.IBucket): pipelines.CodeBuildOptions {
  return {
    partialBuildSpec: codebuild.BuildSpec.fromObject({
      env: {
        variables: {
          GOTOOLCHAIN: GO_TOOLCHAIN,
          GOFLAGS: '-modcacherw',
          GOCACHE: BUILD_CACHE_DIRS.goBuild,
          GOMODCACHE: BUILD_CACHE_DIRS.goModules,
          npm_config_cache: BUILD_CACHE_DIRS.npm,
          PIP_CACHE_DIR: BUILD_CACHE_DIRS.pip,
        },
      },
      phases: {
        install: {
          'runtime-versions': { golang: RUNTIME_VERSIONS.golang, python: RUNTIME_VERSIONS.python },
        },
      },
      cache: { paths: Object.values(BUILD_CACHE_DIRS).map((dir) => `${dir}/**/*`) },
    }),
    cache: codebuild.Cache.bucket(cacheBucket, { prefix: BUILD_CACHE_PREFIX }),
  };
}
