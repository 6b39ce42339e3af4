import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { type DeliveryConfig, allEnvironments } from '../../lib/config';
import { OUTPUTS } from '../../lib/stacks/eks-app-stack';
import { parseFlags } from '../common/args';
import { helpText, printJson, progressOutput } from '../common/command';
import {
  EXIT_COULD_NOT_CHECK,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  awsErrorName,
  exitCodeOf,
} from '../common/errors';
import { chooseToolConfig, invocationDir } from '../common/config';
import { type Output, processOutput } from '../common/output';
import { safeForTerminal } from '../common/terminal';
import {
  type AssemblyStack,
  AssemblyError,
  readAssemblyStacks,
} from '../pipeline/change-report/assembly';
import { DeployedReader, type ReaderOptions } from '../pipeline/change-report/deployed';
import { renderMarkdown } from '../pipeline/change-report/render';
import {
  type DeployedState,
  type StackReport,
  changeReport,
  stackReport,
} from '../pipeline/change-report/report';

/**
 * `npx delivery diff` (`npm run diff` too): the report the pipeline shows before the prod approval
 * (tools/pipeline/change-report), for any environment, on a laptop or in a pull request's CI.
 * It synthesizes the app with the same configuration the pipeline uses and compares each stack
 * either with what is deployed (read through the account's CDK bootstrap lookup role, as the
 * pipeline and `cdk diff` do; needs credentials that may assume it) or, offline, with another
 * cloud assembly (`--against`, e.g. main's `cdk.out`).
 */
const USAGE =
  'Usage: npx delivery diff [-c config=<file> | --config <file>] [--env <stage>[,<stage>...]] [--against <cdk.out dir>] [--assembly <cdk.out dir>] [--no-assume] [--out <file.md>] [--json]';

export const DIFF_USAGE = helpText({
  usage: USAGE,
  about: `What deploying would change, stack by stack, as the pipeline reports it before the prod approval:
replacements, removals, service interruptions, IAM / security-group / KMS / EKS access changes. With
the same configuration as cdk synth and every npx delivery command.`,
  options: [
    [
      '--env <list>',
      'the environments (stage names), comma-separated; "pipeline" for the pipeline\'s own stack (default: the pipeline, pre-prod and every prod wave)',
    ],
    [
      '--against <dir>',
      'compare with the stacks of another cloud assembly instead of what is deployed (offline)',
    ],
    [
      '--assembly <dir>',
      'use this cloud assembly instead of synthesizing (default: synthesize now)',
    ],
    ['--no-assume', 'read deployed stacks with your own credentials instead of the lookup role'],
    ['--call-timeout <s>', 'the most one AWS call may take, 1-300 seconds (default 30)'],
    ['--out <file>', 'also write the report (Markdown) to this file'],
  ],
  config: true,
  json: true,
  verdict: "the config's prod.changeReport.blockOn would block the promotion",
  runbook: 'docs/runbooks/promoting-to-prod.md',
});

export interface DiffArgs {
  readonly help: boolean;
  readonly configFile?: string;
  readonly envs?: string[];
  readonly against?: string;
  readonly assembly?: string;
  readonly assumeRole: boolean;
  readonly callTimeoutMs: number;
  readonly out?: string;
  readonly json: boolean;
}

