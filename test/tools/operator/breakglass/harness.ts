import type { RunKubectl } from '../../../../tools/operator/breakglass/kubectl';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
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
  defaultAuditSpoolDir,
} from '../../../../tools/operator/breakglass/main';
import { spawnKubectl } from '../../../../tools/operator/breakglass/kubectl';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { loadConfig } from '../../../../lib/config';
import { type MotoServer, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT, TSX_CLI } from '../../../support/paths';

/** moto_server, a stand-in kubectl on PATH and fresh S3/DynamoDB resources per test, for breakglass tests. */
export const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
export const MANIFESTS = fs.readFileSync(
  path.join(__dirname, 'fixtures', 'manifests.yaml'),
  'utf8',
);
export const ENV = 'preprod-eu-west-1';
export const REGION = 'eu-west-1';
export const IMAGE_REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web';
export const CONTEXT = 'arn:aws:eks:eu-west-1:123456789012:cluster/hello-web-preprod-eu-west-1';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface Seeded {
  readonly bucket: string;
  readonly key: string;
  readonly table: string;
  /** Prefix of the stub kubectl's files: `.args`, `.applied`, `.started`. */
  readonly log: string;
  readonly versionBefore?: string;
  readonly flags: string[];
}

export interface StubOptions {
  readonly kubectlExit?: number;
  readonly kubectlSleepSeconds?: number;
  /** The API server's dry run (`--dry-run=server`) takes this long. */
  readonly serverDryRunSleepSeconds?: number;
}

export class Harness {
  private moto!: MotoServer;
  private stubDir!: string;
  private seq = 0;
  /** The operator's state directory (hold tokens, spooled records): one per harness, never the real one. */
  stateDir!: string;

  async start(): Promise<void> {
    this.moto = await startMoto();
    this.stubDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-stub-'));
    this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-state-'));
    fs.copyFileSync(
      path.join(__dirname, 'fixtures', 'kubectl-stub.sh'),
      path.join(this.stubDir, 'kubectl'),
    );
    fs.chmodSync(path.join(this.stubDir, 'kubectl'), 0o755);
  }

