import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { parse as parseYaml } from 'yaml';
import type { AssemblyStack, Template } from './assembly';
import type { DeployedState } from './report';

/**
 * Reads what is deployed for a stack, through the CDK bootstrap's lookup role of the stack's
 * account and region (the role `cdk diff` itself uses: the manifest names it): AssumeRole, then
 * DescribeStacks and GetTemplate. The lookup role carries the AWS managed ReadOnlyAccess policy and
 * denies kms:Decrypt (the bootstrap template, node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml),
 * and trusts the accounts given to `cdk bootstrap --trust` or `--trust-for-lookup`; the pipeline
 * account is trusted already, since it deploys there. See docs/decisions/0030-change-report.md.
 *
 * Every call is bounded; any failure makes the stack "unreadable" with the reason, never "absent"
 * and never "no change".
 */
/**
 * The session policy of a lookup-role session: the two reads the report makes, on the one stack it
 * reads, nothing else of the role's ReadOnlyAccess (a session's permissions are the intersection of
 * the role's and this: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).
 */
export function lookupSessionPolicy(
  partition: string,
  stack: { readonly account: string; readonly region: string; readonly stackName: string },
) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate'],
        Resource: `arn:${partition}:cloudformation:${stack.region}:${stack.account}:stack/${stack.stackName}/*`,
      },
    ],
  } as const;
}

export interface ReaderOptions {
  /** The partition the pipeline runs in (`aws`, `aws-cn`, ...): the manifest's role ARNs leave it as `${AWS::Partition}`. */
  readonly partition: string;
  /** The session name in the prod account's CloudTrail (`change-report-<execution>`). */
  readonly sessionName: string;
  /** The most one AWS call (with the SDK's retries) may take. */
  readonly callTimeoutMs: number;
  /** false: read with the caller's own credentials, no role (an operator already in the account). @default true */
  readonly assumeRole?: boolean;
  readonly sts?: (region: string) => STSClient;
  readonly cloudFormation?: (
    region: string,
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  ) => CloudFormationClient;
}

interface AwsError {
  name?: string;
  Code?: string;
  message?: string;
}

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();
const errorText = (e: unknown): string => {
  const err = e as AwsError;
  return oneLine(`${err.Code ?? err.name ?? 'Error'}: ${err.message ?? String(e)}`);
};

/** `arn:${AWS::Partition}:iam::...` with the partition filled in; any other placeholder is refused. */
export function resolveRoleArn(arn: string, partition: string): string {
  const resolved = arn.replace(/\$\{AWS::Partition\}/g, partition);
  if (resolved.includes('${'))
    throw new Error(`the lookup role ARN ${arn} has a placeholder this tool cannot fill`);
  return resolved;
}

/** DescribeStacks answers a missing stack with ValidationError "Stack with id X does not exist" (API_DescribeStacks). */
export function isMissingStack(e: unknown): boolean {
  const err = e as AwsError;
  return (
    (err.name === 'ValidationError' || err.Code === 'ValidationError') &&
    /does not exist/i.test(err.message ?? '')
  );
}

function parseTemplate(body: string): Template {
  try {
    return JSON.parse(body) as Template;
  } catch {
    // A stack someone deployed by hand may be YAML; CloudFormation's short-form tags (!Ref) are
    // not plain YAML and fail here, which makes the stack unreadable rather than misread.
    const parsed = parseYaml(body) as unknown;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not a template');
    return parsed as Template;
  }
}

/** `run` gets a signal that aborts its request at the limit; the wait ends then even if the request ignores it. */
export function bounded<T>(
  doing: string,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`${doing} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  return Promise.race([run(ac.signal), late]).finally(() => clearTimeout(timer));
}

export class DeployedReader {
  private readonly credentials = new Map<
    string,
    Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>
  >();

  constructor(private readonly opts: ReaderOptions) {}

  private bounded<T>(doing: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return bounded(doing, this.opts.callTimeoutMs, run);
  }

  /** One session per stack: its session policy names that stack. */
  private assume(roleArn: string, stack: AssemblyStack) {
    const cacheKey = `${roleArn} ${stack.stackName}`;
    let pending = this.credentials.get(cacheKey);
    if (!pending) {
      const sts = (this.opts.sts ?? ((r) => new STSClient({ region: r })))(stack.region);
      pending = this.bounded(`AssumeRole ${roleArn}`, (abortSignal) =>
        sts.send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: this.opts.sessionName,
            DurationSeconds: 900,
            Policy: JSON.stringify(lookupSessionPolicy(this.opts.partition, stack)),
          }),
          { abortSignal },
        ),
      ).then((out) => {
        const c = out.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey)
          throw new Error(`AssumeRole ${roleArn} returned no credentials`);
        return {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
        };
      });
      this.credentials.set(cacheKey, pending);
    }
    return pending;
  }

  async read(stack: AssemblyStack): Promise<DeployedState> {
    let credentials;
    if (this.opts.assumeRole !== false) {
      if (!stack.lookupRoleArn)
        return {
          kind: 'unreadable',
          reason: `the cloud assembly names no lookup role for ${stack.stackName} (a stack synthesizer without bootstrap roles)`,
        };
      let roleArn: string;
      try {
        roleArn = resolveRoleArn(stack.lookupRoleArn, this.opts.partition);
      } catch (e) {
        return { kind: 'unreadable', reason: (e as Error).message };
      }
      try {
        credentials = await this.assume(roleArn, stack);
      } catch (e) {
        return {
          kind: 'unreadable',
          reason: `cannot assume the bootstrap lookup role ${roleArn}: ${errorText(e)} (is ${stack.account}/${stack.region} bootstrapped, version 8 or later, trusting the pipeline account with \`cdk bootstrap --trust\`? docs/runbooks/first-deployment.md)`,
        };
      }
    }
    const cfn = (
      this.opts.cloudFormation ??
      ((region, creds) => new CloudFormationClient({ region, credentials: creds }))
    )(stack.region, credentials);
    const where = `${stack.stackName} in ${stack.account}/${stack.region}`;
    let status: string;
    try {
      const out = await this.bounded(`DescribeStacks ${where}`, (abortSignal) =>
        cfn.send(new DescribeStacksCommand({ StackName: stack.stackName }), { abortSignal }),
      );
      const found = out.Stacks?.[0];
      if (!found?.StackStatus)
        return { kind: 'unreadable', reason: `DescribeStacks ${where} returned no stack status` };
      status = found.StackStatus;
    } catch (e) {
      if (isMissingStack(e)) return { kind: 'absent' };
      return { kind: 'unreadable', reason: `DescribeStacks ${where} failed: ${errorText(e)}` };
    }
    // A stack only ever created as a change set holds no deployed template; CloudFormation
    // creates it when the change set runs, as for a new stack (API_CreateChangeSet, ChangeSetType CREATE).
    if (status === 'REVIEW_IN_PROGRESS') return { kind: 'absent' };
    try {
      const out = await this.bounded(`GetTemplate ${where}`, (abortSignal) =>
        cfn.send(
          new GetTemplateCommand({ StackName: stack.stackName, TemplateStage: 'Original' }),
          { abortSignal },
        ),
      );
      if (!out.TemplateBody)
        return { kind: 'unreadable', reason: `GetTemplate ${where} returned no template` };
      return { kind: 'deployed', template: parseTemplate(out.TemplateBody), status };
    } catch (e) {
      return { kind: 'unreadable', reason: `GetTemplate ${where} failed: ${errorText(e)}` };
    }
  }
}
