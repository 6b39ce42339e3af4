import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_SERVICE, serviceNames } from '../../lib/config';
import { plainToYaml } from '../../lib/manifests/workload';
import { type MotoServer, motoEnv, startMoto } from '../support/moto';
import { REPO_ROOT, TSX_CLI } from '../support/paths';
import {
  CdkKubectlHandler,
  type K8sObject,
  deleteNamespace,
  getJson,
  kubeconfig,
  kubectl,
  pods,
  rolloutStatus,
  waitForReplicas,
} from './support/kubectl';
import { type DeploymentShape, type HpaShape, find } from './support/render';

/**
 * `npm run breakglass` end to end: the real CLI, the real kubectl, the real API server; AWS
 * (S3, DynamoDB, STS, CloudFormation) emulated by moto_server as in
 * test/tools/operator/breakglass/breakglass.moto.test.ts. Only the CLI's observable behaviour is asserted.
 */
const { namespace: NS, name: NAME } = serviceNames(DEFAULT_SERVICE.name).kubernetes;
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const ENV = 'preprod-eu-west-1';
const REGION = 'eu-west-1';
// the context name `aws eks update-kubeconfig` gives the cluster, as the stack's ClusterArn output says
const CONTEXT = 'arn:aws:eks:eu-west-1:123456789012:cluster/hello-web-preprod-eu-west-1';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const KEY = 'manifests/hello-web.yaml';
const BUCKET = 'hello-web-preprod-manifests';
const TABLE = 'hello-web-preprod-breakglass-audit';
const SELECTOR = `app.kubernetes.io/name=${NAME}`;

let moto: MotoServer;
let work: string;
let kubeconfigForBreakglass: string;
let stored: string;
let min: number;
let handler: CdkKubectlHandler;
const s3 = () =>
  new S3Client({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: CREDS,
    forcePathStyle: true,
  });
const dynamodb = () =>
  new DynamoDBClient({ region: REGION, endpoint: moto.endpoint, credentials: CREDS });

function run(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...motoEnv(moto.endpoint, REGION),
    KUBECONFIG: kubeconfigForBreakglass,
  };
  delete env.AWS_PROFILE;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, file, ...args], {
      cwd: REPO_ROOT,
      env,
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

const breakglass = (args: string[]) =>
  run('tools/operator/breakglass/cli.ts', ['--env', ENV, '--config', CONFIG, '--yes', ...args]);
const objectsOf = (yaml: string): K8sObject[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as K8sObject)
    .filter((o) => o !== null);
const liveDeployment = () => getJson<DeploymentShape>(['-n', NS, 'get', 'deployment', NAME]);

async function currentManifest(): Promise<{ text: string; versionId?: string }> {
  const res = await s3().send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
  return { text: (await res.Body?.transformToString()) ?? '', versionId: res.VersionId };
}
async function versionIds(): Promise<string[]> {
  return (
    (await s3().send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: KEY }))).Versions ?? []
  ).map((v) => v.VersionId as string);
}
async function auditItems() {
  const res = await dynamodb().send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'environment = :e',
      ExpressionAttributeValues: { ':e': { S: ENV } },
    }),
  );
  return res.Items ?? [];
}
/** resourceVersion of every object of the manifest, as the cluster has them. */
async function resourceVersions(objects: readonly K8sObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of objects)
    out.push(
      (
        await getJson<{ metadata: { resourceVersion: string } }>([
          'get',
          `${o.kind}/${o.metadata.name}`,
          ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
        ])
      ).metadata.resourceVersion,
    );
  return out;
}
/** `kubectl diff` of a manifest against the cluster: 0 when the cluster runs exactly it. */
async function diffExit(text: string): Promise<number | null> {
  const file = path.join(work, `diff-${Date.now()}.yaml`);
  fs.writeFileSync(file, text);
  return (await kubectl(['diff', '-f', file])).code;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-breakglass-'));
  moto = await startMoto();
  // the admin kubeconfig, its context named as `aws eks update-kubeconfig` names it
  const kc = JSON.parse(fs.readFileSync(kubeconfig(), 'utf8')) as {
    contexts: { name: string }[];
    'current-context': string;
  };
  kc.contexts[0].name = CONTEXT;
  kc['current-context'] = CONTEXT;
  kubeconfigForBreakglass = path.join(work, 'kubeconfig');
  fs.writeFileSync(kubeconfigForBreakglass, JSON.stringify(kc), { mode: 0o600 });

  // what the pipeline deployed: the rendered manifest, applied by the stage and stored in S3
  const rendered = await run('tools/dev/manifests.ts', [
    '--env',
    ENV,
    '--config',
    CONFIG,
    '--tag',
    'app-1111111111111111',
  ]);
  if (rendered.code !== 0) throw new Error(rendered.stderr);
  const objects = objectsOf(rendered.stdout);
  min = find<HpaShape>(objects, 'HorizontalPodAutoscaler').spec.minReplicas;
  await deleteNamespace(NS);
  handler = new CdkKubectlHandler(path.join(work, 'handler'));
  // S3 holds what the stage applies, the CDK's prune label included (lib/stacks/eks-app-stack.ts:
  // plainToYaml(workload.appliedObjects))
  stored = plainToYaml(handler.labelled(objects));
  const created = await handler.create(objects);
  if (created.code !== 0) throw new Error(created.stderr);
  await waitForReplicas(NS, NAME, min);

  await s3().send(
    new CreateBucketCommand({
      Bucket: BUCKET,
      CreateBucketConfiguration: { LocationConstraint: REGION },
    }),
  );
  await s3().send(
    new PutBucketVersioningCommand({
      Bucket: BUCKET,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  await s3().send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: KEY,
      Body: stored,
      ContentType: 'application/yaml',
    }),
  );
  await dynamodb().send(
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
  // the stage stack, as far as breakglass cares: its outputs
  const template = {
    Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
    Outputs: {
      ManifestBucketName: { Value: BUCKET },
      ManifestObjectKey: { Value: KEY },
      AuditTableName: { Value: TABLE },
      ClusterArn: { Value: CONTEXT },
    },
  };
  await new CloudFormationClient({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: CREDS,
  }).send(
    new CreateStackCommand({
      StackName: `hello-web-${ENV}`,
      TemplateBody: JSON.stringify(template),
    }),
  );
});

