import { CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import {
  CodePipelineClient,
  ListPipelineExecutionsCommand,
  type PipelineExecutionSummary,
} from '@aws-sdk/client-codepipeline';
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { RunControl } from '../../../../tools/common/control';
import {
  type Findings,
  type GuardInputs,
  type Known,
  investigate,
  judge,
  pipelineDifferences,
} from '../../../../tools/pipeline/rollback-guard/guard';

/**
 * The rules the guard encodes, from the CodePipeline user guide: "The pipeline can only roll back
 * to a previous execution if the previous execution was started in the current pipeline structure
 * version", and automatic rollback works "only after there is a successful pipeline execution in
 * the pipeline stage" (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html);
 * "You cannot roll back to a target execution ID that is a rollback execution type"
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html). ListPipelineExecutions
 * with succeededInStage lists the executions that succeeded in the stage "in the current pipeline
 * version" (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SucceededInStageFilter.html).
 * ECR DescribeImages answers a missing tag with ImageNotFoundException
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html).
 */

const STAGES = ['preprod-eu-west-1', 'prod-eu-west-1', 'prod-wave-2'];
const inputs = (requireRollbackTarget: boolean): GuardInputs => ({
  pipelineName: 'hello-web-delivery',
  account: '111111111111',
  deployStages: STAGES,
  requireRollbackTarget,
  synthesized: {
    stackName: 'hello-web-delivery-pipeline',
    logicalId: 'Pipeline',
    properties: { Name: 'hello-web-delivery', Stages: [{ Name: 'Source' }] },
  },
  image: { repositoryName: 'hello-web', tag: 'abc123' },
});
const ok = <T>(value: T): Known<T> => ({ ok: true, value });
const no = (reason: string): Known<never> => ({ ok: false, reason });
const target = (id: string): PipelineExecutionSummary => ({
  pipelineExecutionId: id,
  executionType: 'STANDARD',
  startTime: new Date(Date.UTC(2026, 0, 1)),
});
const allTargets = () =>
  new Map(STAGES.map((s) => [s, ok<PipelineExecutionSummary | null>(target(`e-${s}`))]));

function findings(over: Partial<Findings> = {}): Findings {
  return {
    pipelineChanges: ok([]),
    image: ok('new'),
    repositoryEmpty: ok(false),
    targets: allTargets(),
    ...over,
  };
}

describe('what changed in the pipeline definition', () => {
  const stage = (name: string, extra: Record<string, unknown> = {}) => ({ Name: name, ...extra });
  test('nothing: the same properties (key order aside)', () => {
    expect(
      pipelineDifferences(
        { Name: 'p', Stages: [stage('A', { X: 1, Y: 2 })] },
        { Stages: [stage('A', { Y: 2, X: 1 })], Name: 'p' },
      ),
    ).toEqual([]);
  });
  test('a stage added, one changed, one removed, and another property', () => {
    expect(
      pipelineDifferences(
        { Name: 'p', RoleArn: 'a', Stages: [stage('A'), stage('B', { X: 1 }), stage('C')] },
        { Name: 'p', RoleArn: 'b', Stages: [stage('A'), stage('B', { X: 2 }), stage('D')] },
      ),
    ).toEqual(['stage B changed', 'stage D added', 'stage C removed', 'RoleArn changed']);
  });
  test('the same stages in another order', () => {
    expect(
      pipelineDifferences(
        { Stages: [stage('A'), stage('B')] },
        { Stages: [stage('B'), stage('A')] },
      ),
    ).toEqual(['the order of the stages changed']);
  });
});

describe('the verdict', () => {
  test('off (the default): a pipeline change with a new image passes, warns, and the summary says NONE', () => {
    const v = judge(inputs(false), findings({ pipelineChanges: ok(['stage prod-wave-3 added']) }));
    expect(v.refuse).toBe(false);
    expect(v.lines.join('\n')).toContain(
      'pipeline definition: CHANGED by this commit (stage prod-wave-3 added): after UpdatePipeline no stage has a rollback target until this release succeeds in it',
    );
    expect(v.lines.join('\n')).toContain(
      'WARNING: if this release fails in any deploy stage, that stage cannot roll back',
    );
    expect(v.summary).toMatch(/^NONE until this release succeeds in each stage/);
  });

  test('on: a commit that changes both the pipeline and app/ is refused, saying how to release them apart', () => {
    const v = judge(inputs(true), findings({ pipelineChanges: ok(['stage Build changed']) }));
    expect(v.refuse).toBe(true);
    const text = v.lines.join('\n');
    expect(text).toContain(
      "REFUSED (pipeline.requireRollbackTarget): this commit changes both the pipeline's definition and app/ (new image hello-web:abc123)",
    );
    expect(text).toContain('first the pipeline change with app/ as it runs now');
    expect(text).toContain('docs/runbooks/fix-forward.md');
  });

  test('on: a pipeline change with app/ unchanged (the image exists) passes: that is how a pipeline change is released', () => {
    const v = judge(
      inputs(true),
      findings({
        pipelineChanges: ok(['stage Build changed']),
        image: ok('built'),
        repositoryEmpty: undefined,
      }),
    );
    expect(v.refuse).toBe(false);
  });

  test('on: a new image while a stage has not succeeded on this pipeline version is refused, naming the stage', () => {
    const targets = allTargets();
    targets.set('prod-wave-2', ok(null));
    const v = judge(inputs(true), findings({ targets }));
    expect(v.refuse).toBe(true);
    expect(v.lines.join('\n')).toContain('prod-wave-2: NO rollback target');
    expect(v.lines.join('\n')).toContain(
      'REFUSED (pipeline.requireRollbackTarget): prod-wave-2 has no successful execution on the current pipeline version',
    );
    expect(v.summary).toMatch(/^NONE in prod-wave-2 /);
  });

  test('on: the first release ever (no image in the repository) passes: there is nothing to roll back to', () => {
    const targets = new Map(STAGES.map((s) => [s, ok<PipelineExecutionSummary | null>(null)]));
    expect(judge(inputs(true), findings({ targets, repositoryEmpty: ok(true) })).refuse).toBe(
      false,
    );
  });

  test('on: what AWS did not answer counts against a new image (the guard was asked for); off, it only says so', () => {
    const targets = allTargets();
    targets.set('prod-eu-west-1', no('AccessDeniedException: not allowed'));
    const on = judge(inputs(true), findings({ targets }));
    expect(on.refuse).toBe(true);
    expect(on.lines.join('\n')).toContain(
      'prod-eu-west-1: not checked (AccessDeniedException: not allowed)',
    );
    expect(on.lines.join('\n')).toContain(
      'could not tell whether this release would leave a stage without a rollback target',
    );
    expect(judge(inputs(false), findings({ targets })).refuse).toBe(false);
    // the same gap with an image released before: nothing new at risk, so it passes
    expect(judge(inputs(true), findings({ targets, image: ok('built') })).refuse).toBe(false);
  });

  test('every stage has a target and the pipeline is unchanged: passes, and the approval summary says so', () => {
    const v = judge(inputs(true), findings());
    expect(v.refuse).toBe(false);
    expect(v.summary).toBe('every deploy stage has one');
    expect(v.summary.length).toBeLessThanOrEqual(200);
  });
});

describe('reading the facts (aws-sdk-client-mock, documented response shapes)', () => {
  const cfn = mockClient(CloudFormationClient);
  const ecr = mockClient(ECRClient);
  const cp = mockClient(CodePipelineClient);
  beforeEach(() => [cfn, ecr, cp].forEach((m) => m.reset()));
  const clients = () => ({
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    ecr: new ECRClient({ region: 'eu-west-1' }),
    codePipeline: new CodePipelineClient({ region: 'eu-west-1' }),
  });
  const control = () => new RunControl({ timeoutMs: 60_000, callTimeoutMs: 5_000 });
  const deployed = (stages: unknown[]) =>
    JSON.stringify({
      Resources: {
        Pipeline: {
          Type: 'AWS::CodePipeline::Pipeline',
          Properties: { Name: 'hello-web-delivery', Stages: stages },
        },
      },
    });

  test('deployed template, image lookup and each stage: a rollback execution is never a target', async () => {
    cfn.on(GetTemplateCommand, { StackName: 'hello-web-delivery-pipeline' }).resolves({
      TemplateBody: deployed([{ Name: 'Source' }, { Name: 'Old' }]),
    });
    ecr.on(DescribeImagesCommand).rejects(
      Object.assign(new Error('The image requested does not exist'), {
        name: 'ImageNotFoundException',
        $metadata: {},
      }),
    );
    ecr
      .on(DescribeImagesCommand, { maxResults: 1 })
      .resolves({ imageDetails: [{ imageDigest: 'sha256:1' }] });
    cp.on(ListPipelineExecutionsCommand).resolves({
      pipelineExecutionSummaries: [
        { pipelineExecutionId: 'rb', executionType: 'ROLLBACK', startTime: new Date(2) },
        { pipelineExecutionId: 'std', executionType: 'STANDARD', startTime: new Date(1) },
      ],
    });
    const f = await investigate(inputs(true), clients(), control());
    expect(f.pipelineChanges).toEqual(ok(['stage Old removed']));
    expect(f.image).toEqual(ok('new'));
    expect(f.repositoryEmpty).toEqual(ok(false));
    for (const s of STAGES) {
      const t = f.targets.get(s)!;
      expect(t.ok && t.value?.pipelineExecutionId).toBe('std');
    }
  });

  test('an empty repository (the answer has no imageDetails at all) is a first release', async () => {
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: deployed([{ Name: 'Source' }]) });
    ecr.on(DescribeImagesCommand).resolves({});
    cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [] });
    const f = await investigate(inputs(true), clients(), control());
    expect(f.image).toEqual(ok('new'));
    expect(f.repositoryEmpty).toEqual(ok(true));
    expect(judge(inputs(true), f).refuse).toBe(false);
  });

  test('a listing that hands back the same page token is "not checked", never "no target"', async () => {
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: deployed([{ Name: 'Source' }]) });
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: 'sha256:1' }] });
    cp.on(ListPipelineExecutionsCommand).resolves({
      pipelineExecutionSummaries: [{ pipelineExecutionId: 'rb', executionType: 'ROLLBACK' }],
      nextToken: 'same',
    });
    const f = await investigate(inputs(true), clients(), control());
    const t = f.targets.get('prod-wave-2')!;
    expect(t.ok).toBe(false);
    expect(!t.ok && t.reason).toMatch(/same page token twice/);
    expect(f.image).toEqual(ok('built'));
    expect(f.pipelineChanges).toEqual(ok([]));
  });

  test('an AWS error is a reason, not a verdict', async () => {
    cfn.on(GetTemplateCommand).rejects(
      Object.assign(new Error('User is not authorized to perform cloudformation:GetTemplate'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: 'sha256:1' }] });
    cp.on(ListPipelineExecutionsCommand).resolves({ pipelineExecutionSummaries: [] });
    const f = await investigate(inputs(true), clients(), control());
    expect(f.pipelineChanges.ok).toBe(false);
    expect(!f.pipelineChanges.ok && f.pipelineChanges.reason).toContain('not authorized');
    expect(f.targets.get('preprod-eu-west-1')).toEqual(ok(null));
  });
});