/** The command line, with the parser every command shares (tools/common/args.ts). */
export function parseDiffArgs(argv: readonly string[]): DiffArgs {
  const v = parseFlags(
    argv,
    {
      config: { type: 'string' },
      env: { type: 'string' },
      against: { type: 'string' },
      assembly: { type: 'string' },
      'no-assume': { type: 'boolean' },
      'call-timeout': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  const timeout = v['call-timeout'] ?? '30';
  const seconds = /^\d+$/.test(timeout) ? Number(timeout) : NaN;
  if (!(seconds >= 1 && seconds <= 300))
    throw new UsageError(`--call-timeout: "${timeout}" must be a whole number from 1 to 300`);
  if (v.against !== undefined && v['no-assume'])
    throw new UsageError('--no-assume reads deployed stacks; --against reads none: give one');
  return {
    help: v.help === true,
    configFile: v.config,
    envs: v.env?.split(',').map((e) => e.trim()),
    against: v.against,
    assembly: v.assembly,
    assumeRole: v['no-assume'] !== true,
    callTimeoutMs: seconds * 1000,
    out: v.out,
    json: v.json === true,
  };
}

/** The stacks to report on, grouped: -1 the pipeline's own stack, 0 pre-prod, 1.. the prod waves. */
export function selectStacks(
  config: DeliveryConfig,
  stacks: readonly AssemblyStack[],
  envs: readonly string[] | undefined,
): { wave: number; stack: AssemblyStack }[] {
  const known = ['pipeline', ...allEnvironments(config).map((e) => e.stageName)];
  const wanted = envs ?? known;
  const unknown = wanted.filter((e) => !known.includes(e));
  if (unknown.length > 0)
    throw new UsageError(
      `--env: ${unknown.join(', ')} is not an environment of this config (known: ${known.join(', ')})`,
    );
  const out: { wave: number; stack: AssemblyStack }[] = [];
  const pick = (wave: number, match: (s: AssemblyStack) => boolean) => {
    for (const stack of stacks.filter(match)) out.push({ wave, stack });
  };
  // the pipeline's own stack: the app-level stack in the pipeline's account and region (CDK
  // Pipelines' cross-region support stacks are in the other regions)
  if (wanted.includes('pipeline'))
    pick(
      -1,
      (s) =>
        s.stage === '' &&
        s.account === config.pipeline.account &&
        s.region === config.pipeline.region,
    );
  if (wanted.includes(config.preprod.stageName))
    pick(0, (s) => s.stage === config.preprod.stageName);
  config.prod.waves.forEach((wave, w) => {
    for (const env of wave)
      if (wanted.includes(env.stageName)) pick(w + 1, (s) => s.stage === env.stageName);
  });
  return out;
}

/** The most the synth may take before the command gives up on it. */
const SYNTH_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Synthesizes with the pinned CDK CLI, as the pipeline's Build step does (`npx cdk synth`): the
 * CLI adds path metadata and version reporting that an in-process synth would not, and the
 * deployed templates carry them, so anything else would show every resource as changed.
 */
function synthesizeApp(repoRoot: string, configFile: string | undefined, cwd: string): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'diff-'));
  const cdk = path.join(path.dirname(require.resolve('aws-cdk/package.json')), 'bin', 'cdk');
  const config = configFile
    ? ['-c', `config=${path.relative(repoRoot, path.resolve(cwd, configFile))}`]
    : [];
  const r = spawnSync(process.execPath, [cdk, 'synth', '-q', '-o', outdir, ...config], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: SYNTH_TIMEOUT_MS,
  });
  if (r.status !== 0) {
    fs.rmSync(outdir, { recursive: true, force: true });
    const why = r.error
      ? r.error.message
      : (r.stderr ?? '').trim().split('\n').slice(-5).join(' / ') || `exit ${r.status}`;
    throw new UsageError(`cdk synth failed: ${why}`);
  }
  return outdir;
}

export interface DiffDeps {
  readonly output?: Output;
  readonly repoRoot?: string;
  readonly cwd?: string;
  readonly reader?: Partial<Pick<ReaderOptions, 'sts' | 'cloudFormation' | 'partition'>>;
}

