import { EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  CallTimeoutError,
  boundedCall,
  defaultAwsAccess,
  runLimited,
} from '../../../../tools/operator/preflight/aws';

const sts = mockClient(STSClient);
afterAll(() => sts.restore());

test('--role-name: every account gets the role of that account, assumed once and reused', async () => {
  sts.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => ({
    Credentials: {
      AccessKeyId: `AKIA-${input.RoleArn.split(':')[4]}`,
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + 3600_000),
    },
  }));
  const aws = defaultAwsAccess({
    roleName: 'PlatformReadOnly',
    sessionName: 'orders-api-preflight',
    stsRegion: 'eu-west-1',
    call: boundedCall(2000),
  });
  const credentialsOf = async (client: EC2Client) =>
    (client.config.credentials as () => Promise<{ accessKeyId: string }>)();
  expect(
    (await credentialsOf(aws.ec2({ account: '222222222222', region: 'us-east-1' }))).accessKeyId,
  ).toBe('AKIA-222222222222');
  expect(
    (await credentialsOf(aws.ec2({ account: '222222222222', region: 'eu-west-1' }))).accessKeyId,
  ).toBe('AKIA-222222222222');
  expect(
    (await credentialsOf(aws.ec2({ account: '333333333333', region: 'eu-west-1' }))).accessKeyId,
  ).toBe('AKIA-333333333333');
  expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([
    'arn:aws:iam::222222222222:role/PlatformReadOnly',
    'arn:aws:iam::333333333333:role/PlatformReadOnly',
  ]);
  // The session is named after the service (CloudTrail shows who read the accounts), never a constant.
  expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleSessionName)).toEqual([
    'orders-api-preflight',
    'orders-api-preflight',
  ]);
});

test('the role ARN is in the partition of the pipeline region', async () => {
  sts.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'a',
      SecretAccessKey: 'b',
      SessionToken: 'c',
      Expiration: new Date(Date.now() + 3600_000),
    },
  });
  const aws = defaultAwsAccess({
    roleName: 'ReadOnly',
    sessionName: 'hello-web-preflight',
    stsRegion: 'cn-north-1',
    call: boundedCall(2000),
  });
  await (
    aws.ec2({ account: '444444444444', region: 'cn-north-1' }).config
      .credentials as () => Promise<unknown>
  )();
  expect(sts.commandCalls(AssumeRoleCommand)[0].args[0].input.RoleArn).toBe(
    'arn:aws-cn:iam::444444444444:role/ReadOnly',
  );
});

test('boundedCall abandons a call that never answers and aborts its signal', async () => {
  let signal: AbortSignal | undefined;
  const call = boundedCall(50);
  await expect(
    call('EC2 DescribeVpcs', (s) => ((signal = s), new Promise(() => undefined))),
  ).rejects.toThrow(CallTimeoutError);
  expect(signal?.aborted).toBe(true);
  await expect(call('fast', () => Promise.resolve(42))).resolves.toBe(42);
});

test('runLimited keeps the order of results and the bound', async () => {
  let inFlight = 0;
  let most = 0;
  const tasks = [30, 10, 20, 5, 15].map((ms, i) => async () => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    return i;
  });
  expect(await runLimited(tasks, 2)).toEqual([0, 1, 2, 3, 4]);
  expect(most).toBe(2);
});
