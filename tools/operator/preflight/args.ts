import { parseFlags } from '../../common/args';
import { helpText } from '../../common/command';
import { UsageError } from '../../common/errors';

const USAGE =
  'Usage: npx delivery preflight [-c config=<file> | --config <file>] [--role-name <name>] [--concurrency <n>] [--call-timeout <seconds>] [--json]';

export const PREFLIGHT_USAGE = helpText({
  usage: USAGE,
  about: `Read-only checks of every account and region the configuration deploys to, before the first
deployment: CDK bootstrap (version, trust of the pipeline account), availability zones (AZ IDs
EKS supports, instance type offered), Kubernetes version, network quotas, the pipeline account's
ECR registry (replication and scanning: what deploying would change), Amazon Inspector, CodeBuild
concurrency, the source repository.`,
  options: [
    [
      '--role-name <name>',
      'assume arn:<partition>:iam::<account>:role/<name> in every account (default: your credentials, for every account)',
    ],
    ['--concurrency <n>', 'checks running at once, 1-32 (default 8)'],
    ['--call-timeout <seconds>', 'time bound of every AWS call, 1-300 (default 20)'],
  ],
  config: true,
  json: true,
  verdict: 'a check FAILs (3: nothing fails, but a check could not be done)',
  runbook: 'docs/runbooks/first-deployment.md',
});

export interface PreflightArgs {
  readonly help: boolean;
  readonly configFile?: string;
  readonly roleName?: string;
  readonly concurrency: number;
  readonly callTimeoutMs: number;
  readonly json: boolean;
}

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
      `${flag}: "${value}" must be a whole number from ${min} to ${max}\n${USAGE}`,
    );
  return n;
}

/** Parses the command line with the shared parser (tools/common/args.ts). Throws UsageError. */
export function parsePreflightArgs(argv: readonly string[]): PreflightArgs {
  const flags = parseFlags(
    argv,
    {
      config: { type: 'string' },
      'role-name': { type: 'string' },
      concurrency: { type: 'string' },
      'call-timeout': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  const roleName = flags['role-name'];
  if (roleName !== undefined && !ROLE_NAME.test(roleName))
    throw new UsageError(
      `--role-name: "${roleName}" is not an IAM role name (1-64 of letters, digits and +=,.@_-; no path)\n${USAGE}`,
    );
  return {
    help: flags.help === true,
    configFile: flags.config,
    roleName,
    concurrency: wholeNumber('--concurrency', flags.concurrency, 8, 1, 32),
    callTimeoutMs: wholeNumber('--call-timeout', flags['call-timeout'], 20, 1, 300) * 1000,
    json: flags.json === true,
  };
}