export async function runDiff(args: DiffArgs, deps: DiffDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput();
  // --json: the result is one JSON document on stdout; the report and progress go to stderr
  const out = progressOutput(output, args.json);
  const repoRoot = deps.repoRoot ?? path.resolve(__dirname, '..', '..');
  const cwd = deps.cwd ?? invocationDir();
  const { config, described, choice } = chooseToolConfig(args.configFile, cwd, repoRoot);
  out.err(`Configuration: ${described}`);
  let assemblyDir = args.assembly ? path.resolve(cwd, args.assembly) : undefined;
  let temporary: string | undefined;
  if (!assemblyDir) {
    out.err('diff: synthesizing the app with npx cdk synth (offline)...');
    temporary = assemblyDir = synthesizeApp(repoRoot, args.configFile, cwd);
  }
  try {
    const targets = selectStacks(config, readAssemblyStacks(assemblyDir), args.envs);
    let read: (stack: AssemblyStack) => Promise<DeployedState>;
    let against: string;
    if (args.against) {
      const others = readAssemblyStacks(path.resolve(cwd, args.against));
      against = `stacks of the cloud assembly ${args.against}`;
      read = (stack) => {
        const other = others.find(
          (o) =>
            o.stackName === stack.stackName &&
            o.account === stack.account &&
            o.region === stack.region,
        );
        return Promise.resolve(
          other
            ? { kind: 'deployed', template: other.template, status: 'as in the --against assembly' }
            : { kind: 'absent' },
        );
      };
    } else {
      const reader = new DeployedReader({
        // every environment is in the pipeline's partition (config validation)
        partition: RegionInfo.get(config.pipeline.region).partition ?? 'aws',
        sessionName: `delivery-diff-${os.userInfo().username}`
          .replace(/[^\w+=,.@-]/g, '-')
          .slice(0, 64),
        callTimeoutMs: args.callTimeoutMs,
        assumeRole: args.assumeRole,
        ...deps.reader,
      });
      against = args.assumeRole
        ? 'deployed stacks, read through each account’s CDK bootstrap lookup role'
        : 'deployed stacks, read with your own credentials';
      read = (stack) => reader.read(stack);
      out.err(`diff: reading ${targets.length} deployed stacks...`);
    }
    const stacks: StackReport[] = await Promise.all(
      targets.map(async ({ wave, stack }) =>
        stackReport(wave, stack, await read(stack), { imageTagOutput: OUTPUTS.imageTag }),
      ),
    );
    const report = changeReport(stacks, 'stack');
    const blockOn = config.prod.changeReport.blockOn;
    const markdown = renderMarkdown(report, {
      title: `npx delivery diff (${choice.file ?? 'default config'})`,
      against,
      blockOn,
    });
    for (const line of markdown.split('\n')) out.out(safeForTerminal(line));
    if (args.out) fs.writeFileSync(path.resolve(cwd, args.out), markdown);
    // the pipeline blocks on prod stacks only
    const prod = changeReport(stacks.filter((s) => s.wave >= 1));
    const blocking = blockOn.filter((f) => prod.findings.has(f));
    if (blocking.length > 0)
      out.err(
        `diff: the promotion would be BLOCKED (prod.changeReport.blockOn: ${blocking.join(', ')})`,
      );
    const code = blocking.length > 0 ? EXIT_FAILED : EXIT_OK;
    if (args.json)
      printJson(output, 'diff', code, {
        blocking,
        findings: [...prod.findings.keys()],
        stacks: targets.map((t) => t.stack.stackName),
        markdown,
      });
    return code;
  } finally {
    if (temporary) fs.rmSync(temporary, { recursive: true, force: true });
  }
}

export async function main(argv: readonly string[], deps: DiffDeps = {}): Promise<number> {
  const out = deps.output ?? processOutput();
  try {
    const args = parseDiffArgs(argv);
    if (args.help) {
      out.out(DIFF_USAGE);
      return EXIT_OK;
    }
    return await runDiff(args, deps);
  } catch (e) {
    const message = (e as Error).message.split('\n').map(safeForTerminal);
    out.err(`diff: error: ${message[0]}`);
    for (const line of message.slice(1)) out.err(line);
    // the one exit-code table (tools/common/errors.ts): an AWS error is "could not check"
    const code =
      e instanceof AssemblyError
        ? EXIT_USAGE
        : (exitCodeOf(e) ?? (awsErrorName(e) !== undefined ? EXIT_COULD_NOT_CHECK : EXIT_FAILED));
    if (argv.includes('--json')) printJson(out, 'diff', code, { error: (e as Error).message });
    return code;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
