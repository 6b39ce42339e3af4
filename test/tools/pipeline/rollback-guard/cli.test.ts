import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { CodePipelineClient, ListPipelineExecutionsCommand } from '@aws-sdk/client-codepipeline';
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  ECRClient,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { STACK_ENVIRONMENTS } from '../../../../lib/config';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { rollbackGuardMain } from '../../../../tools/pipeline/rollback-guard/cli';
import { type MotoServer, motoAvailable, startMoto } from '../../../support/moto';
import { type Synthesized, synthesize } from '../../../support/synth';

/**
 * The guard on a real synthesized cloud assembly (the default config), as the Build step runs it.
 * AWS: aws-sdk-client-mock for the verdicts; CloudFormation GetTemplate and ECR DescribeImages also
 * over the wire against moto_server (moto has no ListPipelineExecutions, so that client stays mocked).
 */
let s: Synthesized;
let template: {
  Resources: Record<string, { Type: string; Properties: { Stages: Array<{ Name: string }> } }>;
};
beforeAll(() => {
  s = synthesize();
  template = JSON.parse(
    fs.readFileSync(path.join(s.outdir, 'HelloWebPipeline.template.json'), 'utf8'),
  ) as typeof template;
});

/** The deployed template as it was before this commit: the same, or without one stage. */
function deployedWithout(stage?: string): string {
  const copy = JSON.parse(JSON.stringify(template)) as typeof template;
  for (const r of Object.values(copy.Resources))
    if (r.Type === 'AWS::CodePipeline::Pipeline' && stage)
      r.Properties.Stages = r.Properties.Stages.filter((x) => x.Name !== stage);
  return JSON.stringify(copy);
}

/** A repository root with a config file (the guard reads pipeline.requireRollbackTarget from it). */
function repoWithConfig(requireRollbackTarget: boolean): { root: string; file: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-repo-'));
  const file = path.join(root, 'guard.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      ...STACK_ENVIRONMENTS,
      pipeline: { ...STACK_ENVIRONMENTS.pipeline, requireRollbackTarget },
    }),
  );
  return { root, file: 'guard.json' };
}

describe('the guard on the synthesized assembly (mocked AWS)', () => {
  const cfn = mockClient(CloudFormationClient);
  const ecr = mockClient(ECRClient);
  const cp = mockClient(CodePipelineClient);
  // mockClient replaces send on every instance of the class: give the classes back for moto below
  afterAll(() => [cfn, ecr, cp].forEach((m) => m.restore()));
  beforeEach(() => {
    [cfn, ecr, cp].forEach((m) => m.reset());
    cp.on(ListPipelineExecutionsCommand).resolves({
      pipelineExecutionSummaries: [
        { pipelineExecutionId: 'e1', executionType: 'STANDARD', startTime: new Date(0) },
      ],
    });
  });

  async function run(requireRollbackTarget: boolean) {
    const { root, file } = repoWithConfig(requireRollbackTarget);
    const output = memoryOutput();
    const summary = path.join(root, 'summary');
    const code = await runCli(
      'rollback-guard',
      () =>
        rollbackGuardMain(['--assembly', s.outdir, '--config', file, '--summary-file', summary], {
          output,
          cwd: root,
          repoRoot: root,
        }),
      output,
    );
    return { code, output, summary: fs.readFileSync(summary, 'utf8').trim() };
  }

  test('an app change on an unchanged pipeline with targets everywhere passes', async () => {
    cfn
      .on(GetTemplateCommand, { StackName: s.pipelineStack.stackName })
      .resolves({ TemplateBody: deployedWithout() });
    ecr
      .on(DescribeImagesCommand)
      .rejects(
        Object.assign(new Error('not found'), { name: 'ImageNotFoundException', $metadata: {} }),
      );
    ecr.on(DescribeImagesCommand, { maxResults: 1 }).resolves({ imageDetails: [{}] });
    const r = await run(true);
    expect(r.code).toBe(0);
    expect(r.output.stdout).toContain('pipeline definition: unchanged by this commit');
    expect(r.output.stdout).toContain(`image ${s.config.image.repositoryName}:${s.imageTag}: new`);
    for (const st of ['preprod-eu-west-1', 'prod-eu-west-1', 'prod-wave-2'])
      expect(r.output.stdout).toContain(`${st}: rollback target e1`);
    expect(r.summary).toBe('every deploy stage has one');
  });

  test('a commit that adds a stage and changes app/: refused with the guard on, a warning without it', async () => {
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: deployedWithout('prod-wave-2') });
    ecr
      .on(DescribeImagesCommand)
      .rejects(
        Object.assign(new Error('not found'), { name: 'ImageNotFoundException', $metadata: {} }),
      );
    ecr.on(DescribeImagesCommand, { maxResults: 1 }).resolves({ imageDetails: [{}] });
    const on = await run(true);
    expect(on.code).toBe(1);
    expect(on.output.stderr).toContain(
      'pipeline definition: CHANGED by this commit (stage prod-wave-2 added',
    );
    expect(on.output.stderr).toContain(
      "this commit changes both the pipeline's definition and app/",
    );
    const off = await run(false);
    expect(off.code).toBe(0);
    expect(off.output.stdout).toContain('WARNING: if this release fails in any deploy stage');
    expect(off.summary).toMatch(/^NONE until this release succeeds in each stage/);
  });

  test('a missing assembly is bad usage (exit 2), not a verdict', async () => {
    const { root, file } = repoWithConfig(false);
    const output = memoryOutput();
    const code = await runCli(
      'rollback-guard',
      () =>
        rollbackGuardMain(['--assembly', path.join(root, 'nope'), '--config', file], {
          output,
          cwd: root,
          repoRoot: root,
        }),
      output,
    );
    expect(code).toBe(2);
    expect(output.stderr).toMatch(/cannot read it|run `npx cdk synth` first/);
  });
});

