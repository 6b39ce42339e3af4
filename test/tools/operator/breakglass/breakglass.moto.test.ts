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
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import {
  type AwsClients,
  type BreakglassDeps,
  breakglassMain,
} from '../../../../tools/operator/breakglass/main';
import { spawnKubectl } from '../../../../tools/operator/breakglass/kubectl';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';

/**
 * breakglass against moto_server (S3, DynamoDB, STS, CloudFormation) with a stand-in kubectl on
 * PATH. Most cases call the tool's main in-process with clients pointed at moto; the last ones
 * run the real CLI (`tsx tools/operator/breakglass/cli.ts`) as an operator would.
 */
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const MANIFESTS = fs.readFileSync(path.join(__dirname, 'fixtures', 'manifests.yaml'), 'utf8');
const ENV = 'preprod-eu-west-1';
const REGION = 'eu-west-1';
const IMAGE_REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web';
const CONTEXT = 'arn:aws:eks:eu-west-1:123456789012:cluster/hello-web-preprod-eu-west-1';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const haveMoto = motoAvailable();
const describeMoto = haveMoto ? describe : describe.skip;

describeMoto('breakglass against moto', () => {
  let moto: MotoServer;
  let stubDir: string;
  let seq = 0;

  const clients = (): AwsClients => ({
    s3: (region) =>
      new S3Client({ region, endpoint: moto.endpoint, credentials: CREDS, forcePathStyle: true }),
    dynamodb: (region) =>
      new DynamoDBClient({ region, endpoint: moto.endpoint, credentials: CREDS }),
    sts: (region) => new STSClient({ region, endpoint: moto.endpoint, credentials: CREDS }),
    cloudFormation: (region) =>
      new CloudFormationClient({ region, endpoint: moto.endpoint, credentials: CREDS }),
    sns: (region) => new SNSClient({ region, endpoint: moto.endpoint, credentials: CREDS }),
  });

  beforeAll(async () => {
    moto = await startMoto();
    stubDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-stub-'));
    fs.copyFileSync(
      path.join(__dirname, 'fixtures', 'kubectl-stub.sh'),
      path.join(stubDir, 'kubectl'),
    );
    fs.chmodSync(path.join(stubDir, 'kubectl'), 0o755);
  });
  afterAll(async () => {
    await moto?.stop();
    if (stubDir) fs.rmSync(stubDir, { recursive: true, force: true });
  });

  /** A fresh versioned bucket (with or without the manifest object), audit table and kubectl log for one test. */
  async function seed(opts: { withManifest?: boolean } = {}) {
    seq += 1;
    const bucket = `manifests-${seq}-${Date.now()}`;
    const table = `audit-${seq}-${Date.now()}`;
    const key = 'manifests/hello-web.yaml';
    const c = clients();
    const s3 = c.s3(REGION);
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: REGION },
      }),
    );
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: bucket,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    let versionBefore: string | undefined;
    if (opts.withManifest !== false) {
      versionBefore = (
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: MANIFESTS,
            ContentType: 'application/yaml',
          }),
        )
      ).VersionId;
    }
    await c.dynamodb(REGION).send(
      new CreateTableCommand({
        TableName: table,
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
    const log = path.join(stubDir, `call-${seq}`);
    return {
      bucket,
      key,
      table,
      log,
      versionBefore,
      flags: ['--bucket', bucket, '--key', key, '--table', table, '--context', CONTEXT],
    };
  }

  async function versions(bucket: string, key: string) {
    const res = await clients()
      .s3(REGION)
      .send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return res.Versions ?? [];
  }

  async function auditItems(table: string) {
    const res = await clients()
      .dynamodb(REGION)
      .send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'environment = :e',
          ExpressionAttributeValues: { ':e': { S: ENV } },
        }),
      );
    return res.Items ?? [];
  }

  async function currentManifest(bucket: string, key: string) {
    const res = await clients()
      .s3(REGION)
      .send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { text: (await res.Body?.transformToString()) ?? '', versionId: res.VersionId };
  }

  function kubectlCalls(log: string): string[] {
    return fs.existsSync(`${log}.args`)
      ? fs.readFileSync(`${log}.args`, 'utf8').trim().split('\n')
      : [];
  }

  function inProcess(
    log: string,
    opts: {
      kubectlExit?: number;
      serverDryRunExit?: number;
      clients?: AwsClients;
      interactive?: boolean;
    } = {},
  ) {
    const output = memoryOutput();
    const deps: BreakglassDeps = {
      clients: opts.clients ?? clients(),
      kubectl: spawnKubectl({
        ...process.env,
        PATH: `${stubDir}${path.delimiter}${process.env.PATH}`,
        KUBECTL_STUB_LOG: log,
        KUBECTL_STUB_EXIT: String(opts.kubectlExit ?? 0),
        KUBECTL_STUB_SERVER_DRY_RUN_EXIT: String(opts.serverDryRunExit ?? 0),
      }),
      confirm: () => Promise.resolve(true),
      interactive: opts.interactive ?? false,
      output,
      cwd: REPO_ROOT,
      now: () => new Date(),
    };
    return {
      deps,
      output,
      run: (argv: string[]) =>
        runCli('breakglass', () => breakglassMain(['--config', CONFIG, ...argv], deps), output),
    };
  }

  test('missing manifest object in S3: exit 1, kubectl not run, nothing recorded', async () => {
    const s = await seed({ withManifest: false });
    const { run, output } = inProcess(s.log);
    expect(
      await run([
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-1: test',
        '--yes',
        ...s.flags,
      ]),
    ).toBe(1);
    expect(output.stderr).toContain(
      `no manifest at s3://${s.bucket}/${s.key}: has the pipeline deployed this environment yet? (check --bucket/--key)`,
    );
    expect(kubectlCalls(s.log)).toEqual([]);
    expect(await versions(s.bucket, s.key)).toHaveLength(0);
    expect(await auditItems(s.table)).toHaveLength(0);
  });

  test('kubectl fails: nothing uploaded (S3 still has one version), audit record FAILED with the exit code, exit 1', async () => {
    const s = await seed();
    const { run, output } = inProcess(s.log, { kubectlExit: 3 });
    expect(
      await run([
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-2: kubectl fails',
        '--yes',
        ...s.flags,
      ]),
    ).toBe(1);
    expect(output.stderr).toContain('stub kubectl failing on purpose with exit 3'); // kubectl's own output is streamed
    expect(output.stderr).toContain(
      'kubectl exited with code 3: nothing uploaded to S3; the audit record says FAILED',
    );
    const v = await versions(s.bucket, s.key);
    expect(v).toHaveLength(1);
    expect(v[0].VersionId).toBe(s.versionBefore);
    const items = await auditItems(s.table);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      environment: { S: ENV },
      result: { S: 'FAILED' },
      kubectlExitCode: { N: '3' },
      action: { S: 'image' },
      reason: { S: 'INC-2: kubectl fails' },
      s3VersionBefore: { S: s.versionBefore },
      imageBefore: { S: `${IMAGE_REPO}:app-1111111111111111` },
      imageAfter: { S: `${IMAGE_REPO}:app-2222222222222222` },
      who: { S: expect.stringMatching(/^arn:aws:(iam|sts)::123456789012:/) as unknown },
    });
    expect(items[0].s3VersionAfter).toBeUndefined();
  });

  test('the API server rejects the change (server-side dry run fails): exit 1, nothing applied, uploaded or recorded', async () => {
    const s = await seed();
    const { run, output } = inProcess(s.log, { serverDryRunExit: 1 });
    expect(
      await run([
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-9: rejected',
        '--yes',
        ...s.flags,
      ]),
    ).toBe(1);
    expect(output.stderr).toContain('the API server rejected the change');
    expect(output.stderr).toContain('nothing applied, nothing uploaded, no audit record');
    const calls = kubectlCalls(s.log);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain('apply --dry-run=server');
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    expect(await auditItems(s.table)).toHaveLength(0);
  });

  test('S3 upload fails after a successful apply: audit record APPLIED_NOT_STORED, loud warning, manifest kept for a manual upload', async () => {
    const s = await seed();
    const failingPut = clients();
    const s3 = failingPut.s3(REGION);
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectCommand')
          throw Object.assign(new Error('Access Denied'), {
            name: 'AccessDenied',
            $metadata: { httpStatusCode: 403 },
          });
        return next(args);
      },
      { step: 'initialize', name: 'failPutObject' },
    );
    const { run, output } = inProcess(s.log, { clients: { ...failingPut, s3: () => s3 } });
    expect(
      await run([
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-3',
        '--yes',
        ...s.flags,
      ]),
    ).toBe(1);
    expect(output.stderr).toContain('!!! THE CLUSTER NOW DIFFERS FROM S3 !!!');
    const copy = /aws s3 cp (\S+) s3:\/\//.exec(output.stderr)?.[1] as string;
    expect(fs.readFileSync(copy, 'utf8')).toContain(`${IMAGE_REPO}:app-2222222222222222`);
    fs.rmSync(path.dirname(copy), { recursive: true });
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    const items = await auditItems(s.table);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      result: { S: 'APPLIED_NOT_STORED' },
      error: { S: expect.stringContaining('access denied') as unknown },
    });
    expect(kubectlCalls(s.log)).toHaveLength(2); // the server-side dry run, then the apply
  });

  test('no terminal and no --yes: refuses after the diff; nothing applied, uploaded or recorded', async () => {
    const s = await seed();
    const { run, output } = inProcess(s.log, { interactive: false });
    expect(
      await run(['--env', ENV, '--image', 'app-2222222222222222', '--reason', 'INC-4', ...s.flags]),
    ).toBe(1);
    expect(output.stdout).toContain(
      '+          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-2222222222222222',
    );
    expect(output.stderr).toContain('pass --yes');
    expect(kubectlCalls(s.log)).toEqual([]);
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    expect(await auditItems(s.table)).toHaveLength(0);
  });

  test('--manifest replaces the whole manifest: applied, stored and recorded as action "manifest"', async () => {
    const s = await seed();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-manifest-'));
    const file = path.join(dir, 'fixed.yaml');
    const fixed = MANIFESTS.replace('replicas: 2\n', 'replicas: 3\n').replaceAll(
      'app-1111111111111111',
      'app-3333333333333333',
    );
    fs.writeFileSync(file, fixed);
    const { run, output } = inProcess(s.log);
    expect(
      await run(['--env', ENV, '--manifest', file, '--reason', 'INC-5', '--yes', ...s.flags]),
    ).toBe(0);
    expect(output.stdout).toContain('-  replicas: 2');
    expect(output.stdout).toContain('+  replicas: 3');
    expect((await currentManifest(s.bucket, s.key)).text).toBe(fixed);
    expect(fs.readFileSync(`${s.log}.applied`, 'utf8')).toBe(fixed);
    const items = await auditItems(s.table);
    expect(items[0]).toMatchObject({
      action: { S: 'manifest' },
      result: { S: 'SUCCEEDED' },
      imageAfter: { S: `${IMAGE_REPO}:app-3333333333333333` },
    });
    fs.rmSync(dir, { recursive: true });
  });

  test('a dry run that kubectl rejects exits 1, and still uploads and records nothing', async () => {
    const s = await seed();
    const { run, output } = inProcess(s.log, { kubectlExit: 1 });
    expect(
      await run([
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-8',
        '--dry-run',
        ...s.flags,
      ]),
    ).toBe(1);
    expect(output.stdout).toContain('dry run: nothing applied, nothing uploaded, no audit record');
    expect(output.stderr).toContain('the kubectl dry run failed (exit code 1)');
    expect(kubectlCalls(s.log)[0]).toContain('--dry-run=client');
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    expect(await auditItems(s.table)).toHaveLength(0);
  });

  /** Runs the real CLI as an operator would: `tsx tools/operator/breakglass/cli.ts ...`, AWS pointed at moto, stub kubectl first on PATH. */
  function cli(
    argv: string[],
    log: string,
    kubectlExit = 0,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...motoEnv(moto.endpoint, REGION),
      PATH: `${stubDir}${path.delimiter}${process.env.PATH}`,
      KUBECTL_STUB_LOG: log,
      KUBECTL_STUB_EXIT: String(kubectlExit),
    };
    delete env.AWS_PROFILE;
    return new Promise((resolve, reject) => {
      const child = spawn(
        path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
        ['tools/operator/breakglass/cli.ts', ...argv],
        { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('CLI end to end, success: discovers targets from the stack outputs, applies with the cluster context, stores a new version, records both versions and images', async () => {
    const s = await seed();
    // The stage stack, as far as breakglass cares: its outputs.
    const template = {
      Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
      Outputs: {
        ManifestBucketName: { Value: s.bucket },
        ManifestObjectKey: { Value: s.key },
        AuditTableName: { Value: s.table },
        ClusterArn: { Value: CONTEXT },
        ImageTag: { Value: 'app-1111111111111111' },
      },
    };
    await clients()
      .cloudFormation(REGION)
      .send(
        new CreateStackCommand({
          StackName: `hello-web-${ENV}`,
          TemplateBody: JSON.stringify(template),
        }),
      );

    const res = await cli(
      [
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-6: roll forward to the fixed image',
        '--yes',
        '--config',
        CONFIG,
      ],
      s.log,
    );
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      `(from stack hello-web-${ENV}: ManifestBucketName, ManifestObjectKey, AuditTableName, ClusterArn)`,
    );
    expect(res.stdout).toContain(
      '-          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-1111111111111111',
    );
    expect(res.stdout).toContain(
      '+          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-2222222222222222',
    );
    expect(res.stdout).toContain('deployment.apps/hello-web configured'); // kubectl's output, streamed
    expect(res.stdout).toContain('WARNING: this change is not in git');
    expect(res.stdout).toContain('docs/runbooks/breakglass.md');

    const calls = kubectlCalls(s.log);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatch(
      new RegExp(`^--context ${CONTEXT} apply --dry-run=server -f \\S+/${ENV}\\.yaml$`),
    );
    expect(calls[1]).toMatch(new RegExp(`^--context ${CONTEXT} apply -f \\S+/${ENV}\\.yaml$`));
    const applied = fs.readFileSync(`${s.log}.applied`, 'utf8');

    const v = await versions(s.bucket, s.key);
    expect(v).toHaveLength(2);
    const now = await currentManifest(s.bucket, s.key);
    expect(now.text).toBe(applied);
    expect(now.versionId).not.toBe(s.versionBefore);
    expect(now.text).toContain(`${IMAGE_REPO}:app-2222222222222222`);

    const items = await auditItems(s.table);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      environment: { S: ENV },
      at: { S: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown },
      who: { S: expect.stringMatching(/^arn:aws:(iam|sts)::123456789012:/) as unknown },
      reason: { S: 'INC-6: roll forward to the fixed image' },
      action: { S: 'image' },
      result: { S: 'SUCCEEDED' },
      kubectlContext: { S: CONTEXT },
      s3VersionBefore: { S: s.versionBefore },
      s3VersionAfter: { S: now.versionId },
      imageBefore: { S: `${IMAGE_REPO}:app-1111111111111111` },
      imageAfter: { S: `${IMAGE_REPO}:app-2222222222222222` },
    });
    expect(res.stdout).toContain(
      `stored as s3://${s.bucket}/${s.key} version ${now.versionId} (was ${s.versionBefore})`,
    );
  });

  test('CLI end to end, --dry-run: diff and kubectl --dry-run=client only; no upload, no audit item', async () => {
    const s = await seed();
    const res = await cli(
      [
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-7: check first',
        '--dry-run',
        '--config',
        CONFIG,
        ...s.flags,
      ],
      s.log,
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      '+          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-2222222222222222',
    );
    expect(res.stdout).toContain('dry run: nothing applied, nothing uploaded, no audit record');
    const calls = kubectlCalls(s.log);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(
      new RegExp(`^--context ${CONTEXT} apply --dry-run=client -f \\S+\\.yaml$`),
    );
    expect(fs.readFileSync(`${s.log}.applied`, 'utf8')).toContain(
      `${IMAGE_REPO}:app-2222222222222222`,
    );
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    expect(await auditItems(s.table)).toHaveLength(0);
  });

  test('CLI end to end, --dry-run --json: the result as one JSON document, the diff on stderr', async () => {
    const s = await seed();
    const res = await cli(
      [
        '--env',
        ENV,
        '--image',
        'app-2222222222222222',
        '--reason',
        'INC-7: check first',
        '--dry-run',
        '--json',
        '-c',
        `config=${CONFIG}`,
        ...s.flags,
      ],
      s.log,
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      command: 'breakglass',
      exitCode: 0,
      environment: ENV,
      result: 'DRY_RUN',
      dryRun: true,
      action: 'image',
      bucket: s.bucket,
      key: s.key,
      s3VersionBefore: s.versionBefore,
      imageBefore: expect.stringMatching(/:app-/) as unknown,
      imageAfter: `${IMAGE_REPO}:app-2222222222222222`,
    });
    expect(res.stderr).toContain(
      '+          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-2222222222222222',
    );
  });

  test('CLI end to end, no reason: exit 2 with one line, nothing touched', async () => {
    const s = await seed();
    const res = await cli(
      ['--env', ENV, '--image', 'app-2222222222222222', '--yes', '--config', CONFIG, ...s.flags],
      s.log,
    );
    expect(res.code).toBe(2);
    expect(
      res.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('breakglass:')),
    ).toEqual([expect.stringContaining('--reason "<text>" is required')]);
    expect(kubectlCalls(s.log)).toEqual([]);
    expect(await versions(s.bucket, s.key)).toHaveLength(1);
    expect(await auditItems(s.table)).toHaveLength(0);
  });
});
