import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CodeCommitClient,
  GetRepositoryCommand,
  ListRepositoriesCommand,
} from '@aws-sdk/client-codecommit';
import {
  DescribeAddressesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeNatGatewaysCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeRegistryCommand,
  ECRClient,
  GetRegistryScanningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { DescribeClusterVersionsCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  BatchGetAccountStatusCommand,
  GetConfigurationCommand,
  Inspector2Client,
} from '@aws-sdk/client-inspector2';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import {
  type Finding,
  availabilityZonesCheck,
  bootstrapCheck,
  codeBuildConcurrencyCheck,
  inspectorCheck,
  instanceTypeCheck,
  kubernetesVersionCheck,
  networkQuotasCheck,
  registryReplicationCheck,
  registryScanningCheck,
  sourceCheck,
} from '../../../../tools/operator/preflight/checks';
import { NEEDS, awsError, configOf, contextOf } from './fixtures';

const cfn = mockClient(CloudFormationClient);
const ec2 = mockClient(EC2Client);
const eks = mockClient(EKSClient);
const ecr = mockClient(ECRClient);
const inspector = mockClient(Inspector2Client);
const quotas = mockClient(ServiceQuotasClient);
const codecommit = mockClient(CodeCommitClient);
beforeEach(() => [cfn, ec2, eks, ecr, inspector, quotas, codecommit].forEach((m) => m.reset()));

const statusOf = (findings: Finding[], check?: string) =>
  findings.filter((f) => check === undefined || f.check === check).map((f) => f.status);
const PIPELINE = { account: '111111111111', region: 'eu-west-1' };
const PROD = { account: '333333333333', region: 'eu-west-1' };
const config = configOf();
const prodEuWest1 = config.prod.waves[0][0];

describe('bootstrap: CDKToolkit present, recent enough, trusting the pipeline account', () => {
  const toolkit = (version: string, trusted: string, status = 'UPDATE_COMPLETE') =>
    cfn.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).resolves({
      Stacks: [
        {
          StackName: 'CDKToolkit',
          StackStatus: status as 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: version }],
          Parameters: [{ ParameterKey: 'TrustedAccounts', ParameterValue: trusted }],
        },
      ],
    });

  test('PASS: current version, trusting the pipeline account', async () => {
    toolkit('33', '111111111111,444444444444');
    const f = await bootstrapCheck(PROD).run(contextOf());
    expect(f).toEqual([
      expect.objectContaining({ check: 'bootstrap', status: 'PASS' }),
      expect.objectContaining({ check: 'bootstrap trust', status: 'PASS' }),
    ]);
  });

  test('WARN: enough for the stacks but older than the CLI template', async () => {
    toolkit('21', '111111111111');
    const [version] = await bootstrapCheck(PROD).run(contextOf());
    expect(version).toMatchObject({
      status: 'WARN',
      detail: expect.stringMatching(/version 21 is enough .* older than the CLI's 33/) as unknown,
    });
    expect(version.fix).toBe(
      'npx cdk bootstrap aws://333333333333/eu-west-1 --trust 111111111111 --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess',
    );
  });

  test('FAIL: older than the synthesized stacks require', async () => {
    toolkit('6', '111111111111');
    expect(statusOf(await bootstrapCheck(PROD).run(contextOf()), 'bootstrap')).toEqual(['FAIL']);
  });

  test('FAIL: not trusting the pipeline account (and the fix adds --trust)', async () => {
    toolkit('33', '');
    const trust = (await bootstrapCheck(PROD).run(contextOf())).find(
      (f) => f.check === 'bootstrap trust',
    )!;
    expect(trust).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining(
        'does not trust the pipeline account 111111111111',
      ) as unknown,
    });
    expect(trust.fix).toContain('--trust 111111111111');
  });

  test('FAIL: not bootstrapped (CloudFormation ValidationError); the pipeline account needs no --trust', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id CDKToolkit does not exist'));
    const [f] = await bootstrapCheck(PIPELINE).run(contextOf());
    expect(f).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining('not bootstrapped') as unknown,
      fix: 'npx cdk bootstrap aws://111111111111/eu-west-1 --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess',
    });
  });

  test('FAIL: a rolled-back bootstrap; WARN: one still in progress', async () => {
    toolkit('33', '111111111111', 'ROLLBACK_COMPLETE');
    expect(statusOf(await bootstrapCheck(PROD).run(contextOf()))).toEqual(['FAIL']);
    cfn.reset();
    toolkit('33', '111111111111', 'UPDATE_IN_PROGRESS');
    expect(statusOf(await bootstrapCheck(PROD).run(contextOf()))).toEqual(['WARN']);
  });

  test('any other error is not a verdict: the runner reports it as could-not-check', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(
        awsError('AccessDenied', 'not authorized to perform: cloudformation:DescribeStacks'),
      );
    await expect(bootstrapCheck(PROD).run(contextOf())).rejects.toThrow(/not authorized/);
  });
});

