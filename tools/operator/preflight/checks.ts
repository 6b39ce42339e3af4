import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetRepositoryCommand, ListRepositoriesCommand } from '@aws-sdk/client-codecommit';
import {
  DescribeAddressesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeNatGatewaysCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import {
  DescribeRegistryCommand,
  GetRegistryScanningConfigurationCommand,
  type ReplicationRule,
  type RegistryScanningRule,
} from '@aws-sdk/client-ecr';
import { DescribeClusterVersionsCommand } from '@aws-sdk/client-eks';
import { BatchGetAccountStatusCommand, GetConfigurationCommand } from '@aws-sdk/client-inspector2';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
} from '@aws-sdk/client-service-quotas';
import type { DeliveryConfig, EnvironmentConfig } from '../../../lib/config';
import { type AwsAccess, type BoundedCall, type Target, partitionOf } from './aws';
import type { DeploymentNeeds } from './needs';

export type Status = 'PASS' | 'WARN' | 'FAIL' | 'ERROR';

/** One line of the report. `fix` is the command or setting that resolves a WARN or FAIL. */
export interface Finding {
  readonly check: string;
  readonly status: Status;
  readonly detail: string;
  readonly fix?: string;
}

export interface CheckContext {
  readonly config: DeliveryConfig;
  readonly needs: DeploymentNeeds;
  readonly aws: AwsAccess;
  readonly call: BoundedCall;
}

/** A check of one account/region; it throws when it cannot check (the runner reports ERROR). */
export interface Check {
  readonly name: string;
  readonly target: Target;
  run(ctx: CheckContext): Promise<Finding[]>;
}

function awsName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

const pass = (check: string, detail: string): Finding => ({ check, status: 'PASS', detail });
const warn = (check: string, detail: string, fix: string): Finding => ({
  check,
  status: 'WARN',
  detail,
  fix,
});
const fail = (check: string, detail: string, fix: string): Finding => ({
  check,
  status: 'FAIL',
  detail,
  fix,
});

// ---------------------------------------------------------------------------------------------
// CDK bootstrap (every account/region the assembly deploys to)

export const TOOLKIT_STACK = 'CDKToolkit';

function bootstrapCommand(t: Target, pipelineAccount: string): string {
  const trust = t.account === pipelineAccount ? '' : ` --trust ${pipelineAccount}`;
  return `npx cdk bootstrap aws://${t.account}/${t.region}${trust} --cloudformation-execution-policies arn:${partitionOf(t.region)}:iam::aws:policy/AdministratorAccess`;
}

