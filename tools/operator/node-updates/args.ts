import { parseFlags } from '../../common/args';
import { helpText } from '../../common/command';
import { UsageError } from '../../common/errors';

export const DEFAULT_MAX_AGE_DAYS = 30;
const MAX_MAX_AGE_DAYS = 365;

const USAGE =
  'Usage: npx delivery node-updates [-c config=<file> | --config <file>] [--max-age-days <n>] [--json]';

export const NODE_UPDATES_USAGE = helpText({
  usage: USAGE,
  about: `Compares each environment's node AMI release (pinned per Kubernetes version in
lib/config/kubernetes-versions.ts) with the EKS-optimized Amazon Linux 2023 release AWS recommends
today in the environment's region, for its Kubernetes version and architecture (public Systems
Manager parameters), and prints the catalog change to make.`,
  options: [
    [
      '--max-age-days <n>',
      `a pinned release older than this, with a newer one out, is stale (default ${DEFAULT_MAX_AGE_DAYS}; 1 to ${MAX_MAX_AGE_DAYS})`,
    ],
  ],
  config: true,
  json: true,
  verdict:
    'an environment is stale, or pins a release its region does not recommend yet (3: one could not be checked)',
  runbook: 'docs/runbooks/patching-nodes.md',
});

export type NodeUpdatesArgs =
  | { readonly kind: 'help' }
  | {
      readonly kind: 'run';
      readonly configFile?: string;
      readonly maxAgeDays: number;
      readonly json: boolean;
    };

/** Parses the command line (without `node` and the script). Throws UsageError (exit 2). */
export function parseNodeUpdatesArgs(argv: readonly string[]): NodeUpdatesArgs {
  const flags = parseFlags(
    argv,
    { config: { type: 'string' }, 'max-age-days': { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  if (flags.help) return { kind: 'help' };
  let maxAgeDays = DEFAULT_MAX_AGE_DAYS;
  const text = flags['max-age-days'];
  if (text !== undefined) {
    maxAgeDays = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(maxAgeDays >= 1 && maxAgeDays <= MAX_MAX_AGE_DAYS))
      throw new UsageError(
        `--max-age-days: ${JSON.stringify(text)} must be a whole number of days from 1 to ${MAX_MAX_AGE_DAYS}\n${USAGE}`,
      );
  }
  return { kind: 'run', configFile: flags.config, maxAgeDays, json: flags.json === true };
}
