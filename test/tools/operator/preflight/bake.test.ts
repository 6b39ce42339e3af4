import { DescribeAddonVersionsCommand, EKSClient } from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { allEnvironments } from '../../../../lib/config';
import { KUBERNETES_VERSIONS } from '../../../../lib/config/kubernetes-versions';
import {
  bakeReaderRoleCheck,
  observabilityAddonCheck,
  trustOf,
} from '../../../../tools/operator/preflight/bake';
import { awsError, configOf, contextOf, lookupRoleTrust } from './fixtures';

// The bake reads each environment's alarm through the CDK bootstrap lookup role of its account and
// region (docs/decisions/0023-bake-alarm-through-bootstrap-lookup-role.md): the preflight checks,
// with IAM's own answers, that it exists (CodePipeline refuses a pipeline that names a role it
// cannot assume, aws/aws-cdk#22489), that it trusts the pipeline account, and that it may call
// cloudwatch:DescribeAlarms on "*" (the only scope that returns composite alarms,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
// IAM GetRole: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html (the trust
// policy comes URL-encoded); SimulatePrincipalPolicy:
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html.
// moto 5.2 has neither SimulatePrincipalPolicy nor EKS DescribeAddonVersions: mocked here.

const iam = mockClient(IAMClient);
const eks = mockClient(EKSClient);
beforeEach(() => {
  iam.reset();
  eks.reset();
});

const config = configOf();
const prodUsEast1 = allEnvironments(config).find((e) => e.stageName === 'prod-us-east-1')!;
const ROLE = 'cdk-hnb659fds-lookup-role-333333333333-us-east-1';

function role(trust: string) {
  return {
    Role: {
      RoleName: ROLE,
      Arn: `arn:aws:iam::333333333333:role/${ROLE}`,
      Path: '/',
      RoleId: 'AROAEXAMPLE',
      CreateDate: new Date(),
      AssumeRolePolicyDocument: trust,
    },
  };
}
const allowed = (decision: 'allowed' | 'implicitDeny' | 'explicitDeny') => ({
  EvaluationResults: [
    { EvalActionName: 'cloudwatch:DescribeAlarms', EvalResourceName: '*', EvalDecision: decision },
  ],
});

describe('bake reader role', () => {
  test('a lookup role that trusts the pipeline account and may read alarms on * passes', async () => {
    iam.on(GetRoleCommand).resolves(role(lookupRoleTrust('333333333333', ['111111111111'])));
    iam.on(SimulatePrincipalPolicyCommand).resolves(allowed('allowed'));
    const findings = await bakeReaderRoleCheck(prodUsEast1).run(contextOf(config));
    expect(findings.map((f) => f.status)).toEqual(['PASS', 'PASS']);
    expect(iam.commandCalls(GetRoleCommand)[0].args[0].input).toEqual({ RoleName: ROLE });
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)[0].args[0].input).toEqual({
      PolicySourceArn: `arn:aws:iam::333333333333:role/${ROLE}`,
      ActionNames: ['cloudwatch:DescribeAlarms'],
      ResourceArns: ['*'],
    });
  });

  test('no lookup role: FAIL, the pipeline could not be created, with the bootstrap command', async () => {
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException', `role ${ROLE} not found`));
    const [f] = await bakeReaderRoleCheck(prodUsEast1).run(contextOf(config));
    expect(f.status).toBe('FAIL');
    expect(f.detail).toContain(`no role ${ROLE}`);
    expect(f.fix).toMatch(
      /^npx cdk bootstrap aws:\/\/333333333333\/us-east-1 --trust 111111111111 /,
    );
  });

  test('a lookup role that trusts only its own account: FAIL', async () => {
    iam.on(GetRoleCommand).resolves(role(lookupRoleTrust('333333333333', [])));
    iam.on(SimulatePrincipalPolicyCommand).resolves(allowed('allowed'));
    const findings = await bakeReaderRoleCheck(prodUsEast1).run(contextOf(config));
    expect(findings[0]).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining('does not trust the pipeline account 111111111111') as string,
    });
  });

  test('a lookup role that may not read alarms on * (a customised bootstrap): FAIL', async () => {
    iam.on(GetRoleCommand).resolves(role(lookupRoleTrust('333333333333', ['111111111111'])));
    iam.on(SimulatePrincipalPolicyCommand).resolves(allowed('implicitDeny'));
    const findings = await bakeReaderRoleCheck(prodUsEast1).run(contextOf(config));
    expect(findings[1]).toMatchObject({
      status: 'FAIL',
      detail: expect.stringContaining(
        'may not call cloudwatch:DescribeAlarms on * (implicitDeny)',
      ) as string,
    });
  });

  test('a trust that the bootstrap template would not write (here: MFA) is a WARN', () => {
    const doc = encodeURIComponent(
      JSON.stringify({
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: ['arn:aws:iam::111111111111:root'] },
            Action: 'sts:AssumeRole',
            Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
          },
        ],
      }),
    );
    expect(trustOf(doc, '111111111111', 'aws')).toEqual({ trusted: true, conditioned: true });
    expect(
      trustOf(lookupRoleTrust('333333333333', ['111111111111']), '111111111111', 'aws'),
    ).toEqual({ trusted: true, conditioned: false });
    // An account id as principal is the same as its root ARN.
    expect(
      trustOf(
        encodeURIComponent(
          JSON.stringify({
            Statement: [
              { Effect: 'Allow', Principal: { AWS: '111111111111' }, Action: 'sts:AssumeRole' },
            ],
          }),
        ),
        '111111111111',
        'aws',
      ).trusted,
    ).toBe(true);
  });
});

describe('observability add-on', () => {
  const pinned = KUBERNETES_VERSIONS['1.35'].cloudWatchObservabilityAddon;

  test('the pinned version offered for the Kubernetes version in the region: PASS, read across pages', async () => {
    eks
      .on(DescribeAddonVersionsCommand)
      .resolvesOnce({
        addons: [
          {
            addonName: 'amazon-cloudwatch-observability',
            addonVersions: [{ addonVersion: 'v6.4.0-eksbuild.1' }],
          },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({
        addons: [
          {
            addonName: 'amazon-cloudwatch-observability',
            addonVersions: [{ addonVersion: pinned }],
          },
        ],
      });
    const [f] = await observabilityAddonCheck(prodUsEast1).run(contextOf(config));
    expect(f.status).toBe('PASS');
    expect(eks.commandCalls(DescribeAddonVersionsCommand)[0].args[0].input).toMatchObject({
      addonName: 'amazon-cloudwatch-observability',
      kubernetesVersion: '1.35',
    });
  });

  test('not offered: FAIL, naming what is, and where to change the pin', async () => {
    eks.on(DescribeAddonVersionsCommand).resolves({
      addons: [
        {
          addonName: 'amazon-cloudwatch-observability',
          addonVersions: [
            { addonVersion: 'v6.4.0-eksbuild.1' },
            { addonVersion: 'v6.3.0-eksbuild.2' },
          ],
        },
      ],
    });
    const [f] = await observabilityAddonCheck(prodUsEast1).run(contextOf(config));
    expect(f.status).toBe('FAIL');
    expect(f.detail).toBe(
      `EKS does not offer amazon-cloudwatch-observability ${pinned} for Kubernetes 1.35 in us-east-1; offered: v6.4.0-eksbuild.1, v6.3.0-eksbuild.2`,
    );
    expect(f.fix).toContain('lib/config/kubernetes-versions.ts');
  });
});
