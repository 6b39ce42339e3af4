import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { parseAllDocuments, stringify } from 'yaml';
import { findEnvironment, loadConfig, serviceNames } from '../../lib/config';
import { type MotoServer, motoEnv, startMoto } from '../support/moto';
import { REPO_ROOT, TSX_CLI } from '../support/paths';
import {
  CdkKubectlHandler,
  type K8sObject,
  deleteNamespace,
  kubeconfig,
  kubectlOk,
  rolloutStatus,
  waitForReplicas,
} from './support/kubectl';
import { type HpaShape, find } from './support/render';

/**
 * issue 26: `npm run drift` against the real control plane (AWS emulated by moto_server), with and
 * without a breakglass change. The environment is deployed the way the EKS stage deploys it (the
 * CDK kubectl handler, prune label and all) and stored the way the stack stores it (the same
 * labelled objects); breakglass runs for real, with the real kubectl. Only the CLI's output and
 * exit code are asserted.
 */
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const ENV = 'preprod-eu-west-1';
const REGION = 'eu-west-1';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const TAG = 'app-1111111111111111';
const NEW_TAG = 'app-2222222222222222';
const env = findEnvironment(loadConfig({ contextValue: CONFIG, cwd: REPO_ROOT }), ENV);
const { namespace: NS, name: NAME } = serviceNames(env.service.name).kubernetes;
// the context name `aws eks update-kubeconfig` gives the cluster (the stack's ClusterArn output)
const CONTEXT = `arn:aws:eks:${REGION}:${env.account}:cluster/${env.stackName}`;
const KEY = 'manifests/drift-test.yaml';
const BUCKET = `drift-${Date.now()}`;
const TABLE = `drift-audit-${Date.now()}`;

let moto: MotoServer;
let work: string;
let kubeconfigForTools: string;

function run(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    ...motoEnv(moto.endpoint, REGION),
    KUBECONFIG: kubeconfigForTools,
    XDG_STATE_HOME: work,
  };
  delete e.AWS_PROFILE;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, file, ...args], {
      cwd: REPO_ROOT,
      env: e,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const drift = () =>
  run('tools/operator/drift/cli.ts', ['--env', ENV, '--config', CONFIG, '--tag', TAG]);

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-drift-'));
  moto = await startMoto();
  const kc = JSON.parse(fs.readFileSync(kubeconfig(), 'utf8')) as {
    contexts: { name: string }[];
    'current-context': string;
  };
  kc.contexts[0].name = CONTEXT;
  kc['current-context'] = CONTEXT;
  kubeconfigForTools = path.join(work, 'kubeconfig');
  fs.writeFileSync(kubeconfigForTools, JSON.stringify(kc), { mode: 0o600 });

  // what git renders, deployed as the stage deploys it and stored as the stack stores it
  const rendered = await run('tools/dev/manifests.ts', [
    '--env',
    ENV,
    '--config',
    CONFIG,
    '--tag',
    TAG,
  ]);
  if (rendered.code !== 0) throw new Error(rendered.stderr);
  const objects = parseAllDocuments(rendered.stdout)
    .map((d) => d.toJS() as K8sObject)
    .filter((o) => o !== null);
  await deleteNamespace(NS);
  const handler = new CdkKubectlHandler(path.join(work, 'handler'));
  const created = await handler.create(objects);
  if (created.code !== 0) throw new Error(created.stderr);
  await waitForReplicas(
    NS,
    NAME,
    find<HpaShape>(objects, 'HorizontalPodAutoscaler').spec.minReplicas,
  );
  const stored = objects
    .map((o) =>
      stringify(
        {
          ...o,
          metadata: {
            ...o.metadata,
            labels: { [handler.pruneLabel]: '', ...(o.metadata.labels ?? {}) },
          },
        },
        { lineWidth: 0 },
      ),
    )
    .join('---\n');

  const s3 = new S3Client({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: CREDS,
    forcePathStyle: true,
  });
  await s3.send(
    new CreateBucketCommand({
      Bucket: BUCKET,
      CreateBucketConfiguration: { LocationConstraint: REGION },
    }),
  );
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: BUCKET,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: stored }));
  await new DynamoDBClient({ region: REGION, endpoint: moto.endpoint, credentials: CREDS }).send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'environment', AttributeType: 'S' },
        { AttributeName: 'at', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'environment', KeyType: 'HASH' },
        { AttributeName: 'at', KeyType: 'RANGE' },
      ],
    }),
  );
  await new CloudFormationClient({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: CREDS,
  }).send(
    new CreateStackCommand({
      StackName: env.stackName,
      TemplateBody: JSON.stringify({
        Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
        Outputs: {
          ManifestBucketName: { Value: BUCKET },
          ManifestObjectKey: { Value: KEY },
          AuditTableName: { Value: TABLE },
          ClusterArn: { Value: CONTEXT },
        },
      }),
    }),
  );
});

