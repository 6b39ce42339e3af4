import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { EnvironmentConfig } from '../../../lib/config';
import type { RunControl } from '../../common/control';
import {
  CouldNotCheckError,
  OperationError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';

/** Where breakglass reads, writes and applies, for one environment. */
export interface Targets {
  readonly bucket: string;
  readonly key: string;
  readonly table: string;
  /** kubectl context: by default the cluster ARN, the name `aws eks update-kubeconfig` gives it. */
  readonly context: string;
}

/** Each target, the stage stack output it comes from, and the flag that overrides it. */
const SOURCES: ReadonlyArray<{ target: keyof Targets; output: string; flag: string }> = [
  { target: 'bucket', output: 'ManifestBucketName', flag: '--bucket' },
  { target: 'key', output: 'ManifestObjectKey', flag: '--key' },
  { target: 'table', output: 'AuditTableName', flag: '--table' },
  { target: 'context', output: 'ClusterArn', flag: '--context' },
];

/**
 * Flags win; whatever they leave open comes from the environment's stack outputs
 * (DescribeStacks on the environment's stack, `<service>-<stage>`, in its region). With all four flags given,
 * CloudFormation is not asked at all.
 */
export async function discoverTargets(
  env: EnvironmentConfig,
  overrides: Partial<Targets>,
  cloudFormation: () => CloudFormationClient,
  control: RunControl,
): Promise<{ targets: Targets; fromStack: string[] }> {
  const open = SOURCES.filter((s) => overrides[s.target] === undefined);
  if (open.length === 0) return { targets: overrides as Targets, fromStack: [] };

  const allFlags = SOURCES.map((s) => s.flag).join(', ');
  let outputs: Record<string, string>;
  try {
    const res = await control.call(
      `reading the outputs of stack ${env.stackName} in ${env.region}`,
      (abortSignal) =>
        cloudFormation().send(new DescribeStacksCommand({ StackName: env.stackName }), {
          abortSignal,
        }),
    );
    const stack = res.Stacks?.[0];
    outputs = Object.fromEntries(
      (stack?.Outputs ?? [])
        .filter((o) => o.OutputKey && o.OutputValue)
        .map((o) => [o.OutputKey as string, o.OutputValue as string]),
    );
  } catch (e) {
    if (isStop(e)) throw e;
    if (
      awsErrorName(e) === 'ValidationError' ||
      awsErrorName(e) === 'ValidationException' ||
      /does not exist/.test((e as Error).message)
    ) {
      throw new OperationError(
        `stack ${env.stackName} not found in ${env.region}: is ${env.stageName} deployed, and are your credentials for account ${env.account}? Otherwise pass ${allFlags}`,
      );
    }
    throw new CouldNotCheckError(
      `${describeAwsError(e, `reading the outputs of stack ${env.stackName} in ${env.region}`)}; or pass ${allFlags}`,
    );
  }
  const missing = open.filter((s) => outputs[s.output] === undefined);
  if (missing.length > 0) {
    throw new OperationError(
      `stack ${env.stackName} (${env.region}) has no output ${missing.map((s) => s.output).join(', ')}; pass ${missing.map((s) => `${s.flag} <${s.target}>`).join(' ')} instead`,
    );
  }
  const targets = { ...overrides } as Record<keyof Targets, string>;
  for (const s of open) targets[s.target] = outputs[s.output];
  return { targets, fromStack: open.map((s) => s.output) };
}
