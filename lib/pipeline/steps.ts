import * as fs from 'node:fs';
import { Aws, type CfnOutput, Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, type IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { parse } from 'yaml';
import type { EnvironmentConfig } from '../config';
import { BUILD_START_MINUTES, SMOKE_TEST_MINUTES } from '../config/pipeline-shape';
import { IMAGE_ARTIFACT_FILE } from '../image/tag';
import { BAKE_WATCH_SCRIPT, type BakeTarget, bakeWatchFor } from './bake-watch';
import { BUILD_IMAGES } from './codebuild-images';

/** Where the synth step puts bundled tools inside the cloud assembly (tools/pipeline/bundle.ts, `npm run bundle:tools`). */
export const TOOLS_DIR = 'tools';

export interface ImageBuildStepProps {
  /** The repository source (app/, buildspec.yml). */
  readonly source: IFileSetProducer;
  /** The synth output: holds image.json with the tag the synth decided. */
  readonly assembly: IFileSetProducer;
  readonly repository: ecr.IRepository;
  readonly architecture: 'arm64' | 'amd64';
  /** Path of the build spec in the repository. */
  readonly buildSpecFile: string;
  /** The service's directory in the repository: the build context (`service.appDir`). */
  readonly appDir: string;
  /** After the push, copy the image to every replica region that lacks it. @default no backfill (no replica regions) */
  readonly backfill?: ImageBackfillProps;
}

/**
 * Builds the service image once, with buildspec.yml, and pushes `<repo>:<tag>`; the tag comes from
 * the cloud assembly (image.json), never from the pipeline definition, so a change to app/ does
 * not change the pipeline. Skips the build when the tag already exists.
 */
/** The image build's own time limit: the pipeline steps' default (codeBuildDefaults). */
const BUILD_MINUTES = 60;

export class ImageBuildStep extends CodeBuildStep {
  constructor(id: string, props: ImageBuildStepProps) {
    const spec = parse(fs.readFileSync(props.buildSpecFile, 'utf8')) as Record<string, unknown>;
    super(id, {
      input: props.source,
      additionalInputs: { 'cdk.out': props.assembly },
      commands: [],
      partialBuildSpec: codebuild.BuildSpec.fromObject(spec),
      env: {
        REPOSITORY_URI: props.repository.repositoryUri,
        IMAGE_ARTIFACT: `cdk.out/${IMAGE_ARTIFACT_FILE}`,
        TARGET_PLATFORM: `linux/${props.architecture}`,
        APP_DIR: props.appDir,
        ...(props.backfill ? backfillEnv(props.backfill) : {}),
      },
      buildEnvironment: {
        // Build natively for the nodes' architecture: no emulation, no multi-arch manifest.
        buildImage: BUILD_IMAGES.imageBuild[props.architecture],
        privileged: true,
        computeType: codebuild.ComputeType.MEDIUM,
      },
      cache: codebuild.Cache.local(
        codebuild.LocalCacheMode.DOCKER_LAYER,
        codebuild.LocalCacheMode.SOURCE,
      ),
      // The hour every step has for the build and push, plus the backfill's own bound: CodeBuild
      // would otherwise stop a slow backfill before it can say which region is missing the image.
      timeout: Duration.minutes(
        BUILD_MINUTES + (props.backfill ? Math.ceil(backfillSeconds(props.backfill) / 60) : 0),
      ),
      rolePolicyStatements: [
        new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        // A push (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html) and the
        // build's "already built?" check; nothing pulls from this repository here (the base
        // images come from ECR Public). Every call and its grant: test/aws-calls/ledger.ts.
        new iam.PolicyStatement({
          actions: [
            'ecr:BatchCheckLayerAvailability',
            'ecr:BatchGetImage',
            'ecr:CompleteLayerUpload',
            'ecr:DescribeImages',
            'ecr:InitiateLayerUpload',
            'ecr:PutImage',
            'ecr:UploadLayerPart',
          ],
          resources: [props.repository.repositoryArn],
        }),
        ...(props.backfill ? backfillPolicy(props.backfill) : []),
      ],
    });
  }
}

export interface ImageGateStepProps {
  readonly assembly: IFileSetProducer;
  readonly repositoryName: string;
  /** The regions whose replicas are checked (the gated stages'), and their ARNs (pipeline account). */
  readonly regions: readonly string[];
  readonly replicaArns: readonly string[];
  /** Where the image was pushed and is scanned; its scan of the (same) digest is read. */
  readonly scanRegion: string;
  /** ARN of the repository in `scanRegion`. */
  readonly sourceArn: string;
  /** With ENHANCED scanning, DescribeImageScanFindings reads Amazon Inspector's findings. */
  readonly scanning: 'ENHANCED' | 'BASIC';
  readonly failOn: string;
  /** @default 900 */
  readonly timeoutSeconds?: number;
}

/**
 * Before stages deploy: the image has replicated to their regions and its scan shows no
 * finding at or above `failOn` (tools/pipeline/image-gate). Runs the bundled gate from the cloud assembly:
 * no `npm ci`, so it starts in seconds.
 */
export class ImageGateStep extends CodeBuildStep {
  constructor(id: string, props: ImageGateStepProps) {
    super(id, {
      input: props.assembly,
      commands: [
        `node ${TOOLS_DIR}/image-gate.cjs --repository ${props.repositoryName} --tag-file ${IMAGE_ARTIFACT_FILE} --regions ${props.regions.join(',')} --scan-region ${props.scanRegion} --scan-type ${props.scanning} --fail-on ${props.failOn} --timeout ${props.timeoutSeconds ?? 900}`,
      ],
      rolePolicyStatements: [
        new iam.PolicyStatement({
          // StartImageScan only under BASIC: under ENHANCED Inspector decides when to scan.
          actions: [
            'ecr:DescribeImages',
            'ecr:DescribeImageScanFindings',
            ...(props.scanning === 'BASIC' ? ['ecr:StartImageScan'] : []),
          ],
          resources: [...new Set([...props.replicaArns, props.sourceArn])],
        }),
        // A failed replication shows at once where the image was pushed.
        new iam.PolicyStatement({
          actions: ['ecr:DescribeImageReplicationStatus'],
          resources: [props.sourceArn],
        }),
        // ECR answers DescribeImageScanFindings for enhanced scans from Amazon Inspector, on the
        // caller's permissions: the ECR page lists ListFindings and ListCoverage among the
        // permissions to retrieve scan findings, without saying which ECR call needs which
        // (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-iam.html).
        // The gate itself does not call ListCoverage: the scan status DescribeImageScanFindings
        // returns (PENDING, ACTIVE, UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, ...) and a scan
        // completed after the push already tell "not scanned" from "no findings" (gate.ts).
        ...(props.scanning === 'ENHANCED'
          ? [
              new iam.PolicyStatement({
                actions: ['inspector2:ListCoverage', 'inspector2:ListFindings'],
                resources: ['*'],
              }),
            ]
          : []),
      ],
    });
  }
}

export interface ImageBackfillProps {
  readonly repositoryName: string;
  /** Where the image is pushed (the pipeline's region, where the build runs) and its repository there. */
  readonly sourceArn: string;
  /** The other stage regions (each holds a replica of the same name), and the pipeline account. */
  readonly replicaRegions: readonly string[];
  readonly account: string;
  /** @default 1800 */
  readonly timeoutSeconds?: number;
}

/**
 * The image build's last command (buildspec.yml, post_build) makes every stage region's replica
 * hold the current tag (tools/pipeline/image-backfill), also when the build was skipped. ECR replication
 * copies only images pushed after the rule exists, so a region added later would otherwise never
 * receive an image whose tag was built before. It runs inside the build's action rather than as
 * an action of its own: one sequential step less on the path to prod (issue 16). The values are
 * validated config and reach the command as environment variables, never as shell text.
 */
const backfillSeconds = (props: ImageBackfillProps): number => props.timeoutSeconds ?? 1800;

function backfillEnv(props: ImageBackfillProps): Record<string, string> {
  return {
    BACKFILL_REGIONS: props.replicaRegions.join(','),
    BACKFILL_REGISTRY_ID: props.account,
    BACKFILL_TIMEOUT: String(backfillSeconds(props)),
  };
}

function backfillPolicy(props: ImageBackfillProps): iam.PolicyStatement[] {
  const replicaArns = props.replicaRegions.map(
    (r) => `arn:${Aws.PARTITION}:ecr:${r}:${props.account}:repository/${props.repositoryName}`,
  );
  return [
    new iam.PolicyStatement({ actions: ['ecr:BatchGetImage'], resources: [props.sourceArn] }),
    new iam.PolicyStatement({
      actions: ['ecr:DescribeImages', 'ecr:PutImage'],
      resources: replicaArns,
    }),
    // Registry-level actions: like ecr:PutReplicationConfiguration they name no repository.
    new iam.PolicyStatement({
      actions: ['ecr:StartReplicationBackfill', 'ecr:DescribeReplicationBackfillResults'],
      resources: ['*'],
    }),
  ];
}

/** The SmokeAndBake build's time limit: the smoke test's bound, the bake, and the build's start. */
export function smokeAndBakeMinutes(smokeSeconds: number, bakeMinutes: number): number {
  return Math.ceil(smokeSeconds / 60) + bakeMinutes + BUILD_START_MINUTES;
}

export interface SmokeTestStepProps {
  readonly assembly: IFileSetProducer;
  /** The stage's `ServiceUrl` output. */
  readonly serviceUrl: CfnOutput;
  /** The stage's `ImageTag` output: /version must report it. */
  readonly imageTag: CfnOutput;
  /** With TLS: the name the certificate must match (config `tlsHostName`). @default none (plain HTTP) */
  readonly tlsHostName?: string;
  /** @default SMOKE_TEST_MINUTES (lib/config/pipeline-shape.ts) */
  readonly timeoutSeconds?: number;
  /** After a passing smoke test, bake the environment in the same action (lib/pipeline/bake-watch.ts). @default no bake */
  readonly bake?: BakeTarget;
}

/**
 * After a stage deploys: calls the service through its load balancer until /version reports the
 * expected image tag, within a bounded time (tools/pipeline/smoke-test), then bakes it: watches its bake
 * alarm for the bake time and fails on ALARM (lib/pipeline/bake-watch.ts). One action for both: a
 * failed smoke test fails at once, before any bake, and the pair costs one build and one
 * sequential step instead of two (issue 16; docs/decisions/0022-path-to-prod.md).
 */
export class SmokeTestStep extends CodeBuildStep {
  constructor(id: string, props: SmokeTestStepProps) {
    const smokeSeconds = props.timeoutSeconds ?? SMOKE_TEST_MINUTES * 60;
    const bake = props.bake ? bakeWatchFor(props.bake) : undefined;
    super(id, {
      input: props.assembly,
      envFromCfnOutputs: { SERVICE_URL: props.serviceUrl, EXPECTED_VERSION: props.imageTag },
      env: bake?.env,
      commands: [
        `node ${TOOLS_DIR}/smoke-test.cjs --url "$SERVICE_URL" --expect-version "$EXPECTED_VERSION"${props.tlsHostName ? ` --tls-host-name ${props.tlsHostName}` : ''} --timeout ${smokeSeconds}`,
        ...(bake ? [BAKE_WATCH_SCRIPT] : []),
      ],
      // the bake script is bash (here-strings, substrings); standard:8.0's sh is dash
      partialBuildSpec: bake
        ? codebuild.BuildSpec.fromObject({ env: { shell: 'bash' } })
        : undefined,
      rolePolicyStatements: bake?.policy,
      // both bounds, and room for the build's own start; within the 8 hours CodePipeline gives a
      // CodeBuild action, which config validation guarantees (MAX_BAKE_MINUTES)
      timeout: bake ? Duration.minutes(smokeAndBakeMinutes(smokeSeconds, bake.minutes)) : undefined,
    });
  }
}

export interface BreakglassCheckStepProps {
  readonly assembly: IFileSetProducer;
  /** The environments whose deploy the check guards (their stage names). */
  readonly environments: readonly EnvironmentConfig[];
  readonly pipeline: { readonly account: string; readonly region: string; readonly name: string };
  /** @default 300 */
  readonly timeoutSeconds?: number;
}

/**
 * Before environments deploy: no breakglass change that the commit being deployed does not carry
 * is outstanding in them, unless an operator reconciled it (tools/pipeline/breakglass-check;
 * docs/decisions/0032-drift-and-the-breakglass-block.md). It runs in the stage before the deploy
 * (the gate stages), never in a stage that rolls back: a rollback execution is never blocked.
 * It reads each environment's records through the reader role its stack creates, and the
 * pipeline's own state (an environment whose deploy stage never succeeded has nothing to check).
 */
export class BreakglassCheckStep extends CodeBuildStep {
  constructor(id: string, props: BreakglassCheckStepProps) {
    super(id, {
      input: props.assembly,
      commands: [
        `node ${TOOLS_DIR}/breakglass-check.cjs --environments ${props.environments.map((e) => e.stageName).join(',')} --timeout ${props.timeoutSeconds ?? 300}`,
      ],
      rolePolicyStatements: [
        new iam.PolicyStatement({
          actions: ['sts:AssumeRole'],
          resources: props.environments.map(
            (e) => `arn:${Aws.PARTITION}:iam::${e.account}:role/${e.names.breakglassReaderRole}`,
          ),
        }),
        new iam.PolicyStatement({
          actions: ['codepipeline:GetPipelineState'],
          resources: [
            `arn:${Aws.PARTITION}:codepipeline:${props.pipeline.region}:${props.pipeline.account}:${props.pipeline.name}`,
          ],
        }),
      ],
    });
  }
}
