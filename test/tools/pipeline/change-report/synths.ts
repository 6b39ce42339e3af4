import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stage } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { type DeliveryConfigInput, STACK_ENVIRONMENTS } from '../../../../lib/config';
import { acknowledgeCfnValidateFindings } from '../../../../lib/nag-acknowledgements';
import { AppStage } from '../../../../lib/stages/app-stage';
import {
  type AssemblyStack,
  readAssemblyStacks,
} from '../../../../tools/pipeline/change-report/assembly';
import {
  CDK_JSON_CONTEXT,
  REPO_ROOT,
  type Synthesized,
  synthesize as synthesizeApp,
} from '../../../support/synth';

/**
 * Real synths of the same environments for the change report's tests: the report is only ever
 * computed from two templates the app synthesized, never from JSON written by hand. Each test
 * file builds what it needs once (beforeAll).
 */

/**
 * Every directory these helpers (and `scratchDir`) made, removed by `removeScratch()` in the test
 * file's afterAll: each synth holds the kubectl layer (tens of MB), and the machine's /tmp is
 * shared.
 */
const scratch: string[] = [];

export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

export function removeScratch(): void {
  for (const dir of scratch.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** test/support/synth's synthesize, its output removed by `removeScratch()`. */
export function synthesize(options?: Parameters<typeof synthesizeApp>[0]): Synthesized {
  const s = synthesizeApp(options);
  scratch.push(s.outdir);
  return s;
}

/** The default config with one prod environment's node instance type changed: a real node group replacement. */
export function configWithNodeType(
  stageIndex: [number, number],
  instanceType: string,
): DeliveryConfigInput {
  const cfg = structuredClone<DeliveryConfigInput>(STACK_ENVIRONMENTS);
  const env = cfg.prod.waves[stageIndex[0]][stageIndex[1]];
  env.nodes = { ...env.nodes, instanceType };
  return cfg;
}

export function prodStacks(s: Synthesized): AssemblyStack[] {
  const prod = new Set(s.config.prod.waves.flat().map((e) => e.stageName));
  return readAssemblyStacks(s.outdir).filter((st) => prod.has(st.stage));
}

export const stackOf = (stacks: readonly AssemblyStack[], stage: string): AssemblyStack => {
  const found = stacks.find((s) => s.stage === stage);
  if (!found) throw new Error(`no stack of ${stage}`);
  return found;
};

/**
 * One prod environment's stage synthesized on its own (the same AppStage the pipeline adds), with
 * `broaden` given the chance to grant more before the synth: a real IAM broadening. CDK
 * Pipelines synthesizes a stage when it is added, so a grant cannot be slipped into the pipeline's
 * copy afterwards; the stage alone, under a construct with the pipeline stack's id (construct paths,
 * and so some logical ids, include it), is the same stack.
 */
export function synthesizeStage(
  base: Synthesized,
  stageName: string,
  broaden?: (stage: AppStage) => void,
): AssemblyStack {
  const env = base.config.prod.waves.flat().find((e) => e.stageName === stageName);
  if (!env) throw new Error(`no prod environment ${stageName}`);
  const outdir = scratchDir('cdk-stage-');
  const app = new App({ outdir, context: CDK_JSON_CONTEXT });
  const parent = new Stage(app, base.pipelineStack.node.id);
  const stage = new AppStage(parent, env.stageName, {
    environment: env,
    stackId: base.config.names.appStackId,
    image: {
      registryAccount: base.config.pipeline.account,
      repositoryName: base.config.image.repositoryName,
      tag: base.imageTag,
      architecture: base.config.image.architecture,
    },
  });
  broaden?.(stage);
  acknowledgeCfnValidateFindings(app);
  app.synth();
  return stackOf(readAssemblyStacks(outdir), stageName);
}

/** Lets the environment's node role read every S3 object in its account: the grant a reviewer must notice. */
export function grantNodesS3Read(stage: AppStage): void {
  const role = stage.stack.node
    .findAll()
    .find((c): c is iam.Role => c instanceof iam.Role && c.node.path.endsWith('/Eks/NodeRole'));
  if (!role) throw new Error('no node role in the stack');
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
  );
}

/** Opens the first security group of the stack to SSH from anywhere: the opening a reviewer must notice. */
export function openSshToTheInternet(stage: AppStage): void {
  const sg = stage.stack.node
    .findAll()
    .find((c): c is ec2.SecurityGroup => c instanceof ec2.SecurityGroup);
  if (!sg) throw new Error('no security group in the stack');
  sg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'ssh from anywhere');
}

/**
 * Puts the breakglass audit table back on the account's aws/dynamodb KMS key, as versions before
 * ADR 0035 made it (TableEncryptionV2.awsManagedKey() synthesizes exactly this
 * SSESpecification): a change of encryption at rest the report must name.
 */
export function auditTableOnAccountKey(stage: AppStage): void {
  const table = stage.stack.node
    .findAll()
    .find((c): c is dynamodb.CfnGlobalTable => c instanceof dynamodb.CfnGlobalTable);
  if (!table) throw new Error('no DynamoDB table in the stack');
  table.addPropertyOverride('SSESpecification', { SSEEnabled: true, SSEType: 'KMS' });
}

/**
 * Two synths of the default config whose only difference is the service's code (app/): a new
 * image tag, the release every push makes. A copy of app/ and buildspec.yml is all the app reads.
 */
export function synthesizeRelease(): { before: Synthesized; after: Synthesized } {
  const root = scratchDir('repo-');
  fs.cpSync(path.join(REPO_ROOT, 'app'), path.join(root, 'app'), {
    recursive: true,
    filter: (src) => !/\/(bin|testdata\/fuzz)$/.test(src),
  });
  fs.copyFileSync(path.join(REPO_ROOT, 'buildspec.yml'), path.join(root, 'buildspec.yml'));
  const before = synthesize({ repoRoot: root });
  fs.appendFileSync(path.join(root, 'app', 'main.go'), '\n// a change to the service only\n');
  return { before, after: synthesize({ repoRoot: root }) };
}
