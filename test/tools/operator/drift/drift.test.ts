import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { type DriftDeps, driftMain } from '../../../../tools/operator/drift/drift';
import { type MotoServer, motoAvailable, startMoto } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';

/**
 * `npx delivery drift`'s refusals and "could not check" (the comparison itself runs against the real
 * control plane: test/integration/drift.test.ts). AWS at moto_server, whose one account is the
 * fixture's pre-prod account; its prod environment is in another.
 */
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const haveMoto = motoAvailable();
const describeMoto = haveMoto ? describe : describe.skip;

describeMoto('npx delivery drift: usage and could not check', () => {
  let moto: MotoServer;
  const kubectlCalls: string[][] = [];
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(() => moto?.stop());

  function drift(argv: string[]) {
    const output = memoryOutput();
    const endpoint = moto.endpoint;
    const deps: DriftDeps = {
      clients: {
        s3: (region) =>
          new S3Client({ region, endpoint, credentials: CREDS, forcePathStyle: true }),
        dynamodb: (region) => new DynamoDBClient({ region, endpoint, credentials: CREDS }),
        sts: (region) => new STSClient({ region, endpoint, credentials: CREDS }),
        cloudFormation: (region) =>
          new CloudFormationClient({ region, endpoint, credentials: CREDS }),
      },
      kubectl: (args) => {
        kubectlCalls.push([...args]);
        return Promise.resolve({ code: 1, stdout: '', stderr: 'not in this test' });
      },
      output,
      cwd: REPO_ROOT,
      repoRoot: REPO_ROOT,
    };
    return runCli('drift', () => driftMain(['--config', CONFIG, ...argv], deps), output).then(
      (code) => ({ code, output }),
    );
  }

  test('an unknown environment or a per-environment flag without --env is bad usage (exit 2), nothing read', async () => {
    const a = await drift(['--env', 'nope']);
    expect(a.code).toBe(2);
    expect(a.output.stderr).toContain('drift: error: --env:');
    const b = await drift(['--context', 'x']);
    expect(b.code).toBe(2);
    expect(b.output.stderr).toContain("--context names one environment's context: give --env too");
    expect(kubectlCalls).toEqual([]);
  });

  test("credentials of another account: that environment could not be checked (exit 3), never 'in sync'", async () => {
    const res = await drift(['--env', 'prod-us-east-1']);
    expect(res.code).toBe(3);
    expect(res.output.stderr).toContain(
      'drift: prod-us-east-1 could not check: your credentials are for account 123456789012, prod-us-east-1 is in 210987654321',
    );
    expect(res.output.stdout).not.toContain('in sync');
  });

  test("--json: one JSON document on stdout with each environment's result; the comparison on stderr", async () => {
    const res = await drift(['--env', 'prod-us-east-1', '--tag', 'v1', '--json']);
    expect(res.code).toBe(3);
    expect(JSON.parse(res.output.stdout)).toEqual({
      command: 'drift',
      exitCode: 3,
      tag: 'v1',
      environments: [{ environment: 'prod-us-east-1', exitCode: 3, result: 'COULD_NOT_CHECK' }],
    });
    expect(res.output.stderr).toContain('drift: prod-us-east-1 could not check:');
  });

  test('an environment that is not deployed (no stack): could not check (exit 3), saying which', async () => {
    const res = await drift(['--env', 'preprod-eu-west-1']);
    expect(res.code).toBe(3);
    expect(res.output.stderr).toMatch(
      /drift: preprod-eu-west-1 could not check: stack \S+ not found/,
    );
  });
});