describe('availability zones: resolved to AZ IDs that EKS supports', () => {
  const zones = (overrides: Record<string, { id: string; state?: string; type?: string }>) =>
    ec2.on(DescribeAvailabilityZonesCommand).resolves({
      AvailabilityZones: Object.entries(overrides).map(([name, z]) => ({
        ZoneName: name,
        ZoneId: z.id,
        State: (z.state ?? 'available') as 'available',
        ZoneType: z.type ?? 'availability-zone',
      })),
    });

  test('PASS: every configured zone exists, available, with its ID shown', async () => {
    zones({
      'eu-west-1a': { id: 'euw1-az3' },
      'eu-west-1b': { id: 'euw1-az1' },
      'eu-west-1c': { id: 'euw1-az2' },
    });
    const [f] = await availabilityZonesCheck(prodEuWest1).run(contextOf());
    expect(f).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining(
        'eu-west-1a=euw1-az3, eu-west-1b=euw1-az1, eu-west-1c=euw1-az2',
      ) as unknown,
    });
  });

  test('FAIL: a name that maps to use1-az3 in this account (the EKS docs list it as unsupported)', async () => {
    const useast = configOf({
      prod: { waves: [[{ account: '333333333333', region: 'us-east-1' }]] },
    }).prod.waves[0][0];
    zones({
      'us-east-1a': { id: 'use1-az3' },
      'us-east-1b': { id: 'use1-az1' },
      'us-east-1c': { id: 'use1-az2' },
      'us-east-1d': { id: 'use1-az4' },
    });
    const [f] = await availabilityZonesCheck(useast).run(contextOf());
    expect(f).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining(
        'us-east-1a is use1-az3, where EKS creates no control plane',
      ) as unknown,
    });
    expect(f.fix).toContain('["us-east-1b","us-east-1c","us-east-1d"]');
  });

  test('FAIL: a zone the account does not have, or a local zone', async () => {
    zones({
      'eu-west-1a': { id: 'euw1-az3' },
      'eu-west-1b': { id: 'euw1-az1', type: 'local-zone' },
    });
    const [f] = await availabilityZonesCheck(prodEuWest1).run(contextOf());
    expect(f.status).toBe('FAIL');
    expect(f.detail).toMatch(/eu-west-1b is a local-zone.*eu-west-1c does not exist/);
  });

  test('WARN: a zone in the "constrained" state', async () => {
    zones({
      'eu-west-1a': { id: 'euw1-az3' },
      'eu-west-1b': { id: 'euw1-az1', state: 'constrained' },
      'eu-west-1c': { id: 'euw1-az2' },
    });
    expect(statusOf(await availabilityZonesCheck(prodEuWest1).run(contextOf()))).toEqual(['WARN']);
  });
});

describe('instance type: offered in every configured zone', () => {
  const offered = (...zones: string[]) =>
    ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: zones.map((z) => ({
        InstanceType: 'm7g.large',
        LocationType: 'availability-zone',
        Location: z,
      })),
    });

  test('PASS', async () => {
    offered('eu-west-1a', 'eu-west-1b', 'eu-west-1c');
    expect(statusOf(await instanceTypeCheck(prodEuWest1).run(contextOf()))).toEqual(['PASS']);
    expect(ec2.commandCalls(DescribeInstanceTypeOfferingsCommand)[0].args[0].input).toEqual({
      LocationType: 'availability-zone',
      Filters: [{ Name: 'instance-type', Values: ['m7g.large'] }],
    });
  });

  test('FAIL: missing in one zone, naming where it is offered', async () => {
    offered('eu-west-1a', 'eu-west-1b');
    const [f] = await instanceTypeCheck(prodEuWest1).run(contextOf());
    expect(f).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining('not offered in eu-west-1c') as unknown,
    });
  });

  test('FAIL: not offered in the region at all', async () => {
    offered();
    expect((await instanceTypeCheck(prodEuWest1).run(contextOf()))[0].detail).toMatch(
      /not offered in eu-west-1 /,
    );
  });
});

