import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { allEnvironments, validateConfig } from '../../lib/config';
import { prodRegionsConfig } from '../../bench/configs';
import { type Measurement, parseGnuTime } from '../../bench/measure';
import { type PipelineShape, pipelineShape } from '../../bench/pipeline-shape';
import { type BenchResults, type MachineInfo, type SynthCase, baselineComparison, growthRatio, integrationRow, parseGateTimes, verdicts } from '../../bench/report';
import { leastSquares, median } from '../../bench/stats';

// The helpers behind docs/performance.md (npm run bench). The benchmark itself is not a test;
// these check that what it derives from a template is derived correctly.

test('median and least squares', () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(() => median([])).toThrow(/no values/);
  const fit = leastSquares([
    { x: 3, y: 10 },
    { x: 8, y: 12.5 },
    { x: 16, y: 16.5 },
  ]);
  expect(fit.slope).toBeCloseTo(0.5, 5);
  expect(fit.intercept).toBeCloseTo(8.5, 5);
  expect(fit.r2).toBeCloseTo(1, 5);
});

test.each([
  [8, [1, 4, 3]],
  // Two waves of 8 and 7 would not bake: a stage condition holds at most 5 alarm rules.
  [16, [1, 5, 5, 5]],
])('the generated %i-region config is valid: one region first, the rest in waves that can bake, aws partition only', (n, sizes) => {
  const config = validateConfig(prodRegionsConfig(n));
  const waves = config.prod.waves;
  expect(waves.map((w) => w.length)).toEqual(sizes);
  const regions = waves.flat().map((e) => e.region);
  expect(new Set(regions).size).toBe(n);
  expect(regions.slice(0, 3)).toEqual(['eu-west-1', 'us-east-1', 'ap-southeast-2']);
  expect(regions.every((r) => RegionInfo.get(r).partition === 'aws')).toBe(true);
  expect(allEnvironments(config)).toHaveLength(n + 1);
});

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A minimal cloud assembly with the shape CDK Pipelines gives: a gate stage, then a deploy stage (Deploy, then smoke test and bake). */
function fakeAssembly(publishCommands: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-shape-'));
  tempDirs.push(dir);
  const action = (name: string, runOrder: number, category: string, provider: string, extra: Record<string, unknown> = {}) => ({ Name: name, RunOrder: runOrder, ActionTypeId: { Category: category, Owner: 'AWS', Provider: provider, Version: '1' }, ...extra });
  const gateStage = (name: string) => ({ Name: `ImageGate-${name}`, Actions: [action(`ImageGate-${name}`, 1, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'Synth_Output' }] })] });
  const deployStage = (name: string) => ({
    Name: name,
    OnFailure: { Result: 'ROLLBACK' },
    Actions: [
      action(`${name}.Deploy`, 1, 'Deploy', 'CloudFormation', { InputArtifacts: [{ Name: 'Synth_Output' }], Namespace: `${name}-ns`, Configuration: { StackName: name, ActionMode: 'CREATE_UPDATE' } }),
      action(`SmokeAndBake-${name}`, 2, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'Synth_Output' }], Configuration: { EnvironmentVariables: `[{"value":"#{${name}-ns.ServiceUrl}"}]` } }),
    ],
  });
  const template = {
    Resources: {
      Pipeline: {
        Type: 'AWS::CodePipeline::Pipeline',
        Properties: {
          Stages: [
            { Name: 'Source', Actions: [action('ignored', 1, 'Source', 'CodeCommit', { Name: { 'Fn::GetAtt': ['Repo', 'Name'] }, OutputArtifacts: [{ Name: 'abcdef0123456789abcdef_Source' }] })] },
            { Name: 'Build', Actions: [action('Synth', 1, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'abcdef0123456789abcdef_Source' }], OutputArtifacts: [{ Name: 'Synth_Output' }] })] },
            { Name: 'Assets', Actions: [action('FileAssets', 1, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'Synth_Output' }], Configuration: { ProjectName: { Ref: 'AssetsProject' } } })] },
            { Name: 'Image', Actions: [action('BuildImage', 1, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'abcdef0123456789abcdef_Source' }, { Name: 'Synth_Output' }] })] },
            gateStage('preprod'),
            deployStage('preprod'),
            { Name: 'PromoteToProd', Actions: [action('ImageGate-prod', 1, 'Build', 'CodeBuild', { InputArtifacts: [{ Name: 'Synth_Output' }] }), action('ApproveProd', 2, 'Approval', 'Manual')] },
            deployStage('prod'),
          ],
        },
      },
      AssetsProject: { Type: 'AWS::CodeBuild::Project', Properties: { Source: { BuildSpec: 'buildspec-assets.yaml' } } },
      OtherProject: { Type: 'AWS::CodeBuild::Project', Properties: {} },
    },
  };
  fs.writeFileSync(path.join(dir, 'HelloWebPipeline.template.json'), JSON.stringify(template));
  fs.writeFileSync(path.join(dir, 'buildspec-assets.yaml'), JSON.stringify({ version: '0.2', phases: { build: { commands: publishCommands } } }));
  fs.writeFileSync(path.join(dir, 'HelloWebPipeline.assets.json'), JSON.stringify({ files: { t: { source: { path: 'HelloWebPipeline.template.json' } } }, dockerImages: {} }));
  fs.mkdirSync(path.join(dir, 'assembly-HelloWebPipeline-preprod'));
  fs.writeFileSync(path.join(dir, 'assembly-HelloWebPipeline-preprod', 'Stack.assets.json'), JSON.stringify({ files: { a: { source: { path: '../asset.a' } }, t: { source: { path: 'Stack.template.json' } } } }));
  return dir;
}

