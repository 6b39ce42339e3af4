import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type AppProps, Aspects, Aws, Token, Validations } from 'aws-cdk-lib';
import { RetainExceptOnCreate } from './aspects/retain-except-on-create';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import {
  BREAKGLASS_CHECK_DIR,
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTarget,
  type BreakglassCheckTargets,
  ConfigError,
  type DeliveryConfig,
  checkServiceSource,
} from './config';
import { bootstrapRoleArn } from './config/bootstrap';
import { plainToYaml } from './manifests/workload';
import { EksAppStack } from './stacks/eks-app-stack';
import { IMAGE_ARTIFACT_FILE, type ImageArtifact, imageTagFor } from './image/tag';
import {
  AcknowledgedAwsSolutionsChecks,
  acknowledgeCfnValidateFindings,
} from './nag-acknowledgements';
import { PipelineStack } from './pipeline/pipeline-stack';

/**
 * Props of every App this project creates (`npx cdk synth` through bin/app.ts, and the tests): no
 * built-in CloudFormation validation. cfn-lint checks every synthesized template instead, in
 * `npm test` and in the pipeline's Build step; cdk-nag still runs inside every synth
 * (docs/decisions/0019-where-each-validator-runs.md). No creation stack trace on every construct:
 * capturing one per resource was about 5% of a synth's CPU, growing with every region, and only
 * a validation report's "created at" lines use them; `CDK_DEBUG=true npx cdk synth` captures them
 * again (docs/decisions/0021-synth-growth.md).
 */
export const APP_PROPS: AppProps = {
  builtinCloudFormationValidation: false,
  context: { 'aws:cdk:disable-creation-stack-traces': true },
};

export interface BuildAppOptions {
  readonly config: DeliveryConfig;
  /** The repository root (holds app/ and buildspec.yml). */
  readonly repoRoot: string;
  /** The app to build into. @default a new App with `appProps` */
  readonly app?: App;
  /** Passed to a new App (outdir, context), over APP_PROPS. */
  readonly appProps?: AppProps;
  /** Run cdk-nag AwsSolutions on every stack. @default true */
  readonly nag?: boolean;
}

/**
 * The whole delivery system as one CDK app: the pipeline stack, which holds a stage per
 * environment. Also writes image.json (the image tag decided from app/) into the cloud assembly.
 */
export function buildApp(options: BuildAppOptions): {
  app: App;
  pipelineStack: PipelineStack;
  imageTag: string;
} {
  const app =
    options.app ??
    new App({
      ...APP_PROPS,
      ...options.appProps,
      context: { ...APP_PROPS.context, ...options.appProps?.context },
    });
  const { config } = options;
  // The service's directory must be there to fingerprint and build: a clear error, not a stack trace.
  const sourceProblems = checkServiceSource(config.service, options.repoRoot);
  if (sourceProblems.length > 0)
    throw new ConfigError(
      config.configFile ? `config file ${config.configFile}` : 'STACK_ENVIRONMENTS',
      sourceProblems,
    );
  const imageTag = imageTagFor(path.join(options.repoRoot, config.service.appDir));

  const pipelineStack = new PipelineStack(app, config.names.pipelineStackId, {
    stackName: config.pipelineNames.stackName,
    description: `${config.service.name} delivery pipeline: CodeCommit → build → pre-prod → approval → prod waves`,
    env: { account: config.pipeline.account, region: config.pipeline.region },
    config,
    imageTag,
    buildSpecFile: path.join(options.repoRoot, 'buildspec.yml'),
    terminationProtection: true,
  });

  // A failed first create can be retried: nothing is DeletionPolicy Retain (docs/decisions/0007-first-deployment.md).
  Aspects.of(app).add(new RetainExceptOnCreate());

  if (options.nag ?? true) Validations.of(app).addPlugins(new AcknowledgedAwsSolutionsChecks(app));
  acknowledgeCfnValidateFindings(app);

  writeBreakglassCheckTargets(app, app.outdir);

  const artifact: ImageArtifact = { repositoryName: config.image.repositoryName, tag: imageTag };
  fs.mkdirSync(app.outdir, { recursive: true });
  fs.writeFileSync(
    path.join(app.outdir, IMAGE_ARTIFACT_FILE),
    `${JSON.stringify(artifact, null, 2)}\n`,
  );
  return { app, pipelineStack, imageTag };
}

/**
 * What the deploy's breakglass check (tools/pipeline/breakglass-check) compares each environment's
 * breakglass changes with: the objects this commit's stacks apply (rendered once, by the stacks:
 * issue 15), their one token, the partition's URL suffix, resolved as CloudFormation will; and where
 * to read the environment's records: its stack, through its account's CDK bootstrap lookup role.
 * Written into the cloud assembly, the check's input.
 */
function writeBreakglassCheckTargets(app: App, outdir: string): void {
  const dir = path.join(outdir, BREAKGLASS_CHECK_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const stacks = app.node.findAll().filter((c): c is EksAppStack => c instanceof EksAppStack);
  const environments: BreakglassCheckTarget[] = stacks.map((stack) => {
    const env = stack.deployment;
    const info = RegionInfo.get(env.region);
    const yaml = plainToYaml(stack.workloadObjects).replaceAll(
      Aws.URL_SUFFIX,
      info.domainSuffix ?? 'amazonaws.com',
    );
    if (Token.isUnresolved(yaml))
      throw new Error(
        `internal: the manifests of ${env.stageName} hold a token other than the URL suffix; the breakglass check cannot compare them`,
      );
    const manifestFile = `${env.stageName}.yaml`;
    fs.writeFileSync(path.join(dir, manifestFile), yaml);
    return {
      stageName: env.stageName,
      account: env.account,
      region: env.region,
      partition: info.partition ?? 'aws',
      stackName: env.stackName,
      lookupRoleArn: bootstrapRoleArn('lookup', env, info.partition ?? 'aws'),
      manifestFile,
      ...(env.breakglassCheck.kmsTableUpgrade ? { kmsTableUpgrade: true } : {}),
    };
  });
  const targets: BreakglassCheckTargets = { environments };
  fs.writeFileSync(
    path.join(outdir, BREAKGLASS_CHECK_TARGETS),
    `${JSON.stringify(targets, null, 2)}\n`,
  );
}
