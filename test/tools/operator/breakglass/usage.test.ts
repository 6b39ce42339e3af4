import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { type BreakglassDeps, breakglassMain } from '../../../../tools/operator/breakglass/main';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';

/**
 * Bad usage never touches AWS, S3, DynamoDB or kubectl: every client factory here fails the test
 * if it is even asked for a client.
 */
function untouchable() {
  const touched: string[] = [];
  const refuse = (what: string) => () => {
    touched.push(what);
    throw new Error(`${what} must not be used`);
  };
  const output = memoryOutput();
  const deps: BreakglassDeps = {
    clients: {
      s3: refuse('s3'),
      dynamodb: refuse('dynamodb'),
      sts: refuse('sts'),
      cloudFormation: refuse('cloudformation'),
      sns: refuse('sns'),
    },
    kubectl: () => {
      touched.push('kubectl');
      return Promise.resolve({ exitCode: 0 });
    },
    confirm: () => {
      touched.push('prompt');
      return Promise.resolve(true);
    },
    interactive: true,
    output,
    cwd: process.cwd(),
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  return { deps, output, touched };
}

const run = (argv: string[], deps: BreakglassDeps) =>
  runCli('breakglass', () => breakglassMain(argv, deps), deps.output);

describe('breakglass: bad usage exits 2 before touching anything', () => {
  test.each([
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2'],
      '--reason "<text>" is required and must not be blank',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', '   '],
      '--reason "<text>" is required and must not be blank',
    ],
    [['--env', 'preprod-eu-west-1', '--reason', 'INC-1'], 'no change given: pass --image <tag>'],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--manifest', 'x.yaml', '--reason', 'INC-1'],
      'give either --image <tag> or --manifest <file>, not both',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'bad tag', '--reason', 'INC-1'],
      '--image "bad tag" is not a valid image tag',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--manifest', 'no/such/file.yaml', '--reason', 'INC-1'],
      '--manifest no/such/file.yaml: cannot read it (ENOENT)',
    ],
    [['--image', 'v2', '--reason', 'INC-1'], '--env is required'],
    [
      ['--env', 'prod-mars-1', '--image', 'v2', '--reason', 'INC-1'],
      '--env: unknown environment "prod-mars-1"; known: preprod-eu-west-1, prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1', '--bucket', ''],
      '--bucket needs a value',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1', '--force'],
      'unknown option --force',
    ],
    [
      [
        '--env',
        'preprod-eu-west-1',
        '--image',
        'v2',
        '--reason',
        'INC-1',
        '--config',
        'no-such-config.json',
      ],
      'does not exist',
    ],
  ])('%j', async (argv, message) => {
    const { deps, output, touched } = untouchable();
    expect(await run(argv, deps)).toBe(2);
    expect(output.stderr).toContain(message);
    expect(output.stderr.split('\n')[0]).toMatch(/^breakglass: error: /);
    expect(output.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(touched).toEqual([]);
  });

  test('a --manifest file that is not a Kubernetes manifest is bad usage', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-usage-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'kind: Deployment\nmetadata:\n  name: x\n');
    const { deps, output, touched } = untouchable();
    expect(
      await run(['--env', 'preprod-eu-west-1', '--manifest', file, '--reason', 'INC-1'], deps),
    ).toBe(2);
    expect(output.stderr).toContain(
      'is not a Kubernetes manifest: document 1 (Deployment) has no apiVersion',
    );
    expect(touched).toEqual([]);
  });

  test('a YAML alias bomb as --manifest is bad usage (exit 2), nothing touched', async () => {
    // Issue 27: "billion laughs" aliases made breakglass exit 1 after the yaml library refused them.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-usage-'));
    const file = path.join(dir, 'bomb.yaml');
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    fs.writeFileSync(
      file,
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: hello-web\ndata:\n${levels.map((l) => `  ${l}`).join('\n')}\n`,
    );
    const { deps, output, touched } = untouchable();
    expect(
      await run(['--env', 'preprod-eu-west-1', '--manifest', file, '--reason', 'INC-1'], deps),
    ).toBe(2);
    expect(output.stderr).toMatch(/^breakglass: error: .*bomb\.yaml.*alias/);
    expect(output.stderr).not.toMatch(/\n\s+at /);
    expect(touched).toEqual([]);
  });

  test('--help prints the usage and exits 0', async () => {
    const { deps, output } = untouchable();
    expect(await run(['--help'], deps)).toBe(0);
    expect(output.stdout).toContain(
      'Usage: npx delivery breakglass --env <stage name> (--image <tag> | --manifest <file>) --reason "<text>"',
    );
  });
});

describe('breakglass: discovery from the stack outputs', () => {
  const cfn = mockClient(CloudFormationClient);
  const sts = mockClient(STSClient);
  beforeEach(() => {
    cfn.reset();
    sts.reset();
    sts.on(GetCallerIdentityCommand).resolves({
      Account: '222222222222',
      Arn: 'arn:aws:sts::222222222222:assumed-role/Operator/alice',
    });
  });

  function depsWithStack() {
    const { deps, output } = untouchable();
    const creds = { accessKeyId: 'x', secretAccessKey: 'y' };
    return {
      output,
      deps: {
        ...deps,
        clients: {
          ...deps.clients,
          sts: (region: string) => new STSClient({ region, credentials: creds }),
          cloudFormation: (region: string) =>
            new CloudFormationClient({ region, credentials: creds }),
        },
      },
    };
  }

  test('missing outputs are named, with the flags that replace them', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'hello-web-preprod-eu-west-1' }).resolves({
      Stacks: [
        {
          StackName: 'hello-web-preprod-eu-west-1',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'ManifestBucketName', OutputValue: 'b' },
            { OutputKey: 'ImageTag', OutputValue: 'v1' },
          ],
        },
      ],
    });
    const { deps, output } = depsWithStack();
    expect(
      await run(['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1'], deps),
    ).toBe(1);
    expect(output.stderr).toContain(
      'stack hello-web-preprod-eu-west-1 (eu-west-1) has no output ManifestObjectKey, AuditTableName, ClusterArn; pass --key <key> --table <table> --context <context> instead',
    );
  });

  test('flags given for the missing outputs make discovery succeed as far as S3', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'hello-web-preprod-eu-west-1',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [{ OutputKey: 'ManifestBucketName', OutputValue: 'b' }],
        },
      ],
    });
    const { deps, output } = depsWithStack();
    expect(
      await run(
        [
          '--env',
          'preprod-eu-west-1',
          '--image',
          'v2',
          '--reason',
          'INC-1',
          '--key',
          'k',
          '--table',
          't',
          '--context',
          'ctx',
        ],
        deps,
      ),
    ).toBe(1);
    expect(output.stdout).toContain('manifests: s3://b/k');
    expect(output.stdout).toContain('(from stack hello-web-preprod-eu-west-1: ManifestBucketName)');
    expect(output.stderr).toContain('s3 must not be used'); // it got as far as asking for S3
  });

  test('all four flags: CloudFormation is not asked', async () => {
    const { deps } = depsWithStack();
    await run(
      [
        '--env',
        'preprod-eu-west-1',
        '--image',
        'v2',
        '--reason',
        'INC-1',
        '--bucket',
        'b',
        '--key',
        'k',
        '--table',
        't',
        '--context',
        'ctx',
      ],
      deps,
    );
    expect(cfn.calls()).toHaveLength(0);
  });

  test('a stack that does not exist says which and how to get past it', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id hello-web-preprod-eu-west-1 does not exist'), {
        name: 'ValidationError',
        $metadata: {},
      }),
    );
    const { deps, output } = depsWithStack();
    expect(
      await run(['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1'], deps),
    ).toBe(1);
    expect(output.stderr).toContain(
      'stack hello-web-preprod-eu-west-1 not found in eu-west-1: is preprod-eu-west-1 deployed, and are your credentials for account 222222222222? Otherwise pass --bucket, --key, --table, --context',
    );
  });

  test('credentials for another account than the environment are refused before anything is read', async () => {
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '999999999999', Arn: 'arn:aws:iam::999999999999:user/bob' });
    const { deps, output } = depsWithStack();
    expect(
      await run(['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1'], deps),
    ).toBe(1);
    expect(output.stderr).toContain(
      'your credentials are for account 999999999999 (arn:aws:iam::999999999999:user/bob), but preprod-eu-west-1 is in account 222222222222',
    );
    expect(cfn.calls()).toHaveLength(0);
  });
});
