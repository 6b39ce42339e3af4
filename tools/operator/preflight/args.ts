import { parseArgs } from 'node:util';
import { UsageError } from '../../common/errors';

export const PREFLIGHT_USAGE = `Usage: npm run preflight [-- -c config=<file.json>] [--role-name <name>] [--concurrency <n>] [--call-timeout <seconds>]

Read-only checks of every account and region the configuration deploys to, before the first
deployment: CDK bootstrap (version, trust of the pipeline account), availability zones (AZ IDs
EKS supports, instance type offered), Kubernetes version, network quotas, the pipeline account's
ECR registry (replication and scanning: what deploying would change), Amazon Inspector, CodeBuild
concurrency, the source repository.

Options:
  -c config=<file>           the configuration file, as for cdk synth (default: STACK_ENVIRONMENTS)
  --role-name <name>         assume arn:<partition>:iam::<account>:role/<name> in every account
                             (default: your credentials, for every account)
  --concurrency <n>          checks running at once, 1-32 (default 8)
  --call-timeout <seconds>   time bound of every AWS call, 1-300 (default 20)
  -h, --help                 print this text

Exit codes: 0 nothing fails, 1 something fails, 2 something could not be checked (or bad usage).
Runbook: docs/runbooks/first-deployment.md`;

export interface PreflightArgs {
  readonly help: boolean;
  readonly configFile?: string;
  readonly roleName?: string;
  readonly concurrency: number;
  readonly callTimeoutMs: number;
}

const OPTIONS = {
  c: { type: 'string', short: 'c' },
  'role-name': { type: 'string' },
  concurrency: { type: 'string' },
  'call-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Name = keyof typeof OPTIONS;
const isName = (n: string): n is Name => Object.prototype.hasOwnProperty.call(OPTIONS, n);

// IAM role names (no path): https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

function wholeNumber(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(
      `${flag}: "${value}" must be a whole number from ${min} to ${max}\n${PREFLIGHT_USAGE}`,
    );
  return n;
}

/**
 * Tokenizes with node:util and checks each token here (as tools/pipeline/image-gate/args.ts does), so a
 * flag given twice, a stray argument or a flag without its value is a UsageError of ours.
 */
export function parsePreflightArgs(argv: readonly string[]): PreflightArgs {
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Partial<Record<Name, string | true>> = {};
  const bad = (message: string): never => {
    throw new UsageError(`${message}\n${PREFLIGHT_USAGE}`);
  };
  for (const token of tokens) {
    if (token.kind === 'positional')
      bad(`unexpected argument "${token.value}" (every value belongs to a flag)`);
    if (token.kind !== 'option') continue;
    if (!isName(token.name)) return bad(`unknown option ${token.rawName}`);
    const shown = token.name === 'c' ? '-c' : `--${token.name}`;
    if (flags[token.name] !== undefined) bad(`${shown} is given twice`);
    if (OPTIONS[token.name].type === 'boolean') {
      flags[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('-')))
      return bad(`${shown} needs a value`);
    flags[token.name] = value;
  }
  const str = (n: Name): string | undefined =>
    typeof flags[n] === 'string' ? flags[n] : undefined;

  let configFile: string | undefined;
  const context = str('c');
  if (context !== undefined) {
    const m = /^config=(.+)$/.exec(context);
    if (!m) bad(`-c ${context}: only -c config=<file.json> is understood`);
    configFile = m?.[1];
  }
  const roleName = str('role-name');
  if (roleName !== undefined && !ROLE_NAME.test(roleName))
    bad(
      `--role-name: "${roleName}" is not an IAM role name (1-64 of letters, digits and +=,.@_-; no path)`,
    );
  return {
    help: flags.help === true,
    configFile,
    roleName,
    concurrency: wholeNumber('--concurrency', str('concurrency'), 8, 1, 32),
    callTimeoutMs: wholeNumber('--call-timeout', str('call-timeout'), 20, 1, 300) * 1000,
  };
}
