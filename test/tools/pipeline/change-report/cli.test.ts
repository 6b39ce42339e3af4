import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { memoryOutput } from '../../../../tools/common/output';
import { main } from '../../../../tools/pipeline/change-report/cli';
import type { Synthesized } from '../../../support/synth';
import { configWithNodeType, prodStacks, removeScratch, scratchDir, synthesize } from './synths';

/**
 * The pipeline tool end to end in-process: what is deployed = the default config's real synth
 * (served by a mocked CloudFormation, the calls as tools/pipeline/change-report/bundle.moto.test.ts
 * makes them against moto_server), what would deploy = a synth with prod-eu-west-1's nodes changed.
 */
let base: Synthesized;
let wider: Synthesized;
beforeAll(() => {
  base = synthesize();
  wider = synthesize({ config: configWithNodeType([0, 0], 'm7g.xlarge') });
});
afterAll(removeScratch);

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:notifications';

beforeEach(() => {
  for (const m of [sts, cfn, s3, sns]) m.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'A',
      SecretAccessKey: 'S',
      SessionToken: 'T',
      Expiration: new Date(),
    },
  });
  // every prod stack is deployed as the default config synthesized it
  const deployed = prodStacks(base);
  cfn.on(DescribeStacksCommand).callsFake((input: { StackName: string }) => ({
    Stacks: [
      { StackName: input.StackName, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() },
    ],
  }));
  cfn.on(GetTemplateCommand).callsFake((input: { StackName: string }) => ({
    TemplateBody: JSON.stringify(deployed.find((d) => d.stackName === input.StackName)!.template),
  }));
  s3.on(PutObjectCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: '1' });
});

const waves = (s: Synthesized) =>
  s.config.prod.waves.map((w) => w.map((e) => e.stageName).join(',')).join(';');

async function run(s: Synthesized, extra: string[] = []) {
  const output = memoryOutput();
  const out = scratchDir('change-report-cli-');
  const code = await main(
    [
      '--waves',
      waves(s),
      '--assembly',
      s.outdir,
      '--execution-id',
      'e-1',
      '--pipeline',
      s.config.pipeline.name,
      '--bucket',
      'artifacts',
      '--topic-arn',
      TOPIC,
      '--out',
      out,
      ...extra,
    ],
    {
      output,
      env: { AWS_REGION: 'eu-west-1', CODEBUILD_BUILD_URL: 'https://build.example/1' },
    },
  );
  const read = (f: string) => fs.readFileSync(path.join(out, f), 'utf8');
  return { code, output, read };
}

test('nothing changed: exit 0, the report stored, the topic left alone', async () => {
  const r = await run(base);
  expect(r.code).toBe(0);
  expect(r.read('summary.txt')).toBe('no change in 3 prod stacks');
  expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
    Bucket: 'artifacts',
    Key: 'change-reports/e-1/report.md',
    Body: r.read('report.md'),
  });
  expect(sns).not.toHaveReceivedCommand(PublishCommand);
  expect(r.read('url.txt')).toMatch(
    /^https:\/\/console\.aws\.amazon\.com\/s3\/object\/artifacts\?/,
  );
});

test('a node group replacement: the topic gets the loud lines and the link, the build log the whole report', async () => {
  const r = await run(wider);
  expect(r.code).toBe(0);
  const published = sns.commandCalls(PublishCommand)[0].args[0].input;
  expect(published.TopicArn).toBe(TOPIC);
  expect(published.Message).toMatch(/REPLACE prod-eu-west-1: AWS::EKS::Nodegroup/);
  expect(published.Message).toContain(r.read('url.txt'));
  expect(published.Subject!.length).toBeLessThanOrEqual(100);
  expect(r.output.stdout).toContain('## Needs your attention');
  expect(r.output.stdout).toMatch(/change-report: 1 of 3 prod stacks change; 1 REPLACEMENT/);
});

test("summary.txt (the approval's line) is the longest form within --summary-max", async () => {
  const r = await run(wider, ['--summary-max', '60']);
  expect(r.read('summary.txt')).toBe('1/3 stacks change, 1 REPLACEMENT, SERVICE INTERRUPTION');
  // the report itself keeps the full line
  expect(r.read('report.md')).toContain(
    '**Summary**: 1 of 3 prod stacks change; 1 REPLACEMENT; SERVICE INTERRUPTION in prod-eu-west-1',
  );
});

test('blockOn interruption: the same change fails the action, so the approval is never offered', async () => {
  const r = await run(wider, ['--block-on', 'interruption']);
  expect(r.code).toBe(1);
  expect(r.output.stderr).toMatch(/BLOCKED by prod\.changeReport\.blockOn \(interruption\)/);
  expect(r.read('report.md')).toMatch(/\*\*BLOCKED\*\*: this promotion fails/);
  // blocking on something that is not there does not block
  expect((await run(wider, ['--block-on', 'permissions-broadening'])).code).toBe(0);
});

test('an unreadable account blocks only when told to (blockOn unchecked: fail closed)', async () => {
  sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
  const open = await run(base);
  expect(open.code).toBe(0);
  expect(open.read('summary.txt')).toBe(
    'no prod stack could be checked; COULD NOT CHECK prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2',
  );
  expect(sns).toHaveReceivedCommand(PublishCommand);
  expect((await run(base, ['--block-on', 'unchecked'])).code).toBe(1);
});

test('the report could not be stored: the approval links to the build log instead, and says so', async () => {
  s3.on(PutObjectCommand).rejects(
    Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }),
  );
  const r = await run(wider);
  expect(r.code).toBe(0);
  expect(r.read('url.txt')).toBe('https://build.example/1');
  expect(r.output.stderr).toMatch(
    /WARNING could not store the report .* links to this build's log instead/,
  );
});

test('the topic could not be told: a warning, the approval text still carries the summary', async () => {
  sns
    .on(PublishCommand)
    .rejects(Object.assign(new Error('KMS'), { name: 'KMSAccessDeniedException' }));
  const r = await run(wider);
  expect(r.code).toBe(0);
  expect(r.output.stderr).toMatch(/WARNING could not notify .*KMSAccessDeniedException/);
});

describe('bad usage is exit 2 with the reason, nothing read', () => {
  test.each([
    [
      ['--waves', 'prod-eu-west-1', '--block-on', 'replacements'],
      /--block-on: unknown "replacements"; valid: permissions-broadening, replacement, interruption, unchecked/,
    ],
    [['--waves', 'Prod EU'], /--waves: "Prod EU" is not a stage name/],
    [['--waves', 'prod-eu-west-1', '--bucket', 'b'], /--bucket needs --execution-id/],
    [['--block-on', 'unchecked'], /--waves is required/],
    [
      ['--waves', 'prod-eu-west-1', '--execution-id', '../../x'],
      /--execution-id: "..\/..\/x" is not/,
    ],
    [
      ['--waves', 'prod-eu-west-1', '--assembly', '/nonexistent'],
      /cannot read cloud assembly manifest/,
    ],
  ])('%j', async (argv, message) => {
    const output = memoryOutput();
    expect(await main(argv, { output })).toBe(2);
    expect(output.stderr).toMatch(message);
    expect(sts).not.toHaveReceivedAnyCommand();
  });
});