describe('kubernetes version: offered by EKS in the region', () => {
  const version = (versionStatus: string, endOfStandardSupportDate = new Date('2027-03-27')) =>
    eks.on(DescribeClusterVersionsCommand).resolves({
      clusterVersions: [
        {
          clusterVersion: '1.35',
          versionStatus: versionStatus as 'STANDARD_SUPPORT',
          endOfStandardSupportDate,
          endOfExtendedSupportDate: new Date('2028-03-27'),
        },
      ],
    });
  const now = () => new Date('2026-11-30');

  test('PASS: standard support', async () => {
    version('STANDARD_SUPPORT');
    expect(statusOf(await kubernetesVersionCheck(prodEuWest1, now).run(contextOf()))).toEqual([
      'PASS',
    ]);
    expect(eks.commandCalls(DescribeClusterVersionsCommand)[0].args[0].input).toMatchObject({
      clusterVersions: ['1.35'],
    });
  });

  test('WARN: extended support, or standard support ending within 90 days', async () => {
    version('EXTENDED_SUPPORT');
    expect(statusOf(await kubernetesVersionCheck(prodEuWest1, now).run(contextOf()))).toEqual([
      'WARN',
    ]);
    eks.reset();
    version('STANDARD_SUPPORT', new Date('2027-01-15'));
    expect(statusOf(await kubernetesVersionCheck(prodEuWest1, now).run(contextOf()))).toEqual([
      'WARN',
    ]);
  });

  test('FAIL: not offered in the region', async () => {
    eks.on(DescribeClusterVersionsCommand).resolves({ clusterVersions: [] });
    expect(statusOf(await kubernetesVersionCheck(prodEuWest1, now).run(contextOf()))).toEqual([
      'FAIL',
    ]);
  });
});

describe('network quotas: VPCs, Elastic IPs, NAT gateways per zone against one environment', () => {
  const usage = (vpcs: number, eips: number, natsInA: number) => {
    ec2
      .on(DescribeVpcsCommand)
      .resolves({ Vpcs: Array.from({ length: vpcs }, (_, i) => ({ VpcId: `vpc-${i}` })) });
    ec2.on(DescribeAddressesCommand).resolves({
      Addresses: Array.from({ length: eips }, (_, i) => ({ AllocationId: `eipalloc-${i}` })),
    });
    ec2.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: Array.from({ length: natsInA }, (_, i) => ({
        NatGatewayId: `nat-${i}`,
        SubnetId: 'subnet-a',
      })),
    });
    ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: 'subnet-a', AvailabilityZone: 'eu-west-1a' }] });
  };
  const quota = (code: string, value: number) =>
    quotas
      .on(GetServiceQuotaCommand, { QuotaCode: code })
      .resolves({ Quota: { QuotaCode: code, Value: value } });

  test('PASS: room for one VPC, three EIPs, a NAT gateway per zone', async () => {
    usage(1, 0, 0);
    quota('L-F678F1CE', 5);
    quota('L-0263D0A3', 5);
    quota('L-FE5A380F', 5);
    const f = await networkQuotasCheck(PROD, [prodEuWest1]).run(contextOf());
    expect(f.map((x) => `${x.check} ${x.status}`)).toEqual([
      'quota: VPCs PASS',
      'quota: Elastic IPs PASS',
      'quota: NAT gateways PASS',
    ]);
  });

  test('FAIL: three NAT gateways need three EIPs where 3 of 5 are taken; the fix is the exact quota request', async () => {
    usage(1, 3, 0);
    quota('L-F678F1CE', 5);
    quota('L-0263D0A3', 5);
    quota('L-FE5A380F', 5);
    const eip = (await networkQuotasCheck(PROD, [prodEuWest1]).run(contextOf())).find(
      (x) => x.check === 'quota: Elastic IPs',
    )!;
    expect(eip).toMatchObject({
      status: 'FAIL',
      detail: 'Elastic IPs: 3 in use + 3 needed, quota 5',
      fix: 'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-0263D0A3 --desired-value 7 --region eu-west-1',
    });
  });

  test('WARN: exactly at the quota (no headroom); an unset quota falls back to the AWS default', async () => {
    usage(4, 0, 4);
    quotas.on(GetServiceQuotaCommand).rejects(awsError('NoSuchResourceException'));
    quotas.on(GetAWSDefaultServiceQuotaCommand).resolves({ Quota: { Value: 5 } });
    const f = await networkQuotasCheck(PROD, [prodEuWest1]).run(contextOf());
    expect(f.find((x) => x.check === 'quota: VPCs')!.status).toBe('WARN');
    expect(f.find((x) => x.check === 'quota: NAT gateways')).toMatchObject({
      status: 'WARN',
      detail: 'NAT gateways in eu-west-1a: 4 in use + 1 needed, quota 5 (no headroom)',
    });
  });
});

