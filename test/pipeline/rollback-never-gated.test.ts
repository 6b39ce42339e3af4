import { allEnvironments } from '../../lib/config';
import { imageGateStageName } from '../../lib/pipeline/image-gate-stage';
import { PIPELINE_STAGES, PROD_GATE_ACTION } from '../../lib/pipeline/pipeline-stack';
import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/**
 * CodePipeline's stage rollback re-runs every action of the stage it rolls back
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html). A gate inside a
 * deploy stage would judge the older image again, and block the rollback on a CRITICAL found
 * since or an expired scan. So no stage that rolls back holds a gate: pre-prod's gate has a stage of
 * its own before pre-prod, and the prod regions' gate runs in the approval stage, before the
 * approval (docs/decisions/0011-rollback-never-gated.md, 0022-path-to-prod.md).
 */
let s: Synthesized;
beforeAll(() => {
  s = synthesize();
});

const isGate = (name: string): boolean => name.includes('ImageGate');

test('no stage that rolls back on failure runs an image gate', () => {
  const rolling = pipelineStages(s.pipeline).filter((st) => st.onFailure?.Result === 'ROLLBACK');
  expect(rolling.map((st) => st.name)).toEqual(
    expect.arrayContaining(['preprod-eu-west-1', 'prod-eu-west-1', 'prod-wave-2']),
  );
  for (const st of rolling)
    expect(st.actions.filter((a) => isGate(a.name)).map((a) => `${st.name}: ${a.name}`)).toEqual(
      [],
    );
});

test("pre-prod's stage comes right after its own gate stage, which gates its region and never rolls back", () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  const deployStage = s.config.preprod.pipelineStageName;
  const gateStage = stages[names.indexOf(deployStage) - 1];
  expect(gateStage.name).toBe(imageGateStageName(deployStage));
  expect(gateStage.onFailure).toBeUndefined();
  // beside the gate, the breakglass check (test/pipeline/breakglass-block.test.ts)
  expect(gateStage.actions.map((a) => a.name).sort()).toEqual([
    `BreakglassCheck-${s.config.preprod.stageName}`,
    `ImageGate-${s.config.preprod.stageName}`,
  ]);
});

test('every prod region is gated in the approval stage, before the approval, in one action', () => {
  const approval = pipelineStages(s.pipeline).find((st) => st.name === PIPELINE_STAGES.approval)!;
  expect(approval.onFailure).toBeUndefined();
  const gates = approval.actions.filter((a) => isGate(a.name));
  expect(gates.map((a) => a.name)).toEqual([PROD_GATE_ACTION]);
  const manual = approval.actions.find((a) => a.provider === 'Manual')!;
  expect(gates[0].runOrder).toBeLessThan(manual.runOrder);
});

test('there are exactly two gates, and no deploy stage holds one', () => {
  const gates = pipelineStages(s.pipeline).flatMap((st) =>
    st.actions.filter((a) => isGate(a.name)).map((a) => ({ stage: st.name, name: a.name })),
  );
  expect(gates.map((g) => g.stage)).toEqual([
    imageGateStageName(s.config.preprod.pipelineStageName),
    PIPELINE_STAGES.approval,
  ]);
  const deployStages = new Set(allEnvironments(s.config).map((e) => e.pipelineStageName));
  for (const gate of gates) expect(deployStages.has(gate.stage)).toBe(false);
});
