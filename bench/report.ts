import type { Measurement } from './measure';
import {
  type PipelineShape,
  type Transition,
  artifactName,
  isChangeSetReplace,
  isImageGate,
} from './pipeline-shape';
import { type LinearFit, leastSquares, median } from './stats';

/** What `npm run bench` measured, everything the Markdown report is rendered from. */

export interface MachineInfo {
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly go: string;
  readonly cdkCli: string;
  readonly cdkLib: string;
  readonly date: string;
  readonly git: string;
  readonly loadBefore: string;
  readonly loadAfter: string;
  /** Why the largest-process peak RSS is missing, when it is. */
  readonly gnuTimeMissing?: string;
}

export interface SynthCase {
  readonly label: string;
  readonly prodRegions: number;
  readonly waves: number;
  /** The `-c config=` argument, when not the default configuration. */
  readonly configFile?: string;
  readonly runs: readonly Measurement[];
}

export interface GoBench {
  readonly servers: Record<
    string,
    { rps: number; p50_ms: number; p99_ms: number; peak_rss_mib: number; errors: number }
  >;
  readonly ratio_hello_web_to_naive: Record<string, number>;
  readonly runs: number;
  readonly concurrency: number;
  readonly duration_s: number;
  /** The open-model rate offered to both servers (req/s). */
  readonly rate?: number;
  readonly go_version: string;
  readonly loadavg_before: string;
  readonly loadavg_after: string;
}

export interface IntegrationRun {
  readonly command: string;
  readonly measurement: Measurement;
  readonly summary: readonly string[];
  /** How long the control plane's binaries took to be ready (seconds when cached). */
  readonly buildSeconds?: number;
}

export interface SuiteRun {
  readonly command: string;
  readonly measurement: Measurement;
  /** The runner's summary lines (jest's "Tests:", test-all's "gates:"). */
  readonly summary: readonly string[];
  /** Each gate of `npm test` (scripts/test-all.sh) with its time, in order; empty for jest alone. */
  readonly gates?: readonly GateTime[];
}

export interface GateTime {
  readonly name: string;
  readonly ok: boolean;
  readonly seconds: number;
}

/** ESC [ ... m colour codes (built from the char code: a control character in a regex literal is a lint error). */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The line without terminal colour codes. */
export function stripAnsi(line: string): string {
  return line.replace(ANSI_COLOUR, '');
}

/** The gates of scripts/test-all.sh from its output lines `== <name>: ok (12s)` / `== <name>: FAILED (3s)`. */
export function parseGateTimes(lines: readonly string[]): GateTime[] {
  const out: GateTime[] = [];
  for (const raw of lines) {
    const m = /^== (.+): (ok|FAILED) \((\d+)s\)$/.exec(stripAnsi(raw).trim());
    if (m) out.push({ name: m[1], ok: m[2] === 'ok', seconds: Number(m[3]) });
  }
  return out;
}

export interface BenchResults {
  readonly mode: 'full' | 'quick';
  readonly runsPerFigure: number;
  readonly machine: MachineInfo;
  readonly synth: readonly SynthCase[];
  /**
   * `npx cdk synth` of the plain-reading baseline (bench/baseline: CDK Pipelines, aws-eks v1,
   * ts-node, the same four environments), run in the same rounds as the project's synths.
   */
  readonly baseline?: readonly Measurement[];
  /** Why the baseline was not measured, when it was not. */
  readonly baselineSkipped?: string;
  /** `npx tsx bin/app.ts` alone (default config), to split the synth time between the CDK CLI and the app. */
  readonly appOnly?: readonly Measurement[];
  readonly shape: PipelineShape;
  readonly go?: GoBench;
  readonly goSkipped?: string;
  /** Undefined when skipped (--skip-suite). */
  readonly suite?: SuiteRun;
  /** The integration tier, timed after the suite; undefined when skipped. */
  readonly integration?: IntegrationRun;
  readonly totalSeconds: number;
}