describe('codebuild concurrency against the widest stage', () => {
  const quota = (value: number) =>
    quotas
      .on(GetServiceQuotaCommand, { ServiceCode: 'codebuild', QuotaCode: 'L-2DC20C30' })
      .resolves({ Quota: { Value: value } });
  test('PASS', async () => {
    quota(20);
    expect(statusOf(await codeBuildConcurrencyCheck(PIPELINE).run(contextOf()))).toEqual(['PASS']);
  });
  test('WARN at exactly the width; FAIL below it (a new account starts at 1)', async () => {
    quota(2);
    expect(statusOf(await codeBuildConcurrencyCheck(PIPELINE).run(contextOf()))).toEqual(['WARN']);
    quotas.reset();
    quota(1);
    const [f] = await codeBuildConcurrencyCheck(PIPELINE).run(contextOf());
    expect(f).toMatchObject({
      status: 'FAIL',
      detail: 'prod-wave-2 runs 2 builds at once; Linux/Medium quota 1',
      fix: expect.stringContaining(
        '--service-code codebuild --quota-code L-2DC20C30 --desired-value 4',
      ) as unknown,
    });
  });
});

describe('the registry: replication and scanning are account-wide; what deploying changes', () => {
  const ours = {
    destinations: [
      { region: 'us-east-1', registryId: '111111111111' },
      { region: 'ap-southeast-2', registryId: '111111111111' },
    ],
    repositoryFilters: [{ filter: 'hello-web', filterType: 'PREFIX_MATCH' as const }],
  };

  test('replication PASS: nothing today (deploying adds ours), or already ours (rule order aside)', async () => {
    ecr
      .on(DescribeRegistryCommand)
      .resolves({ registryId: '111111111111', replicationConfiguration: { rules: [] } });
    expect((await registryReplicationCheck(PIPELINE).run(contextOf()))[0]).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining(
        'deploying adds hello-web* -> 111111111111/us-east-1, 111111111111/ap-southeast-2',
      ) as unknown,
    });
    ecr.reset();
    ecr.on(DescribeRegistryCommand).resolves({
      replicationConfiguration: {
        rules: [{ ...ours, destinations: [...ours.destinations].reverse() }],
      },
    });
    expect((await registryReplicationCheck(PIPELINE).run(contextOf()))[0]).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining('already as deployed') as unknown,
    });
  });

  test('replication PASS when no template sets replication (no replica region): existing rules kept', async () => {
    ecr.on(DescribeRegistryCommand).resolves({
      replicationConfiguration: {
        rules: [{ destinations: [{ region: 'eu-central-1', registryId: '999999999999' }] }],
      },
    });
    const single = configOf({
      prod: { waves: [[{ account: '333333333333', region: 'eu-west-1' }]] },
    });
    const needs = {
      ...NEEDS,
      registries: {
        '111111111111/eu-west-1': { scanning: NEEDS.registries['111111111111/eu-west-1'].scanning },
      },
    };
    expect(
      (await registryReplicationCheck(PIPELINE).run(contextOf(single, needs)))[0],
    ).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining('unchanged') as unknown,
    });
  });

  test('scanning PASS: BASIC without rules today, or already ours', async () => {
    ecr
      .on(GetRegistryScanningConfigurationCommand)
      .resolves({ scanningConfiguration: { scanType: 'BASIC', rules: [] } });
    expect(statusOf(await registryScanningCheck(PIPELINE).run(contextOf()))).toEqual(['PASS']);
    ecr.reset();
    ecr.on(GetRegistryScanningConfigurationCommand).resolves({
      scanningConfiguration: {
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'CONTINUOUS_SCAN',
            repositoryFilters: [{ filter: 'hello-web', filterType: 'WILDCARD' }],
          },
        ],
      },
    });
    expect((await registryScanningCheck(PIPELINE).run(contextOf()))[0].detail).toMatch(
      /already as deployed/,
    );
  });

  test('scanning PASS (unchanged) when image.scanning is BASIC', async () => {
    ecr.on(GetRegistryScanningConfigurationCommand).resolves({
      scanningConfiguration: {
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'SCAN_ON_PUSH',
            repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }],
          },
        ],
      },
    });
    // image.scanning BASIC: the template has no AWS::ECR::RegistryScanningConfiguration
    const needs = {
      ...NEEDS,
      registries: {
        '111111111111/eu-west-1': {
          replication: NEEDS.registries['111111111111/eu-west-1'].replication,
        },
      },
    };
    expect(
      (
        await registryScanningCheck(PIPELINE).run(
          contextOf(configOf({ image: { scanning: 'BASIC' } }), needs),
        )
      )[0],
    ).toMatchObject({ status: 'PASS', detail: expect.stringContaining('unchanged') as unknown });
  });
});

