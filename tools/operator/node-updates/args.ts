import { parseArgs } from 'node:util';
import { UsageError } from '../../common/errors';

export const DEFAULT_MAX_AGE_DAYS = 30;
const MAX_MAX_AGE_DAYS = 365;

export const NODE_UPDATES_USAGE = `usage: npm run node-updates [-- [-c config=<file.json> | --config <file.json>] [--max-age-days <n>]]

Compares each environment's node AMI release (pinned per Kubernetes version in
lib/config/kubernetes-versions.ts) with the EKS-optimized Amazon Linux 2023 release AWS recommends
today in the environment's region, for its Kubernetes version and architecture (public Systems
Manager parameters), and prints the catalog change to make.

Options:
  -c config=<file.json>   the configuration file, as for cdk synth (default: STACK_ENVIRONMENTS)
  --config <file.json>    the same
  --max-age-days <n>      a pinned release older than this, with a newer one available, is stale
                          (default ${DEFAULT_MAX_AGE_DAYS}; 1 to ${MAX_MAX_AGE_DAYS})
  -h, --help              print this text

Exit codes: 0 every environment is current or within --max-age-days,
            1 an environment is stale, or pins a release its region does not recommend yet,
            2 an environment could not be checked (or bad arguments).
Runbook: docs/runbooks/patching-nodes.md`;

const OPTIONS = {
  config: { type: 'string' },
  context: { type: 'string', short: 'c' },
  'max-age-days': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

export type NodeUpdatesArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly configFile?: string; readonly maxAgeDays: number };

function isOptionName(name: string): name is OptionName {
  return Object.prototype.hasOwnProperty.call(OPTIONS, name);
}

function fail(message: string): never {
  throw new UsageError(`${message}\n${NODE_UPDATES_USAGE.split('\n')[0]}`);
}

/**
 * Parses the command line (without `node` and the script) with node:util's tokenizer, checking
 * each token here so every mistake gets a message of ours: unknown flag, missing value, a flag
 * given twice, a stray argument. Throws UsageError (exit 2).
 */
export function parseNodeUpdatesArgs(argv: readonly string[]): NodeUpdatesArgs {
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Partial<Record<OptionName, string | true>> = {};
  for (const token of tokens) {
    if (token.kind === 'positional')
      fail(`unexpected argument ${JSON.stringify(token.value)} (every value belongs to a flag)`);
    if (token.kind === 'option-terminator') fail('unexpected "--"');
    if (token.kind !== 'option') continue;
    if (!isOptionName(token.name)) fail(`unknown option ${token.rawName}`);
    const name: OptionName = token.name;
    if (flags[name] !== undefined) fail(`${token.rawName} is given twice`);
    if (OPTIONS[name].type === 'boolean') {
      if (token.value !== undefined) fail(`${token.rawName} takes no value`);
      flags[name] = true;
      continue;
    }
    // Without strict mode the tokenizer takes the next flag as the value (`--config --max-age-days 3`).
    const value = token.value;
    if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('-')))
      fail(`${token.rawName} needs a value`);
    flags[name] = value;
  }
  if (flags.help) return { kind: 'help' };

  const configFlag = typeof flags.config === 'string' ? flags.config : undefined;
  let contextConfig: string | undefined;
  if (typeof flags.context === 'string') {
    // The same spelling as `cdk synth -c config=<file>`; this tool reads no other context key.
    const m = /^config=(.+)$/.exec(flags.context);
    if (!m)
      fail(`-c takes config=<file.json>, as for cdk synth; got ${JSON.stringify(flags.context)}`);
    contextConfig = m[1];
  }
  if (configFlag !== undefined && contextConfig !== undefined)
    fail('give the configuration once: either -c config=<file> or --config <file>');

  let maxAgeDays = DEFAULT_MAX_AGE_DAYS;
  if (typeof flags['max-age-days'] === 'string') {
    const text = flags['max-age-days'];
    maxAgeDays = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(maxAgeDays >= 1 && maxAgeDays <= MAX_MAX_AGE_DAYS))
      fail(
        `--max-age-days: ${JSON.stringify(text)} must be a whole number of days from 1 to ${MAX_MAX_AGE_DAYS}`,
      );
  }
  return { kind: 'run', configFile: configFlag ?? contextConfig, maxAgeDays };
}
