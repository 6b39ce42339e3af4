/**
 * `npm run test:repeat`: finds flaky tests. Runs the Go tests and the jest suite (or the whole
 * `npm test`) several times in a row while a bounded background load keeps every core busy, and
 * reports every test that failed at least once, with the runs it failed in.
 *
 *   npm run test:repeat -- [--go-runs 20] [--jest-runs 5] [--npm-test-runs 0]
 *                          [--integration-runs 0] [--no-load] [--load-seconds 7200]
 *
 * The load is one busy process per core, niced so the tests still get a share, killed when the
 * runs end and bounded by --load-seconds in any case (it stops by itself). Exit 0 when nothing
 * failed, 1 when a test failed at least once, 2 on bad arguments.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(__dirname, '..');
/**
 * Every Go module of the repository that has tests, found rather than listed: a module that moves
 * or is added (issue 15 moved the flaky test's module) is repeated without anyone remembering to.
 */
export function goModulesWithTests(): string[] {
  const files = spawnSync('git', ['ls-files', '*go.mod', '*_test.go'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .stdout.split('\n')
    .filter(Boolean);
  const modules = files.filter((f) => path.basename(f) === 'go.mod').map((f) => path.dirname(f));
  const tests = files.filter((f) => f.endsWith('_test.go'));
  return modules.filter((m) =>
    tests.some(
      (t) =>
        t.startsWith(`${m}/`) &&
        // not a test of a module nested deeper inside this one
        !modules.some((n) => n !== m && n.startsWith(`${m}/`) && t.startsWith(`${n}/`)),
    ),
  );
}

interface Failure {
  suite: string;
  test: string;
  runs: number[];
}

function usage(message: string): never {
  process.stderr.write(
    `test:repeat: ${message}\nusage: npm run test:repeat -- [--go-runs N] [--jest-runs N] [--npm-test-runs N] [--integration-runs N] [--no-load] [--load-seconds S]\n`,
  );
  process.exit(2);
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 1000)
    usage(`--${name} must be a whole number 0-1000, got "${value}"`);
  return Number(value);
}

function startLoad(seconds: number): ChildProcess[] {
  // A busy loop per core, each ended by `timeout` even if this process dies without cleaning up.
  return os.cpus().map(() =>
    spawn('timeout', [String(seconds), 'nice', '-n', '10', 'sh', '-c', 'while :; do :; done'], {
      stdio: 'ignore',
      // its own process group from the start, so that stopLoad ends the loop with it
      detached: true,
    }),
  );
}

function record(failures: Map<string, Failure>, suite: string, test: string, run: number): void {
  const key = `${suite}\u0000${test}`;
  const f = failures.get(key) ?? { suite, test, runs: [] };
  if (!f.runs.includes(run)) f.runs.push(run);
  failures.set(key, f);
}

/** `go test -json` output: every test (and package) whose final action was "fail". */
function goRun(run: number, failures: Map<string, Failure>): boolean {
  let ok = true;
  for (const mod of goModulesWithTests()) {
    const res = spawnSync('go', ['test', '-race', '-count=1', '-json', './...'], {
      cwd: path.join(ROOT, mod),
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    for (const line of res.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const ev = JSON.parse(line) as { Action?: string; Package?: string; Test?: string };
      if (ev.Action === 'fail') {
        ok = false;
        record(failures, `go ${mod}`, `${ev.Package ?? '?'} ${ev.Test ?? '(package)'}`, run);
      }
    }
    if (res.status !== 0 && ok) {
      ok = false; // a build failure or a crash reports no test
      record(
        failures,
        `go ${mod}`,
        `(go test exited ${res.status}: ${res.stderr.trim().slice(-300)})`,
        run,
      );
    }
  }
  return ok;
}

/** jest's --json report: every assertion result whose status is "failed". */
function jestRun(run: number, failures: Map<string, Failure>, config?: string): boolean {
  const out = path.join(os.tmpdir(), `test-repeat-jest-${process.pid}-${run}.json`);
  const args = [
    'jest',
    '--ci',
    '--json',
    `--outputFile=${out}`,
    ...(config ? ['--config', config] : []),
  ];
  const res = spawnSync('npx', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const suite = config ? `jest ${path.basename(config)}` : 'jest';
  if (!fs.existsSync(out)) {
    record(
      failures,
      suite,
      `(no report; jest exited ${res.status}: ${res.stderr.trim().slice(-300)})`,
      run,
    );
    return false;
  }
  const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
    success: boolean;
    testResults: {
      name: string;
      message: string;
      assertionResults: { fullName: string; status: string }[];
    }[];
  };
  fs.rmSync(out, { force: true });
  for (const file of report.testResults) {
    const rel = path.relative(ROOT, file.name);
    const failed = file.assertionResults.filter((a) => a.status === 'failed');
    for (const a of failed) record(failures, suite, `${rel} › ${a.fullName}`, run);
    // A file that fails to load or whose hooks throw has no failed assertion, only a message.
    if (failed.length === 0 && file.message)
      record(failures, suite, `${rel} (suite failed to run)`, run);
  }
  return report.success;
}

/** The whole `npm test`: the gates it prints as failed. */
function npmTestRun(run: number, failures: Map<string, Failure>): boolean {
  const res = spawnSync('npm', ['test'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith('failed gates: '));
  if (line)
    for (const gate of line.slice('failed gates: '.length).split(' '))
      record(failures, 'npm test', `gate ${gate}`, run);
  if (res.status !== 0 && !line)
    record(failures, 'npm test', `(exited ${res.status} without a gate summary)`, run);
  return res.status === 0;
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'go-runs': { type: 'string' },
        'jest-runs': { type: 'string' },
        'npm-test-runs': { type: 'string' },
        'integration-runs': { type: 'string' },
        'no-load': { type: 'boolean' },
        'load-seconds': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const goRuns = count(values['go-runs'], 'go-runs', 20);
  const jestRuns = count(values['jest-runs'], 'jest-runs', 5);
  const npmRuns = count(values['npm-test-runs'], 'npm-test-runs', 0);
  const integrationRuns = count(values['integration-runs'], 'integration-runs', 0);
  const loadSeconds = count(values['load-seconds'], 'load-seconds', 7200);
  const integrationConfig = path.join(ROOT, 'jest.integration.config.js');
  if (integrationRuns > 0 && !fs.existsSync(integrationConfig))
    usage('--integration-runs needs jest.integration.config.js');

  const load = values['no-load'] ? [] : startLoad(loadSeconds);
  // The whole process group: `timeout` and its loop. Signalling `timeout` alone missed the loop
  // twice: SIGKILL cannot be passed on, and a SIGTERM that arrives before `timeout` has started its
  // child leaves the child running to the bound.
  const stopLoad = (): void =>
    load.forEach((p) => {
      try {
        if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  process.on('exit', stopLoad);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  console.log(
    `test:repeat: background load ${load.length ? `${load.length} busy processes (≤ ${loadSeconds} s)` : 'off'}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  const failures = new Map<string, Failure>();
  const plan: [string, number, (run: number) => boolean][] = [
    ['go tests', goRuns, (r) => goRun(r, failures)],
    ['jest', jestRuns, (r) => jestRun(r, failures)],
    ['npm test', npmRuns, (r) => npmTestRun(r, failures)],
    ['integration', integrationRuns, (r) => jestRun(r, failures, integrationConfig)],
  ];
  const summary: string[] = [];
  for (const [name, runs, once] of plan) {
    let failed = 0;
    for (let run = 1; run <= runs; run++) {
      const start = Date.now();
      const ok = once(run);
      if (!ok) failed++;
      console.log(
        `test:repeat: ${name} run ${run}/${runs}: ${ok ? 'passed' : 'FAILED'} (${((Date.now() - start) / 1000).toFixed(0)} s, load ${os.loadavg()[0].toFixed(1)})`,
      );
    }
    if (runs > 0) summary.push(`${name}: ${runs} runs, ${failed} failed`);
  }
  stopLoad();
  console.log(`\ntest:repeat: ${summary.join('; ')}`);
  if (failures.size === 0) {
    console.log('test:repeat: no test failed in any run');
    return;
  }
  console.log('test:repeat: tests that failed at least once:');
  for (const f of failures.values())
    console.log(`  [${f.suite}] ${f.test}  (runs ${f.runs.join(', ')})`);
  process.exitCode = 1;
}

// run only as a script (the test imports goModulesWithTests)
if (require.main === module) main();