afterAll(async () => {
  await deleteNamespace(NS);
  await moto?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the deployed manifest is what S3 holds, to begin with, the prune label included', async () => {
  expect((await currentManifest()).text).toBe(stored);
  expect(await diffExit(stored)).toBe(0);
});

test('--image: the cluster runs the new tag; the stored manifest and the audit record match what runs', async () => {
  const before = await currentManifest();
  const res = await breakglass([
    '--image',
    'app-2222222222222222',
    '--reason',
    'INC-1: roll forward to the fixed image',
  ]);
  expect({ code: res.code, stderr: res.stderr }).toEqual({
    code: 0,
    stderr: expect.not.stringMatching(/\n\s+at /) as unknown,
  });
  await rolloutStatus(NS, NAME);
  await waitForReplicas(NS, NAME, min);
  const image = (await liveDeployment()).spec.template.spec.containers[0].image;
  expect(image).toMatch(/:app-2222222222222222$/);
  expect((await pods(NS, SELECTOR)).filter((p) => !p.terminating).map((p) => p.image)).toEqual(
    Array(min).fill(image),
  );

  const now = await currentManifest();
  expect(now.versionId).not.toBe(before.versionId);
  expect(
    find<DeploymentShape>(objectsOf(now.text), 'Deployment').spec.template.spec.containers[0].image,
  ).toBe(image);
  expect(await diffExit(now.text)).toBe(0);
  const items = await auditItems();
  expect(items).toHaveLength(1);
  expect(items[0]).toMatchObject({
    result: { S: 'SUCCEEDED' },
    action: { S: 'image' },
    kubectlContext: { S: CONTEXT },
    imageAfter: { S: image },
    s3VersionBefore: { S: before.versionId },
    s3VersionAfter: { S: now.versionId },
  });
});

