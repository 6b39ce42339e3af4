import * as fs from 'node:fs';
import * as path from 'node:path';
import { allEnvironments } from '../../lib/config';
import { type PipelineStage, readPipelineStages } from '../../tools/dev/diagram';
import { RUNBOOKS_DIR, runbookAwsCommands, runbookLines } from '../support/runbook-commands';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * What the runbooks say about the pipeline and about the order of their own steps, checked
 * against the synthesized pipeline and the repository (issue 23: the runbooks drifted from the
 * pipeline). test/docs/runbook-aws.test.ts runs their `aws` lines; this file checks the claims
 * around them.
 */
const RUNBOOKS = fs.readdirSync(RUNBOOKS_DIR).filter((f) => f.endsWith('.md'));
const text = (file: string) => fs.readFileSync(path.join(RUNBOOKS_DIR, file), 'utf8');
/** Prose as one line per paragraph (a sentence may wrap). */
const prose = (file: string) => text(file).replace(/\n(?!\n)\s*/g, ' ');

let s: Synthesized;
let stages: PipelineStage[];
beforeAll(() => {
  s = synthesize();
  stages = readPipelineStages(s.pipeline.toJSON());
}, 300000);
afterAll(() => fs.rmSync(s.outdir, { recursive: true, force: true }));

/** What one region does in a deploy stage, by the kind of its actions. */
const ACTIVITIES: ReadonlyArray<readonly [string, RegExp, (action: string) => boolean]> = [
  ['image gate', /image gate/i, (a) => /ImageGate/.test(a)],
  ['deployment', /deploy/i, (a) => /\.Deploy$/.test(a)],
  ['smoke test', /smoke test/i, (a) => /SmokeAndBake/.test(a)],
];

test('"Each region [deploys, then] runs ...": what a prod region runs is what its deploy stage holds', () => {
  const prodStacks = allEnvironments(s.config)
    .filter((env) => env.stageName.startsWith('prod-'))
    .map((env) => env.stackName);
  const prodStages = stages.filter((st) =>
    st.actions.some((a) => prodStacks.some((stack) => a.name.endsWith(`${stack}.Deploy`))),
  );
  expect(prodStages.length).toBeGreaterThan(1);
  const held = ACTIVITIES.filter(([, , isIt]) =>
    prodStages.every((st) => st.actions.some((a) => isIt(a.name))),
  ).map(([name]) => name);
  const claims = RUNBOOKS.flatMap((f) =>
    [...prose(f).matchAll(/Each region ((?:deploys, then )?runs [^.;]+)/g)].map((m) => ({ file: f, claim: m[1] })),
  );
  expect(claims.length).toBeGreaterThan(0);
  for (const { file, claim } of claims) {
    const said = ACTIVITIES.filter(([, re]) => re.test(claim)).map(([name]) => name);
    expect({ file, claim, said }).toEqual({ file, claim, said: held });
  }
});

test('no runbook speaks of change-set actions unless the pipeline has them', () => {
  const modes = new Set(
    stages.flatMap((st) =>
      st.actions.map((a) => a.configuration.ActionMode).filter((m) => typeof m === 'string'),
    ),
  );
  const changeSets = [...modes].some((m) => String(m).startsWith('CHANGE_SET'));
  const claims = RUNBOOKS.filter((f) => /change[- ]sets? actions?/i.test(prose(f)));
  expect({ modes: [...modes], claims: changeSets ? [] : claims }).toEqual({
    modes: [...modes],
    claims: [],
  });
});

test('a runbook that creates a config file uses it only after the step that creates it', () => {
  const problems: string[] = [];
  for (const file of RUNBOOKS) {
    const lines = runbookLines(file).filter((x) => x.inBlock);
    const createdAt = new Map<string, number>();
    lines.forEach((l, i) => {
      const made = /^(?:cp|mv)\s+\S+\s+(config\/\S+\.json)\b/.exec(l.text);
      if (made && !createdAt.has(made[1])) createdAt.set(made[1], i);
    });
    lines.forEach((l, i) => {
      for (const m of l.text.matchAll(
        /(?:-c\s+config=|--config[\s=]|DELIVERY_CONFIG=)(config\/[\w./-]+\.json)/g,
      )) {
        const at = createdAt.get(m[1]);
        if (at !== undefined && i < at)
          problems.push(`${file}:${l.line}: uses ${m[1]} before the step that creates it`);
      }
    });
  }
  expect(problems).toEqual([]);
});

test('a runbook that pushes to a codecommit:: remote says how to install git-remote-codecommit', () => {
  const users = RUNBOOKS.filter((f) => runbookLines(f).some((l) => /codecommit::/.test(l.text)));
  expect(users.length).toBeGreaterThan(0);
  for (const file of users)
    expect({
      file,
      installs: /pipx? install[^\n`]*git-remote-codecommit/.test(text(file)),
    }).toEqual({
      file,
      installs: true,
    });
});

test('there is a runbook for adding a region: bootstrap, preflight, no rollback target, replication backfill', () => {
  const index = text('README.md');
  const link = /\[(adding-a-region\.md)\]\(adding-a-region\.md\)/.exec(index);
  expect(link).not.toBeNull();
  const body = prose('adding-a-region.md');
  const lines = runbookLines('adding-a-region.md').map((l) => l.text);
  const pipelineAccount = s.config.pipeline.account;
  // bootstrap: the environment's account in the new region trusting the pipeline account, and the
  // pipeline account in the new region
  expect(
    lines.some((l) =>
      new RegExp(`cdk bootstrap aws://\\d{12}/[a-z0-9-]+ --trust ${pipelineAccount}\\b`).test(l),
    ),
  ).toBe(true);
  expect(
    lines.some((l) => new RegExp(`cdk bootstrap aws://${pipelineAccount}/[a-z0-9-]+$`).test(l)),
  ).toBe(true);
  expect(lines.some((l) => /^npx delivery preflight\b/.test(l))).toBe(true);
  // CodePipeline rolls back only to an execution of the current pipeline structure
  expect(body).toMatch(/no rollback target/i);
  expect(body).toMatch(/current\*?\*? pipeline structure/i);
  // replication copies only images pushed after the rule exists
  expect(body).toMatch(/replication[^.]*only images pushed \*?\*?after/i);
  expect(runbookAwsCommands('adding-a-region.md').map((c) => c.command)).toContainEqual(
    expect.stringMatching(/^aws ecr describe-images --repository-name \S+ --region \S+/),
  );
});
