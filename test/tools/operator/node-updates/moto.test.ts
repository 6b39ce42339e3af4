import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { KUBERNETES_VERSIONS } from '../../../../lib/config';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { nodeUpdatesMain } from '../../../../tools/operator/node-updates/main';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT, TSX_CLI } from '../../../support/paths';

/**
 * node-updates over the real Systems Manager wire format, against moto_server. moto serves some
 * public parameters (/aws/service/ami-amazon-linux-latest, /aws/service/ecs/optimized-ami,
 * global-infrastructure) but not /aws/service/eks/optimized-ami, and refuses PutParameter under
 * /aws (moto/ssm/models.py, moto 5.2.1). So: the public path answers ParameterNotFound here, and
 * the success path runs on the same parameter tree put under another prefix.
 */
const available = motoAvailable();
const describeWithMoto = available ? describe : describe.skip;
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2'];
const PINNED = KUBERNETES_VERSIONS['1.35'].nodeAmiReleaseVersion;

let moto: MotoServer | undefined;
const client = (region: string) =>
  new SSMClient({
    region,
    endpoint: moto!.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });

beforeAll(async () => {
  if (available) moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

describeWithMoto('node-updates against moto_server', () => {
  test('the recommended release of every region, read over the wire: exit 0 when it is the pinned one', async () => {
    const prefix = '/test/eks/optimized-ami';
    for (const region of REGIONS) {
      await client(region).send(
        new PutParameterCommand({
          Name: `${prefix}/1.35/amazon-linux-2023/arm64/standard/recommended/release_version`,
          Value: PINNED,
          Type: 'String',
        }),
      );
    }
    const output = memoryOutput();
    const code = await runCli(
      'node-updates',
      () =>
        nodeUpdatesMain([], {
          ssm: client,
          now: () => Date.now(),
          output,
          cwd: REPO_ROOT,
          repoRoot: REPO_ROOT,
          parameterPrefix: prefix,
        }),
      output,
    );
    expect(output.stderr).toBe('');
    expect(code).toBe(0);
    // LastModifiedDate came back as a date: today's, when the test put it.
    expect(output.stdout).toMatch(
      new RegExp(`prod-ap-southeast-2 .*\\(${new Date().toISOString().slice(0, 10)}\\) +CURRENT`),
    );
  });

  test('`npm run node-updates` end to end (tsx, the SDK credential and endpoint chain): a missing public parameter is exit 3 with its name', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [TSX_CLI, path.join(REPO_ROOT, 'tools', 'operator', 'node-updates', 'cli.ts')],
          {
            cwd: REPO_ROOT,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: process.env.HOME ?? '',
              ...motoEnv(moto!.endpoint),
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      },
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      '/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/recommended/release_version does not exist in eu-west-1',
    );
    expect(result.stderr).toContain(
      'node-updates: ERROR could not check preprod-eu-west-1, prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2',
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