/** Targets from the issues (16 for the ratios and the suite); reported, never asserted. */
export const TARGETS = {
  defaultSynthSeconds: 15,
  secondsPerAddedRegion: 1,
  /** Default-config synth CPU seconds over the plain reading's, at most. */
  cpuRatioToBaseline: 0.4,
  /** Default-config synth peak RSS (largest process) over the plain reading's, at most. */
  rssRatioToBaseline: 0.45,
  /** 16 prod regions over the default config (median wall time and CPU seconds), at most. */
  growth16Regions: 1.3,
  /** `npm test` on a warm machine, at most. */
  suiteSeconds: 180,
  /** Sequential steps from push to the last prod region, every safety step counted, at most. */
  pathToProdSteps: 15,
  /** The service's saturated throughput (wrk) over the seed-style naive server's, at least. */
  serviceRpsRatio: 0.9,
} as const;

const s = (x: number) => `${x.toFixed(1)} s`;
const mib = (kib: number | undefined) =>
  kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`;
const cpu = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} s`);
const range = (xs: readonly number[], f: (x: number) => string) =>
  xs.length > 1 ? `${f(Math.min(...xs))} – ${f(Math.max(...xs))}` : '(1 run)';

export function medianWall(c: { runs: readonly Measurement[] }): number {
  return median(c.runs.map((r) => r.wallSeconds));
}

function medianOf(
  runs: readonly Measurement[],
  pick: (m: Measurement) => number | undefined,
): number | undefined {
  const xs = runs.map(pick).filter((x): x is number => x !== undefined);
  return xs.length === runs.length && xs.length > 0 ? median(xs) : undefined;
}

export interface BaselineComparison {
  readonly runs: number;
  readonly projectCpuSeconds: number;
  readonly baselineCpuSeconds: number;
  /** Project over baseline: below 1 means the project synthesizes with less CPU. */
  readonly cpuRatio: number;
  readonly projectPeakKiB?: number;
  readonly baselinePeakKiB?: number;
  readonly rssRatio?: number;
}

/**
 * The default-config synth against the plain-reading baseline: medians of CPU seconds (whole
 * process tree) and of the largest process's peak RSS, and their ratios. Undefined when either
 * side lacks CPU figures (no GNU time) or the baseline was not run.
 */
export function baselineComparison(
  r: Pick<BenchResults, 'synth' | 'baseline'>,
): BaselineComparison | undefined {
  const def = r.synth.find((c) => c.configFile === undefined);
  if (!def || !r.baseline || r.baseline.length === 0) return undefined;
  const projectCpu = medianOf(def.runs, (x) => x.cpuSeconds);
  const baselineCpu = medianOf(r.baseline, (x) => x.cpuSeconds);
  if (projectCpu === undefined || baselineCpu === undefined) return undefined;
  const projectPeak = medianOf(def.runs, (x) => x.largestProcessPeakKiB);
  const baselinePeak = medianOf(r.baseline, (x) => x.largestProcessPeakKiB);
  return {
    runs: Math.min(def.runs.length, r.baseline.length),
    projectCpuSeconds: projectCpu,
    baselineCpuSeconds: baselineCpu,
    cpuRatio: projectCpu / baselineCpu,
    projectPeakKiB: projectPeak,
    baselinePeakKiB: baselinePeak,
    rssRatio:
      projectPeak !== undefined && baselinePeak !== undefined
        ? projectPeak / baselinePeak
        : undefined,
  };
}

export interface GrowthRatio {
  readonly prodRegions: number;
  /** Median wall time of the largest config over the default's. */
  readonly wall: number;
  /** Median CPU seconds of the largest config over the default's; undefined without GNU time. */
  readonly cpu?: number;
}

