import { printJson, progressOutput } from '../../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../../common/config';
import { CouldNotCheckError, EXIT_FAILED, EXIT_OK } from '../../common/errors';
import { type Output, formatElapsed } from '../../common/output';
import { type AwsAccess, type BoundedCall, boundedCall, defaultAwsAccess } from './aws';
import { PREFLIGHT_USAGE, parsePreflightArgs } from './args';
import { type DeploymentNeeds, synthesizeNeeds } from './needs';
import { exitCodeOf, formatReport, runPreflight } from './run';
import type { DeliveryConfig } from '../../../lib/config';

export interface PreflightDeps {
  readonly output: Output;
  /** Where relative paths on the command line start. */
  readonly cwd: string;
  /** The repository root (cdk.json, app/, and where a config file must be). */
  readonly repoRoot: string;
  /** Overrides for tests: the SDK clients, and the needs instead of a synth. */
  readonly aws?: (options: {
    roleName?: string;
    stsRegion: string;
    call: BoundedCall;
  }) => AwsAccess;
  readonly needs?: (config: DeliveryConfig) => DeploymentNeeds;
  readonly now?: () => number;
}

export function defaultPreflightDeps(output: Output): PreflightDeps {
  return { output, cwd: invocationDir(), repoRoot: REPO_ROOT };
}

export { CouldNotCheckError };

/** `npx delivery preflight`: returns the exit code; throws UsageError (exit 2) / CouldNotCheckError (exit 3) for the caller to print. */
export async function preflightMain(argv: readonly string[], deps: PreflightDeps): Promise<number> {
  const args = parsePreflightArgs(argv);
  if (args.help) {
    deps.output.out(PREFLIGHT_USAGE);
    return EXIT_OK;
  }
  // --json: the report is one JSON document on stdout; progress goes to stderr.
  const out = progressOutput(deps.output, args.json);
  const now = deps.now ?? Date.now;
  const start = now();
  const { config, described } = chooseToolConfig(args.configFile, deps.cwd, deps.repoRoot);
  out.out(`Configuration: ${described}`);
  out.out(`Synthesizing the app (offline) to learn what it deploys where...`);
  let needs: DeploymentNeeds;
  try {
    needs = (deps.needs ?? ((c) => synthesizeNeeds(c, deps.repoRoot)))(config);
  } catch (e) {
    throw new CouldNotCheckError(
      `could not synthesize the app to learn what it deploys: ${e instanceof Error ? e.message.split('\n')[0] : String(e)} (does \`npx cdk synth${args.configFile ? ` -c config=${args.configFile}` : ''}\` work?)`,
    );
  }
  out.out(
    `  ${needs.bootstrapTargets.length} account/region(s) to bootstrap; stacks require bootstrap version ${needs.requiredBootstrapVersion}; widest stage ${needs.parallelBuilds.stage} (${needs.parallelBuilds.count} builds at once).`,
  );
  const call = boundedCall(args.callTimeoutMs);
  const aws = (deps.aws ?? defaultAwsAccess)({
    roleName: args.roleName,
    sessionName: config.names.preflightSessionName,
    stsRegion: config.pipeline.region,
    call,
  });
  const rows = await runPreflight({
    config,
    needs,
    aws,
    call,
    output: out,
    concurrency: args.concurrency,
    roleName: args.roleName,
  });
  out.out('');
  for (const line of formatReport(rows)) out.out(line);
  const code = exitCodeOf(rows);
  const outcome =
    code === EXIT_OK
      ? 'nothing fails'
      : code === EXIT_FAILED
        ? 'something FAILS'
        : 'something could not be checked';
  out.out(`Preflight finished in ${formatElapsed(now() - start)}: ${outcome} (exit ${code}).`);
  if (args.json)
    printJson(deps.output, 'preflight', code, {
      outcome,
      configuration: described,
      checks: rows.map((r) => ({
        check: r.check,
        target: r.target,
        status: r.status,
        detail: r.detail,
        fix: r.fix ?? null,
      })),
    });
  return code;
}