// Both registry settings are singletons that deploying REPLACES: PutReplicationConfiguration
// "Creates or updates the replication configuration for a registry"
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutReplicationConfiguration.html),
// PutRegistryScanningConfiguration the same for scanning; CloudFormation's
// AWS::ECR::ReplicationConfiguration / AWS::ECR::RegistryScanningConfiguration hold the whole
// configuration. Response shapes: DescribeRegistry `{registryId, replicationConfiguration: {rules:
// [{destinations: [{region, registryId}], repositoryFilters: [{filter, filterType}]}]}}`
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRegistry.html) and
// GetRegistryScanningConfiguration `{registryId, scanningConfiguration: {scanType, rules:
// [{scanFrequency, repositoryFilters}]}}`; moto_server serves both (moto.test.ts).
describe('the registry: exactly what deploying would drop, against the synthesized template', () => {
  const payments = {
    destinations: [{ region: 'eu-central-1', registryId: '999999999999' }],
    repositoryFilters: [{ filter: 'payments', filterType: 'PREFIX_MATCH' as const }],
  };
  const ours = NEEDS.registries['111111111111/eu-west-1'].replication![0];

  test("the desired rules are the synthesized template's (needs), not re-derived from config", async () => {
    const onlyUsEast1 = {
      ...ours,
      destinations: [{ region: 'us-east-1', registryId: '111111111111' }],
    };
    ecr
      .on(DescribeRegistryCommand)
      .resolves({ replicationConfiguration: { rules: [onlyUsEast1] } });
    const needs = {
      ...NEEDS,
      registries: { '111111111111/eu-west-1': { replication: [onlyUsEast1] } },
    };
    expect(
      (await registryReplicationCheck(PIPELINE).run(contextOf(configOf(), needs)))[0],
    ).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining('already as deployed') as unknown,
    });
    // and a registry the templates do not touch is left as it is
    const untouched = { ...NEEDS, registries: {} };
    expect(
      (await registryReplicationCheck(PIPELINE).run(contextOf(configOf(), untouched)))[0],
    ).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining('unchanged by deploying') as unknown,
    });
  });

  test("replication FAIL: another repository's rule would be dropped; each dropped rule is named", async () => {
    ecr.on(DescribeRegistryCommand).resolves({
      replicationConfiguration: { rules: [payments, ours] },
    });
    const [f] = await registryReplicationCheck(PIPELINE).run(contextOf());
    expect(f.status).toBe('FAIL');
    expect(f.detail).toContain(
      'deploying would DROP 1 replication rule of other repositories: payments* -> 999999999999/eu-central-1',
    );
    expect(f.detail).toContain(
      'keeps hello-web* -> 111111111111/us-east-1, 111111111111/ap-southeast-2',
    );
    expect(f.fix).toContain('aws ecr describe-registry --region eu-west-1');
  });

  test("replication PASS: only this project's own rule changes; the destinations it gains and loses are named", async () => {
    ecr.on(DescribeRegistryCommand).resolves({
      replicationConfiguration: {
        rules: [
          {
            ...ours,
            destinations: [
              { region: 'us-east-1', registryId: '111111111111' },
              { region: 'eu-central-1', registryId: '111111111111' },
            ],
          },
        ],
      },
    });
    const [f] = await registryReplicationCheck(PIPELINE).run(contextOf());
    expect(f.status).toBe('PASS');
    expect(f.detail).toContain("updates this project's rule hello-web*");
    expect(f.detail).toContain('adds 111111111111/ap-southeast-2');
    expect(f.detail).toContain('removes 111111111111/eu-central-1');
  });

  test('scanning FAIL: an ENHANCED rule of other repositories would be dropped, named with its frequency', async () => {
    ecr.on(GetRegistryScanningConfigurationCommand).resolves({
      scanningConfiguration: {
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'SCAN_ON_PUSH',
            repositoryFilters: [{ filter: 'payments*', filterType: 'WILDCARD' }],
          },
          ...NEEDS.registries['111111111111/eu-west-1'].scanning!.rules,
        ],
      },
    });
    const [f] = await registryScanningCheck(PIPELINE).run(contextOf());
    expect(f.status).toBe('FAIL');
    expect(f.detail).toContain(
      'deploying would DROP 1 scanning rule of other repositories: ENHANCED SCAN_ON_PUSH payments*',
    );
    expect(f.fix).toContain('aws ecr get-registry-scanning-configuration --region eu-west-1');
  });

  test('scanning FAIL: BASIC scan-on-push of every repository would end (the scan type becomes ENHANCED, for hello-web only)', async () => {
    ecr.on(GetRegistryScanningConfigurationCommand).resolves({
      scanningConfiguration: {
        scanType: 'BASIC',
        rules: [
          {
            scanFrequency: 'SCAN_ON_PUSH',
            repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }],
          },
        ],
      },
    });
    const [f] = await registryScanningCheck(PIPELINE).run(contextOf());
    expect(f.status).toBe('FAIL');
    expect(f.detail).toContain('BASIC SCAN_ON_PUSH *');
    expect(f.detail).toContain('the registry becomes ENHANCED with only CONTINUOUS_SCAN hello-web');
  });
});