export function bootstrapCheck(target: Target): Check {
  return {
    name: 'bootstrap',
    target,
    async run({ config, needs, aws, call }) {
      const fix = bootstrapCommand(target, config.pipeline.account);
      let stack;
      try {
        const out = await call(`CloudFormation DescribeStacks ${TOOLKIT_STACK}`, (abortSignal) =>
          aws
            .cloudFormation(target)
            .send(new DescribeStacksCommand({ StackName: TOOLKIT_STACK }), { abortSignal }),
        );
        stack = out.Stacks?.[0];
      } catch (e) {
        // CloudFormation answers a missing stack with ValidationError "Stack with id ... does not exist".
        if (!(awsName(e) === 'ValidationError' && /does not exist/.test((e as Error).message)))
          throw e;
      }
      if (!stack)
        return [
          fail(
            'bootstrap',
            `no ${TOOLKIT_STACK} stack: this account/region is not bootstrapped`,
            fix,
          ),
        ];
      const status = stack.StackStatus ?? 'UNKNOWN';
      if (/FAILED|ROLLBACK/.test(status) && status !== 'UPDATE_ROLLBACK_COMPLETE')
        return [fail('bootstrap', `${TOOLKIT_STACK} is ${status}`, fix)];
      if (/IN_PROGRESS/.test(status))
        return [
          warn(
            'bootstrap',
            `${TOOLKIT_STACK} is ${status}; run the preflight again when it has finished`,
            'wait for the stack operation to finish',
          ),
        ];

      const findings: Finding[] = [];
      const version = Number(
        stack.Outputs?.find((o) => o.OutputKey === 'BootstrapVersion')?.OutputValue ?? NaN,
      );
      if (!Number.isFinite(version))
        findings.push(
          fail(
            'bootstrap',
            `${TOOLKIT_STACK} has no BootstrapVersion output (a legacy bootstrap)`,
            fix,
          ),
        );
      else if (version < needs.requiredBootstrapVersion)
        findings.push(
          fail(
            'bootstrap',
            `version ${version}; the synthesized stacks require at least ${needs.requiredBootstrapVersion}`,
            fix,
          ),
        );
      else if (version < needs.latestBootstrapVersion)
        findings.push(
          warn(
            'bootstrap',
            `version ${version} is enough (stacks require ${needs.requiredBootstrapVersion}) but older than the CLI's ${needs.latestBootstrapVersion}`,
            fix,
          ),
        );
      else
        findings.push(
          pass(
            'bootstrap',
            `version ${version} (stacks require ${needs.requiredBootstrapVersion})`,
          ),
        );

      if (target.account !== config.pipeline.account) {
        const trusted = (
          stack.Parameters?.find((p) => p.ParameterKey === 'TrustedAccounts')?.ParameterValue ?? ''
        )
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean);
        findings.push(
          trusted.includes(config.pipeline.account)
            ? pass('bootstrap trust', `trusts the pipeline account ${config.pipeline.account}`)
            : fail(
                'bootstrap trust',
                `does not trust the pipeline account ${config.pipeline.account} (trusted: ${trusted.join(', ') || 'none'}); the pipeline cannot deploy here`,
                fix,
              ),
        );
      }
      return findings;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Availability zones, instance type, Kubernetes version (each environment)

/**
 * AZ IDs in which EKS does not create control planes:
 * https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html#network-requirements-subnets
 * (use1-az3, usw1-az2, cac1-az3), and cnn1-az4, which eksctl avoids for the same reason:
 * https://github.com/eksctl-io/eksctl/blob/main/pkg/az/az.go (issue eksctl-io/eksctl#3916).
 * Names map to IDs differently in every account, so only the ID says which zone is meant.
 */
export const EKS_UNSUPPORTED_AZ_IDS: readonly string[] = [
  'use1-az3',
  'usw1-az2',
  'cac1-az3',
  'cnn1-az4',
];

function envPath(env: EnvironmentConfig): string {
  return env.kind === 'preprod' ? 'preprod' : `the ${env.stageName} entry of prod.waves`;
}

export function availabilityZonesCheck(env: EnvironmentConfig): Check {
  const target = { account: env.account, region: env.region };
  return {
    name: 'availability zones',
    target,
    async run({ aws, call }) {
      const out = await call('EC2 DescribeAvailabilityZones', (abortSignal) =>
        aws.ec2(target).send(new DescribeAvailabilityZonesCommand({}), { abortSignal }),
      );
      const zones = out.AvailabilityZones ?? [];
      const usable = zones
        .filter(
          (z) =>
            z.ZoneType === 'availability-zone' &&
            z.State === 'available' &&
            !EKS_UNSUPPORTED_AZ_IDS.includes(z.ZoneId ?? ''),
        )
        .map((z) => z.ZoneName ?? '');
      const fix = `set availabilityZones of ${envPath(env)} to zones EKS supports here: ${JSON.stringify(usable.slice(0, 3))}`;
      const problems: string[] = [];
      const degraded: string[] = [];
      const mapped: string[] = [];
      for (const name of env.availabilityZones) {
        const zone = zones.find((z) => z.ZoneName === name);
        if (!zone) {
          problems.push(`${name} does not exist in this account`);
          continue;
        }
        mapped.push(`${name}=${zone.ZoneId}`);
        if (EKS_UNSUPPORTED_AZ_IDS.includes(zone.ZoneId ?? ''))
          problems.push(`${name} is ${zone.ZoneId}, where EKS creates no control plane`);
        else if (zone.ZoneType !== 'availability-zone')
          problems.push(`${name} is a ${zone.ZoneType}, not an availability zone`);
        else if (zone.State === 'impaired' || zone.State === 'unavailable')
          problems.push(`${name} is ${zone.State}`);
        else if (zone.State !== 'available') degraded.push(`${name} is ${zone.State}`);
      }
      if (problems.length > 0)
        return [fail('availability zones', `${problems.join('; ')} (${env.stageName})`, fix)];
      if (degraded.length > 0)
        return [
          warn(
            'availability zones',
            `${degraded.join('; ')} (${env.stageName}: ${mapped.join(', ')})`,
            `check the AWS Health Dashboard for ${env.region}, or ${fix}`,
          ),
        ];
      return [pass('availability zones', `${mapped.join(', ')} (${env.stageName})`)];
    },
  };
}

export function instanceTypeCheck(env: EnvironmentConfig): Check {
  const target = { account: env.account, region: env.region };
  const type = env.nodes.instanceType;
  return {
    name: 'instance type',
    target,
    async run({ aws, call }) {
      const out = await call('EC2 DescribeInstanceTypeOfferings', (abortSignal) =>
        aws.ec2(target).send(
          new DescribeInstanceTypeOfferingsCommand({
            LocationType: 'availability-zone',
            Filters: [{ Name: 'instance-type', Values: [type] }],
          }),
          { abortSignal },
        ),
      );
      const offered = new Set((out.InstanceTypeOfferings ?? []).map((o) => o.Location ?? ''));
      const missing = env.availabilityZones.filter((z) => !offered.has(z));
      if (offered.size === 0)
        return [
          fail(
            'instance type',
            `${type} is not offered in ${env.region} (${env.stageName})`,
            `set nodes.instanceType of ${envPath(env)} to a type offered in ${env.region} (aws ec2 describe-instance-type-offerings --location-type availability-zone --region ${env.region})`,
          ),
        ];
      if (missing.length > 0) {
        return [
          fail(
            'instance type',
            `${type} is not offered in ${missing.join(', ')} (${env.stageName}); it is in ${[...offered].sort().join(', ')}`,
            `set availabilityZones of ${envPath(env)} to zones offering ${type}, or change nodes.instanceType`,
          ),
        ];
      }
      return [
        pass(
          'instance type',
          `${type} offered in ${env.availabilityZones.join(', ')} (${env.stageName})`,
        ),
      ];
    },
  };
}

export function kubernetesVersionCheck(
  env: EnvironmentConfig,
  now: () => Date = () => new Date(),
): Check {
  const target = { account: env.account, region: env.region };
  const version = env.kubernetesVersion;
  return {
    name: 'kubernetes version',
    target,
    async run({ aws, call }) {
      const out = await call('EKS DescribeClusterVersions', (abortSignal) =>
        aws
          .eks(target)
          .send(
            new DescribeClusterVersionsCommand({ clusterVersions: [version], includeAll: true }),
            { abortSignal },
          ),
      );
      const info = (out.clusterVersions ?? []).find((v) => v.clusterVersion === version);
      const fix = `set kubernetesVersion of ${envPath(env)} to a version EKS offers in ${env.region} (aws eks describe-cluster-versions --region ${env.region})`;
      if (!info || info.versionStatus === 'UNSUPPORTED')
        return [
          fail(
            'kubernetes version',
            `EKS does not offer ${version} in ${env.region} (${env.stageName})`,
            fix,
          ),
        ];
      if (info.versionStatus === 'EXTENDED_SUPPORT')
        return [
          warn(
            'kubernetes version',
            `${version} is in extended support here (extra hourly charge; ends ${info.endOfExtendedSupportDate?.toISOString().slice(0, 10) ?? '?'})`,
            fix,
          ),
        ];
      const end = info.endOfStandardSupportDate;
      const soon = end !== undefined && end.getTime() - now().getTime() < 90 * 86400_000;
      if (soon)
        return [
          warn(
            'kubernetes version',
            `${version} leaves standard support on ${end.toISOString().slice(0, 10)}`,
            `plan the upgrade: add the next minor to lib/config/kubernetes-versions.ts and set kubernetesVersion of ${envPath(env)} (docs/decisions/0001-kubernetes-1-35.md)`,
          ),
        ];
      return [
        pass(
          'kubernetes version',
          `${version} in standard support${end ? ` until ${end.toISOString().slice(0, 10)}` : ''}`,
        ),
      ];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Service quotas

async function quotaValue(
  ctx: CheckContext,
  target: Target,
  serviceCode: string,
  quotaCode: string,
): Promise<number> {
  const client = ctx.aws.serviceQuotas(target);
  try {
    const out = await ctx.call(
      `Service Quotas GetServiceQuota ${serviceCode}/${quotaCode}`,
      (abortSignal) =>
        client.send(
          new GetServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }),
          { abortSignal },
        ),
    );
    if (out.Quota?.Value !== undefined) return out.Quota.Value;
  } catch (e) {
    // An account that never changed a quota has no applied value: the default applies.
    if (awsName(e) !== 'NoSuchResourceException') throw e;
  }
  const out = await ctx.call(
    `Service Quotas GetAWSDefaultServiceQuota ${serviceCode}/${quotaCode}`,
    (abortSignal) =>
      client.send(
        new GetAWSDefaultServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }),
        { abortSignal },
      ),
  );
  if (out.Quota?.Value === undefined)
    throw new Error(`no value for quota ${serviceCode}/${quotaCode}`);
  return out.Quota.Value;
}

function increaseCommand(
  serviceCode: string,
  quotaCode: string,
  value: number,
  region: string,
): string {
  return `aws service-quotas request-service-quota-increase --service-code ${serviceCode} --quota-code ${quotaCode} --desired-value ${value} --region ${region}`;
}

/** usage + need against a quota: FAIL over it, WARN when it leaves no headroom (a replacement during an update needs one more). */
function judgeQuota(
  check: string,
  what: string,
  usage: number,
  need: number,
  quota: number,
  increase: (value: number) => string,
): Finding {
  const detail = `${usage} in use + ${need} needed, quota ${quota}`;
  if (usage + need > quota) return fail(check, `${what}: ${detail}`, increase(usage + need + 1));
  if (usage + need === quota)
    return warn(check, `${what}: ${detail} (no headroom)`, increase(quota + 1));
  return pass(check, `${what}: ${detail}`);
}

/**
 * Quota codes (Service Quotas console, and
 * https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html):
 * ec2 L-0263D0A3 "EC2-VPC Elastic IPs" (default 5), vpc L-F678F1CE "VPCs per Region" (5),
 * vpc L-FE5A380F "NAT gateways per Availability Zone" (5; pending, active and deleting count).
 */
export const QUOTAS = {
  elasticIps: { serviceCode: 'ec2', quotaCode: 'L-0263D0A3' },
  vpcs: { serviceCode: 'vpc', quotaCode: 'L-F678F1CE' },
  natPerAz: { serviceCode: 'vpc', quotaCode: 'L-FE5A380F' },
  /** "Concurrently running builds for Linux/Medium environment": the gates and smoke tests (codeBuildDefaults MEDIUM, standard image). */
  codeBuildLinuxMedium: { serviceCode: 'codebuild', quotaCode: 'L-2DC20C30' },
} as const;

/** What the environments in one account/region need: one VPC each, an EIP per NAT gateway, NAT gateways in their first zones. */
export function networkQuotasCheck(target: Target, envs: readonly EnvironmentConfig[]): Check {
  return {
    name: 'network quotas',
    target,
    async run(ctx) {
      const ec2 = ctx.aws.ec2(target);
      const needVpcs = envs.length;
      const needEips = envs.reduce((n, e) => n + e.natGateways, 0);
      const needNatPerAz = new Map<string, number>();
      // aws-ec2 Vpc puts its NAT gateways in the public subnets of the first `natGateways` zones.
      for (const e of envs)
        for (const az of e.availabilityZones.slice(0, e.natGateways))
          needNatPerAz.set(az, (needNatPerAz.get(az) ?? 0) + 1);

      const [vpcs, addresses, nats, vpcQuota, eipQuota, natQuota] = await Promise.all([
        ctx.call('EC2 DescribeVpcs', (abortSignal) =>
          ec2.send(new DescribeVpcsCommand({ MaxResults: 1000 }), { abortSignal }),
        ),
        ctx.call('EC2 DescribeAddresses', (abortSignal) =>
          ec2.send(new DescribeAddressesCommand({}), { abortSignal }),
        ),
        ctx.call('EC2 DescribeNatGateways', (abortSignal) =>
          ec2.send(
            new DescribeNatGatewaysCommand({
              Filter: [{ Name: 'state', Values: ['pending', 'available', 'deleting'] }],
              MaxResults: 1000,
            }),
            { abortSignal },
          ),
        ),
        quotaValue(ctx, target, QUOTAS.vpcs.serviceCode, QUOTAS.vpcs.quotaCode),
        quotaValue(ctx, target, QUOTAS.elasticIps.serviceCode, QUOTAS.elasticIps.quotaCode),
        quotaValue(ctx, target, QUOTAS.natPerAz.serviceCode, QUOTAS.natPerAz.quotaCode),
      ]);
      const subnetIds = [
        ...new Set((nats.NatGateways ?? []).map((n) => n.SubnetId ?? '').filter(Boolean)),
      ];
      const subnets =
        subnetIds.length === 0
          ? { Subnets: [] }
          : await ctx.call('EC2 DescribeSubnets', (abortSignal) =>
              ec2.send(new DescribeSubnetsCommand({ SubnetIds: subnetIds }), { abortSignal }),
            );
      const azOfSubnet = new Map(
        (subnets.Subnets ?? []).map((s) => [s.SubnetId ?? '', s.AvailabilityZone ?? '']),
      );
      const natInAz = (az: string): number =>
        (nats.NatGateways ?? []).filter((n) => azOfSubnet.get(n.SubnetId ?? '') === az).length;

      const q = (key: keyof typeof QUOTAS) => (value: number) =>
        increaseCommand(QUOTAS[key].serviceCode, QUOTAS[key].quotaCode, value, target.region);
      const findings = [
        judgeQuota('quota: VPCs', 'VPCs', (vpcs.Vpcs ?? []).length, needVpcs, vpcQuota, q('vpcs')),
        judgeQuota(
          'quota: Elastic IPs',
          'Elastic IPs',
          (addresses.Addresses ?? []).length,
          needEips,
          eipQuota,
          q('elasticIps'),
        ),
      ];
      // The tightest zone decides.
      const perAz = [...needNatPerAz]
        .map(([az, need]) => ({ az, usage: natInAz(az), need }))
        .sort((a, b) => b.usage + b.need - (a.usage + a.need));
      if (perAz.length > 0)
        findings.push(
          judgeQuota(
            'quota: NAT gateways',
            `NAT gateways in ${perAz[0].az}`,
            perAz[0].usage,
            perAz[0].need,
            natQuota,
            q('natPerAz'),
          ),
        );
      return findings;
    },
  };
}

export function codeBuildConcurrencyCheck(target: Target): Check {
  return {
    name: 'codebuild concurrency',
    target,
    async run(ctx) {
      const { count, stage } = ctx.needs.parallelBuilds;
      const { serviceCode, quotaCode } = QUOTAS.codeBuildLinuxMedium;
      const quota = await quotaValue(ctx, target, serviceCode, quotaCode);
      const detail = `${stage} runs ${count} builds at once; Linux/Medium quota ${quota}`;
      // Above the quota, builds fail with "Cannot have more than X active builds for the account"
      // (new accounts start at 1-5): https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html
      if (quota < count)
        return [
          fail(
            'codebuild concurrency',
            detail,
            increaseCommand(serviceCode, quotaCode, count * 2, target.region),
          ),
        ];
      if (quota === count)
        return [
          warn(
            'codebuild concurrency',
            `${detail}: any other build in the account makes the wave queue`,
            increaseCommand(serviceCode, quotaCode, count * 2, target.region),
          ),
        ];
      return [pass('codebuild concurrency', detail)];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The pipeline account's registry: replication and scanning are account-wide singletons.
// Deploying REPLACES each one whole: AWS::ECR::ReplicationConfiguration is the registry's
// replication configuration (PutReplicationConfiguration "Creates or updates the replication
// configuration for a registry": https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutReplicationConfiguration.html),
// AWS::ECR::RegistryScanningConfiguration its scanning configuration
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-registryscanningconfiguration.html).
// What deploying would set comes from the synthesized templates (needs.registries); what is
// there today from DescribeRegistry and GetRegistryScanningConfiguration. A rule this project's
// template also has (same repository filters) is this project's and may change; any other rule
// would be dropped, which is a FAIL: other teams' repositories would stop replicating or being scanned.

function describeFilters(filters: readonly { filter?: string; filterType?: string }[] | undefined) {
  return (
    (filters ?? [])
      .map((f) => (f.filterType === 'PREFIX_MATCH' ? `${f.filter}*` : (f.filter ?? '')))
      .join('|') || 'all repositories'
  );
}

function describeDestination(d: { region?: string; registryId?: string }): string {
  return `${d.registryId}/${d.region}`;
}

function describeReplicationRule(rule: ReplicationRule): string {
  return `${describeFilters(rule.repositoryFilters)} -> ${(rule.destinations ?? []).map(describeDestination).join(', ')}`;
}

function describeScanningRule(rule: RegistryScanningRule): string {
  return `${rule.scanFrequency} ${describeFilters(rule.repositoryFilters)}`;
}

/** A canonical form for comparing rule sets: arrays compared as sets, object keys sorted, empty values dropped. */
function normalise(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(normalise).sort().join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    return `{${entries
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${JSON.stringify(k)}:${normalise(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Today's rules against the template's: which stay as they are, which the template changes (same filters), which it drops. */
function compareRules<R extends { repositoryFilters?: unknown }>(
  today: readonly R[],
  desired: readonly R[],
): { unchanged: R[]; changed: { today: R; desired: R }[]; dropped: R[]; added: R[] } {
  const unchanged: R[] = [];
  const changed: { today: R; desired: R }[] = [];
  const dropped: R[] = [];
  const matched = new Set<R>();
  for (const rule of today) {
    const same = desired.find((d) => !matched.has(d) && normalise(d) === normalise(rule));
    const sameFilters =
      same ??
      desired.find(
        (d) =>
          !matched.has(d) && normalise(d.repositoryFilters) === normalise(rule.repositoryFilters),
      );
    if (same) {
      matched.add(same);
      unchanged.push(rule);
    } else if (sameFilters) {
      matched.add(sameFilters);
      changed.push({ today: rule, desired: sameFilters });
    } else dropped.push(rule);
  }
  return { unchanged, changed, dropped, added: desired.filter((d) => !matched.has(d)) };
}

const key = (t: Target): string => `${t.account}/${t.region}`;

export function registryReplicationCheck(target: Target): Check {
  return {
    name: 'ecr replication',
    target,
    async run({ needs, aws, call }) {
      const out = await call('ECR DescribeRegistry', (abortSignal) =>
        aws.ecr(target).send(new DescribeRegistryCommand({}), { abortSignal }),
      );
      const current = out.replicationConfiguration?.rules ?? [];
      const desired = needs.registries[key(target)]?.replication;
      if (!desired)
        return [
          pass(
            'ecr replication',
            `unchanged by deploying (no template sets this registry's replication); ${current.length} existing rule(s) kept`,
          ),
        ];
      const after = desired.map(describeReplicationRule).join('; ') || 'no rules';
      if (current.length === 0)
        return [pass('ecr replication', `no rules today; deploying adds ${after}`)];
      const diff = compareRules(current, desired);
      if (diff.dropped.length === 0 && diff.changed.length === 0 && diff.added.length === 0)
        return [pass('ecr replication', `already as deployed: ${after}`)];
      const changes = diff.changed.map(({ today, desired: next }) => {
        const had = (today.destinations ?? []).map(describeDestination);
        const will = (next.destinations ?? []).map(describeDestination);
        const adds = will.filter((d) => !had.includes(d));
        const removes = had.filter((d) => !will.includes(d));
        return `updates this project's rule ${describeFilters(today.repositoryFilters)}: ${[
          adds.length ? `adds ${adds.join(', ')}` : '',
          removes.length ? `removes ${removes.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join(', ')}`;
      });
      const kept = [...diff.unchanged, ...diff.changed.map((c) => c.desired)];
      const parts = [
        ...changes,
        ...diff.added.map((r) => `adds ${describeReplicationRule(r)}`),
        kept.length ? `keeps ${kept.map(describeReplicationRule).join('; ')}` : '',
      ].filter(Boolean);
      if (diff.dropped.length === 0) return [pass('ecr replication', parts.join('; '))];
      return [
        fail(
          'ecr replication',
          `deploying REPLACES the registry's whole replication configuration: deploying would DROP ${diff.dropped.length} replication rule${diff.dropped.length === 1 ? '' : 's'} of other repositories: ${diff.dropped.map(describeReplicationRule).join('; ')} (their images would stop replicating); it ${parts.join('; ')}`,
          `back up first (\`aws ecr describe-registry --region ${target.region} > replication-before.json\`); then deploy the pipeline in an account or region whose registry replicates nothing else, or agree with the owners of those rules that they end (re-adding them later does not last: the stack overwrites the configuration on its next update). docs/configuration.md#things-to-know`,
        ),
      ];
    },
  };
}

