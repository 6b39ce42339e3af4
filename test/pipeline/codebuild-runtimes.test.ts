import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  CODEBUILD_IMAGES,
  GO_TOOLCHAIN,
  RUNTIME_VERSIONS,
} from '../../lib/pipeline/codebuild-images';
import { REPO_ROOT } from '../support/paths';
import { type Synthesized, projectBuildSpec, synthesize } from '../support/synth';

/**
 * CodeBuild puts on PATH only the runtimes a buildspec selects in `phases.install.runtime-versions`;
 * anything else runs the image's default (Go 1.20 on standard:7.0) or fails to install
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html). So every
 * synthesized step, CDK Pipelines' own included, must select each runtime it runs, at a version
 * its image offers (lib/pipeline/codebuild-images.ts, from the images' runtimes.yml), and nothing else.
 */
type Runtime = 'nodejs' | 'golang' | 'python';
const TOOLS: Record<string, Runtime> = {
  node: 'nodejs',
  npm: 'nodejs',
  npx: 'nodejs',
  cdk: 'nodejs',
  'cdk-assets': 'nodejs',
  go: 'golang',
  python: 'python',
  python3: 'python',
  pip: 'python',
  pip3: 'python',
};

interface Step {
  readonly name: string;
  readonly image: string;
  readonly spec: {
    phases?: Record<string, { 'runtime-versions'?: Record<string, string>; commands?: string[] }>;
    env?: { variables?: Record<string, string> };
  };
}

const packageScripts = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/**
 * The runtimes a list of shell commands runs, following `bash <script>` into the repository's
 * scripts and `npm run <name>` / `npm test` into package.json, so that a step running
 * `bash scripts/setup-python.sh` is known to run pip.
 */
export function runtimesRun(commands: readonly string[], seen = new Set<string>()): Set<Runtime> {
  const found = new Set<Runtime>();
  for (const command of commands) {
    const code = command
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    for (const word of code.split(/[^A-Za-z0-9_.+-]+/)) if (TOOLS[word]) found.add(TOOLS[word]);
    const follow = (key: string, lines: () => string[]) => {
      if (seen.has(key)) return;
      seen.add(key);
      for (const r of runtimesRun(lines(), seen)) found.add(r);
    };
    for (const m of code.matchAll(/\bbash\s+([\w./-]+\.sh)\b/g)) {
      const file = path.join(REPO_ROOT, m[1]);
      if (fs.existsSync(file)) follow(file, () => fs.readFileSync(file, 'utf8').split('\n'));
    }
    for (const m of code.matchAll(/\bnpm\s+(?:run(?:-script)?\s+([\w:-]+)|(test)\b)/g)) {
      const script = m[1] ?? m[2];
      if (packageScripts[script]) follow(`npm:${script}`, () => [packageScripts[script]]);
    }
  }
  return found;
}

let s: Synthesized;
let steps: Step[];
beforeAll(() => {
  s = synthesize();
  const projects = s.pipeline.findResources('AWS::CodeBuild::Project') as Record<
    string,
    { Properties: { Environment: { Image: string } } }
  >;
  steps = Object.entries(projects).map(([name, p]) => ({
    name,
    image: p.Properties.Environment.Image,
    spec: parse(projectBuildSpec(s, name)) as Step['spec'],
  }));
});

const commandsOf = (step: Step) =>
  Object.values(step.spec.phases ?? {}).flatMap((p) => p.commands ?? []);
const selected = (step: Step) => step.spec.phases?.install?.['runtime-versions'] ?? {};

test('the command scan sees through scripts and npm scripts (so the main test cannot pass vacuously)', () => {
  expect([...runtimesRun(['bash scripts/setup-python.sh'])]).toEqual(['python']);
  expect([...runtimesRun(['bash app/scripts/test.sh'])]).toEqual(['golang']);
  expect([...runtimesRun(['npm run test:unit'])]).toEqual(['nodejs']);
  expect([...runtimesRun(['echo "# not run"', '# go vet'])]).toEqual([]);
});

test('every CodeBuild step, including those CDK Pipelines creates, runs on an image in the table', () => {
  // synth, self-mutation, asset publishing, image build, pre-prod's gate and the prod gate, and a
  // smoke test with its bake per environment
  expect(steps.length).toBeGreaterThanOrEqual(4 + 2 + Object.keys(s.stages).length);
  for (const step of steps)
    expect({ step: step.name, known: step.image in CODEBUILD_IMAGES }).toEqual({
      step: step.name,
      known: true,
    });
});

test('every step selects exactly the runtimes it runs, each at a version its image offers', () => {
  for (const step of steps) {
    const offers = CODEBUILD_IMAGES[step.image];
    const runs = [...runtimesRun(commandsOf(step))].sort();
    expect({ step: step.name, selects: Object.keys(selected(step)).sort() }).toEqual({
      step: step.name,
      selects: runs,
    });
    for (const runtime of runs) {
      const version = selected(step)[runtime];
      expect({
        step: step.name,
        runtime,
        version,
        offered: offers[runtime].includes(version),
      }).toEqual({ step: step.name, runtime, version, offered: true });
    }
  }
});

test('Node 24 wherever the image offers it (22 only where it does not); Go 1.26 wherever Go runs', () => {
  for (const step of steps) {
    const offers = CODEBUILD_IMAGES[step.image];
    const v = selected(step);
    if (v.nodejs !== undefined) expect(v.nodejs).toBe(offers.nodejs.includes('24') ? '24' : '22');
    if (v.golang !== undefined) expect(v.golang).toBe('1.26');
  }
  expect(RUNTIME_VERSIONS.nodejs).toBe('24');
});

test('the Go steps pin the toolchain that builds the image (app/Dockerfile)', () => {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'app', 'Dockerfile'), 'utf8');
  const builder = /golang:(\d+\.\d+\.\d+)/.exec(dockerfile);
  expect(builder).not.toBeNull();
  expect(GO_TOOLCHAIN).toBe(`go${builder![1]}`);
  const goSteps = steps.filter((st) => runtimesRun(commandsOf(st)).has('golang'));
  expect(goSteps.length).toBeGreaterThan(0);
  for (const st of goSteps) expect(st.spec.env?.variables?.GOTOOLCHAIN).toBe(GO_TOOLCHAIN);
});
