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
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeRegistryCommand,
  ECRClient,
  GetRegistryScanningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import {
  DescribeAddonVersionsCommand,
  DescribeClusterVersionsCommand,
  EKSClient,
} from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import {
  BatchGetAccountStatusCommand,
  GetConfigurationCommand,
  Inspector2Client,
} from '@aws-sdk/client-inspector2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { KUBERNETES_VERSIONS } from '../../../../lib/config/kubernetes-versions';
import { TARGET_OF, awsError, lookupRoleTrust } from './fixtures';

/**
 * A mocked organisation in which everything the default STACK_ENVIRONMENTS needs is in place:
 * every account/region bootstrapped (version 33, trusting 111111111111), zones a/b/c available
 * with their AZ IDs, m7g.large everywhere, 1.35 in standard support, room in every quota, an
 * empty registry, Inspector on with lifetime rescans, CodeCommit in use, the pinned CloudWatch
 * Observability add-on offered, every bootstrap lookup role trusting 111111111111 with
 * ReadOnlyAccess. Tests then break one thing.
 */
export function mockHealthyOrganisation() {
  const mocks = {
    sts: mockClient(STSClient),
    cfn: mockClient(CloudFormationClient),
    ec2: mockClient(EC2Client),
    eks: mockClient(EKSClient),
    ecr: mockClient(ECRClient),
    inspector: mockClient(Inspector2Client),
    quotas: mockClient(ServiceQuotasClient),
    codecommit: mockClient(CodeCommitClient),
    iam: mockClient(IAMClient),
  };
  const targetOf = (getClient: () => unknown) => TARGET_OF.get(getClient() as object)!;
  mocks.sts.on(GetCallerIdentityCommand).callsFake((_input, getClient) => {
    const { account } = targetOf(getClient);
    return {
      Account: account,
      Arn: `arn:aws:sts::${account}:assumed-role/PlatformReadOnly/preflight`,
      UserId: 'AROAEXAMPLE:preflight',
    };
  });
  mocks.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'CDKToolkit',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '33' }],
        Parameters: [{ ParameterKey: 'TrustedAccounts', ParameterValue: '111111111111' }],
      },
    ],
  });
  const ids: Record<string, string> = {
    'eu-west-1': 'euw1',
    'us-east-1': 'use1',
    'ap-southeast-2': 'apse2',
  };
  mocks.ec2.on(DescribeAvailabilityZonesCommand).callsFake((_input, getClient) => {
    const { region } = targetOf(getClient);
    // az4, not az3: use1-az3 is the zone EKS does not support (checks.test.ts covers it).
    return {
      AvailabilityZones: ['a', 'b', 'c'].map((s, i) => ({
        ZoneName: `${region}${s}`,
        ZoneId: `${ids[region]}-az${[1, 2, 4][i]}`,
        State: 'available',
        ZoneType: 'availability-zone',
      })),
    };
  });
  mocks.ec2.on(DescribeInstanceTypeOfferingsCommand).callsFake((_input, getClient) => {
    const { region } = targetOf(getClient);
    return {
      InstanceTypeOfferings: ['a', 'b', 'c'].map((s) => ({
        InstanceType: 'm7g.large',
        LocationType: 'availability-zone',
        Location: `${region}${s}`,
      })),
    };
  });
  mocks.ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-default' }] });
  mocks.ec2.on(DescribeAddressesCommand).resolves({ Addresses: [] });
  mocks.ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
  mocks.eks.on(DescribeClusterVersionsCommand).resolves({
    clusterVersions: [
      {
        clusterVersion: '1.35',
        versionStatus: 'STANDARD_SUPPORT',
        endOfStandardSupportDate: new Date('2099-01-01'),
      },
    ],
  });
  mocks.ecr
    .on(DescribeRegistryCommand)
    .resolves({ registryId: '111111111111', replicationConfiguration: { rules: [] } });
  mocks.ecr.on(GetRegistryScanningConfigurationCommand).resolves({
    registryId: '111111111111',
    scanningConfiguration: { scanType: 'BASIC', rules: [] },
  });
  mocks.inspector.on(BatchGetAccountStatusCommand).resolves({
    accounts: [
      {
        accountId: '111111111111',
        state: { status: 'ENABLED', errorCode: undefined, errorMessage: undefined },
        resourceState: {
          ec2: undefined,
          ecr: { status: 'ENABLED', errorCode: undefined, errorMessage: undefined },
        },
      },
    ],
    failedAccounts: [],
  });
  mocks.inspector
    .on(GetConfigurationCommand)
    .resolves({ ecrConfiguration: { rescanDurationState: { rescanDuration: 'LIFETIME' } } });
  mocks.quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 20 } });
  mocks.codecommit.on(GetRepositoryCommand).rejects(awsError('RepositoryDoesNotExistException'));
  mocks.codecommit
    .on(ListRepositoriesCommand)
    .resolves({ repositories: [{ repositoryName: 'platform-tools' }] });
  mocks.eks.on(DescribeAddonVersionsCommand).resolves({
    addons: [
      {
        addonName: 'amazon-cloudwatch-observability',
        addonVersions: [{ addonVersion: KUBERNETES_VERSIONS['1.35'].cloudWatchObservabilityAddon }],
      },
    ],
  });
  mocks.iam.on(GetRoleCommand).callsFake((input: { RoleName: string }, getClient) => {
    const { account } = targetOf(getClient);
    return {
      Role: {
        RoleName: input.RoleName,
        Arn: `arn:aws:iam::${account}:role/${input.RoleName}`,
        Path: '/',
        RoleId: 'AROAEXAMPLE',
        CreateDate: new Date(),
        AssumeRolePolicyDocument: lookupRoleTrust(account, ['111111111111']),
      },
    };
  });
  mocks.iam.on(SimulatePrincipalPolicyCommand).resolves({
    EvaluationResults: [
      {
        EvalActionName: 'cloudwatch:DescribeAlarms',
        EvalResourceName: '*',
        EvalDecision: 'allowed',
      },
    ],
  });
  return mocks;
}
