import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as pipelines from 'aws-cdk-lib/pipelines';
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
}

/**
 * The pipeline's Build step: every check that gates a release, then the synth. In order, each
 * stopping the pipeline before anything is built or deployed: the Go service's vet, race tests and
 * staticcheck and the manifest validator over every environment (scripts/release-checks.sh), the
 * unit tests (jest, with moto_server and the Go validator), then `cdk synth` and the bundled tools.
 */
export function buildStep(props: BuildStepProps): pipelines.ShellStep {
  // The path is validated as a safe path (lib/config/config-file.ts) and quoted as well: it goes into a shell.
  const configArg = props.configFile ? ` -c ${shellQuote(`config=${props.configFile}`)}` : '';
  const manifestsConfigArg = props.configFile ? ` --config ${shellQuote(props.configFile)}` : '';
  return new pipelines.ShellStep('Synth', {
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
    ],
    primaryOutputDirectory: 'cdk.out',
  });
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
