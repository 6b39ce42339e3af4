import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { Inspector2Client } from '@aws-sdk/client-inspector2';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { STSClient } from '@aws-sdk/client-sts';
import {
  type DeliveryConfig,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../../../lib/config';
import { type AwsAccess, type Target, boundedCall } from '../../../../tools/operator/preflight/aws';
import type { CheckContext } from '../../../../tools/operator/preflight/checks';
import type { DeploymentNeeds } from '../../../../tools/operator/preflight/needs';

/** Plain clients (aws-sdk-client-mock replaces `send` on every instance of a class). */
export function plainAccess(extra: { endpoint?: string } = {}): AwsAccess {
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const tag = <C extends object>(client: C, t: Target): C => {
    TARGET_OF.set(client, t);
    return client;
  };
  const cfg = (t: Target) => ({
    region: t.region,
    credentials,
    ...(extra.endpoint ? { endpoint: extra.endpoint } : {}),
  });
  return {
    cloudFormation: (t) => tag(new CloudFormationClient(cfg(t)), t),
    ec2: (t) => tag(new EC2Client(cfg(t)), t),
    eks: (t) => tag(new EKSClient(cfg(t)), t),
    iam: (t) => tag(new IAMClient(cfg(t)), t),
    ecr: (t) => tag(new ECRClient(cfg(t)), t),
    inspector2: (t) => tag(new Inspector2Client(cfg(t)), t),
    serviceQuotas: (t) => tag(new ServiceQuotasClient(cfg(t)), t),
    codeCommit: (t) => tag(new CodeCommitClient(cfg(t)), t),
    sts: (t) => tag(new STSClient(cfg(t)), t),
  };
}

/** The account/region a client of plainAccess() was made for (mocks answer per account with it). */
export const TARGET_OF = new WeakMap<object, Target>();

/** What the default STACK_ENVIRONMENTS synthesizes to (test/tools/operator/preflight/needs.test.ts checks it against a real synth). */
export const NEEDS: DeploymentNeeds = {
  bootstrapTargets: [
    { account: '111111111111', region: 'ap-southeast-2' },
    { account: '111111111111', region: 'eu-west-1' },
    { account: '111111111111', region: 'us-east-1' },
    { account: '222222222222', region: 'eu-west-1' },
    { account: '333333333333', region: 'ap-southeast-2' },
    { account: '333333333333', region: 'eu-west-1' },
    { account: '333333333333', region: 'us-east-1' },
  ],
  requiredBootstrapVersion: 8,
  latestBootstrapVersion: 33,
  parallelBuilds: { count: 2, stage: 'prod-wave-2' },
  // What the pipeline stack's AWS::ECR::ReplicationConfiguration and
  // AWS::ECR::RegistryScanningConfiguration set in the pipeline account's registry.
  registries: {
    '111111111111/eu-west-1': {
      replication: [
        {
          destinations: [
            { region: 'us-east-1', registryId: '111111111111' },
            { region: 'ap-southeast-2', registryId: '111111111111' },
          ],
          repositoryFilters: [{ filter: 'hello-web', filterType: 'PREFIX_MATCH' }],
        },
      ],
      scanning: {
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'CONTINUOUS_SCAN',
            repositoryFilters: [{ filter: 'hello-web', filterType: 'WILDCARD' }],
          },
        ],
      },
    },
  },
};

export function configOf(overrides: Partial<DeliveryConfigInput> = {}): DeliveryConfig {
  return validateConfig({ ...STACK_ENVIRONMENTS, ...overrides });
}

export function contextOf(
  config: DeliveryConfig = configOf(),
  needs: DeploymentNeeds = NEEDS,
  timeoutMs = 2000,
): CheckContext {
  return { config, needs, aws: plainAccess(), call: boundedCall(timeoutMs) };
}

/** An AWS service error as the SDK throws it (name + $metadata). */
export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

/**
 * The trust policy of a CDK bootstrap lookup role as IAM's GetRole returns it (URL-encoded JSON,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html): the bootstrap template's
 * LookupRole, resolved for `account`, trusting `trusted` (--trust), with its default DenyExternalId.
 */
export function lookupRoleTrust(account: string, trusted: readonly string[]): string {
  const principal = (a: string) => ({ AWS: `arn:aws:iam::${a}:root` });
  const noExternalId = { Null: { 'sts:ExternalId': 'true' } };
  return encodeURIComponent(
    JSON.stringify({
      Version: '2008-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: principal(account),
          Action: 'sts:AssumeRole',
          Condition: noExternalId,
        },
        { Effect: 'Allow', Principal: principal(account), Action: 'sts:TagSession' },
        ...trusted.flatMap((a) => [
          {
            Effect: 'Allow',
            Principal: principal(a),
            Action: 'sts:AssumeRole',
            Condition: noExternalId,
          },
          { Effect: 'Allow', Principal: principal(a), Action: 'sts:TagSession' },
        ]),
      ],
    }),
  );
}
