import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { STACK_ENVIRONMENTS } from '../lib/config';
import { prodRegionsConfig, writeConfig } from './configs';
import { GNU_TIME, type Measurement, gnuTimeAvailable, measure } from './measure';
import { pipelineShape } from './pipeline-shape';
import {
  type BenchResults,
  type GoBench,
  type IntegrationRun,
  type MachineInfo,
  type SynthCase,
  type SuiteRun,
  parseGateTimes,
  renderReport,
  stripAnsi,
  verdictLines,
} from './report';

/**
 * `npm run bench [-- --runs N] [-- --quick] [-- --with-full-suite] [-- --out FILE]`
 *
 * A benchmark, not a test: times a real `npx cdk synth` for the default config and for generated
 * configs with more prod regions, side by side with the plain-reading baseline (bench/baseline,
 * installed here with `npm ci` from its own lock file), reads the pipeline's shape from the synthesized template, runs
 * the Go service benchmark and times the test suite, then prints a Markdown report and writes it
 * to docs/performance.md (full mode) or bench/.tmp/performance-quick.md (--quick).
 */

const REPO_ROOT = path.resolve(__dirname, '..');
const TMP = path.join(REPO_ROOT, 'bench', '.tmp');
const BASELINE_DIR = path.join(REPO_ROOT, 'bench', 'baseline');
const USAGE = `usage: npm run bench -- [--runs N] [--quick] [--jest-only | --skip-suite] [--skip-baseline] [--out FILE]
  --runs N            runs per figure, the median is reported (default 5)
  --quick             1 run, no 16-region config, no Go benchmark; writes bench/.tmp/performance-quick.md
  --jest-only         time \`npx jest --ci\` instead of the whole \`npm test\` (every gate)
  --skip-suite        do not time the test suite (while working on the bench itself)
  --skip-baseline     do not install and synthesize the plain-reading baseline (bench/baseline)
  --skip-integration  do not time the integration tier (npm run test:integration)
  --out FILE          where to write the report (default docs/performance.md, or the quick file)`;

const started = Date.now();
function progress(message: string): void {
  const t = Math.round((Date.now() - started) / 1000);
  process.stderr.write(
    `[bench ${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}] ${message}\n`,
  );
}

function tryRun(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined; // reported as "not available" by the caller
  }
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(
        fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { version: string }
    ).version;
  } catch {
    return 'not installed';
  }
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function machineInfo(): Omit<MachineInfo, 'loadAfter'> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const cpuModel =
    /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const head = tryRun('git', ['rev-parse', '--short', 'HEAD']);
  const dirty =
    tryRun('git', ['status', '--porcelain', '--untracked-files=no'])?.split('\n').filter(Boolean)
      .length ?? 0;
  return {
    cpus: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    cpuModel,
    node: process.version,
    go: tryRun('go', ['version'])?.replace(/^go version /, '') ?? 'not installed',
    cdkCli: packageVersion('aws-cdk'),
    cdkLib: packageVersion('aws-cdk-lib'),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    git: head
      ? `${head}${dirty ? ` plus uncommitted changes to ${dirty} tracked file${dirty === 1 ? '' : 's'}` : ''}`
      : 'not a git checkout',
    loadBefore: loadAverage(),
    gnuTimeMissing: gnuTimeAvailable()
      ? undefined
      : `${GNU_TIME} is not installed (Debian/Ubuntu: apt-get install time); the process-tree figure is sampled from /proc instead`,
  };
}

interface SynthPlan {
  readonly label: string;
  readonly prodRegions: number;
  readonly waves: number;
  readonly configFile?: string;
  /** Where `npx cdk synth` runs. @default the repository root */
  readonly cwd?: string;
}

/**
 * Installs the baseline's pinned packages into bench/baseline/node_modules (git-ignored) with
 * `npm ci`, unless the lock file is the one installed last time. The stamp is the lock file's hash.
 */