test('--manifest: the cluster runs the replacement (new greeting and tag); S3 holds that file; the audit record says so', async () => {
  const before = await currentManifest();
  const replacement = before.text
    .replaceAll('app-2222222222222222', 'app-3333333333333333')
    .replace(/value: Hello$/m, 'value: Breakglass greeting');
  expect(replacement).toContain('value: Breakglass greeting');
  const file = path.join(work, 'replacement.yaml');
  fs.writeFileSync(file, replacement);
  const res = await breakglass(['--manifest', file, '--reason', 'INC-2: whole manifest']);
  expect({ code: res.code, stderr: res.stderr }).toEqual({
    code: 0,
    stderr: expect.not.stringMatching(/\n\s+at /) as unknown,
  });
  await rolloutStatus(NS, NAME);
  await waitForReplicas(NS, NAME, min);
  const container = (await liveDeployment()).spec.template.spec.containers[0];
  expect(container.image).toMatch(/:app-3333333333333333$/);
  expect(container.env).toContainEqual({ name: 'HELLO', value: 'Breakglass greeting' });
  expect((await pods(NS, SELECTOR)).filter((p) => !p.terminating).map((p) => p.image)).toEqual(
    Array(min).fill(container.image),
  );
  const now = await currentManifest();
  expect(now.text).toBe(replacement);
  expect(await diffExit(now.text)).toBe(0);
  const items = await auditItems();
  expect(items).toHaveLength(2);
  expect(items.find((i) => i.action?.S === 'manifest')).toMatchObject({
    result: { S: 'SUCCEEDED' },
    imageAfter: { S: container.image },
    s3VersionBefore: { S: before.versionId },
    s3VersionAfter: { S: now.versionId },
  });
});

test('a manifest the API server rejects leaves the cluster, S3 and the audit table as they were', async () => {
  const before = await currentManifest();
  const objects = objectsOf(before.text);
  const rvBefore = await resourceVersions(objects);
  const versionsBefore = await versionIds();
  const auditBefore = await auditItems();
  // maxSurge 0 with maxUnavailable 0 is invalid (no rollout could ever progress): only the API server's validation says so
  const rejected = before.text.replace('maxSurge: 25%', 'maxSurge: 0');
  expect(rejected).not.toBe(before.text);
  const file = path.join(work, 'rejected.yaml');
  fs.writeFileSync(file, rejected);
  const res = await breakglass([
    '--manifest',
    file,
    '--reason',
    'INC-3: a manifest the cluster refuses',
  ]);
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/Invalid value: 0: may not be 0 when `maxSurge` is 0/);
  expect(res.stderr).toContain('the API server rejected the change');
  expect(res.stderr).not.toMatch(/\n\s+at /);
  expect(await resourceVersions(objects)).toEqual(rvBefore);
  expect(await versionIds()).toEqual(versionsBefore);
  expect((await currentManifest()).text).toBe(before.text);
  expect(await auditItems()).toEqual(auditBefore);
});

test('after breakglass, the next release still prunes: every object keeps the prune label, and a Service git removed goes (a PDB stays: not a kind kubectl prunes)', async () => {
  // issue 26: a breakglass copy without the label removed it from every object, so the kubectl
  // handler's `apply --prune -l <label>` would no longer see (and delete) an object git removed.
  const after = objectsOf((await currentManifest()).text);
  expect(after.length).toBeGreaterThan(5);
  for (const o of after) {
    const live = await getJson<K8sObject>([
      'get',
      `${o.kind}/${o.metadata.name}`,
      ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
    ]);
    expect({
      object: `${o.kind}/${o.metadata.name}`,
      label: live.metadata.labels?.[handler.pruneLabel],
    }).toEqual({
      object: `${o.kind}/${o.metadata.name}`,
      label: '',
    });
  }
  // A release whose render no longer has the Service or the PodDisruptionBudget. kubectl prunes
  // only the kinds of its default allowlist (Service is one; PodDisruptionBudget,
  // HorizontalPodAutoscaler, NetworkPolicy and ServiceAccount are not: kubectl's
  // pkg/util/prune/prune.go), and the CDK's handler passes no --prune-allowlist: the PDB stays
  // (ADR 0031, "What the release prunes").
  const res = await handler.update(
    after.filter((o) => o.kind !== 'Service' && o.kind !== 'PodDisruptionBudget'),
  );
  expect(res.code).toBe(0);
  const services = await getJson<{ items: unknown[] }>(['get', 'service', '-n', NS]);
  expect(services.items).toHaveLength(0);
  const pdbs = await getJson<{ items: unknown[] }>(['get', 'poddisruptionbudget', '-n', NS]);
  expect(pdbs.items).toHaveLength(1);
});
