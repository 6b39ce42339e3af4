import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { stringify as toYaml } from 'yaml';
import type { AssemblyStack } from '../../../../tools/pipeline/change-report/assembly';
import { DeployedReader } from '../../../../tools/pipeline/change-report/deployed';
import { prodStacks, removeScratch, stackOf, synthesize } from './synths';

/**
 * Reading what is deployed, through the bootstrap lookup role. The wire formats are those of the
 * API references, cited per case; tools/pipeline/change-report/bundle.moto.test.ts runs the same
 * calls against moto_server. Templates are a real synth's.
 */
let stacks: AssemblyStack[];
beforeAll(() => {
  stacks = prodStacks(synthesize());
});
afterAll(removeScratch);

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
beforeEach(() => {
  sts.reset();
  cfn.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'ASIA',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(),
    },
  });
});

const reader = (extra: Partial<ConstructorParameters<typeof DeployedReader>[0]> = {}) =>
  new DeployedReader({
    partition: 'aws',
    sessionName: 'change-report-test',
    callTimeoutMs: 2000,
    sts: () => new STSClient({ region: 'eu-west-1' }),
    cloudFormation: (region) => new CloudFormationClient({ region }),
    ...extra,
  });

/** Errors as the SDK raises them for a query-protocol error response (name and Code from the body). */
function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), {
    name,
    Code: name,
    $metadata: { httpStatusCode: 400 },
  });
}

test('the lookup role the manifest names is assumed, with the partition filled in', async () => {
  const eu = stackOf(stacks, 'prod-eu-west-1');
  cfn
    .on(DescribeStacksCommand)
    .rejects(awsError('ValidationError', `Stack with id ${eu.stackName} does not exist`));
  await reader({ partition: 'aws-cn' }).read(eu);
  expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
    RoleArn: `arn:aws-cn:iam::${eu.account}:role/cdk-hnb659fds-lookup-role-${eu.account}-${eu.region}`,
    RoleSessionName: 'change-report-test',
    // the session may make the report's two reads only, whatever else the role allows
    Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
          Resource: `arn:aws-cn:cloudformation:${eu.region}:${eu.account}:stack/${eu.stackName}/*`,
        },
      ],
    }),
  });
});

test('a stack that does not exist is new (DescribeStacks: ValidationError "does not exist")', async () => {
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
  const eu = stackOf(stacks, 'prod-eu-west-1');
  cfn
    .on(DescribeStacksCommand)
    .rejects(awsError('ValidationError', `Stack with id ${eu.stackName} does not exist`));
  expect(await reader().read(eu)).toEqual({ kind: 'absent' });
  expect(cfn).not.toHaveReceivedCommand(GetTemplateCommand);
});

test('a stack only ever created as a change set (REVIEW_IN_PROGRESS) is new too', async () => {
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'x', StackStatus: 'REVIEW_IN_PROGRESS', CreationTime: new Date() }],
  });
  expect(await reader().read(stackOf(stacks, 'prod-eu-west-1'))).toEqual({ kind: 'absent' });
});

test('a deployed stack: its original template (JSON, or YAML) and status', async () => {
  const eu = stackOf(stacks, 'prod-eu-west-1');
  cfn
    .on(DescribeStacksCommand)
    .resolves({
      Stacks: [
        { StackName: eu.stackName, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() },
      ],
    })
    .on(GetTemplateCommand)
    .resolves({ TemplateBody: JSON.stringify(eu.template) });
  expect(await reader().read(eu)).toEqual({
    kind: 'deployed',
    template: eu.template,
    status: 'UPDATE_COMPLETE',
  });
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html (Original: as submitted)
  expect(cfn).toHaveReceivedCommandWith(GetTemplateCommand, {
    StackName: eu.stackName,
    TemplateStage: 'Original',
  });

  cfn.on(GetTemplateCommand).resolves({ TemplateBody: toYaml(eu.template) });
  expect(await reader().read(eu)).toEqual({
    kind: 'deployed',
    template: eu.template,
    status: 'UPDATE_COMPLETE',
  });
});

describe('an account that cannot be read is "could not check", never "new" or "no change"', () => {
  test('the lookup role cannot be assumed: the reason names the role and what to check', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(
        awsError(
          'AccessDenied',
          'User: arn:aws:sts::111111111111:assumed-role/x is not authorized to perform: sts:AssumeRole',
        ),
      );
    const r = await reader().read(stackOf(stacks, 'prod-us-east-1'));
    expect(r.kind).toBe('unreadable');
    expect(r.kind === 'unreadable' && r.reason).toMatch(
      /cannot assume the bootstrap lookup role arn:aws:iam::\d{12}:role\/cdk-hnb659fds-lookup-role-\d{12}-us-east-1: AccessDenied: .*cdk bootstrap --trust/,
    );
    expect(cfn).not.toHaveReceivedAnyCommand();
  });

  test('DescribeStacks fails otherwise (throttled, denied)', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    const r = await reader().read(stackOf(stacks, 'prod-us-east-1'));
    expect(r).toEqual({
      kind: 'unreadable',
      reason: expect.stringMatching(
        /DescribeStacks .* failed: Throttling: Rate exceeded/,
      ) as string,
    });
  });

  test('GetTemplate fails, or returns something that is not a template', async () => {
    cfn
      .on(DescribeStacksCommand)
      .resolves({
        Stacks: [{ StackName: 'x', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }],
      })
      .on(GetTemplateCommand)
      .resolves({ TemplateBody: 'Resources: !Ref Nope' });
    const r = await reader().read(stackOf(stacks, 'prod-us-east-1'));
    expect(r.kind).toBe('unreadable');
  });

  test('a call that does not answer in time', async () => {
    cfn.on(DescribeStacksCommand).callsFake(
      (_input, getClient) =>
        new Promise(() => {
          void getClient;
        }),
    );
    const r = await reader({ callTimeoutMs: 200 }).read(stackOf(stacks, 'prod-us-east-1'));
    expect(r).toEqual({
      kind: 'unreadable',
      reason: expect.stringMatching(/did not answer within 0\.2 s/) as string,
    });
  });
});

test('one session per stack (its policy names the stack), however often it is read', async () => {
  cfn
    .on(DescribeStacksCommand)
    .rejects(awsError('ValidationError', 'Stack with id x does not exist'));
  const r = reader();
  const eu = stackOf(stacks, 'prod-eu-west-1');
  await Promise.all([r.read(eu), r.read(eu), r.read({ ...eu, stackName: 'other-stack' })]);
  expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
});

test('with assumeRole false (an operator in the account) no role is assumed', async () => {
  cfn
    .on(DescribeStacksCommand)
    .rejects(awsError('ValidationError', 'Stack with id x does not exist'));
  await reader({ assumeRole: false }).read(stackOf(stacks, 'prod-eu-west-1'));
  expect(sts).not.toHaveReceivedAnyCommand();
  expect(cfn).toHaveReceivedCommand(DescribeStacksCommand);
});
