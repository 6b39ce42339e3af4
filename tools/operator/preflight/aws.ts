import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { Inspector2Client } from '@aws-sdk/client-inspector2';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { RegionInfo } from 'aws-cdk-lib/region-info';

/** An account and region a check looks at. */
export interface Target {
  readonly account: string;
  readonly region: string;
}

/** Thrown when an AWS call outlives its time bound; the check becomes "could not check". */
export class CallTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`no answer from ${what} within ${Math.round(ms / 1000)} s (the call was abandoned)`);
    this.name = 'CallTimeoutError';
  }
}

/** Runs one AWS call with a time bound: an abort signal for the SDK, and a timer that does not trust it. */
export type BoundedCall = <T>(
  what: string,
  run: (abortSignal: AbortSignal) => Promise<T>,
) => Promise<T>;

export function boundedCall(timeoutMs: number): BoundedCall {
  return async (what, run) => {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // The SDK honours the signal for HTTP; the race also ends a call that ignores it (a hung
    // credential provider, a mocked client).
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new CallTimeoutError(what, timeoutMs));
      }, timeoutMs);
    });
    try {
      return await Promise.race([run(controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The SDK clients the checks use, for an account and region (with that account's credentials). */
export interface AwsAccess {
  cloudFormation(t: Target): CloudFormationClient;
  ec2(t: Target): EC2Client;
  eks(t: Target): EKSClient;
  /** IAM is global: the region only picks the partition's endpoint. */
  iam(t: Target): IAMClient;
  ecr(t: Target): ECRClient;
  inspector2(t: Target): Inspector2Client;
  serviceQuotas(t: Target): ServiceQuotasClient;
  codeCommit(t: Target): CodeCommitClient;
  sts(t: Target): STSClient;
}

export function partitionOf(region: string): string {
  return RegionInfo.get(region).partition ?? 'aws';
}

/**
 * Clients with the caller's credentials, or, with `roleName`, with a role assumed in each
 * account (arn:<partition>:iam::<account>:role/<roleName>), once per account. Read-only use only.
 */
export function defaultAwsAccess(options: {
  roleName?: string;
  /** The AssumeRole session name (`preflightSessionName`, lib/config/names.ts): CloudTrail shows it. */
  sessionName: string;
  stsRegion: string;
  call: BoundedCall;
}): AwsAccess {
  const roleCredentials = new Map<string, AwsCredentialIdentityProvider>();
  const credentialsFor = (account: string): AwsCredentialIdentityProvider | undefined => {
    const { roleName } = options;
    if (roleName === undefined) return undefined;
    let provider = roleCredentials.get(account);
    if (!provider) {
      const roleArn = `arn:${partitionOf(options.stsRegion)}:iam::${account}:role/${roleName}`;
      let cached: Promise<AwsCredentialIdentity> | undefined;
      provider = () => {
        cached ??= options
          .call(`STS AssumeRole ${roleArn}`, (abortSignal) =>
            new STSClient({ region: options.stsRegion }).send(
              new AssumeRoleCommand({
                RoleArn: roleArn,
                RoleSessionName: options.sessionName,
                DurationSeconds: 3600,
              }),
              { abortSignal },
            ),
          )
          .then((out) => {
            const c = out.Credentials;
            if (!c?.AccessKeyId || !c.SecretAccessKey)
              throw new Error(`AssumeRole ${roleArn} returned no credentials`);
            return {
              accessKeyId: c.AccessKeyId,
              secretAccessKey: c.SecretAccessKey,
              sessionToken: c.SessionToken,
              expiration: c.Expiration,
            };
          });
        return cached;
      };
      roleCredentials.set(account, provider);
    }
    return provider;
  };
  const cache = new Map<string, unknown>();
  const make = <C>(
    kind: string,
    t: Target,
    create: (config: { region: string; credentials?: AwsCredentialIdentityProvider }) => C,
  ): C => {
    const key = `${kind}:${t.account}:${t.region}`;
    if (!cache.has(key))
      cache.set(key, create({ region: t.region, credentials: credentialsFor(t.account) }));
    return cache.get(key) as C;
  };
  return {
    cloudFormation: (t) => make('cfn', t, (c) => new CloudFormationClient(c)),
    ec2: (t) => make('ec2', t, (c) => new EC2Client(c)),
    eks: (t) => make('eks', t, (c) => new EKSClient(c)),
    iam: (t) => make('iam', t, (c) => new IAMClient(c)),
    ecr: (t) => make('ecr', t, (c) => new ECRClient(c)),
    inspector2: (t) => make('inspector2', t, (c) => new Inspector2Client(c)),
    serviceQuotas: (t) => make('quotas', t, (c) => new ServiceQuotasClient(c)),
    codeCommit: (t) => make('codecommit', t, (c) => new CodeCommitClient(c)),
    sts: (t) => make('sts', t, (c) => new STSClient(c)),
  };
}

/** Who the credentials for an account are (GetCallerIdentity), to refuse checking one account with another's credentials. */
export async function callerIdentity(
  aws: AwsAccess,
  call: BoundedCall,
  t: Target,
): Promise<{ account: string; arn: string }> {
  const out = await call(`STS GetCallerIdentity (${t.region})`, (abortSignal) =>
    aws.sts(t).send(new GetCallerIdentityCommand({}), { abortSignal }),
  );
  return { account: out.Account ?? '', arn: out.Arn ?? '' };
}

/**
 * Runs tasks with at most `limit` at a time, in order of start. Hand-written (a dozen lines)
 * rather than a new dependency such as p-limit for one loop.
 */
export async function runLimited<T>(
  tasks: readonly (() => Promise<T>)[],
  limit: number,
): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
