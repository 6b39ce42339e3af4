import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DeliveryConfigInput } from '../../lib/config';
import { STACK_ENVIRONMENTS } from '../../lib/config';
import { OUTPUTS } from '../../lib/stacks/eks-app-stack';
import { readAssemblyStacks } from '../../tools/pipeline/change-report/assembly';
import { APPROVAL_VARIABLE_MAX } from '../../lib/pipeline/notifications';
import {
  REPO_ROOT,
  type Synthesized,
  pipelineStages,
  projectBuildSpec,
  synthesize,
} from '../support/synth';

/**
 * Issue 25: before ApproveProd, the pipeline computes what deploying would change in every prod
 * stack of every wave, beside the prod image gate (no sequential step added), and the approval
 * names it: its text carries the counts, its review link opens the report.
 */
let s: Synthesized;
let blocking: Synthesized;
let example: Synthesized;
beforeAll(() => {
  s = synthesize();
  example = synthesize({
    config: JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'config', 'example-multi-region.json'), 'utf8'),
    ) as DeliveryConfigInput,
  });
  const cfg = structuredClone<DeliveryConfigInput>(STACK_ENVIRONMENTS);
  cfg.prod.changeReport = { blockOn: ['permissions-broadening', 'interruption'] };
  blocking = synthesize({ config: cfg });
});
// each synth holds the kubectl layer (tens of MB) and /tmp is shared
afterAll(() => {
  for (const t of [s, blocking, example]) fs.rmSync(t.outdir, { recursive: true, force: true });
});

type Stage = ReturnType<typeof pipelineStages>[number];
type Action = Stage['actions'][number];
const approvalStage = (t: Synthesized): Stage =>
  pipelineStages(t.pipeline).find((st) => st.actions.some((a) => a.provider === 'Manual'))!;
const commandsOf = (t: Synthesized, a: Action): string =>
  projectBuildSpec(t, (a.configuration.ProjectName as { Ref: string }).Ref);
const reportAction = (t: Synthesized): Action => {
  const found = approvalStage(t).actions.filter(
    (a) => a.provider === 'CodeBuild' && commandsOf(t, a).includes('change-report.cjs'),
  );
  expect(found).toHaveLength(1);
  return found[0];
};
interface RawAction {
  Name: string;
  Namespace?: string;
  Configuration?: Record<string, unknown>;
}
function rawApproval(t: Synthesized): { approval: RawAction; actions: RawAction[] } {
  const pipeline = Object.values(t.pipeline.findResources('AWS::CodePipeline::Pipeline'))[0] as {
    Properties: { Stages: { Name: string; Actions: RawAction[] }[] };
  };
  const stage = pipeline.Properties.Stages.find((st) => st.Name === approvalStage(t).name)!;
  return { approval: stage.Actions.find((a) => a.Name === 'ApproveProd')!, actions: stage.Actions };
}

test('the report runs in the approval stage, beside the prod image gate, before the approval', () => {
  const stage = approvalStage(s);
  const report = reportAction(s);
  const gate = stage.actions.find((a) => a.name === 'ImageGate-prod')!;
  const manual = stage.actions.find((a) => a.provider === 'Manual')!;
  expect(report.runOrder).toBe(gate.runOrder);
  expect(report.runOrder).toBeLessThan(manual.runOrder);
});

test('it covers every prod stage of every wave, in wave order', () => {
  const waves = s.config.prod.waves.map((w) => w.map((e) => e.stageName).join(',')).join(';');
  expect(commandsOf(s, reportAction(s))).toContain(`--waves '${waves}'`);
});

test('it tells the release (the image output the stacks export) from infrastructure changes', () => {
  expect(commandsOf(s, reportAction(s))).toContain(`--image-output ${OUTPUTS.imageTag}`);
});

