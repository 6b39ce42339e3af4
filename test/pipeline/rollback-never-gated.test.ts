import { allEnvironments } from '../../lib/config';
import { imageGateStageName } from '../../lib/pipeline/image-gate-stage';
import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/**
 * CodePipeline's stage rollback re-runs every action of the stage it rolls back
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html). A gate inside a
 * deploy stage would judge the older image again, and block the rollback on a CRITICAL found
 * since or an expired scan. So no stage that rolls back holds a gate; each deploy stage is preceded
 * by a stage holding exactly the gates of its regions (docs/decisions/0011-rollback-never-gated.md).
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

test("each deploy stage comes right after its own gate stage, which gates exactly that stage's regions and never rolls back", () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  const envs = allEnvironments(s.config);
  for (const deployStage of [...new Set(envs.map((e) => e.pipelineStageName))]) {
    const gateStage = stages[names.indexOf(deployStage) - 1];
    expect(gateStage.name).toBe(imageGateStageName(deployStage));
    expect(gateStage.onFailure).toBeUndefined();
    const gated = gateStage.actions.map((a) => a.name).sort();
    expect(gated).toEqual(
      envs
        .filter((e) => e.pipelineStageName === deployStage)
        .map((e) => `ImageGate-${e.stageName}`)
        .sort(),
    );
    // Every gate of a wave runs at once: the wave's regions are checked in parallel.
    expect(new Set(gateStage.actions.map((a) => a.runOrder)).size).toBe(1);
  }
});

test('every image gate in the pipeline sits in a gate stage, and there is one per environment', () => {
  const gates = pipelineStages(s.pipeline).flatMap((st) =>
    st.actions.filter((a) => isGate(a.name)).map((a) => ({ stage: st.name, name: a.name })),
  );
  expect(gates).toHaveLength(allEnvironments(s.config).length);
  for (const gate of gates) expect(gate.stage).toMatch(/^ImageGate-/);
});