async function ensureBaseline(): Promise<void> {
  const lock = fs.readFileSync(path.join(BASELINE_DIR, 'package-lock.json'));
  const want = createHash('sha256').update(lock).digest('hex');
  const stamp = path.join(BASELINE_DIR, 'node_modules', '.bench-lock-sha256');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want) return;
  progress('plain-reading baseline: npm ci in bench/baseline (its own lock file)...');
  const m = await measure('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: BASELINE_DIR,
    gnuTime: false,
    sampleMs: 1000,
  });
  if (m.exitCode !== 0)
    throw new Error(`npm ci in bench/baseline failed (exit ${m.exitCode}):\n${m.outputTail}`);
  fs.writeFileSync(stamp, `${want}\n`);
  progress(`  installed in ${m.wallSeconds.toFixed(0)} s`);
}

function synthPlans(quick: boolean): SynthPlan[] {
  const plans: SynthPlan[] = [
    {
      label: 'default STACK_ENVIRONMENTS',
      prodRegions: STACK_ENVIRONMENTS.prod.waves.flat().length,
      waves: STACK_ENVIRONMENTS.prod.waves.length,
    },
  ];
  for (const n of quick ? [8] : [8, 16]) {
    const config = prodRegionsConfig(n);
    const configFile = writeConfig(REPO_ROOT, TMP, `prod-${n}-regions`, config);
    plans.push({
      label: `\`${configFile}\``,
      prodRegions: n,
      waves: config.prod.waves.length,
      configFile,
    });
  }
  return plans;
}

