import { invocationDir, loadToolConfig } from '../../common/config';
import { EXIT_OK } from '../../common/errors';
import { type Output, formatElapsed } from '../../common/output';
import { type AwsAccess, type BoundedCall, boundedCall, defaultAwsAccess } from './aws';
import { PREFLIGHT_USAGE, parsePreflightArgs } from './args';
import { type DeploymentNeeds, synthesizeNeeds } from './needs';
import { EXIT_COULD_NOT_CHECK, exitCodeOf, formatReport, runPreflight } from './run';
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
  return { output, cwd: invocationDir(), repoRoot: process.cwd() };
}

/** Nothing was checked (exit 2), e.g. the app does not synthesize. */
export class CouldNotCheckError extends Error {
  readonly exitCode = EXIT_COULD_NOT_CHECK;
  constructor(message: string) {
    super(message);
    this.name = 'CouldNotCheckError';
  }
}

/** `npm run preflight`: returns the exit code; throws UsageError / CouldNotCheckError (both exit 2) for the caller to print. */
export async function preflightMain(argv: readonly string[], deps: PreflightDeps): Promise<number> {
  const args = parsePreflightArgs(argv);
  const out = deps.output;
  if (args.help) {
    out.out(PREFLIGHT_USAGE);
    return EXIT_OK;
  }
  const now = deps.now ?? Date.now;
  const start = now();
  const config = loadToolConfig(args.configFile, deps.cwd, deps.repoRoot);
  out.out(
    `Synthesizing the app (offline) to learn what it deploys where${args.configFile ? ` (${args.configFile})` : ''}...`,
  );
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
  out.out(
    `Preflight finished in ${formatElapsed(now() - start)}: ${['nothing fails', 'something FAILS', 'something could not be checked'][code]} (exit ${code}).`,
  );
  return code;
}
