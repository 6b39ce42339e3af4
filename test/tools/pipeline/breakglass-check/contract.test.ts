import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { BreakglassCheckTargets } from '../../../../lib/config';
import { memoryOutput } from '../../../../tools/common/output';
import { main } from '../../../../tools/pipeline/breakglass-check/cli';
import { REPO_ROOT } from '../../../support/paths';

/**
 * The deploy's breakglass check under the command contract (issue 23, ADR 0028): `--json` gives
 * each environment's verdict as one document on stdout, and the files it reads (the cloud
 * assembly's targets and renders) are read the way every file a command names is (issue 26: a
 * FIFO nobody writes hung `fs.readFileSync` past every bound). The verdicts themselves are proved
 * against moto in check.moto.test.ts.
 *
 * AssumeRole answering AccessDenied and DescribeStacks answering ValidationError "does not exist"
 * for a stack that is not there are the documented shapes:
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (Errors)
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-check-contract-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const target = (stageName: string) => ({
  stageName,
  account: '111111111111',
  region: 'eu-west-1',
  partition: 'aws',
  stackName: `stack-${stageName}`,
  lookupRoleArn: `arn:aws:iam::111111111111:role/lookup-${stageName}`,
  manifestFile: `${stageName}.yaml`,
});
const TARGETS: BreakglassCheckTargets = {
  environments: [target('never-deployed'), target('deployed')],
};

test("--json: one document on stdout with every environment's verdict and why; progress on stderr", async () => {
  const targetsFile = path.join(dir, 'targets.json');
  fs.writeFileSync(targetsFile, JSON.stringify(TARGETS));
  // never-deployed: the lookup role answers, its stack does not exist (PASS: nothing deployed);
  // deployed: the lookup role cannot be assumed (could not check).
  const sts = mockClient(STSClient);
  sts
    .on(AssumeRoleCommand, { RoleArn: 'arn:aws:iam::111111111111:role/lookup-never-deployed' })
    .resolves({
      Credentials: {
        AccessKeyId: 'ASIA',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 900_000),
      },
    });
  sts.on(AssumeRoleCommand, { RoleArn: 'arn:aws:iam::111111111111:role/lookup-deployed' }).rejects(
    Object.assign(new Error('User is not authorized to perform: sts:AssumeRole'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    }),
  );
  const cloudFormation = mockClient(CloudFormationClient);
  cloudFormation.on(DescribeStacksCommand).rejects(
    Object.assign(new Error('Stack with id stack-never-deployed does not exist'), {
      name: 'ValidationError',
      $metadata: { httpStatusCode: 400 },
    }),
  );
  const output = memoryOutput();
  try {
    const code = await main(
      ['--environments', 'never-deployed,deployed', '--targets', targetsFile, '--json'],
      {
        sts: () => new STSClient({ region: 'eu-west-1' }),
        clients: (region) => ({
          dynamodb: new DynamoDBClient({ region }),
          s3: new S3Client({ region }),
          cloudFormation: new CloudFormationClient({ region }),
        }),
        output,
      },
    );
    expect(code).toBe(3);
    const doc = JSON.parse(output.stdout) as {
      command: string;
      exitCode: number;
      environments: { environment: string; verdict: string; lines: string[] }[];
    };
    expect(doc).toMatchObject({ command: 'breakglass-check', exitCode: 3 });
    expect(doc.environments.map((e) => [e.environment, e.verdict])).toEqual([
      ['never-deployed', 'PASS'],
      ['deployed', 'UNCHECKED'],
    ]);
    expect(doc.environments[1].lines.join('\n')).toContain(
      'could not check deployed: cannot assume the bootstrap lookup role arn:aws:iam::111111111111:role/lookup-deployed',
    );
    expect(output.stderr).toContain('breakglass-check: COULD NOT CHECK (never-deployed, deployed)');
  } finally {
    sts.restore();
    cloudFormation.restore();
  }
});

/** `npx delivery breakglass-check`, killed after `limitMs` if it has not ended. */
function deliveryCheck(argv: string[], limitMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [path.join(REPO_ROOT, 'bin', 'delivery.cjs'), 'breakglass-check', ...argv],
        {
          cwd: dir,
          env: {
            PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
            HOME: process.env.HOME ?? '',
            // nothing here may reach AWS
            AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
            AWS_ACCESS_KEY_ID: 'x',
            AWS_SECRET_ACCESS_KEY: 'y',
            AWS_REGION: 'eu-west-1',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      let killed = false;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, limitMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, killed });
      });
    },
  );
}

test.each([
  ['a FIFO nobody writes', 'fifo', 'not a regular file'],
  ['a 2 MB file', 'big', 'more than the 1048576 it may have'],
])(
  'a targets file that is %s: could not check (exit 3) at once, never a hang or a memory blow-up',
  async (_what, name, message) => {
    const file = path.join(dir, name);
    if (name === 'fifo') execFileSync('mkfifo', [file]);
    else fs.writeFileSync(file, ' '.repeat(2 * 1024 * 1024));
    const r = await deliveryCheck(
      ['--environments', 'deployed', '--targets', file, '--json'],
      45000,
    );
    expect(r.killed).toBe(false);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'breakglass-check', exitCode: 3 });
  },
  60000,
);
