import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEFAULT_SERVICE,
  type DeliveryConfigInput,
  allEnvironments,
  environmentNames,
} from '../../lib/config';
import {
  REPO_ROOT,
  type Synthesized,
  pipelineStages,
  projectBuildSpec,
  synthesize,
} from '../support/synth';

const namesOf = (stageName: string) => environmentNames(DEFAULT_SERVICE.name, stageName);

/**
 * Issue 16: at most 15 sequential steps from a push to the last prod region, counting every safety
 * step (image gate, smoke test, bake, manual approval). A step is what CodePipeline runs one after
 * another: the actions of one stage that share a runOrder (actions of a runOrder run in parallel,
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html#action-requirements).
 * Each one costs real time even when its work is short: CodeBuild provisions a build per action.
 */
type Stages = ReturnType<typeof pipelineStages>;
type Action = Stages[number]['actions'][number];
type Env = ReturnType<typeof allEnvironments>[number];

/** The action that deploys an environment's stack (its CloudFormation stack name is unique). */
const deploys = (env: Env) => (a: Action) =>
  a.provider === 'CloudFormation' && a.configuration.StackName === env.stackName;

let s: Synthesized;
let example: Synthesized;
beforeAll(() => {
  s = synthesize();
  const raw = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'config', 'example-multi-region.json'), 'utf8'),
  ) as DeliveryConfigInput;
  example = synthesize({ config: raw });
});

/** Sequential steps from the first stage through the last stage that deploys, approval included. */
function sequentialSteps(stages: Stages): number {
  const lastDeploy = Math.max(
    ...stages.map((st, i) => (st.actions.some((a) => a.provider === 'CloudFormation') ? i : -1)),
  );
  return stages
    .slice(0, lastDeploy + 1)
    .reduce((n, st) => n + new Set(st.actions.map((a) => a.runOrder)).size, 0);
}

interface Project {
  Properties: { Environment: unknown };
}
function projectOf(t: Synthesized, action: Action): Project {
  const ref = (action.configuration.ProjectName as { Ref?: string }).Ref;
  const resources = (t.pipeline.toJSON() as { Resources: Record<string, Project> }).Resources;
  const project = ref ? resources[ref] : undefined;
  if (!project) throw new Error(`no CodeBuild project for ${action.name}`);
  return project;
}
/** The buildspec of the CodeBuild project a pipeline action runs. */
function commandsOf(t: Synthesized, action: Action): string {
  return projectBuildSpec(t, (action.configuration.ProjectName as { Ref: string }).Ref);
}

test('the default config reaches its last prod region in at most 15 sequential steps', () => {
  expect(sequentialSteps(pipelineStages(s.pipeline))).toBeLessThanOrEqual(15);
});

test('each further prod wave costs two steps: deploy, then smoke test and bake', () => {
  const extraWaves = example.config.prod.waves.length - s.config.prod.waves.length;
  expect(extraWaves).toBeGreaterThan(0);
  expect(
    sequentialSteps(pipelineStages(example.pipeline)) - sequentialSteps(pipelineStages(s.pipeline)),
  ).toBe(2 * extraWaves);
});

describe.each([
  ['default config', () => s],
  ['example config', () => example],
])('no safety step was removed to get there (%s)', (_, get) => {
  test('every environment is gated after the image is built and before it deploys (prod: after pre-prod), outside any stage that rolls back', () => {
    const t = get();
    const stages = pipelineStages(t.pipeline);
    const stageOf = (env: Env) => stages.findIndex((st) => st.actions.some(deploys(env)));
    const built = stages.findIndex((st) =>
      st.actions.some((a) => a.provider === 'CodeBuild' && /docker build/.test(commandsOf(t, a))),
    );
    expect(built).toBeGreaterThan(0);
    for (const env of allEnvironments(t.config)) {
      // a prod region's gate judges the image after pre-prod's bake, not before it
      const from = env === t.config.preprod ? built + 1 : stageOf(t.config.preprod) + 1;
      const gates = stages.slice(from, stageOf(env)).flatMap((st) =>
        st.actions
          .filter((a) => a.provider === 'CodeBuild' && /image-gate\.cjs/.test(commandsOf(t, a)))
          .filter((a) => new RegExp(`--regions \\S*\\b${env.region}\\b`).test(commandsOf(t, a)))
          .map(() => st),
      );
      expect(gates.length).toBeGreaterThan(0);
      for (const st of gates) expect(st.onFailure).toBeUndefined();
    }
  });

  test('every environment is smoke-tested and baked after it deploys, in the stage that rolls back', () => {
    const t = get();
    for (const env of allEnvironments(t.config)) {
      const stage = pipelineStages(t.pipeline).find((st) => st.actions.some(deploys(env)))!;
      expect(stage.onFailure).toEqual({ Result: 'ROLLBACK' });
      const deploy = stage.actions.find(deploys(env))!;
      const after = stage.actions.filter((a) => a.runOrder > deploy.runOrder);
      const runs = (re: RegExp) =>
        after.filter((a) => a.provider === 'CodeBuild' && re.test(commandsOf(t, a)));
      expect(runs(/smoke-test\.cjs/).length).toBeGreaterThan(0);
      // the bake watches this environment's alarm: its name reaches the build as a variable, of
      // the action or of the project
      const bakes = after.filter(
        (a) =>
          a.provider === 'CodeBuild' &&
          JSON.stringify([a.configuration, projectOf(t, a).Properties.Environment]).includes(
            namesOf(env.stageName).bakeAlarm,
          ),
      );
      expect(bakes).toHaveLength(1);
      expect(commandsOf(t, bakes[0])).toContain('describe-alarms');
    }
  });

  test('a manual approval stands between pre-prod and the first prod deployment', () => {
    const t = get();
    const stages = pipelineStages(t.pipeline);
    const approval = stages.findIndex((st) => st.actions.some((a) => a.provider === 'Manual'));
    const stageOf = (env: Env) => stages.findIndex((st) => st.actions.some(deploys(env)));
    expect(approval).toBeGreaterThan(stageOf(t.config.preprod));
    for (const env of t.config.prod.waves.flat()) expect(stageOf(env)).toBeGreaterThan(approval);
    // the approver promotes an image the prod gate has passed: no gate runs beside the approval
    const manual = stages[approval].actions.find((a) => a.provider === 'Manual')!;
    for (const a of stages[approval].actions.filter((x) => x !== manual))
      expect(a.runOrder).toBeLessThan(manual.runOrder);
  });
});