function mib(kib: number | undefined): string {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`;
}

/** One cold `npx cdk synth -q` into a fresh directory; throws with the CLI's output if it fails. */
async function synthOnce(plan: SynthPlan, outdir: string): Promise<Measurement> {
  fs.rmSync(outdir, { recursive: true, force: true });
  const args = [
    'cdk',
    'synth',
    '-q',
    '-o',
    outdir,
    ...(plan.configFile ? ['-c', `config=${plan.configFile}`] : []),
  ];
  const m = await measure('npx', args, { cwd: plan.cwd ?? REPO_ROOT });
  if (m.exitCode !== 0)
    throw new Error(
      `npx ${args.join(' ')} in ${plan.cwd ?? REPO_ROOT} failed (exit ${m.exitCode}):\n${m.outputTail}`,
    );
  return m;
}

async function appOnlyOnce(outdir: string): Promise<Measurement> {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  // The CLI hands the app cdk.json's context (feature flags) the same way.
  const context = (
    JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    }
  ).context;
  const m = await measure('npx', ['tsx', 'bin/app.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
  });
  if (m.exitCode !== 0)
    throw new Error(`npx tsx bin/app.ts failed (exit ${m.exitCode}):\n${m.outputTail}`);
  return m;
}

async function goBench(runs: number): Promise<{ go?: GoBench; skipped?: string }> {
  if (!tryRun('go', ['version']))
    return { skipped: 'go is not installed (https://go.dev/dl, Go 1.26)' };
  const json = path.join(TMP, 'bench-app.json');
  fs.rmSync(json, { force: true });
  const m = await measure('bash', ['bench/service/run.sh'], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_APP_JSON: json, BENCH_RUNS: String(runs) },
    gnuTime: false,
    sampleMs: 1000,
    onLine: (line) => line.startsWith('run ') && progress(`  go: ${line.trim()}`),
  });
  if (!fs.existsSync(json))
    throw new Error(
      `bash bench/service/run.sh wrote no ${json} (exit ${m.exitCode}):\n${m.outputTail}`,
    );
  // A run with failed requests still writes its JSON (and exits 1); the report shows the errors.
  return { go: JSON.parse(fs.readFileSync(json, 'utf8')) as GoBench };
}

async function suite(full: boolean): Promise<SuiteRun> {
  const [command, args, display] = full
    ? ['npm', ['test'], 'npm test']
    : ['npx', ['jest', '--ci'], 'npx jest --ci'];
  const lines: string[] = [];
  const m = await measure(command, args, {
    cwd: REPO_ROOT,
    sampleMs: 500,
    onLine: (line) => {
      lines.push(line);
      if (/^== .*: (ok|FAILED) \(\d+s\)$/.test(stripAnsi(line).trim()))
        progress(`  ${line.trim()}`);
    },
  });
  const plain = lines.map(stripAnsi);
  const summary = plain
    .filter((l) => /^(Test Suites|Tests):|^gates:/.test(l.trim()))
    .map((l) => l.trim().replace(/\s+/g, ' '));
  return { command: display, measurement: m, summary, gates: parseGateTimes(plain) };
}

/**
 * The integration tier (issue 16: its cached run time beside npm test). Its run script prints how
 * long the control plane's binaries took to be ready: seconds when cached, about half an hour on
 * the first build, which the report then says.
 */
async function integration(): Promise<IntegrationRun> {
  let buildSeconds: number | undefined;
  const lines: string[] = [];
  const m = await measure('npm', ['run', '-s', 'test:integration'], {
    cwd: REPO_ROOT,
    sampleMs: 1000,
    onLine: (line) => {
      lines.push(line);
      const ready = /^control plane binaries: .* \(ready after (\d+) s\)$/.exec(line.trim());
      if (ready) buildSeconds = Number(ready[1]);
    },
  });
  const summary = lines
    .map(stripAnsi)
    .filter((l) => /^(Test Suites|Tests):/.test(l.trim()))
    .map((l) => l.trim().replace(/\s+/g, ' '));
  return { command: 'npm run test:integration', measurement: m, summary, buildSeconds };
}

async function main(argv: string[]): Promise<number> {
  let values: {
    runs?: string;
    quick?: boolean;
    'jest-only'?: boolean;
    'skip-suite'?: boolean;
    'skip-baseline'?: boolean;
    'skip-integration'?: boolean;
    out?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean' },
        'jest-only': { type: 'boolean' },
        'skip-suite': { type: 'boolean' },
        'skip-baseline': { type: 'boolean' },
        'skip-integration': { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick ?? false;
  const runs = Number(values.runs ?? (quick ? 1 : 5));
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    console.error(
      `bench: --runs must be a whole number from 1 to 20, got ${values.runs}\n${USAGE}`,
    );
    return 2;
  }
  const out = path.resolve(
    process.env.INIT_CWD ?? process.cwd(),
    values.out ??
      path.join(REPO_ROOT, quick ? 'bench/.tmp/performance-quick.md' : 'docs/performance.md'),
  );

  const machine = machineInfo();
  progress(
    `${quick ? 'quick' : 'full'} mode, ${runs} run${runs === 1 ? '' : 's'} per figure; ${machine.cpus} CPUs, ${machine.cpuModel}, load ${machine.loadBefore}`,
  );
  if (machine.gnuTimeMissing) progress(`WARNING: ${machine.gnuTimeMissing}`);

  const plans = synthPlans(quick);
  let baselinePlan: SynthPlan | undefined;
  let baselineSkipped: string | undefined;
  if (values['skip-baseline']) {
    baselineSkipped = 'skipped (--skip-baseline)';
  } else {
    await ensureBaseline();
    baselinePlan = {
      label: 'plain reading (bench/baseline)',
      prodRegions: 3,
      waves: 2,
      cwd: BASELINE_DIR,
    };
  }
  const baseline: Measurement[] = [];
  const baselineOutdir = path.join(os.tmpdir(), `bench-baseline-${process.pid}`);
  const outdirs = new Map(
    plans.map((p, i) => [p, path.join(os.tmpdir(), `bench-synth-${process.pid}-${i}`)]),
  );
  const results = new Map<SynthPlan, Measurement[]>(plans.map((p) => [p, []]));
  const appOnly: Measurement[] = [];
  const appOutdir = path.join(os.tmpdir(), `bench-app-${process.pid}`);
  try {
    // Round-robin over the configs, so that a change in the machine's load hits every config alike.
    for (let run = 1; run <= runs; run++) {
      for (const plan of plans) {
        progress(`synth ${plan.label}, run ${run}/${runs}...`);
        const m = await synthOnce(plan, outdirs.get(plan) as string);
        (results.get(plan) as Measurement[]).push(m);
        progress(
          `  ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds?.toFixed(1) ?? 'n/a'} s, peak RSS ${mib(m.largestProcessPeakKiB)} (largest process), ${mib(m.treePeakKiB)} (tree)`,
        );
      }
      if (baselinePlan) {
        progress(`synth ${baselinePlan.label}, run ${run}/${runs}...`);
        const m = await synthOnce(baselinePlan, baselineOutdir);
        baseline.push(m);
        progress(
          `  ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds?.toFixed(1) ?? 'n/a'} s, peak RSS ${mib(m.largestProcessPeakKiB)} (largest process)`,
        );
      }
      if (!quick) {
        progress(`app alone (npx tsx bin/app.ts, default config), run ${run}/${runs}...`);
        const m = await appOnlyOnce(appOutdir);
        appOnly.push(m);
        progress(
          `  ${m.wallSeconds.toFixed(1)} s, peak RSS ${mib(m.largestProcessPeakKiB)} (largest process)`,
        );
      }
    }
    const synth: SynthCase[] = plans.map((p) => ({
      label: p.label,
      prodRegions: p.prodRegions,
      waves: p.waves,
      configFile: p.configFile,
      runs: results.get(p) as Measurement[],
    }));

    progress('pipeline shape from the default synth...');
    const shape = pipelineShape(outdirs.get(plans[0]) as string);
    progress(
      `  ${shape.stages.length} stages, ${shape.criticalPathSteps} sequential steps, ${shape.codeBuildProjects} CodeBuild projects, ${shape.publishing.commands} asset publish commands`,
    );

    let go: GoBench | undefined;
    let goSkipped: string | undefined;
    if (quick) {
      goSkipped = 'skipped in --quick mode';
    } else {
      progress(`Go service: bash bench/service/run.sh (BENCH_RUNS=${runs})...`);
      ({ go, skipped: goSkipped } = await goBench(runs));
      if (go)
        progress(
          `  hello-web ${go.servers['hello-web'].rps.toFixed(0)} req/s, naive ${go.servers.naive.rps.toFixed(0)} req/s`,
        );
    }

    const full = !(values['jest-only'] ?? false);
    let suiteRun: SuiteRun | undefined;
    if (values['skip-suite']) {
      progress('test suite: skipped (--skip-suite)');
    } else {
      progress(`test suite: ${full ? 'npm test' : 'npx jest --ci'} (once)...`);
      suiteRun = await suite(full);
      progress(
        `  ${suiteRun.measurement.wallSeconds.toFixed(1)} s, exit ${suiteRun.measurement.exitCode}${suiteRun.summary.length ? `, ${suiteRun.summary.join('; ')}` : ''}`,
      );
    }

    let integrationRun: IntegrationRun | undefined;
    if (quick || values['skip-suite'] || values['skip-integration']) {
      progress('integration tier: skipped');
    } else {
      progress('integration tier: npm run test:integration (once)...');
      integrationRun = await integration();
      progress(
        `  ${integrationRun.measurement.wallSeconds.toFixed(1)} s, exit ${integrationRun.measurement.exitCode}${integrationRun.summary.length ? `, ${integrationRun.summary.join('; ')}` : ''}`,
      );
    }

    const report: BenchResults = {
      mode: quick ? 'quick' : 'full',
      runsPerFigure: runs,
      machine: { ...machine, loadAfter: loadAverage() },
      synth,
      baseline: baselinePlan ? baseline : undefined,
      baselineSkipped,
      appOnly: quick ? undefined : appOnly,
      shape,
      go,
      goSkipped,
      suite: suiteRun,
      integration: integrationRun,
      totalSeconds: (Date.now() - started) / 1000,
    };
    const markdown = renderReport(report);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, markdown);
    fs.writeFileSync(path.join(TMP, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${markdown}\n`);
    for (const line of verdictLines(report)) console.log(line);
    progress(`wrote ${path.relative(REPO_ROOT, out)} (raw results: bench/.tmp/results.json)`);
    return 0;
  } finally {
    for (const dir of [...outdirs.values(), appOutdir, baselineOutdir])
      fs.rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`bench: ${e.message}`);
    process.exit(1);
  },
);