describe('amazon inspector: ECR scanning status and rescan duration', () => {
  const inspectorSays = (ecrStatus: string, rescanDuration: string) => {
    inspector.on(BatchGetAccountStatusCommand).resolves({
      accounts: [
        {
          accountId: '111111111111',
          state: { status: 'ENABLED', errorCode: undefined, errorMessage: undefined },
          resourceState: {
            ec2: undefined,
            ecr: {
              status: ecrStatus as 'ENABLED',
              errorCode: undefined,
              errorMessage: undefined,
            },
          },
        },
      ],
      failedAccounts: [],
    });
    inspector.on(GetConfigurationCommand).resolves({
      ecrConfiguration: { rescanDurationState: { rescanDuration: rescanDuration as 'LIFETIME' } },
    });
  };
  test('PASS: enabled, lifetime rescans', async () => {
    inspectorSays('ENABLED', 'LIFETIME');
    expect(statusOf(await inspectorCheck(PIPELINE).run(contextOf()))).toEqual(['PASS', 'PASS']);
  });
  test('WARN: disabled (the stack turns it on where it may), and 14-day rescans (the new-account default)', async () => {
    inspectorSays('DISABLED', 'DAYS_14');
    const f = await inspectorCheck(PIPELINE).run(contextOf());
    expect(statusOf(f)).toEqual(['WARN', 'WARN']);
    expect(f[1].fix).toBe(
      'aws inspector2 update-configuration --ecr-configuration rescanDuration=LIFETIME --region eu-west-1',
    );
  });
  test('FAIL: suspended', async () => {
    inspectorSays('SUSPENDED', 'LIFETIME');
    expect(statusOf(await inspectorCheck(PIPELINE).run(contextOf()), 'inspector ecr')).toEqual([
      'FAIL',
    ]);
  });
});