afterAll(async () => {
  await deleteNamespace(NS);
  await moto?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('as deployed: git, S3 and the cluster agree (exit 0)', async () => {
  const res = await drift();
  expect({ code: res.code, stderr: res.stderr }).toEqual({
    code: 0,
    stderr: expect.not.stringMatching(/could not check|\n\s+at /) as unknown,
  });
  expect(res.stdout).toContain('  git vs S3: no difference');
  expect(res.stdout).toContain('  S3 vs cluster: no difference');
  expect(res.stdout).toContain('  git vs cluster: no difference');
  expect(res.stdout).toContain(`drift: ${ENV} in sync: git, S3 and the cluster agree`);
});

test('after a breakglass change: git differs from S3 and the cluster, by object and field, S3 matches the cluster, the change is named (exit 1)', async () => {
  const bg = await run('tools/operator/breakglass/cli.ts', [
    '--env',
    ENV,
    '--config',
    CONFIG,
    '--yes',
    '--image',
    NEW_TAG,
    '--reason',
    'INC-26: drift test',
  ]);
  expect({ code: bg.code, stderr: bg.stderr }).toEqual({
    code: 0,
    stderr: expect.not.stringMatching(/\n\s+at /) as unknown,
  });
  const runId = /audit record written \(SUCCEEDED, run ([0-9a-f-]{36})\)/.exec(bg.stdout)?.[1];
  expect(runId).toBeDefined();
  await rolloutStatus(NS, NAME);

  const res = await drift();
  expect(res.code).toBe(1);
  expect(res.stdout).toContain('  git vs S3: 1 object differs');
  expect(res.stdout).toMatch(
    new RegExp(
      `    Deployment ${NS}/${NAME}\\n(      .*\\n)*      spec\\.template\\.spec\\.containers\\[web\\]\\.image: git "[^"]+:${TAG}" \\| S3 "[^"]+:${NEW_TAG}"`,
    ),
  );
  expect(res.stdout).toContain('  S3 vs cluster: no difference');
  expect(res.stdout).toContain('  git vs cluster: 1 object differs');
  expect(res.stdout).toMatch(
    new RegExp(
      `spec\\.template\\.spec\\.containers\\[web\\]\\.image: git "[^"]+:${TAG}" \\| cluster "[^"]+:${NEW_TAG}"`,
    ),
  );
  expect(res.stdout).toContain(`  breakglass: ${ENV} run ${runId} (SUCCEEDED, began `);
  expect(res.stdout).toContain(`drift: ${ENV} DIFFERS`);
});

test('a change made with kubectl alone (no breakglass): S3 differs from the cluster (exit 1)', async () => {
  await kubectlOk(['-n', NS, 'set', 'env', `deployment/${NAME}`, 'HELLO=changed by hand']);
  await rolloutStatus(NS, NAME);
  const res = await drift();
  expect(res.code).toBe(1);
  expect(res.stdout).toContain('  S3 vs cluster: 1 object differs');
  expect(res.stdout).toMatch(
    /spec\.template\.spec\.containers\[web\]\.env\[HELLO\]\.value: S3 "[^"]*" \| cluster "changed by hand"/,
  );
});