const describeWithMoto = motoAvailable() ? describe : describe.skip;
describeWithMoto('GetTemplate and DescribeImages over the wire (moto_server)', () => {
  let moto: MotoServer;
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  let cp: ReturnType<typeof mockClient>;
  beforeAll(async () => {
    cp = mockClient(CodePipelineClient);
    moto = await startMoto();
  });
  afterAll(async () => {
    cp.restore();
    await moto?.stop();
  });

  test('the deployed pipeline template and the image tag are read as AWS returns them', async () => {
    cp.on(ListPipelineExecutionsCommand).resolves({
      pipelineExecutionSummaries: [{ pipelineExecutionId: 'e1', executionType: 'STANDARD' }],
    });
    const region = 'eu-west-1';
    const cfn = new CloudFormationClient({ region, endpoint: moto.endpoint, credentials });
    const ecr = new ECRClient({ region, endpoint: moto.endpoint, credentials });
    // The deployed stack: the pipeline resource without prod-wave-2 (moto stores the body it was given).
    const deployed = JSON.parse(deployedWithout('prod-wave-2')) as typeof template;
    const body = {
      Resources: Object.fromEntries(
        Object.entries(deployed.Resources).filter(
          ([, r]) => r.Type === 'AWS::CodePipeline::Pipeline',
        ),
      ),
    };
    await cfn.send(
      new CreateStackCommand({
        StackName: s.pipelineStack.stackName,
        TemplateBody: JSON.stringify(body),
      }),
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: s.config.image.repositoryName }));
    await ecr.send(
      new PutImageCommand({
        repositoryName: s.config.image.repositoryName,
        imageTag: s.imageTag,
        imageManifest: JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          config: {
            mediaType: 'application/vnd.docker.container.image.v1+json',
            size: 1,
            digest: 'sha256:' + 'a'.repeat(64),
          },
          layers: [],
        }),
      }),
    );
    const { root, file } = repoWithConfig(true);
    // moto's account: the registry id the guard asks for must be it
    const cfg = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as {
      pipeline: { account: string };
    };
    cfg.pipeline.account = '123456789012';
    fs.writeFileSync(path.join(root, file), JSON.stringify(cfg));
    const output = memoryOutput();
    const code = await runCli(
      'rollback-guard',
      () =>
        rollbackGuardMain(['--assembly', s.outdir, '--config', file], {
          output,
          cwd: root,
          repoRoot: root,
          clients: () => ({
            cloudFormation: cfn,
            ecr,
            codePipeline: new CodePipelineClient({ region }),
          }),
        }),
      output,
    );
    expect(output.stdout + output.stderr).toContain('stage prod-wave-2 added');
    expect(output.stdout).toContain(
      `image ${s.config.image.repositoryName}:${s.imageTag}: built before`,
    );
    // a pipeline change released with app/ unchanged passes even with the guard on
    expect(code).toBe(0);
  });
});