export function registryScanningCheck(target: Target): Check {
  return {
    name: 'ecr scanning',
    target,
    async run({ needs, aws, call }) {
      const out = await call('ECR GetRegistryScanningConfiguration', (abortSignal) =>
        aws.ecr(target).send(new GetRegistryScanningConfigurationCommand({}), { abortSignal }),
      );
      const scanType = out.scanningConfiguration?.scanType ?? 'BASIC';
      const rules = out.scanningConfiguration?.rules ?? [];
      const now = `${scanType}${rules.length ? ` (${rules.map(describeScanningRule).join('; ')})` : ', no rules'}`;
      const desired = needs.registries[key(target)]?.scanning;
      if (!desired)
        return [
          pass(
            'ecr scanning',
            `unchanged by deploying (no template sets this registry's scanning): ${now}`,
          ),
        ];
      const after = `${desired.scanType}${desired.rules.length ? ` with only ${desired.rules.map(describeScanningRule).join('; ')}` : ', no rules'}`;
      const diff = compareRules(rules, desired.rules);
      if (
        scanType === desired.scanType &&
        diff.dropped.length === 0 &&
        diff.changed.length === 0 &&
        diff.added.length === 0
      )
        return [pass('ecr scanning', `already as deployed: ${after}`)];
      // A rule scans with the registry's scan type: a changed scan type changes every kept rule too.
      const dropped = diff.dropped.map((r) => `${scanType} ${describeScanningRule(r)}`);
      const changed = diff.changed.map(
        (c) =>
          `${scanType} ${describeScanningRule(c.today)} becomes ${desired.scanType} ${describeScanningRule(c.desired)}`,
      );
      const detail = `${now} today; the registry becomes ${after}`;
      if (dropped.length > 0)
        return [
          fail(
            'ecr scanning',
            `deploying REPLACES the registry-wide scanning configuration: deploying would DROP ${dropped.length} scanning rule${dropped.length === 1 ? '' : 's'} of other repositories: ${dropped.join('; ')} (the repositories they match stop being scanned that way)${changed.length ? `; ${changed.join('; ')}` : ''}; ${detail}`,
            `back up first (\`aws ecr get-registry-scanning-configuration --region ${target.region} > scanning-before.json\`); then set image.scanning to "BASIC" (the stack then leaves registry scanning alone), or deploy in an account or region whose registry scans nothing else, or agree the change with the owners of those rules. docs/configuration.md#things-to-know`,
          ),
        ];
      if (scanType === 'ENHANCED' && rules.length === 0)
        return [
          warn(
            'ecr scanning',
            `${detail} (account-wide; deleting the stack later removes it and can turn enhanced scanning off for the whole registry)`,
            `back up with \`aws ecr get-registry-scanning-configuration --region ${target.region}\` (docs/configuration.md#things-to-know)`,
          ),
        ];
      return [
        pass(
          'ecr scanning',
          `${changed.length ? `${changed.join('; ')}; ` : ''}${detail}${desired.scanType === 'ENHANCED' ? ' (Amazon Inspector charges apply)' : ''}`,
        ),
      ];
    },
  };
}

