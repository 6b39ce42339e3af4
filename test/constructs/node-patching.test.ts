import { Match, type Template } from 'aws-cdk-lib/assertions';
import { KUBERNETES_VERSIONS, STACK_ENVIRONMENTS } from '../../lib/config';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * Node patching, as the synthesized templates show it: Systems Manager reports (a patch baseline
 * registered for the environment's patch group, a scheduled Scan association targeting the nodes'
 * tag), and the AMI is rotated by the node group's pinned release version.
 */

let s: Synthesized;
let prod: Template;
let preprod: Template;
/** pre-prod with its own patching settings. */
let custom: Template;

beforeAll(() => {
  s = synthesize();
  prod = s.stages['prod-us-east-1'];
  preprod = s.stages['preprod-eu-west-1'];
  custom = synthesize({
    config: {
      ...STACK_ENVIRONMENTS,
      preprod: {
        account: '222222222222',
        region: 'eu-west-1',
        patching: { approveAfterDays: 2, scanSchedule: 'cron(30 4 ? * * *)' },
      },
    },
  }).stages['preprod-eu-west-1'];
});

type Resource = { Properties: Record<string, unknown> };
const only = (t: Template, type: string): Resource => {
  const found = Object.values(t.findResources(type)) as Resource[];
  expect(found).toHaveLength(1);
  return found[0];
};
const launchTemplateTags = (
  t: Template,
): Array<{ ResourceType: string; Tags: Array<{ Key: string; Value: string }> }> =>
  (
    only(t, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData as {
      TagSpecifications?: Array<{
        ResourceType: string;
        Tags: Array<{ Key: string; Value: string }>;
      }>;
    }
  ).TagSpecifications ?? [];

describe('patch compliance (Systems Manager)', () => {
  test('an Amazon Linux 2023 baseline approves Critical and Important security updates after 7 days, reported as CRITICAL and HIGH', () => {
    const rules = only(prod, 'AWS::SSM::PatchBaseline').Properties as {
      OperatingSystem: string;
      ApprovalRules: { PatchRules: Array<Record<string, unknown>> };
    };
    expect(rules.OperatingSystem).toBe('AMAZON_LINUX_2023');
    const bySeverity = Object.fromEntries(
      rules.ApprovalRules.PatchRules.map((r) => {
        const filters = (
          r.PatchFilterGroup as { PatchFilters: Array<{ Key: string; Values: string[] }> }
        ).PatchFilters;
        expect(filters).toContainEqual({ Key: 'CLASSIFICATION', Values: ['Security'] });
        const severity = filters.find((f) => f.Key === 'SEVERITY')?.Values;
        return [JSON.stringify(severity), { days: r.ApproveAfterDays, level: r.ComplianceLevel }];
      }),
    );
    expect(bySeverity).toEqual({
      '["Critical"]': { days: 7, level: 'CRITICAL' },
      '["Important"]': { days: 7, level: 'HIGH' },
    });
  });

  test('the approval delay is a setting', () => {
    const rules = (
      only(custom, 'AWS::SSM::PatchBaseline').Properties.ApprovalRules as {
        PatchRules: Array<{ ApproveAfterDays: number }>;
      }
    ).PatchRules;
    expect(rules.map((r) => r.ApproveAfterDays)).toEqual([2, 2]);
  });

  test("the baseline is registered for the environment's patch group, and every node instance carries that PatchGroup tag", () => {
    // Patch Manager picks the baseline registered for the node's `PatchGroup` tag value, else the
    // region's default baseline for the OS:
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html
    // (`PatchGroup` without a space, the spelling that also works with instance tags in IMDS:
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-tag-a-patch-group.html)
    expect(only(prod, 'AWS::SSM::PatchBaseline').Properties.PatchGroups).toEqual([
      'hello-web-prod-us-east-1',
    ]);
    expect(only(preprod, 'AWS::SSM::PatchBaseline').Properties.PatchGroups).toEqual([
      'hello-web-preprod-eu-west-1',
    ]);
    // Node group tags do not reach the instances; the launch template's instance tag
    // specification does (https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html#launch-template-tagging).
    const instanceTags =
      launchTemplateTags(prod).find((s) => s.ResourceType === 'instance')?.Tags ?? [];
    expect(instanceTags).toContainEqual({ Key: 'PatchGroup', Value: 'hello-web-prod-us-east-1' });
    // ...and the node group launches from that launch template, at its latest version (the one with the tag).
    const [ltId] = Object.keys(prod.findResources('AWS::EC2::LaunchTemplate'));
    prod.hasResourceProperties('AWS::EKS::Nodegroup', {
      LaunchTemplate: {
        Id: { Ref: ltId },
        Version: { 'Fn::GetAtt': [ltId, 'LatestVersionNumber'] },
      },
    });
  });

  test('a State Manager association runs AWS-RunPatchBaseline with Operation=Scan (never Install) on the tagged nodes, daily by default', () => {
    const association = only(prod, 'AWS::SSM::Association').Properties;
    expect(association).toMatchObject({
      Name: 'AWS-RunPatchBaseline',
      Parameters: { Operation: ['Scan'], RebootOption: ['NoReboot'] },
      Targets: [{ Key: 'tag:PatchGroup', Values: ['hello-web-prod-us-east-1'] }],
      ScheduleExpression: 'rate(1 day)',
    });
    expect(JSON.stringify(prod.toJSON())).not.toContain('"Install"');
  });

  test('the scan schedule is a setting', () => {
    expect(only(custom, 'AWS::SSM::Association').Properties.ScheduleExpression).toBe(
      'cron(30 4 ? * * *)',
    );
  });

  test('the stack outputs the patch group, the key to the per-node compliance commands', () => {
    prod.hasOutput('PatchGroup', { Value: 'hello-web-prod-us-east-1' });
  });
});

describe('AMI rotation (managed node group)', () => {
  test("the node group's AMI release version is the catalog's pin for its Kubernetes version", () => {
    const pinned = KUBERNETES_VERSIONS['1.35'].nodeAmiReleaseVersion;
    for (const t of Object.values(s.stages))
      t.hasResourceProperties('AWS::EKS::Nodegroup', {
        ReleaseVersion: pinned,
        Version: Match.absent(),
      });
    // A custom AMI in the launch template would make EKS reject releaseVersion
    // (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html#AmazonEKS-CreateNodegroup-request-releaseVersion).
    expect(only(prod, 'AWS::EC2::LaunchTemplate').Properties.LaunchTemplateData).not.toHaveProperty(
      'ImageId',
    );
  });

  test('a roll drains nodes through the eviction API and honours PodDisruptionBudgets: never forced, one node at a time, surge first', () => {
    // ForceUpdateEnabled ignores PDBs (https://docs.aws.amazon.com/eks/latest/userguide/update-managed-node-group.html);
    // aws-cdk-lib defaults it to true. DEFAULT launches new nodes before draining old ones
    // (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html).
    for (const t of [prod, preprod]) {
      t.hasResourceProperties('AWS::EKS::Nodegroup', {
        ForceUpdateEnabled: false,
        UpdateConfig: { MaxUnavailable: 1, UpdateStrategy: 'DEFAULT' },
      });
    }
  });
});
