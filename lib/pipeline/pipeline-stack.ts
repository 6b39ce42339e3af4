import { Aws, Duration, RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { type DeliveryConfig, type EnvironmentConfig, allEnvironments } from '../config';
import { ImageRepository } from '../constructs/image-repository';
import { AppStage } from '../stages/app-stage';
import { ImageReplicasStage } from '../stages/image-replicas-stage';
import { MemoizedLogicalIdStack } from '../stacks/memoized-logical-ids';
import { pipelineSource } from './source';
import { PipelineNotifications, approvalComment, changeSummaryBudget } from './notifications';
import { addStageConditions, deployStagesOf, heldWavesOf } from './stage-conditions';
import {
  BUILD_CACHE_PREFIX,
  BUILD_VARIABLES,
  buildStep,
  buildStepCodeBuildOptions,
} from './build-step';
import { BUILD_IMAGES, selectRuntimes } from './codebuild-images';
import { ACTIONS_PER_REGION, MAX_ACTIONS_PER_STAGE } from '../config/pipeline-shape';
import { matchConnectionActionPrefix, scopePipelineGrants } from './scoped-grants';
import { BreakglassCheckStep, ImageBuildStep, ImageGateStep, SmokeTestStep } from './steps';
import { imageGateStageName } from './image-gate-stage';
import { CHANGE_SUMMARY_MAX, ChangeReportStep, ReviewedApprovalStep } from './change-report-step';
import awsCdkPackage from 'aws-cdk/package.json';

export interface PipelineStackProps extends StackProps {
  readonly config: DeliveryConfig;
  /** The image tag decided at synth; it reaches the stages only (never this stack's template). */
  readonly imageTag: string;
  /** Path of buildspec.yml. @default "buildspec.yml" */
  readonly buildSpecFile?: string;
}

/**
 * CLI versions the pipeline's own CodeBuild steps install. aws-cdk is the version in
 * package-lock.json (the CLI the synth step runs); cdk-assets is pinned here.
 */
export const PINNED_TOOLS = {
  awsCdkCli: awsCdkPackage.version,
  cdkAssets: '4.7.3',
} as const;

/** The action in the PromoteToProd stage that gates every prod region, before the approval. */
export const PROD_GATE_ACTION = 'ImageGate-prod';
/** The action beside it that reports what deploying would change in every prod stack (docs/decisions/0030-change-report.md). */
export const CHANGE_REPORT_ACTION = 'ChangeReport-prod';

/** The actions that check for outstanding breakglass changes: `<this>-<preprod stage>`, `<this>-prod`. */
export const BREAKGLASS_CHECK_ACTION = 'BreakglassCheck';

/** Pipeline stage names other tools (rollback, docs, tests) rely on. */
export const PIPELINE_STAGES = {
  imageReplicas: 'ImageReplicas',
  image: 'Image',
  approval: 'PromoteToProd',
} as const;

/**
 * The delivery pipeline: source → synth (Go and manifest checks, unit tests, cdk synth, cfn-lint) →
 * self-mutation → assets → image replicas → image build (and backfill to the replicas) → pre-prod
 * gate → pre-prod (deploy, then smoke test and bake) → prod gate, then manual approval → prod
 * waves (each region: deploy, then smoke test and bake; a wave's regions in parallel). Every
 * deploying stage rolls back on failure. 15 sequential steps from push to the last prod region
 * with the default config (docs/decisions/0022-path-to-prod.md).
 */
export class PipelineStack extends MemoizedLogicalIdStack {
  readonly pipeline: pipelines.CodePipeline;
  readonly imageRepository: ImageRepository;
  /** Names of the CodePipeline stages that deploy, in order (they get OnFailure: ROLLBACK). */
  readonly deployStageNames: string[] = [];

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const environments = allEnvironments(config);

    const repositoryProps = {
      repositoryName: config.image.repositoryName,
      pullAccounts: [...new Set(environments.map((e) => e.account))],
      keepImages: config.image.keepImages,
    };
    const replicaRegions = [...new Set(environments.map((e) => e.region))].filter(
      (r) => r !== config.pipeline.region,
    );
    this.imageRepository = new ImageRepository(this, 'Image', {
      ...repositoryProps,
      source: { replicaRegions, scanning: config.image.scanning },
    });

    const source = pipelineSource(this, config.source, config.service.name);

    // Go service checks and manifest validation, unit tests, then synth, then the rollback guard
    // and the node AMI signal (lib/pipeline/build-step.ts).
    const synth = buildStep({
      input: source,
      configFile: config.configFile,
      reads: {
        account: config.pipeline.account,
        region: config.pipeline.region,
        pipelineName: config.pipeline.name,
        pipelineStackName: this.stackName,
        repositoryArn: this.imageRepository.repository.repositoryArn,
        environmentRegions: environments.map((e) => e.region),
      },
    });
    const artifactBucket = this.artifactBucket();
    // Before the pipeline: the change report's action publishes to the topic (it watches the pipeline once built).
    const notifications = new PipelineNotifications(this, 'Notifications', {
      pipelineName: config.pipeline.name,
      settings: config.notifications,
      breakglassAccounts: environments.map((e) => e.account),
    });

    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: config.pipeline.name,
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      selfMutation: true,
      crossAccountKeys: true,
      enableKeyRotation: true,
      artifactBucket,
      publishAssetsInParallel: false,
      // One CloudFormation action per stack (create or update) instead of a change set and its
      // execution: one sequential step less per deploy stage, and no review happens between the
      // two anyway (docs/decisions/0022-path-to-prod.md; `npm run diff` shows a change beforehand).
      useChangeSets: false,
      // Pinned like everything else: self-mutation and asset publishing otherwise install `@latest`.
      cliVersion: PINNED_TOOLS.awsCdkCli,
      cdkAssetsCliVersion: PINNED_TOOLS.cdkAssets,
      codeBuildDefaults: {
        buildEnvironment: {
          buildImage: BUILD_IMAGES.default,
          computeType: codebuild.ComputeType.MEDIUM,
        },
        // Every step runs node (CDK Pipelines' own steps and the bundled tools); steps that run more select more.
        // What each image offers: lib/pipeline/codebuild-images.ts.
        partialBuildSpec: selectRuntimes('nodejs'),
        timeout: Duration.minutes(60),
      },
      synthCodeBuildDefaults: buildStepCodeBuildOptions(artifactBucket),
    });

    // The cloud assembly (cdk.out): image.json and the bundled tools, for the image build, gates and smoke tests.
    const assembly = synth;
    if (replicaRegions.length > 0) {
      // The replicas exist (with our settings and pull policy) before the first image replicates.
      this.pipeline.addStage(
        new ImageReplicasStage(this, PIPELINE_STAGES.imageReplicas, {
          account: config.pipeline.account,
          regions: replicaRegions,
          repository: repositoryProps,
          stackNameOf: config.pipelineNames.imageReplicaStackName,
        }),
      );
      this.deployStageNames.push(PIPELINE_STAGES.imageReplicas);
    }
    const buildImage = new ImageBuildStep('BuildImage', {
      source,
      assembly,
      repository: this.imageRepository.repository,
      architecture: config.image.architecture,
      buildSpecFile: props.buildSpecFile ?? 'buildspec.yml',
      appDir: config.service.appDir,
      // The replicas of regions added after the image was pushed get it before any gate runs.
      backfill:
        replicaRegions.length > 0
          ? {
              repositoryName: config.image.repositoryName,
              sourceArn: this.imageRepository.repository.repositoryArn,
              replicaRegions,
              account: config.pipeline.account,
            }
          : undefined,
    });
    this.pipeline.addWave(PIPELINE_STAGES.image, { post: [buildImage] });

    const image = {
      registryAccount: config.pipeline.account,
      repositoryName: config.image.repositoryName,
      tag: props.imageTag,
      architecture: config.image.architecture,
    };
    // The gates never run inside a stage that rolls back: a rollback re-runs every action of its
    // stage, and a gate there would judge the older image again (lib/pipeline/image-gate-stage.ts).
    const gateFor = (id: string, envs: readonly EnvironmentConfig[]) => {
      const regions = [...new Set(envs.map((e) => e.region))];
      return new ImageGateStep(id, {
        assembly,
        repositoryName: config.image.repositoryName,
        regions,
        replicaArns: regions.map(
          (r) =>
            `arn:${Aws.PARTITION}:ecr:${r}:${config.pipeline.account}:repository/${config.image.repositoryName}`,
        ),
        scanRegion: config.pipeline.region,
        sourceArn: this.imageRepository.repository.repositoryArn,
        scanning: config.image.scanning,
        failOn: config.image.failOn,
      });
    };
    const stageFor = (env: EnvironmentConfig) => {
      const stage = new AppStage(this, env.stageName, {
        environment: env,
        image,
        stackId: config.names.appStackId,
      });
      // The smoke test, then the bake, in one action after the deploy (lib/pipeline/steps.ts).
      const verify = new SmokeTestStep(`SmokeAndBake-${env.stageName}`, {
        assembly,
        serviceUrl: stage.serviceUrl,
        imageTag: stage.imageTag,
        tlsHostName: env.tlsHostName,
        bake: { env, pipelineName: config.pipeline.name },
      });
      return { stage, options: { post: [verify] } };
    };

    // Beside each gate, in the same stages that never roll back: no breakglass change git does
    // not carry may be outstanding in an environment about to be deployed (BreakglassCheckStep).
    const checkFor = (id: string, envs: readonly EnvironmentConfig[]) =>
      new BreakglassCheckStep(id, {
        assembly,
        environments: envs,
        pipeline: { ...config.pipeline, name: config.pipeline.name },
      });
    this.pipeline.addWave(imageGateStageName(config.preprod.pipelineStageName), {
      post: [
        gateFor(`ImageGate-${config.preprod.stageName}`, [config.preprod]),
        checkFor(`${BREAKGLASS_CHECK_ACTION}-${config.preprod.stageName}`, [config.preprod]),
      ],
    });
    const preprod = stageFor(config.preprod);
    this.pipeline.addStage(preprod.stage, preprod.options);
    this.deployStageNames.push(config.preprod.pipelineStageName);

    // The prod stages exist before the approval: the change report reads what they would deploy.
    const prodStages = config.prod.waves.map((waveEnvs) => waveEnvs.map(stageFor));
    // Every prod region's gate, in one action, judges the image after pre-prod's bake and before
    // the approval: the approver promotes an image that passed, and the prod waves, each a
    // stage that rolls back, hold no gate (docs/decisions/0022-path-to-prod.md).
    const prodGate = gateFor(PROD_GATE_ACTION, config.prod.waves.flat());
    const prodCheck = checkFor(`${BREAKGLASS_CHECK_ACTION}-prod`, config.prod.waves.flat());
    // Beside the gate (same step): what deploying would change in every prod stack, for the approver.
    const changeReport = new ChangeReportStep(CHANGE_REPORT_ACTION, {
      assembly,
      waves: prodStages.map((wave) =>
        wave.map((s) => ({ stageName: s.stage.stageName, stack: s.stage.stack })),
      ),
      pipelineName: config.pipeline.name,
      bucket: artifactBucket,
      bucketKey: artifactBucket.encryptionKey,
      topic: notifications.topic,
      topicKey: notifications.key,
      blockOn: config.prod.changeReport.blockOn,
      summaryMax: changeSummaryBudget(
        config.preprod,
        props.imageTag.length,
        heldWavesOf(config),
        CHANGE_SUMMARY_MAX,
      ),
    });
    const approve = new ReviewedApprovalStep('ApproveProd', {
      comment: approvalComment(
        config.preprod,
        {
          commit: source.sourceAttribute('CommitId'),
          imageTag: buildImage.exportedVariable('IMAGE_TAG'),
          changeSummary: changeReport.summary,
          rollbackTargets: synth.exportedVariable(BUILD_VARIABLES.rollbackTargets),
          nodeAmis: synth.exportedVariable(BUILD_VARIABLES.nodeAmis),
        },
        heldWavesOf(config),
      ),
      reviewUrl: changeReport.reportUrl,
    });
    // without them the approval would run beside them: a stage without stacks runs pre and post together
    approve.addStepDependency(prodGate);
    approve.addStepDependency(changeReport);
    approve.addStepDependency(prodCheck);
    this.pipeline.addWave(PIPELINE_STAGES.approval, {
      pre: [prodGate, changeReport, prodCheck],
      post: [approve],
    });

    config.prod.waves.forEach((waveEnvs, w) => {
      const wave = this.pipeline.addWave(waveEnvs[0].pipelineStageName);
      for (const s of prodStages[w]) wave.addStage(s.stage, s.options);
      this.deployStageNames.push(waveEnvs[0].pipelineStageName);
    });

    this.pipeline.buildPipeline();
    this.enableStageRollback();
    // Bake behind alarms (OnSuccess → ROLLBACK), prod windows (BeforeEntry), notifications: lib/pipeline/.
    addStageConditions(this.pipeline.pipeline, deployStagesOf(config));
    notifications.watch(this.pipeline.pipeline);
    // The `*` grants CDK Pipelines writes for cross-region keys and asset publishing, narrowed (docs/decisions/0008-scoped-pipeline-iam.md).
    scopePipelineGrants(this.pipeline.pipeline, this.pipeline.node.tryFindChild('Assets'));
    // The connection action whose prefix matches the connection's ARN (codeconnections or codestar-connections).
    matchConnectionActionPrefix(this.pipeline.pipeline);
  }

  /**
   * CDK Pipelines does not expose a stage's OnFailure; set it on the underlying CfnPipeline so that
   * a failed deployment returns the stage to its last successful execution.
   */
  private enableStageRollback(): void {
    const cfn = this.pipeline.pipeline.node.defaultChild as codepipeline.CfnPipeline;
    const names = this.pipeline.pipeline.stages.map((s) => s.stageName);
    for (const name of this.deployStageNames) {
      const index = names.indexOf(name);
      if (index < 0) {
        const split = names.filter((n) => n.startsWith(`${name}.`));
        // Config validation refuses waves that would split (lib/config/pipeline-limits.ts); reaching
        // this means the steps per region changed without lib/config/pipeline-shape.ts.
        if (split.length > 0)
          throw new Error(
            `pipeline stage ${name} has more than ${MAX_ACTIONS_PER_STAGE} actions and was split into ${split.join(', ')}: ACTIONS_PER_REGION (${ACTIONS_PER_REGION}) in lib/config/pipeline-shape.ts no longer matches the steps each region runs; update it`,
          );
        throw new Error(`internal: pipeline stage ${name} not found among ${names.join(', ')}`);
      }
      cfn.addPropertyOverride(`Stages.${index}.OnFailure`, { Result: 'ROLLBACK' });
    }
  }

  private artifactBucket(): s3.Bucket {
    const key = new kms.Key(this, 'ArtifactKey', {
      description: 'Pipeline artifacts (cross-account deployments decrypt with it)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    const accessLogs = new s3.Bucket(this, 'ArtifactAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    return new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(30) },
        // The Build step's cache is rewritten on every run: keep no old copies of it.
        { prefix: `${BUILD_CACHE_PREFIX}/`, noncurrentVersionExpiration: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
  }
}