/**
 * Rescan durations shorter than this stop Inspector re-scanning rollback targets (the lifecycle
 * keeps `image.keepImages`, at least 30, images) long before they are deleted; an inactive image's
 * findings are closed. New accounts default to 14 days:
 * https://docs.aws.amazon.com/inspector/latest/user/scanning_resources_configure_duration_setting_ecr.html
 */
const LONG_ENOUGH_RESCAN = new Set(['LIFETIME', 'DAYS_180']);

export function inspectorCheck(target: Target): Check {
  return {
    name: 'inspector ecr',
    target,
    async run({ config, aws, call }) {
      if (config.image.scanning === 'BASIC')
        return [pass('inspector ecr', 'not used (image.scanning BASIC)')];
      const client = aws.inspector2(target);
      const status = await call('Inspector2 BatchGetAccountStatus', (abortSignal) =>
        client.send(new BatchGetAccountStatusCommand({ accountIds: [target.account] }), {
          abortSignal,
        }),
      );
      const ecr = status.accounts?.[0]?.resourceState?.ecr?.status ?? 'UNKNOWN';
      const enable = `aws inspector2 enable --resource-types ECR --account-ids ${target.account} --region ${target.region} (or from the organisation's Inspector delegated administrator)`;
      const findings: Finding[] = [];
      if (ecr === 'ENABLED') findings.push(pass('inspector ecr', 'ECR scanning ENABLED'));
      else if (ecr === 'DISABLED' || ecr === 'ENABLING')
        findings.push(
          warn(
            'inspector ecr',
            `ECR scanning ${ecr}; the image gate waits for Inspector's scan of every image`,
            enable,
          ),
        );
      else
        findings.push(
          fail(
            'inspector ecr',
            `ECR scanning ${ecr}: enhanced scans will not run and the image gate will stop every release`,
            enable,
          ),
        );

      const conf = await call('Inspector2 GetConfiguration', (abortSignal) =>
        client.send(new GetConfigurationCommand({}), { abortSignal }),
      );
      const rescan = conf.ecrConfiguration?.rescanDurationState?.rescanDuration ?? 'UNKNOWN';
      if (LONG_ENOUGH_RESCAN.has(rescan))
        findings.push(pass('inspector rescan', `re-scan duration ${rescan}`));
      else {
        findings.push(
          warn(
            'inspector rescan',
            `re-scan duration ${rescan}: older rollback targets stop being re-scanned and their findings are closed`,
            `aws inspector2 update-configuration --ecr-configuration rescanDuration=LIFETIME --region ${target.region}`,
          ),
        );
      }
      return findings;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The source

export function sourceCheck(target: Target): Check {
  return {
    name: 'source',
    target,
    async run({ config, aws, call }) {
      const source = config.source;
      if (source.kind === 'connection') {
        // The connection's status needs the CodeConnections API (@aws-sdk/client-codeconnections is not
        // a dependency yet): say exactly how to confirm it instead of guessing.
        return [
          warn(
            'source connection',
            `${source.provider} ${source.repository}@${source.branch}: the connection must be AVAILABLE (a new one stays PENDING until authorised in the console); not checked here`,
            `aws codeconnections get-connection --connection-arn ${source.connectionArn} --query Connection.ConnectionStatus --region ${source.connectionArn.split(':')[3]}`,
          ),
        ];
      }
      const client = aws.codeCommit(target);
      let exists = true;
      try {
        await call('CodeCommit GetRepository', (abortSignal) =>
          client.send(new GetRepositoryCommand({ repositoryName: source.repositoryName }), {
            abortSignal,
          }),
        );
      } catch (e) {
        if (awsName(e) !== 'RepositoryDoesNotExistException') throw e;
        exists = false;
      }
      if (exists)
        return source.create
          ? [
              fail(
                'source repository',
                `CodeCommit ${source.repositoryName} already exists; the stack would fail creating it`,
                'set source.create to false to use the existing repository',
              ),
            ]
          : [
              pass(
                'source repository',
                `CodeCommit ${source.repositoryName} exists (source.create false)`,
              ),
            ];
      // "AWS CodeCommit is no longer available to new customers" (AWS::CodeCommit::Repository,
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codecommit-repository.html).
      // No read call fails for such an account; CreateRepository refuses with CODECOMMIT_REFUSAL
      // when neither this account nor another of its Organization has a repository. This account's
      // repositories are what these credentials can see.
      const list = await call('CodeCommit ListRepositories', (abortSignal) =>
        client.send(new ListRepositoriesCommand({}), { abortSignal }),
      );
      const usesCodeCommit = (list.repositories ?? []).length > 0;
      const create = `aws codecommit create-repository --repository-name ${source.repositoryName} --region ${target.region}`;
      if (!source.create)
        return [
          fail(
            'source repository',
            `CodeCommit ${source.repositoryName} does not exist and source.create is false${usesCodeCommit ? '' : `; this account has no CodeCommit repository, so creating one may be refused (${CODECOMMIT_REFUSAL})`}`,
            `create it (\`${create}\`), or set source.create to true${usesCodeCommit ? '' : `, or use ${CONNECTION_SOURCE}`}`,
          ),
        ];
      if (usesCodeCommit)
        return [
          pass(
            'source repository',
            `CodeCommit ${source.repositoryName} will be created (the account already has repositories, so CodeCommit accepts new ones)`,
          ),
        ];
      return [
        warn(
          'source repository',
          `CodeCommit ${source.repositoryName} would be created, but this account has no CodeCommit repository, and CodeCommit is not available to new customers: unless another account of your Organization has one, the stack fails with ${CODECOMMIT_REFUSAL}`,
          `use ${CONNECTION_SOURCE}; or, if another account of your Organization uses CodeCommit, confirm with \`${create}\` and set source.create to false`,
        ),
      ];
    },
  };
}

/**
 * What CodeCommit answers CreateRepository in an account (and Organization) without any repository,
 * as reported verbatim from CloudFormation, the SDKs and Terraform (for example
 * aws-samples/automated-security-helper-pipeline#2, aws-samples/eks-workshop-v2#1142).
 */
export const CODECOMMIT_REFUSAL =
  'OperationNotAllowedException (CreateRepository request is not allowed because there is no existing repository in this AWS account or AWS Organization)';

/** The alternative source, named by its config keys. */
const CONNECTION_SOURCE =
  'a CodeConnections source: source.provider "GitHub", "GitLab" or "Bitbucket", source.connectionArn, source.repository (docs/configuration.md#source-required)';