/** The config with the most prod regions against the default config (the issue's "16 regions vs default"). */
export function growthRatio(cases: readonly SynthCase[]): GrowthRatio | undefined {
  const def = cases.find((c) => c.configFile === undefined);
  const largest = [...cases].sort((a, b) => b.prodRegions - a.prodRegions)[0];
  if (!def || !largest || largest.prodRegions <= def.prodRegions) return undefined;
  const cpuDef = medianOf(def.runs, (x) => x.cpuSeconds);
  const cpuLargest = medianOf(largest.runs, (x) => x.cpuSeconds);
  return {
    prodRegions: largest.prodRegions,
    wall: medianWall(largest) / medianWall(def),
    cpu: cpuDef !== undefined && cpuLargest !== undefined ? cpuLargest / cpuDef : undefined,
  };
}

/** Least-squares fit of the median synth time over the number of prod regions. */
export function synthGrowth(cases: readonly SynthCase[]): LinearFit | undefined {
  const points = cases.map((c) => ({ x: c.prodRegions, y: medianWall(c) }));
  return new Set(points.map((p) => p.x)).size >= 2 ? leastSquares(points) : undefined;
}

/** Action names of a step; in a wave of several stages, without the `<stage>.` prefix CDK Pipelines adds. */
function names(step: Transition['earlier']): string {
  if (step.actions.length === 1) return step.actions[0].name;
  return `${step.actions.length} in parallel (${step.actions.map((a) => a.name.replace(/^[^.]+\./, '')).join(', ')})`;
}

function transitionLabel(t: Transition): string {
  return `${t.earlier.stage} #${t.earlier.runOrder} ${names(t.earlier)} → ${t.later.stage} #${t.later.runOrder} ${names(t.later)}`;
}

export interface Verdict {
  readonly pass: boolean;
  readonly line: string;
}

export function verdicts(r: BenchResults): Verdict[] {
  const out: Verdict[] = [];
  const def = r.synth.find((c) => c.configFile === undefined);
  if (def) {
    const t = medianWall(def);
    out.push({
      pass: t < TARGETS.defaultSynthSeconds,
      line: `default synth ${s(t)} (median of ${def.runs.length}) — target well under ${TARGETS.defaultSynthSeconds} s on this ${r.machine.cpus}-core machine`,
    });
  }
  const fit = synthGrowth(r.synth);
  if (fit) {
    out.push({
      pass: fit.slope < TARGETS.secondsPerAddedRegion,
      line: `each added prod region adds ${fit.slope.toFixed(2)} s (least-squares slope over ${r.synth.length} configs) — target well under ${TARGETS.secondsPerAddedRegion} s`,
    });
  }
  const cmp = baselineComparison(r);
  if (cmp) {
    out.push({
      pass: cmp.cpuRatio <= TARGETS.cpuRatioToBaseline,
      line: `default synth CPU ${s(cmp.projectCpuSeconds)} vs plain reading ${s(cmp.baselineCpuSeconds)}: ratio ${cmp.cpuRatio.toFixed(2)} (median of ${cmp.runs}) — target <= ${TARGETS.cpuRatioToBaseline.toFixed(2)}`,
    });
    if (cmp.rssRatio !== undefined) {
      out.push({
        pass: cmp.rssRatio <= TARGETS.rssRatioToBaseline,
        line: `default synth peak RSS ${mib(cmp.projectPeakKiB)} vs plain reading ${mib(cmp.baselinePeakKiB)}: ratio ${cmp.rssRatio.toFixed(2)} — target <= ${TARGETS.rssRatioToBaseline.toFixed(2)}`,
      });
    }
  } else if (r.baselineSkipped) {
    out.push({ pass: false, line: `plain-reading baseline not measured: ${r.baselineSkipped}` });
  }
  const growth = growthRatio(r.synth);
  if (growth) {
    const worst = Math.max(growth.wall, growth.cpu ?? 0);
    out.push({
      pass: worst <= TARGETS.growth16Regions,
      line: `${growth.prodRegions} prod regions vs the default: ${growth.wall.toFixed(2)}x wall${growth.cpu === undefined ? '' : `, ${growth.cpu.toFixed(2)}x CPU`} — target <= ${TARGETS.growth16Regions.toFixed(2)}x`,
    });
  }
  if (r.suite) {
    const t = r.suite.measurement.wallSeconds;
    out.push({
      pass: r.suite.measurement.exitCode === 0 && t <= TARGETS.suiteSeconds,
      line: `\`${r.suite.command}\` ${s(t)}, exit ${r.suite.measurement.exitCode} — target <= ${TARGETS.suiteSeconds} s, passing`,
    });
  }
  const rps = r.go?.ratio_hello_web_to_naive.rps;
  if (rps !== undefined) {
    out.push({
      pass: rps >= TARGETS.serviceRpsRatio,
      line: `service throughput (wrk, access log on) ${rps.toFixed(2)}x the seed-style server — target >= ${TARGETS.serviceRpsRatio.toFixed(2)}`,
    });
  }
  out.push({
    pass: r.shape.criticalPathSteps <= TARGETS.pathToProdSteps,
    line: `push to the last prod region: ${r.shape.criticalPathSteps} sequential steps, image gates, smoke tests, bakes and the approval included — target <= ${TARGETS.pathToProdSteps}`,
  });
  const p = r.shape.publishing;
  out.push({
    pass: p.duplicates.length === 0 && p.commands > 0,
    line:
      p.commands === 0
        ? 'asset publishing: no cdk-assets publish command found in the Assets stage (cannot check)'
        : `no asset published twice: ${p.commands} publish commands, ${p.uniquePairs} distinct asset→destination pairs${p.duplicates.length ? `; duplicates: ${p.duplicates.join(', ')}` : ''}`,
  });
  return out;
}