  async stop(): Promise<void> {
    await this.moto?.stop();
    if (this.stubDir) fs.rmSync(this.stubDir, { recursive: true, force: true });
    if (this.stateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }

  /** The tool's own directory under the harness's XDG_STATE_HOME. */
  get operatorStateDir(): string {
    return defaultAuditSpoolDir(
      loadConfig({ contextValue: CONFIG, cwd: REPO_ROOT }).names.breakglassStateDir,
      { XDG_STATE_HOME: this.stateDir },
    );
  }

  get endpoint(): string {
    return this.moto.endpoint;
  }

  clients(): AwsClients {
    const endpoint = this.moto.endpoint;
    return {
      s3: (region) => new S3Client({ region, endpoint, credentials: CREDS, forcePathStyle: true }),
      dynamodb: (region) => new DynamoDBClient({ region, endpoint, credentials: CREDS }),
      sts: (region) => new STSClient({ region, endpoint, credentials: CREDS }),
      cloudFormation: (region) =>
        new CloudFormationClient({ region, endpoint, credentials: CREDS }),
      sns: (region) => new SNSClient({ region, endpoint, credentials: CREDS }),
    };
  }

  /** A fresh bucket (versioned unless told otherwise) holding the manifest, an audit table, a kubectl log prefix. */
  async seed(opts: { versioned?: boolean; body?: string; tableKey?: 'KMS' } = {}): Promise<Seeded> {
    this.seq += 1;
    const bucket = `faults-${this.seq}-${Date.now()}`;
    const table = `audit-${this.seq}-${Date.now()}`;
    const key = 'manifests/hello-web.yaml';
    const c = this.clients();
    const s3 = c.s3(REGION);
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: REGION },
      }),
    );
    if (opts.versioned !== false)
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: bucket,
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
    const versionBefore = (
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: opts.body ?? MANIFESTS,
          ContentType: 'application/yaml',
        }),
      )
    ).VersionId;
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
        // a table made by a version before ADR 0035: the account's aws/dynamodb key
        ...(opts.tableKey ? { SSESpecification: { Enabled: true, SSEType: 'KMS' } } : {}),
      }),
    );
    const log = path.join(this.stubDir, `call-${this.seq}`);
    return {
      bucket,
      key,
      table,
      log,
      versionBefore,
      flags: ['--bucket', bucket, '--key', key, '--table', table, '--context', CONTEXT],
    };
  }

  async versions(s: Seeded) {
    const res = await this.clients()
      .s3(REGION)
      .send(new ListObjectVersionsCommand({ Bucket: s.bucket, Prefix: s.key }));
    return res.Versions ?? [];
  }

  async auditItems(s: Seeded) {
    const res = await this.clients()
      .dynamodb(REGION)
      .send(
        new QueryCommand({
          TableName: s.table,
          KeyConditionExpression: 'environment = :e',
          ExpressionAttributeValues: { ':e': { S: ENV } },
        }),
      );
    return res.Items ?? [];
  }

  async holdItem(s: Seeded) {
    const res = await this.clients()
      .dynamodb(REGION)
      .send(
        new GetItemCommand({
          TableName: s.table,
          Key: { environment: { S: `${ENV}#hold` }, at: { S: 'hold' } },
          ConsistentRead: true,
        }),
      );
    return res.Item;
  }

  async current(s: Seeded) {
    const res = await this.clients()
      .s3(REGION)
      .send(new GetObjectCommand({ Bucket: s.bucket, Key: s.key }));
    return { text: (await res.Body?.transformToString()) ?? '', versionId: res.VersionId };
  }

  /** The kubectl calls that could change the cluster: the API server's dry run (`--dry-run=server`), which breakglass runs first, changes nothing. */
  kubectlCalls(s: Seeded): string[] {
    const calls = fs.existsSync(`${s.log}.args`)
      ? fs.readFileSync(`${s.log}.args`, 'utf8').trim().split('\n')
      : [];
    return calls.filter((c) => !c.includes('--dry-run=server'));
  }

  private stubEnv(s: Seeded, o: StubOptions): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${this.stubDir}${path.delimiter}${process.env.PATH}`,
      KUBECTL_STUB_LOG: s.log,
      KUBECTL_STUB_EXIT: String(o.kubectlExit ?? 0),
    };
    if (o.kubectlSleepSeconds !== undefined) env.KUBECTL_STUB_SLEEP = String(o.kubectlSleepSeconds);
    if (o.serverDryRunSleepSeconds !== undefined)
      env.KUBECTL_STUB_SERVER_DRY_RUN_SLEEP = String(o.serverDryRunSleepSeconds);
    return env;
  }

  /** breakglass's main in-process, AWS at moto, the stub kubectl; `deps` overrides any dependency. */
  inProcess(s: Seeded, o: StubOptions & { deps?: Partial<BreakglassDeps>; config?: string } = {}) {
    const output = memoryOutput();
    const deps: BreakglassDeps = {
      clients: this.clients(),
      kubectl: spawnKubectl(this.stubEnv(s, o)),
      confirm: () => Promise.resolve(true),
      interactive: false,
      output,
      cwd: REPO_ROOT,
      now: () => new Date(),
      // where the CLI (XDG_STATE_HOME below) keeps them too: a run in-process sees a CLI run's hold tokens
      stateDir: this.operatorStateDir,
      auditSpoolDir: this.operatorStateDir,
      ...o.deps,
      // A test's own kubectl stands for the apply; the server-side dry run before it passes.
      ...(o.deps?.kubectl ? { kubectl: passServerDryRun(o.deps.kubectl) } : {}),
    };
    return {
      deps,
      output,
      run: (argv: string[]) =>
        runCli(
          'breakglass',
          () => breakglassMain(['--config', o.config ?? CONFIG, ...argv], deps),
          output,
        ),
    };
  }

  /** The real CLI as an operator runs it (`tsx tools/operator/breakglass/cli.ts`), AWS at moto, the stub kubectl first on PATH. */
  cli(
    s: Seeded,
    argv: string[],
    o: StubOptions & {
      env?: NodeJS.ProcessEnv;
      onStart?: (pid: number) => void;
      /** In a process group of its own, so that a test can SIGKILL all of it (tsx runs the tool in a child). */
      detached?: boolean;
    } = {},
  ) {
    const env: NodeJS.ProcessEnv = {
      ...this.stubEnv(s, o),
      ...motoEnv(this.moto.endpoint, REGION),
      // the state directory (hold tokens) is $XDG_STATE_HOME/<tool>: the harness's, never the real one
      XDG_STATE_HOME: this.stateDir,
      ...o.env,
    };
    delete env.AWS_PROFILE;
    return new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [TSX_CLI, 'tools/operator/breakglass/cli.ts', '--config', CONFIG, ...argv],
          { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        if (child.pid !== undefined) o.onStart?.(child.pid);
      },
    );
  }
}

/** Resolves once `file` exists (polling), or rejects after `ms`. */
export async function waitForFile(file: string, ms = 30000): Promise<void> {
  const until = Date.now() + ms;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function passServerDryRun(kubectl: RunKubectl): RunKubectl {
  return async (args, out, signal) =>
    args.includes('--dry-run=server') ? { exitCode: 0 } : kubectl(args, out, signal);
}