test('its role may assume exactly the lookup roles the cloud assembly names for the prod stacks, nothing more', () => {
  const prodStages = new Set(s.config.prod.waves.flat().map((e) => e.stageName));
  const named = readAssemblyStacks(s.outdir)
    .filter((st) => prodStages.has(st.stage))
    .map((st) => st.lookupRoleArn!);
  expect(named).toHaveLength(prodStages.size);
  // the policies of the report action's CodeBuild role (the bake's roles assume lookup roles too)
  const resources = (s.pipeline.toJSON() as { Resources: Record<string, unknown> }).Resources;
  const project = resources[(reportAction(s).configuration.ProjectName as { Ref: string }).Ref] as {
    Properties: { ServiceRole: { 'Fn::GetAtt': [string, string] } };
  };
  const role = project.Properties.ServiceRole['Fn::GetAtt'][0];
  const policies = (
    Object.values(s.pipeline.findResources('AWS::IAM::Policy')) as {
      Properties: {
        Roles: { Ref?: string }[];
        PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] };
      };
    }[]
  ).filter((p) => p.Properties.Roles.some((r) => r.Ref === role));
  expect(policies.length).toBeGreaterThan(0);
  const assumable = policies
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .filter((st) => JSON.stringify(st.Action).includes('sts:AssumeRole'))
    .flatMap((st): unknown[] =>
      Array.isArray(st.Resource) ? (st.Resource as unknown[]) : [st.Resource],
    )
    .map((r) => JSON.stringify(r));
  // the grant has the partition as a token; the manifest as a placeholder
  const asGranted = (arn: string) =>
    JSON.stringify({
      'Fn::Join': [
        '',
        arn
          .split('${AWS::Partition}')
          .flatMap((p, i) => (i === 0 ? [p] : [{ Ref: 'AWS::Partition' }, p])),
      ],
    });
  expect(assumable.sort()).toEqual(named.map(asGranted).sort());
});

test('the approval text carries the summary and its review link opens the report', () => {
  const { approval, actions } = rawApproval(s);
  const reportNs = actions.find((a) => a.Name === reportAction(s).name)!.Namespace;
  expect(reportNs).toBeDefined();
  expect(approval.Configuration?.CustomData).toContain(`#{${reportNs}.CHANGE_SUMMARY}`);
  expect(approval.Configuration?.ExternalEntityLink).toBe(`#{${reportNs}.REPORT_URL}`);
});

describe.each([
  ['default config', () => s],
  ['example config (three waves, two deployment windows)', () => example],
])("the approval text fits CodePipeline's 1000 characters (%s)", (_, get) => {
  // https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionConfiguration.html
  test('with every variable at its longest, the summary at the length its action is told', () => {
    const t = get();
    const { approval } = rawApproval(t);
    const text = String(approval.Configuration?.CustomData);
    const summaryMax = Number(/--summary-max (\d+)/.exec(commandsOf(t, reportAction(t)))![1]);
    const longest: Record<string, number> = {
      CommitId: APPROVAL_VARIABLE_MAX.commit,
      IMAGE_TAG: t.imageTag.length,
      ROLLBACK_TARGETS: APPROVAL_VARIABLE_MAX.rollbackTargets,
      NODE_AMIS: APPROVAL_VARIABLE_MAX.nodeAmis,
      CHANGE_SUMMARY: summaryMax,
    };
    const names = [...text.matchAll(/#\{[^.}]+\.([A-Za-z_]+)\}/g)].map((m) => m[1]);
    expect(names.filter((n) => !(n in longest))).toEqual([]);
    const resolved = text.replace(/#\{[^.}]+\.([A-Za-z_]+)\}/g, (_m, name: string) =>
      'x'.repeat(longest[name]),
    );
    expect(resolved.length).toBeLessThanOrEqual(1000);
    // and the approver still reads counts, not a stub
    expect(summaryMax).toBeGreaterThanOrEqual(40);
  });
});

test('by default nothing blocks; prod.changeReport.blockOn makes those findings fail the action', () => {
  expect(commandsOf(s, reportAction(s))).not.toContain('--block-on');
  expect(commandsOf(blocking, reportAction(blocking))).toContain(
    '--block-on permissions-broadening,interruption',
  );
});

test('the report is stored under change-reports/ of the artifact bucket and the topic is told', () => {
  const resources = (s.pipeline.toJSON() as { Resources: Record<string, unknown> }).Resources;
  const project = resources[(reportAction(s).configuration.ProjectName as { Ref: string }).Ref] as {
    Properties: { Environment: { EnvironmentVariables: { Name: string; Value: unknown }[] } };
  };
  const env = Object.fromEntries(
    project.Properties.Environment.EnvironmentVariables.map((v) => [
      v.Name,
      JSON.stringify(v.Value),
    ]),
  );
  expect(env.REPORT_BUCKET).toMatch(/"Ref":"Artifacts/);
  expect(env.TOPIC_ARN).toMatch(/"Ref":"NotificationsTopic/);
  const statements = JSON.stringify(s.pipeline.findResources('AWS::IAM::Policy'));
  expect(statements).toMatch(/"sns:Publish"/);
  expect(statements).toMatch(/\/change-reports\/\*/);
});
