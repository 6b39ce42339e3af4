import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BREAKGLASS_CHECK_DIR,
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTargets,
  allEnvironments,
  breakglassReaderRoleName,
  notificationTopicName,
} from '../../lib/config';
import { BREAKGLASS_CHECK_ACTION, PIPELINE_STAGES } from '../../lib/pipeline/pipeline-stack';
import { objectsDigest, parseObjects } from '../../tools/common/manifest-objects';
import { type Synthesized, pipelineStages, projectBuildSpec, synthesize } from '../support/synth';

/**
 * issue 26: a breakglass change blocks the next deploy of its environment before it starts, and a
 * rollback execution is never blocked. CodePipeline's stage rollback re-runs every action of the
 * rolled-back stage (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html),
 * so the check lives only in stages that never roll back (the gate stages, beside the image gates),
 * each before the deploy stages of the environments it checks. On the synthesized pipeline.
 */
let s: Synthesized;
beforeAll(() => {
  s = synthesize();
});

const isCheck = (name: string) => name.startsWith(BREAKGLASS_CHECK_ACTION);

/** The environments a check action names (`--environments a,b`), from its CodeBuild project's buildspec. */
function checkedBy(action: { configuration: Record<string, unknown> }): string[] {
  const project = (action.configuration.ProjectName as { Ref: string }).Ref;
  const spec = projectBuildSpec(s, project);
  const m = /breakglass-check\.cjs --environments ([^ "\\]+)/.exec(spec);
  if (!m) throw new Error(`no breakglass-check command in ${project}`);
  return m[1].split(',');
}

test('every environment is checked in a stage before its deploy stage, and no stage that rolls back holds a check', () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  for (const st of stages.filter((x) => x.onFailure?.Result === 'ROLLBACK'))
    expect(st.actions.filter((a) => isCheck(a.name)).map((a) => `${st.name}: ${a.name}`)).toEqual(
      [],
    );
  const checkedIn = new Map<string, number>();
  stages.forEach((st, i) => {
    for (const a of st.actions.filter((x) => isCheck(x.name))) {
      expect(st.onFailure).toBeUndefined();
      for (const env of checkedBy(a)) checkedIn.set(env, i);
    }
  });
  for (const env of allEnvironments(s.config)) {
    const check = checkedIn.get(env.stageName);
    expect({ env: env.stageName, checked: check !== undefined }).toEqual({
      env: env.stageName,
      checked: true,
    });
    expect(check as number).toBeLessThan(names.indexOf(env.pipelineStageName));
  }
});

test('the prod check runs before the approval: the approver never promotes over an outstanding breakglass change', () => {
  const approval = pipelineStages(s.pipeline).find((st) => st.name === PIPELINE_STAGES.approval)!;
  const check = approval.actions.find((a) => isCheck(a.name))!;
  const manual = approval.actions.find((a) => a.provider === 'Manual')!;
  expect(check.runOrder).toBeLessThan(manual.runOrder);
  expect(checkedBy(check).sort()).toEqual(
    s.config.prod.waves
      .flat()
      .map((e) => e.stageName)
      .sort(),
  );
});

test('each environment stack creates the reader role the check assumes: trusted by the pipeline account, read-only', () => {
  for (const env of allEnvironments(s.config)) {
    const t = s.stages[env.stageName];
    const roles = Object.values(
      t.findResources('AWS::IAM::Role', {
        Properties: { RoleName: env.names.breakglassReaderRole },
      }),
    ) as Array<{
      Properties: {
        AssumeRolePolicyDocument: { Statement: Array<{ Principal: { AWS: unknown } }> };
        Policies: Array<{ PolicyDocument: { Statement: Array<{ Action: string | string[] }> } }>;
      };
    }>;
    expect(roles).toHaveLength(1);
    expect(JSON.stringify(roles[0].Properties.AssumeRolePolicyDocument)).toContain(
      `:iam::${s.config.pipeline.account}:root`,
    );
    const actions = roles[0].Properties.Policies.flatMap((p) =>
      p.PolicyDocument.Statement.flatMap((st) => st.Action),
    );
    expect(actions.sort()).toEqual([
      'cloudformation:DescribeStacks',
      'dynamodb:Query',
      's3:GetObject',
    ]);
  }
});

test('the check compares with exactly the objects each stack applies and stores (prune label aside)', () => {
  const targets = JSON.parse(
    fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
  ) as BreakglassCheckTargets;
  expect(targets.environments.map((e) => e.stageName).sort()).toEqual(
    allEnvironments(s.config)
      .map((e) => e.stageName)
      .sort(),
  );
  for (const target of targets.environments) {
    const rendered = fs.readFileSync(
      path.join(s.outdir, BREAKGLASS_CHECK_DIR, target.manifestFile),
      'utf8',
    );
    // the stored copy: the Body of the stage's PutObject, its one token the partition's URL suffix
    const [put] = Object.values(s.stages[target.stageName].findResources('Custom::AWS')).map(
      (r) => (r as { Properties: { Create: unknown } }).Properties.Create,
    );
    const join = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return o.Ref === 'AWS::URLSuffix' ? 'amazonaws.com' : `<${String(o.Ref)}>`;
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(join).join(sep);
    };
    const body = (JSON.parse(join(put)) as { parameters: { Body: string } }).parameters.Body;
    expect(objectsDigest(parseObjects(rendered, 'rendered'))).toBe(
      objectsDigest(parseObjects(body, 'stored')),
    );
  }
});

test("the notification topic's name follows from the config, and the environments' accounts may publish to it (through SNS's use of its key)", () => {
  s.pipeline.hasResourceProperties('AWS::SNS::Topic', {
    TopicName: notificationTopicName(s.config.pipeline.name),
  });
  const accounts = [...new Set(allEnvironments(s.config).map((e) => e.account))];
  const policies = JSON.stringify(s.pipeline.findResources('AWS::SNS::TopicPolicy'));
  expect(policies).toContain('BreakglassPublish');
  for (const a of accounts) expect(policies).toContain(`:iam::${a}:root`);
  const keys = JSON.stringify(s.pipeline.findResources('AWS::KMS::Key'));
  expect(keys).toContain('BreakglassPublishThroughSns');
  expect(keys).toContain('kms:ViaService');
});

test("the reader role's name fits IAM's 64 characters for a long service name and the longest stage name (40), and stays unique", () => {
  const service = 's'.repeat(20);
  const a = breakglassReaderRoleName(service, `${'a'.repeat(39)}b`);
  const b = breakglassReaderRoleName(service, `${'a'.repeat(39)}c`);
  expect(a.length).toBeLessThanOrEqual(64);
  expect(a).not.toBe(b);
  expect(breakglassReaderRoleName('svc', 'prod-eu-west-1')).toBe('svc-prod-eu-west-1-bg-reader');
});