export function verdictLines(r: BenchResults): string[] {
  return verdicts(r).map((v) => `${v.pass ? 'PASS' : 'FAIL'}: ${v.line}`);
}

/** The integration tier's row: its time, and whether the control plane came from the cache. */
export function integrationRow(run: IntegrationRun): string {
  const build =
    run.buildSeconds === undefined
      ? 'control plane readiness not reported'
      : run.buildSeconds < 60
        ? `control plane binaries cached (ready in ${run.buildSeconds} s)`
        : `includes building the control plane (${run.buildSeconds} s): not a cached run`;
  return `| \`${run.command}\` (${build}) | ${s(run.measurement.wallSeconds)} (1 run) | ${mib(run.measurement.largestProcessPeakKiB)} | exit ${run.measurement.exitCode}${run.summary.length ? `: ${run.summary.join('; ')}` : ''} |`;
}

/** The Markdown report: docs/performance.md in full mode. */
export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const lines: string[] = [];
  const push = (...xs: string[]) => lines.push(...xs);
  push(
    '# Performance',
    '',
    `Measured by \`npm run bench\` (bench/bench.ts${r.mode === 'quick' ? ' --quick' : ''}); every number below comes from that run. Benchmarks, not tests:`,
    'absolute times depend on the machine and on what else runs on it (see the load average).',
    `Each figure is the median of ${r.runsPerFigure} run${r.runsPerFigure === 1 ? '' : 's'} unless it says otherwise. Rerun with \`npm run bench\` (its duration is in the machine table; \`npm run bench -- --quick\` for one fast pass).`,
    '',
    '## Machine',
    '',
    '| | |',
    '| --- | --- |',
    `| date (UTC) | ${m.date} |`,
    `| CPUs (nproc) | ${m.cpus} |`,
    `| memory | ${m.memoryGiB.toFixed(1)} GiB |`,
    `| CPU model | ${m.cpuModel} |`,
    `| node | ${m.node} |`,
    `| go | ${m.go} |`,
    `| aws-cdk (CLI) / aws-cdk-lib | ${m.cdkCli} / ${m.cdkLib} |`,
    `| tree | ${m.git} |`,
    `| load average (1/5/15 min) before → after | ${m.loadBefore} → ${m.loadAfter} |`,
    `| whole bench | ${s(r.totalSeconds)} |`,
    '',
    '## Targets',
    '',
    '```',
    ...verdictLines(r),
    '```',
    '',
    '## Synth: `npx cdk synth -q -o <temp dir>`',
    '',
    'The CDK CLI as a user runs it (cdk-nag included, as in `npm test`), cold each time, into a fresh',
    'temporary directory. Generated configs (`bench/.tmp/`) grow the default to more prod regions in three',
    'waves: one region first, then the rest split in two. Peak RSS "largest process" is `/usr/bin/time -f %M`',
    '(the peak of the largest single process of the tree); "process tree" is the highest sum of VmRSS over',
    'npx, the CLI, the app and every other child, sampled from /proc every 100 ms (a lower bound: a peak',
    'between two samples is missed).',
    '',
    '| config | prod regions (waves) | wall time | min – max | added per region vs default | CPU (user+sys, tree) | peak RSS, largest process | peak RSS, process tree |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const def = r.synth.find((c) => c.configFile === undefined);
  for (const c of r.synth) {
    const t = medianWall(c);
    const perRegion =
      def && c !== def && c.prodRegions !== def.prodRegions
        ? `${((t - medianWall(def)) / (c.prodRegions - def.prodRegions)).toFixed(2)} s`
        : '—';
    const walls = c.runs.map((x) => x.wallSeconds);
    push(
      `| ${c.label} | ${c.prodRegions} (${c.waves}) | ${s(t)} | ${range(walls, s)} | ${perRegion} | ${cpu(medianOf(c.runs, (x) => x.cpuSeconds))} | ${mib(medianOf(c.runs, (x) => x.largestProcessPeakKiB))} | ${mib(medianOf(c.runs, (x) => x.treePeakKiB))} |`,
    );
  }
  if (r.baseline && r.baseline.length > 0) {
    const b = r.baseline;
    push(
      `| plain reading (\`bench/baseline\`, aws-eks v1, ts-node) | 3 (2) | ${s(median(b.map((x) => x.wallSeconds)))} | ${range(
        b.map((x) => x.wallSeconds),
        s,
      )} | — | ${cpu(medianOf(b, (x) => x.cpuSeconds))} | ${mib(medianOf(b, (x) => x.largestProcessPeakKiB))} | ${mib(medianOf(b, (x) => x.treePeakKiB))} |`,
    );
  }
  const fit = synthGrowth(r.synth);
  push('');
  if (fit) {
    const rssFit = r.synth.every(
      (c) => medianOf(c.runs, (x) => x.largestProcessPeakKiB) !== undefined,
    )
      ? leastSquares(
          r.synth.map((c) => ({
            x: c.prodRegions,
            y: (medianOf(c.runs, (x) => x.largestProcessPeakKiB) as number) / 1024,
          })),
        )
      : undefined;
    push(
      `Growth: least-squares over the ${r.synth.length} points, **${fit.slope.toFixed(2)} s per added prod region** (intercept ${s(fit.intercept)}, r² ${fit.r2.toFixed(2)})` +
        (rssFit
          ? `; peak RSS of the largest process grows ${rssFit.slope.toFixed(1)} MiB per region (r² ${rssFit.r2.toFixed(2)}).`
          : '.'),
    );
  }
  const growth = growthRatio(r.synth);
  if (growth)
    push(
      '',
      `${growth.prodRegions} prod regions against the default config: **${growth.wall.toFixed(2)}x** the wall time${growth.cpu === undefined ? '' : `, **${growth.cpu.toFixed(2)}x** the CPU seconds`} (medians; target <= ${TARGETS.growth16Regions.toFixed(2)}x).`,
    );
  if (m.gnuTimeMissing)
    push('', `Largest-process peak RSS and CPU seconds: n/a — ${m.gnuTimeMissing}.`);
  push('', '### Against a plain reading of the design card', '');
  const cmp = baselineComparison(r);
  if (cmp) {
    push(
      '`bench/baseline` is a small fixture app, installed by the bench with `npm ci` from its own lock file: CDK Pipelines with `aws-eks` v1 and the',
      'kubectl v29 layer the design card names, run with ts-node (its cdk.json), the same four environments, the same aws-cdk-lib and CLI, the',
      'recommended feature flags of that aws-cdk-lib, no cdk-nag. It is synthesized with `npx cdk synth -q -o <temp dir>` in the same rounds as the',
      "project's configs. CPU is user+sys of the whole process tree (GNU time `%U+%S`: npx, the CLI, the app), peak RSS the largest process.",
      '',
      '| figure | this project (default config) | plain reading | ratio | target |',
      '| --- | --- | --- | --- | --- |',
      `| \`npx cdk synth\`, CPU seconds (median of ${cmp.runs}) | ${s(cmp.projectCpuSeconds)} | ${s(cmp.baselineCpuSeconds)} | **${cmp.cpuRatio.toFixed(2)}** | <= ${TARGETS.cpuRatioToBaseline.toFixed(2)} |`,
      `| \`npx cdk synth\`, peak RSS (largest process) | ${mib(cmp.projectPeakKiB)} | ${mib(cmp.baselinePeakKiB)} | **${cmp.rssRatio === undefined ? 'n/a' : cmp.rssRatio.toFixed(2)}** | <= ${TARGETS.rssRatioToBaseline.toFixed(2)} |`,
    );
  } else {
    push(`Not measured: ${r.baselineSkipped ?? 'no CPU figures (GNU time missing)'}.`);
  }
  if (r.appOnly && r.appOnly.length > 0 && def) {
    const app = median(r.appOnly.map((x) => x.wallSeconds));
    push(
      '',
      `Where the default synth's time goes: the app alone (\`npx tsx bin/app.ts\`, the command cdk.json gives the CLI, run directly with \`CDK_OUTDIR\` and cdk.json's context) takes **${s(app)}** (median of ${r.appOnly.length}, ${range(
        r.appOnly.map((x) => x.wallSeconds),
        s,
      )}; peak RSS ${mib(medianOf(r.appOnly, (x) => x.largestProcessPeakKiB))} largest process, ${mib(medianOf(r.appOnly, (x) => x.treePeakKiB))} tree), so the CLI around it adds about ${s(medianWall(def) - app)} (difference of the medians).`,
    );
  }

  const sh = r.shape;
  const pub = sh.publishing;
  push(
    '',
    '## Pipeline shape (default config, from the synthesized `HelloWebPipeline.template.json`)',
    '',
    '| | |',
    '| --- | --- |',
    `| stages | ${sh.stages.length}: ${sh.stages.map((x) => x.name).join(' → ')} |`,
    `| actions on the critical path, push → last prod region, approval included | **${sh.criticalPathSteps}** sequential steps (per stage: the number of distinct runOrders; summed over stages) |`,
    `| the same if independent consecutive steps ran in parallel | ${sh.criticalPathIfParallel} |`,
    `| CodeBuild projects (\`AWS::CodeBuild::Project\`) | ${sh.codeBuildProjects} |`,
    `| stages rolling back on failure (\`OnFailure: ROLLBACK\`) | ${
      sh.stages
        .filter((x) => x.onFailure === 'ROLLBACK')
        .map((x) => x.name)
        .join(', ') || 'none'
    } |`,
    `| docker image assets (all manifests) | ${sh.assetManifests.reduce((n, a) => n + a.dockerImages, 0)} (the service image is built by the Image stage, not as an asset) |`,
    `| asset publishing (Assets stage) | ${pub.commands} \`cdk-assets publish\` commands in ${pub.actions} CodeBuild action${pub.actions === 1 ? '' : 's'}: ${pub.uniqueAssets} distinct assets to ${pub.destinations} account/region destinations; ${pub.uniquePairs} distinct asset→destination pairs; ${pub.duplicates.length === 0 ? '**no asset published twice**' : `**duplicates: ${pub.duplicates.join(', ')}**`} |`,
    '',
    '| stage | actions | sequential steps | OnFailure |',
    '| --- | --- | --- | --- |',
    ...sh.stages.map((x) => `| ${x.name} | ${x.actions} | ${x.steps} | ${x.onFailure ?? ''} |`),
    '',
    "File assets per stage (each stage assembly's `*.assets.json`, `files` entries). The stack template is one of",
    'them; CDK Pipelines deploys it from the pipeline artifact, so the Assets stage publishes the others.',
    '',
    '| asset manifest | file assets | of which the stack template | docker image assets |',
    '| --- | --- | --- | --- |',
    ...sh.assetManifests.map(
      (a) => `| ${a.owner} | ${a.files} | ${a.templates} | ${a.dockerImages} |`,
    ),
    '',
    '## What could run in parallel',
    '',
  );
  const independent = sh.transitions.filter((t) => t.kind === 'none');
  push(
    `Read from the template: stage order, each action's runOrder, and what an action reads (input artifacts,`,
    '`#{namespace.variable}` references, the change set it executes), plus two dependencies the template cannot',
    'show: CloudFormation needs the file assets in S3 (Assets stage) and the image gate needs the image in ECR',
    '(Image stage). Orderings the design asks for (self-mutation first, the manual approval, the gate before the',
    'deployment, one wave after another) count as dependencies.',
    '',
  );
  if (independent.length === 0) {
    push(
      'Every consecutive pair of steps depends on the one before it: nothing sequential could run in parallel.',
    );
  } else {
    const gatePrepare = (t: Transition) =>
      t.earlier.stage === t.later.stage &&
      t.earlier.actions.every(isImageGate) &&
      t.later.actions.every(isChangeSetReplace);
    const gateThenPrepare = independent.filter(gatePrepare);
    const parts: string[] = [];
    if (gateThenPrepare.length > 0) {
      parts.push(
        `In ${gateThenPrepare.length} deploying stage${gateThenPrepare.length === 1 ? '' : 's'} (${gateThenPrepare.map((t) => t.later.stage).join(', ')}) the image gate (runOrder ${gateThenPrepare[0].earlier.runOrder}) and the change-set Prepare (runOrder ${gateThenPrepare[0].later.runOrder}) run one after the other, yet Prepare only creates a change set from the synth output and reads nothing the gate produces; only the Deploy (execute) has to wait for the gate. Giving Prepare the gate's runOrder would save one step per stage.`,
      );
    }
    for (const t of independent.filter((x) => !gatePrepare(x))) {
      const inputs = [
        ...new Set(t.later.actions.flatMap((a) => a.inputArtifacts.map(artifactName))),
      ];
      const where =
        t.earlier.stage === t.later.stage
          ? `In ${t.later.stage}, runOrder ${t.earlier.runOrder} and ${t.later.runOrder} are`
          : `The ${t.earlier.stage} and ${t.later.stage} stages are`;
      parts.push(
        `${where} sequential, yet ${names(t.later)} reads only ${inputs.length ? `the artifacts ${inputs.join(', ')}` : 'nothing from the pipeline'}, nothing ${names(t.earlier)} produces: they could run side by side.`,
      );
    }
    if (pub.actions === 1 && pub.commands > 1) {
      parts.push(
        `Inside the Assets stage, one CodeBuild action runs all ${pub.commands} \`cdk-assets publish\` commands one after another (CDK Pipelines' \`publishAssetsInParallel: false\`); publishing in parallel would take one CodeBuild project per asset (${pub.uniqueAssets} instead of 1).`,
      );
    }
    parts.push(
      `Together: ${sh.criticalPathIfParallel} sequential steps instead of ${sh.criticalPathSteps}. These are structural findings, not measured durations; this repository changes neither (lib/ is not part of the benchmark).`,
    );
    push(parts.join(' '));
  }
  push(
    '',
    '| consecutive steps | waits because |',
    '| --- | --- |',
    ...sh.transitions.map(
      (t) =>
        `| ${transitionLabel(t)} | ${t.kind === 'none' ? '**nothing: could run in parallel**' : `${t.kind}: ${t.reason}`} |`,
    ),
  );

  push('', '## Go service: `bash bench/service/run.sh`', '');
  if (r.go) {
    const g = r.go;
    const a = g.servers['hello-web'];
    const n = g.servers.naive;
    const ratio = (k: string) =>
      g.ratio_hello_web_to_naive[k] === undefined
        ? ''
        : `${g.ratio_hello_web_to_naive[k].toFixed(2)}×`;
    push(
      `GET /world on loopback, ${g.duration_s} s per measure, ${g.runs} runs per server alternating (bench/service/load); medians over the runs. Requests/s: wrk -t1 -c${g.concurrency} (saturated). p50/p99: vegeta's open model at a constant ${g.rate ?? '?'} req/s offered to both servers (a quarter of the naive server's vegeta throughput, calibrated at the start of the run), so queueing shows in the p99. The ratio is hello-web over the seed-style naive server, the median of the per-run ratios (${g.go_version}; load average ${g.loadavg_before} → ${g.loadavg_after}).`,
      '',
      '| server | requests/s (wrk) | p50 (open model) | p99 (open model) | peak RSS (VmHWM) | errors |',
      '| --- | --- | --- | --- | --- | --- |',
      `| hello-web | ${a.rps.toFixed(0)} | ${a.p50_ms.toFixed(3)} ms | ${a.p99_ms.toFixed(3)} ms | ${a.peak_rss_mib.toFixed(1)} MiB | ${a.errors} |`,
      `| naive (seed) | ${n.rps.toFixed(0)} | ${n.p50_ms.toFixed(3)} ms | ${n.p99_ms.toFixed(3)} ms | ${n.peak_rss_mib.toFixed(1)} MiB | ${n.errors} |`,
      `| hello-web / naive | ${ratio('rps')} | ${ratio('p50')} | ${ratio('p99')} | ${ratio('peak_rss')} | |`,
      '',
      "The naive server is the seed's one-line handler with no timeouts, probes or logging; hello-web logs every request (structured, to stdout, read by the load tool only for the count of lines it says it dropped; a run with any dropped line is refused), and that cost is part of its figures (bench/service/load).",
    );
  } else {
    push(`Not run: ${r.goSkipped ?? 'unknown reason'}.`);
  }

  const suite = r.suite;
  push('', '## Test suite', '');
  if (!suite) {
    push('Not timed in this run (--skip-suite).', '');
    return lines.join('\n');
  }
  push(
    '| command | wall time | peak RSS, largest process | result |',
    '| --- | --- | --- | --- |',
    `| \`${suite.command}\` | ${s(suite.measurement.wallSeconds)} (1 run) | ${mib(suite.measurement.largestProcessPeakKiB)} | exit ${suite.measurement.exitCode}${suite.summary.length ? `: ${suite.summary.join('; ')}` : ''} |`,
    ...(r.integration ? [integrationRow(r.integration)] : []),
    '',
  );
  if (!r.integration) push('The integration tier was not timed in this run.', '');
  if (suite.gates && suite.gates.length > 0) {
    push(
      "Where the suite's time goes (scripts/test-all.sh, each gate's own timing):",
      '',
      '| gate | result | time |',
      '| --- | --- | --- |',
      ...suite.gates.map((g) => `| ${g.name} | ${g.ok ? 'ok' : '**FAILED**'} | ${g.seconds} s |`),
      '',
    );
  }
  if (suite.measurement.exitCode !== 0) {
    push(
      'The suite did not pass in this run; its wall time is still the time to a verdict. Other work in the tree at the time can cause that.',
      '',
    );
  }
  return lines.join('\n');
}
