import { Aws, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { type DeliveryConfig, type EnvironmentConfig, allEnvironments } from '../config';
import { ImageRepository } from '../constructs/image-repository';
import { AppStage } from '../stages/app-stage';
import { ImageReplicasStage } from '../stages/image-replicas-stage';
import { ImageBuildStep, ImageGateStep, SmokeTestStep } from '../pipeline/steps';
import { PipelineNotifications, approvalComment } from '../pipeline/notifications';
import { addStageConditions, deployStagesOf } from '../pipeline/stage-conditions';
import { BakeWatch } from '../pipeline/bake-watch';

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
  awsCdkCli: (require('aws-cdk/package.json') as { version: string }).version,
  cdkAssets: '4.7.3',
} as const;

/** Pipeline stage names other tools (rollback, docs, tests) rely on. */
export const PIPELINE_STAGES = { imageReplicas: 'ImageReplicas', image: 'Image', approval: 'PromoteToProd' } as const;

/**
 * The delivery pipeline: CodeCommit → synth (unit tests, cdk synth) → self-mutation → assets →
 * image build → pre-prod (gate, deploy, smoke test) → manual approval → prod waves (each region:
 * gate, deploy, smoke test; a wave's regions in parallel). Every deploying stage rolls back on failure.
 */
export class PipelineStack extends Stack {
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
    const replicaRegions = [...new Set(environments.map((e) => e.region))].filter((r) => r !== config.pipeline.region);
    this.imageRepository = new ImageRepository(this, 'Image', { ...repositoryProps, source: { replicaRegions, scanning: config.image.scanning } });

    const repository = config.source.create
      ? new codecommit.Repository(this, 'Source', { repositoryName: config.source.repositoryName, description: 'hello-web service and its delivery pipeline' })
      : codecommit.Repository.fromRepositoryName(this, 'Source', config.source.repositoryName);
    const source = pipelines.CodePipelineSource.codeCommit(repository, config.source.branch);

    const configArg = config.configFile ? ` -c config=${config.configFile}` : '';
    const synth = new pipelines.ShellStep('Synth', {
      input: source,
      // The unit tests include moto_server integration tests (pinned Python tools, .venv) and the
      // Go manifest validator (CodeBuild's Go fetches the pinned toolchain through the module proxy).
      installCommands: ['npm ci', 'bash scripts/setup-python.sh'],
      commands: [
        // A failing test stops the pipeline here, before anything deploys.
        'npm run test:unit',
        `npx cdk synth${configArg}`,
        'npm run bundle:tools',
      ],
      primaryOutputDirectory: 'cdk.out',
    });

    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: config.pipeline.name,
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      selfMutation: true,
      crossAccountKeys: true,
      enableKeyRotation: true,
      artifactBucket: this.artifactBucket(),
      publishAssetsInParallel: false,
      // Pinned like everything else: self-mutation and asset publishing otherwise install `@latest`.
      cliVersion: PINNED_TOOLS.awsCdkCli,
      cdkAssetsCliVersion: PINNED_TOOLS.cdkAssets,
      codeBuildDefaults: {
        buildEnvironment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, computeType: codebuild.ComputeType.MEDIUM },
        // Node 20, as in package.json "engines" and on developers' machines (the image offers several).
        partialBuildSpec: codebuild.BuildSpec.fromObject({ phases: { install: { 'runtime-versions': { nodejs: '20' } } } }),
        timeout: Duration.minutes(60),
      },
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
          stackNamePrefix: config.pipeline.name,
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
    });
    this.pipeline.addWave(PIPELINE_STAGES.image, { post: [buildImage] });

    const image = { registryAccount: config.pipeline.account, repositoryName: config.image.repositoryName, tag: props.imageTag, architecture: config.image.architecture };
    const stageFor = (env: EnvironmentConfig) => {
      const stage = new AppStage(this, env.stageName, { environment: env, image });
      const gate = new ImageGateStep(`ImageGate-${env.stageName}`, {
        assembly,
        repositoryName: config.image.repositoryName,
        replicaArn: `arn:${Aws.PARTITION}:ecr:${env.region}:${config.pipeline.account}:repository/${config.image.repositoryName}`,
        region: env.region,
        scanRegion: config.pipeline.region,
        sourceArn: this.imageRepository.repository.repositoryArn,
        scanning: config.image.scanning,
        failOn: config.image.failOn,
      });
      const smoke = new SmokeTestStep(`SmokeTest-${env.stageName}`, { assembly, serviceUrl: stage.serviceUrl, imageTag: stage.imageTag });
      return { stage, options: { pre: [gate], post: [smoke] } };
    };

    const preprod = stageFor(config.preprod);
    this.pipeline.addStage(preprod.stage, preprod.options);
    this.deployStageNames.push(config.preprod.pipelineStageName);

    this.pipeline.addWave(PIPELINE_STAGES.approval, {
      post: [new pipelines.ManualApprovalStep('ApproveProd', { comment: approvalComment(config.preprod, { commit: source.sourceAttribute('CommitId'), imageTag: buildImage.exportedVariable('IMAGE_TAG') }) })],
    });

    config.prod.waves.forEach((waveEnvs) => {
      const wave = this.pipeline.addWave(waveEnvs[0].pipelineStageName);
      for (const env of waveEnvs) {
        const s = stageFor(env);
        wave.addStage(s.stage, s.options);
      }
      this.deployStageNames.push(waveEnvs[0].pipelineStageName);
    });

    this.pipeline.buildPipeline();
    this.enableStageRollback();
    // Bake behind alarms (OnSuccess → ROLLBACK), prod windows (BeforeEntry), notifications: lib/pipeline/.
    addStageConditions(this.pipeline.pipeline, deployStagesOf(config));
    new BakeWatch(this, 'BakeWatch', { pipeline: this.pipeline.pipeline, pipelineName: config.pipeline.name, stages: deployStagesOf(config) });
    new PipelineNotifications(this, 'Notifications', { pipeline: this.pipeline.pipeline, pipelineName: config.pipeline.name, settings: config.notifications });
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
      if (index < 0) throw new Error(`internal: pipeline stage ${name} not found among ${names.join(', ')}`);
      cfn.addPropertyOverride(`Stages.${index}.OnFailure`, { Result: 'ROLLBACK' });
    }
  }

  private artifactBucket(): s3.Bucket {
    const key = new kms.Key(this, 'ArtifactKey', {
      description: 'Pipeline artifacts (cross-account deployments decrypt with it)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const accessLogs = new s3.Bucket(this, 'ArtifactAccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
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
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
