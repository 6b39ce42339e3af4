import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { DescribeAvailabilityZonesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  ECRClient,
  PutRegistryScanningConfigurationCommand,
  PutReplicationConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { type Target, boundedCall, callerIdentity } from '../../../../tools/operator/preflight/aws';
import {
  type CheckContext,
  availabilityZonesCheck,
  bootstrapCheck,
  instanceTypeCheck,
  registryReplicationCheck,
  registryScanningCheck,
} from '../../../../tools/operator/preflight/checks';
import { type MotoServer, motoAvailable, startMoto } from '../../../support/moto';
import { NEEDS, configOf, plainAccess } from './fixtures';

/**
 * The checks whose APIs moto_server emulates, over the real wire format: STS, CloudFormation
 * (a CDKToolkit stack with the bootstrap template's parameter and output), EC2 zones and
 * instance type offerings, the ECR registry's replication and scanning. EKS DescribeClusterVersions,
 * Inspector2 and Service Quotas are not in moto, and moto 5.2's CodeCommit answers with timestamps
 * the SDK cannot parse: those are covered with aws-sdk-client-mock (checks.test.ts).
 */
const available = motoAvailable();
const describeWithMoto = available ? describe : describe.skip;

const ACCOUNT = '123456789012'; // moto's account
const T: Target = { account: ACCOUNT, region: 'eu-west-1' };
let moto: MotoServer | undefined;
let ctx: CheckContext;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

beforeAll(async () => {
  if (!available) return;
  moto = await startMoto();
  const config = configOf({
    pipeline: { account: ACCOUNT, region: 'eu-west-1' },
    preprod: {
      account: ACCOUNT,
      region: 'eu-west-1',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    },
  });
  ctx = {
    config,
    // what the pipeline stack's template sets in the pipeline account's registry (moto's account here)
    needs: {
      ...NEEDS,
      registries: { [`${ACCOUNT}/eu-west-1`]: NEEDS.registries['111111111111/eu-west-1'] },
    },
    aws: plainAccess({ endpoint: moto.endpoint }), // A generous bound: moto loads each service's backend on its first call, which on a busy 2-core
    // machine took more than 10 s (issue 17). The bound itself is tested in run.test.ts.
    call: boundedCall(90_000),
  };
});
afterAll(async () => moto?.stop());

describeWithMoto('preflight checks against moto_server', () => {
  test('credentials: GetCallerIdentity names the account', async () => {
    expect((await callerIdentity(ctx.aws, ctx.call, T)).account).toBe(ACCOUNT);
  });

  test('bootstrap: FAIL before, PASS once a CDKToolkit stack with version 33 and the trust exists', async () => {
    const other = { account: ACCOUNT, region: 'us-east-1' };
    expect((await bootstrapCheck(other).run(ctx))[0]).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining('not bootstrapped') as unknown,
    });
    // The parameter and output the CDK bootstrap template declares (node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml;
    // its output is a GetAtt of the version parameter, which moto does not resolve, hence the literal).
    const template = {
      Parameters: { TrustedAccounts: { Type: 'CommaDelimitedList', Default: '' } },
      Resources: {
        Version: {
          Type: 'AWS::SSM::Parameter',
          Properties: { Type: 'String', Name: '/cdk-bootstrap/hnb659fds/version', Value: '33' },
        },
      },
      Outputs: { BootstrapVersion: { Value: '33' } },
    };
    await new CloudFormationClient({
      region: 'us-east-1',
      endpoint: moto!.endpoint,
      credentials,
    }).send(
      new CreateStackCommand({
        StackName: 'CDKToolkit',
        TemplateBody: JSON.stringify(template),
        Parameters: [{ ParameterKey: 'TrustedAccounts', ParameterValue: '111111111111' }],
      }),
    );
    const findings = await bootstrapCheck(other).run(ctx);
    expect(findings).toEqual([
      expect.objectContaining({
        check: 'bootstrap',
        status: 'PASS',
        detail: 'version 33 (stacks require 8)',
      }),
    ]);
  });

  test('availability zones: names resolved to AZ IDs; a zone the account lacks is a FAIL', async () => {
    const zones = await new EC2Client({
      region: 'eu-west-1',
      endpoint: moto!.endpoint,
      credentials,
    }).send(new DescribeAvailabilityZonesCommand({}));
    const a = zones.AvailabilityZones!.find((z) => z.ZoneName === 'eu-west-1a')!;
    const [pass] = await availabilityZonesCheck(ctx.config.preprod).run(ctx);
    expect(pass).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining(`eu-west-1a=${a.ZoneId}`) as unknown,
    });
    const [missing] = await availabilityZonesCheck({
      ...ctx.config.preprod,
      availabilityZones: ['eu-west-1a', 'eu-west-1z'],
    }).run(ctx);
    expect(missing).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining('eu-west-1z does not exist in this account') as unknown,
    });
  });

  test('instance type: offerings by availability zone', async () => {
    const [f] = await instanceTypeCheck({
      ...ctx.config.preprod,
      nodes: { ...ctx.config.preprod.nodes, instanceType: 't3.medium' },
    }).run(ctx);
    expect(f).toMatchObject({
      status: 'PASS',
      detail: expect.stringContaining('t3.medium offered in eu-west-1a, eu-west-1b') as unknown,
    });
  });

  test("registry: an empty registry PASSes; another team's rules FAIL, named as what deploying would drop", async () => {
    expect((await registryReplicationCheck(T).run(ctx))[0].status).toBe('PASS');
    expect((await registryScanningCheck(T).run(ctx))[0].status).toBe('PASS');
    const ecr = new ECRClient({ region: 'eu-west-1', endpoint: moto!.endpoint, credentials });
    await ecr.send(
      new PutReplicationConfigurationCommand({
        replicationConfiguration: {
          rules: [
            {
              destinations: [{ region: 'eu-central-1', registryId: ACCOUNT }],
              repositoryFilters: [{ filter: 'payments', filterType: 'PREFIX_MATCH' }],
            },
          ],
        },
      }),
    );
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'SCAN_ON_PUSH',
            repositoryFilters: [{ filter: 'payments*', filterType: 'WILDCARD' }],
          },
        ],
      }),
    );
    expect((await registryReplicationCheck(T).run(ctx))[0]).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining(
        `would DROP 1 replication rule of other repositories: payments* -> ${ACCOUNT}/eu-central-1`,
      ) as unknown,
    });
    expect((await registryScanningCheck(T).run(ctx))[0]).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining(
        'would DROP 1 scanning rule of other repositories: ENHANCED SCAN_ON_PUSH payments*',
      ) as unknown,
    });
  });
});