describe('the source repository exists or can be created', () => {
  test('PASS: to be created, in an account that already uses CodeCommit', async () => {
    codecommit.on(GetRepositoryCommand).rejects(awsError('RepositoryDoesNotExistException'));
    codecommit
      .on(ListRepositoriesCommand)
      .resolves({ repositories: [{ repositoryName: 'other' }] });
    expect(statusOf(await sourceCheck(PIPELINE).run(contextOf()))).toEqual(['PASS']);
  });
  // "AWS CodeCommit is no longer available to new customers" (AWS::CodeCommit::Repository,
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codecommit-repository.html).
  // No read call fails for such an account: only CreateRepository refuses, with
  // OperationNotAllowedException "CreateRepository request is not allowed because there is no
  // existing repository in this AWS account or AWS Organization" (reported verbatim in
  // aws-samples/automated-security-helper-pipeline#2, aws-samples/eks-workshop-v2#1142). So an
  // account with a repository can create more; one without may be refused (unless another account
  // of its Organization has one, which these credentials cannot see).
  test('WARN: to be created in an account without any repository: names the refusal and the connection source instead', async () => {
    codecommit.on(GetRepositoryCommand).rejects(awsError('RepositoryDoesNotExistException'));
    codecommit.on(ListRepositoriesCommand).resolves({ repositories: [] });
    const [f] = await sourceCheck(PIPELINE).run(contextOf());
    expect(f.status).toBe('WARN');
    expect(f.detail).toContain('CodeCommit is not available to new customers');
    expect(f.detail).toContain(
      'OperationNotAllowedException (CreateRepository request is not allowed because there is no existing repository in this AWS account or AWS Organization)',
    );
    // the alternative, as config keys the user can type
    expect(f.fix).toContain(
      'a CodeConnections source: source.provider "GitHub", "GitLab" or "Bitbucket", source.connectionArn, source.repository',
    );
    expect(f.fix).toContain('docs/configuration.md#source-required');
  });
  test('FAIL with create false and no repository: creating it by hand may be refused too, so the fix names the connection source', async () => {
    codecommit.on(GetRepositoryCommand).rejects(awsError('RepositoryDoesNotExistException'));
    codecommit.on(ListRepositoriesCommand).resolves({ repositories: [] });
    const [f] = await sourceCheck(PIPELINE).run(
      contextOf(configOf({ source: { repositoryName: 'hello-web', create: false } })),
    );
    expect(f.status).toBe('FAIL');
    expect(f.fix).toContain('a CodeConnections source');
  });
  test('FAIL: exists although the stack would create it; missing although create is false', async () => {
    codecommit
      .on(GetRepositoryCommand)
      .resolves({ repositoryMetadata: { repositoryName: 'hello-web' } });
    expect((await sourceCheck(PIPELINE).run(contextOf()))[0]).toMatchObject({
      status: 'FAIL',
      fix: 'set source.create to false to use the existing repository',
    });
    codecommit.reset();
    codecommit.on(GetRepositoryCommand).rejects(awsError('RepositoryDoesNotExistException'));
    codecommit
      .on(ListRepositoriesCommand)
      .resolves({ repositories: [{ repositoryName: 'other' }] });
    expect(
      statusOf(
        await sourceCheck(PIPELINE).run(
          contextOf(configOf({ source: { repositoryName: 'hello-web', create: false } })),
        ),
      ),
    ).toEqual(['FAIL']);
  });
  test('a connection source: WARN with the exact command that shows its status', async () => {
    const arn =
      'arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
    const [f] = await sourceCheck(PIPELINE).run(
      contextOf(
        configOf({
          source: { provider: 'GitHub', connectionArn: arn, repository: 'my-org/hello-web' },
        }),
      ),
    );
    expect(f).toMatchObject({
      check: 'source connection',
      status: 'WARN',
      fix: `aws codeconnections get-connection --connection-arn ${arn} --query Connection.ConnectionStatus --region eu-west-1`,
    });
  });
});
