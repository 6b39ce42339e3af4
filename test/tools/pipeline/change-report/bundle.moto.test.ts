import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { build } from 'esbuild';
import { toolBuildOptions } from '../../../../tools/pipeline/bundle';
import { readAssemblyStacks } from '../../../../tools/pipeline/change-report/assembly';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';
import type { Synthesized } from '../../../support/synth';
import { type NodeRun, runNode } from '../image-gate/run-node';
import { removeScratch, scratchDir, synthesize } from './synths';

/**
 * The bundled change report, as the pipeline runs it (`node tools/change-report.cjs` with no
 * node_modules), against moto_server: the real wire formats of STS AssumeRole, CloudFormation
 * DescribeStacks (a missing stack is a ValidationError) and GetTemplate, S3 PutObject and SNS
 * Publish. One prod stack is "deployed" in moto with a small template of its own; the other two
 * regions have no stack yet. The synthesized templates are the default config's real synth.
 */
const available = motoAvailable();
const describeWithMoto = available ? describe : describe.skip;

const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
let moto: MotoServer | undefined;
let s: Synthesized;
let bundle: string;
let topicArn: string;
const BUCKET = 'pipeline-artifacts';

beforeAll(async () => {
  if (!available) return;
  const dir = scratchDir('change-report-bundle-');
  const options = toolBuildOptions(REPO_ROOT, dir, 'change-report');
  s = synthesize();
  const [server] = await Promise.all([startMoto(), build(options)]);
  moto = server;
  bundle = options.outfile as string;
  const endpoint = server.endpoint;
  const region = s.config.pipeline.region;
  await new S3Client({ region, endpoint, credentials: CREDS, forcePathStyle: true }).send(
    new CreateBucketCommand({
      Bucket: BUCKET,
      CreateBucketConfiguration: { LocationConstraint: region as 'eu-west-1' },
    }),
  );
  topicArn = (
    await new SNSClient({ region, endpoint, credentials: CREDS }).send(
      new CreateTopicCommand({ Name: 'notifications' }),
    )
  ).TopicArn!;
  // What "is deployed" in the first wave's region: a stack of the same name with one topic of its
  // own, in the prod account (moto keeps accounts apart: credentials from AssumeRole act in the
  // role's account, as AWS does).
  const first = s.config.prod.waves[0][0];
  const lookupRole = readAssemblyStacks(s.outdir)
    .find((st) => st.stage === first.stageName)!
    .lookupRoleArn!.replace('${AWS::Partition}', 'aws');
  const assumed = await new STSClient({ region: first.region, endpoint, credentials: CREDS }).send(
    new AssumeRoleCommand({ RoleArn: lookupRole, RoleSessionName: 'test-setup' }),
  );
  const prodCreds = {
    accessKeyId: assumed.Credentials!.AccessKeyId!,
    secretAccessKey: assumed.Credentials!.SecretAccessKey!,
    sessionToken: assumed.Credentials!.SessionToken,
  };
  await new CloudFormationClient({ region: first.region, endpoint, credentials: prodCreds }).send(
    new CreateStackCommand({
      StackName: first.stackName,
      TemplateBody: JSON.stringify({ Resources: { OldTopic: { Type: 'AWS::SNS::Topic' } } }),
    }),
  );
}, 180000);

afterAll(async () => {
  await moto?.stop();
  removeScratch();
});

function run(extra: string[] = []): Promise<NodeRun & { out: string }> {
  const out = scratchDir('change-report-out-');
  const waves = s.config.prod.waves.map((w) => w.map((e) => e.stageName).join(',')).join(';');
  return runNode(
    bundle,
    [
      '--waves',
      waves,
      '--assembly',
      s.outdir,
      '--pipeline',
      s.config.pipeline.name,
      '--execution-id',
      'exec-1',
      '--bucket',
      BUCKET,
      '--topic-arn',
      topicArn,
      '--out',
      out,
      ...extra,
    ],
    {
      cwd: os.tmpdir(),
      env: {
        ...motoEnv(moto!.endpoint, s.config.pipeline.region),
        CODEBUILD_BUILD_URL: 'https://example.invalid/build',
      },
      timeoutMs: 120000,
    },
  ).then((r) => ({ ...r, out }));
}

describeWithMoto('the bundled change report against moto_server', () => {
  test('a deployed stack is diffed, missing ones are new, the report is stored and the topic told', async () => {
    const r = await run();
    expect(r.stderr).not.toMatch(/ERROR|WARNING/);
    expect(r.code).toBe(0);
    const [first, second, third] = s.config.prod.waves.flat();
    expect(r.stdout).toContain(`change-report: ${first.stageName} (${first.stackName}): changed`);
    expect(r.stdout).toContain(`change-report: ${second.stageName} (${second.stackName}): new`);
    expect(r.stdout).toContain(`change-report: ${third.stageName} (${third.stackName}): new`);
    const summary = fs.readFileSync(path.join(r.out, 'summary.txt'), 'utf8');
    // the deployed stack had no IAM at all: every role the synth adds to it broadens permissions
    expect(summary).toBe(
      `3 of 3 prod stacks change (2 new); 1 removed; PERMISSIONS BROADENED in ${first.stageName}`,
    );

    // the approval's link: the S3 console page of the stored report
    const url = fs.readFileSync(path.join(r.out, 'url.txt'), 'utf8');
    expect(url).toBe(
      `https://console.aws.amazon.com/s3/object/${BUCKET}?region=${s.config.pipeline.region}&prefix=change-reports%2Fexec-1%2Freport.md`,
    );
    const stored = await new S3Client({
      region: s.config.pipeline.region,
      endpoint: moto!.endpoint,
      credentials: CREDS,
      forcePathStyle: true,
    }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'change-reports/exec-1/report.md' }));
    const markdown = await stored.Body!.transformToString();
    expect(markdown).toBe(fs.readFileSync(path.join(r.out, 'report.md'), 'utf8'));
    expect(markdown).toContain(`REMOVE ${first.stageName}: AWS::SNS::Topic OldTopic`);

    // the topic heard about it (moto keeps what was published)
    const published = await (await fetch(`${moto!.endpoint}/moto-api/data.json`)).text();
    expect(published).toContain(`REMOVE ${first.stageName}: AWS::SNS::Topic OldTopic`);
  });

  test('with --block-on replacement the same change fails the action (exit 1) and says why', async () => {
    const r = await run(['--block-on', 'replacement']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/BLOCKED by prod\.changeReport\.blockOn \(replacement\)/);
  });

  test('a stage the assembly does not hold is bad usage (exit 2), never a report that skips it', async () => {
    const r = await runNode(bundle, ['--waves', 'prod-nowhere-1', '--assembly', s.outdir], {
      cwd: os.tmpdir(),
      env: motoEnv(moto!.endpoint),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds no stack of prod-nowhere-1/);
  });
});
