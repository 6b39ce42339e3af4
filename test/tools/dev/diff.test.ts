import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../../tools/dev/diff';
import { main as pipelineMain } from '../../../tools/pipeline/change-report/cli';
import { memoryOutput } from '../../../tools/common/output';
import { REPO_ROOT } from '../../support/paths';
import type { Synthesized } from '../../support/synth';
import {
  configWithNodeType,
  prodStacks,
  removeScratch,
  scratchDir,
  synthesize,
} from '../pipeline/change-report/synths';

/**
 * `npm run diff`: the report the pipeline shows before the prod approval, locally, for any
 * environment: against what is deployed (as the pipeline reads it) or, offline, against another
 * cloud assembly (a pull request against main's synth).
 */
let base: Synthesized;
let wider: Synthesized;
beforeAll(() => {
  base = synthesize();
  wider = synthesize({ config: configWithNodeType([0, 0], 'm7g.xlarge') });
});

afterAll(removeScratch);

const cfn = mockClient(CloudFormationClient);
const sts = mockClient(STSClient);
beforeEach(() => {
  cfn.reset();
  sts.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'A',
      SecretAccessKey: 'S',
      SessionToken: 'T',
      Expiration: new Date(),
    },
  });
});

/** The `### <stage>: ...` section of a Markdown report. */
function section(markdown: string, stage: string): string {
  const start = markdown.indexOf(`### ${stage}:`);
  const rest = markdown.slice(start + 4);
  const end = rest.search(/\n#{2,3} /);
  return (end < 0 ? rest : rest.slice(0, end)).trimEnd();
}

test('--against another assembly (offline): every environment and the pipeline, grouped, the replacement loud', async () => {
  const output = memoryOutput();
  const code = await main(['--assembly', wider.outdir, '--against', base.outdir], {
    output,
    cwd: REPO_ROOT,
  });
  expect(output.stderr).toBe(
    'Configuration: the built-in STACK_ENVIRONMENTS (lib/config/defaults.ts)\n',
  );
  expect(code).toBe(0);
  const md = output.stdout;
  expect(md).toMatch(/^# Infrastructure change npx delivery diff \(default config\)/);
  for (const heading of ['## The pipeline', '## Pre-prod', '## Wave 1', '## Wave 2'])
    expect(md).toContain(heading);
  expect(md).toMatch(/- REPLACE prod-eu-west-1: AWS::EKS::Nodegroup .*SERVICE INTERRUPTION/);
  expect(section(md, 'preprod-eu-west-1')).toMatch(/no change/);
  expect(md).toMatch(/\*\*Summary\*\*: 1 of 5 stacks change; 1 REPLACEMENT/);
});

test("against what is deployed, for one environment: the same section the pipeline's report shows", async () => {
  const deployed = prodStacks(base);
  cfn.on(DescribeStacksCommand).callsFake((input: { StackName: string }) => ({
    Stacks: [
      { StackName: input.StackName, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() },
    ],
  }));
  cfn.on(GetTemplateCommand).callsFake((input: { StackName: string }) => ({
    TemplateBody: JSON.stringify(deployed.find((d) => d.stackName === input.StackName)!.template),
  }));
  // an operator already in the prod account (--no-assume): no role to assume in this test
  const local = memoryOutput();
  expect(
    await main(['--assembly', wider.outdir, '--env', 'prod-eu-west-1', '--no-assume'], {
      output: local,
      cwd: REPO_ROOT,
      reader: { cloudFormation: (region) => new CloudFormationClient({ region }) },
    }),
  ).toBe(0);

  const pipeline = memoryOutput();
  const out = scratchDir('diff-vs-pipeline-');
  await pipelineMain(['--waves', 'prod-eu-west-1', '--assembly', wider.outdir, '--out', out], {
    output: pipeline,
    env: {},
    reader: {
      sts: (region) => new STSClient({ region }),
      cloudFormation: (region) => new CloudFormationClient({ region }),
    },
  });
  const fromPipeline = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  expect(section(local.stdout, 'prod-eu-west-1')).toMatch(/REPLACE/);
  expect(section(local.stdout, 'prod-eu-west-1')).toBe(section(fromPipeline, 'prod-eu-west-1'));
});

test('an environment the config does not have is bad usage', async () => {
  const output = memoryOutput();
  expect(
    await main(['--assembly', base.outdir, '--against', base.outdir, '--env', 'prod-mars-1'], {
      output,
      cwd: REPO_ROOT,
    }),
  ).toBe(2);
  expect(output.stderr).toMatch(
    /--env: prod-mars-1 is not an environment of this config \(known: pipeline, preprod-eu-west-1, prod-eu-west-1/,
  );
});

test("npm run diff synthesizes with the pinned CDK CLI, as the pipeline's Build step does: against that synth, no change", () => {
  // the deployed templates come from `cdk synth` (path metadata, version reporting): an in-process
  // synth would differ from them in every resource
  const cliOut = scratchDir('diff-cli-synth-');
  const cdk = path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  const synth = spawnSync(process.execPath, [cdk, 'synth', '-q', '-o', cliOut], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 600000,
  });
  expect(synth.status).toBe(0);
  const r = spawnSync(
    'npm',
    ['run', '-s', 'diff', '--', '--env', 'prod-eu-west-1,pipeline', '--against', cliOut],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600000 },
  );
  expect(r.stderr).toMatch(/synthesizing the app with npx cdk synth/);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/\*\*Summary\*\*: no change in 2 stacks/);
});