const publish = (asset: string, dest: string) => `cdk-assets --path "x.assets.json" --verbose publish "${asset}:${dest}"`;

test('pipeline shape: steps, critical path with every safety step, projects, assets, and what could run in parallel', () => {
  const dir = fakeAssembly([publish('aaa', '222222222222-eu-west-1-1a2b3c4d'), publish('aaa', '333333333333-eu-west-1-5e6f7a8b'), publish('bbb', '222222222222-eu-west-1-1a2b3c4d')]);
  const shape = pipelineShape(dir);
  expect(shape.stages.map((s) => s.name)).toEqual(['Source', 'Build', 'Assets', 'Image', 'ImageGate-preprod', 'preprod', 'PromoteToProd', 'prod']);
  // Source, Build, Assets, Image, the pre-prod gate, pre-prod (2), the prod gate and the approval, prod (2)
  expect(shape.criticalPathSteps).toBe(4 + 1 + 2 + 2 + 2);
  expect(shape.codeBuildProjects).toBe(2);
  expect(shape.assetManifests).toEqual([
    expect.objectContaining({ files: 1, templates: 1 }),
    expect.objectContaining({ owner: 'preprod', files: 2, templates: 1, dockerImages: 0 }),
  ]);
  expect(shape.publishing).toEqual({ actions: 1, commands: 3, uniquePairs: 3, uniqueAssets: 2, destinations: 2, duplicates: [] });
  const independent = shape.transitions.filter((t) => t.kind === 'none').map((t) => `${t.earlier.actions[0].name} → ${t.later.actions[0].name}`);
  expect(independent).toEqual(['FileAssets → BuildImage']);
  expect(shape.criticalPathIfParallel).toBe(11 - 1);
  const why = (from: string) => shape.transitions.find((t) => t.earlier.actions[0].name === from);
  expect(why('ImageGate-preprod')).toMatchObject({ kind: 'by design', reason: expect.stringMatching(/guards the deployment/) as unknown });
  expect(why('preprod.Deploy')).toMatchObject({ kind: 'data', reason: expect.stringMatching(/variables/) as unknown });
  expect(why('BuildImage')).toMatchObject({ kind: 'side effect' });
  expect(why('CodeCommit')).toMatchObject({ kind: 'data', reason: 'reads artifact Source' });
  expect(why('SmokeAndBake-preprod')).toMatchObject({ kind: 'by design', reason: expect.stringMatching(/after pre-prod's bake/) as unknown });
  expect(why('ImageGate-prod')).toMatchObject({ kind: 'by design', reason: expect.stringMatching(/promotes an image the gate passed/) as unknown });
});

test('an asset published twice to the same account and region is reported', () => {
  const dir = fakeAssembly([publish('aaa', '222222222222-eu-west-1-1a2b3c4d'), publish('aaa', '222222222222-eu-west-1-99999999')]);
  expect(pipelineShape(dir).publishing.duplicates).toEqual(['aaa → 222222222222-eu-west-1 (2×)']);
});

describe('CPU seconds, the plain-reading baseline, growth and the suite\'s gates', () => {
  const run = (wallSeconds: number, cpuSeconds?: number, peakMiB?: number): Measurement => ({ wallSeconds, cpuSeconds, largestProcessPeakKiB: peakMiB === undefined ? undefined : peakMiB * 1024, exitCode: 0, treePeakKiB: 0, outputTail: '' });
  const synthCase = (prodRegions: number, runs: Measurement[], configFile?: string): SynthCase => ({ label: `${prodRegions}`, prodRegions, waves: 2, configFile, runs });

  test('GNU time: user + system seconds and peak RSS, also after the line it writes for a failed command', () => {
    expect(parseGnuTime('12.34 1.50 545000\n')).toEqual({ userSeconds: 12.34, systemSeconds: 1.5, maxRssKiB: 545000 });
    expect(parseGnuTime('Command exited with non-zero status 1\n3.00 0.25 1024\n')).toEqual({ userSeconds: 3, systemSeconds: 0.25, maxRssKiB: 1024 });
    expect(parseGnuTime('Command terminated by signal 9\n')).toBeUndefined();
    expect(parseGnuTime('')).toBeUndefined();
  });

  test('the baseline ratio is the median CPU (and median peak RSS) of the default synth over the baseline\'s', () => {
    const synth = [synthCase(3, [run(10, 9, 500), run(11, 10, 520), run(30, 24, 530)]), synthCase(16, [run(12, 12, 600)], 'x.json')];
    const baseline = [run(40, 38, 1300), run(41, 40, 1310), run(90, 60, 1400)];
    const cmp = baselineComparison({ synth, baseline })!;
    expect(cmp.projectCpuSeconds).toBe(10);
    expect(cmp.baselineCpuSeconds).toBe(40);
    expect(cmp.cpuRatio).toBeCloseTo(0.25, 5);
    expect(cmp.rssRatio).toBeCloseTo(520 / 1310, 5);
    expect(cmp.runs).toBe(3);
    // Without CPU figures (no GNU time) there is no ratio rather than a wrong one.
    expect(baselineComparison({ synth: [synthCase(3, [run(10)])], baseline })).toBeUndefined();
    expect(baselineComparison({ synth, baseline: undefined })).toBeUndefined();
  });

  test('growth: the config with most prod regions over the default, wall and CPU', () => {
    const g = growthRatio([synthCase(3, [run(10, 20)]), synthCase(8, [run(11, 22)], 'a.json'), synthCase(16, [run(13, 30)], 'b.json')])!;
    expect(g.prodRegions).toBe(16);
    expect(g.wall).toBeCloseTo(1.3, 5);
    expect(g.cpu).toBeCloseTo(1.5, 5);
    expect(growthRatio([synthCase(3, [run(10, 20)])])).toBeUndefined();
  });

  test('gate times from scripts/test-all.sh\'s output, colours stripped', () => {
    const out = ['\x1b[1m== types (tsc --noEmit)\x1b[0m', '== types (tsc --noEmit): ok (41s)', 'noise', '== cfn-lint (every synthesized template): FAILED (12s)', 'gates: 1 passed, 1 failed, 0 skipped'];
    expect(parseGateTimes(out)).toEqual([
      { name: 'types (tsc --noEmit)', ok: true, seconds: 41 },
      { name: 'cfn-lint (every synthesized template)', ok: false, seconds: 12 },
    ]);
  });

  test('the verdicts hold the issue\'s targets: CPU <= 0.40x and RSS <= 0.45x the baseline, 16 regions <= 1.30x, suite <= 180 s', () => {
    const shape = { stages: [], criticalPathSteps: 0, criticalPathIfParallel: 0, codeBuildProjects: 0, assetManifests: [], transitions: [], publishing: { actions: 1, commands: 1, uniquePairs: 1, uniqueAssets: 1, destinations: 1, duplicates: [] } } as unknown as PipelineShape;
    const base = { mode: 'full' as const, runsPerFigure: 1, machine: {} as MachineInfo, shape, totalSeconds: 1 };
    const lines = (r: Partial<BenchResults>) => verdicts({ ...base, synth: [], ...r }).map((v) => `${v.pass ? 'PASS' : 'FAIL'} ${v.line}`);
    const synth = [synthCase(3, [run(10, 16, 500)]), synthCase(16, [run(14, 20, 600)], 'b.json')];
    const v = lines({ synth, baseline: [run(40, 40, 1000)], suite: { command: 'npm test', measurement: run(200), summary: [] } });
    expect(v).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PASS default synth CPU 16\.0 s vs plain reading 40\.0 s: ratio 0\.40/),
        expect.stringMatching(/^FAIL default synth peak RSS 500 MiB vs plain reading 1000 MiB: ratio 0\.50/),
        expect.stringMatching(/^FAIL 16 prod regions vs the default: 1\.40x wall, 1\.25x CPU/),
        expect.stringMatching(/^FAIL `npm test` 200\.0 s, exit 0 — target <= 180 s/),
      ]),
    );
    expect(lines({ synth, baselineSkipped: 'skipped (--skip-baseline)' })).toContainEqual(expect.stringMatching(/^FAIL plain-reading baseline not measured: skipped/));
  });
});

test("the integration tier's row says whether its control plane came from the cache", () => {
  const m: Measurement = { wallSeconds: 300, exitCode: 0, treePeakKiB: 0, outputTail: '' };
  const run = (buildSeconds?: number) => integrationRow({ command: 'npm run test:integration', measurement: m, summary: ['Tests: 25 passed, 25 total'], buildSeconds });
  expect(run(0)).toContain('control plane binaries cached (ready in 0 s)');
  expect(run(0)).toContain('300.0 s');
  expect(run(1432)).toContain('not a cached run');
  expect(run()).toContain('readiness not reported');
});
