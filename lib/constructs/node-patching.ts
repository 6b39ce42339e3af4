import { Tags } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { PatchingConfig } from '../config/patching';

/**
 * The tag key Patch Manager reads to pick a node's patch baseline. `PatchGroup` (no space) is the
 * spelling that also works when instance tags are allowed in instance metadata:
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-tag-a-patch-group.html
 */
export const PATCH_GROUP_TAG = 'PatchGroup';

export interface NodePatchingProps extends PatchingConfig {
  /** The patch group: the tag value every node carries, unique per account and region (the cluster name). */
  readonly patchGroup: string;
  /** The patch baseline's name (lib/config/names.ts). */
  readonly baselineName: string;
  /** The scan association's name (lib/config/names.ts). */
  readonly associationName: string;
  /** The managed node group's launch template; its instance tag specification carries the patch group tag. */
  readonly launchTemplate: ec2.LaunchTemplate;
}

/**
 * Patch compliance of the cluster's nodes, reported by Systems Manager and never fixed in place
 * (docs/decisions/0018-node-patching.md): an Amazon Linux 2023 patch baseline registered for the
 * environment's patch group, and a State Manager association running `AWS-RunPatchBaseline` with
 * `Operation=Scan` on every node carrying the patch group tag. Each run reports per node, as the
 * `Patch` compliance type (docs/runbooks/patching-nodes.md). The fix is a newer AMI: the node
 * group's release version in lib/config/kubernetes-versions.ts.
 */
export class NodePatching extends Construct {
  readonly patchGroup: string;
  readonly baseline: ssm.CfnPatchBaseline;
  readonly association: ssm.CfnAssociation;

  constructor(scope: Construct, id: string, props: NodePatchingProps) {
    super(scope, id);
    this.patchGroup = props.patchGroup;

    // Managed node group tags stop at the node group; a launch template's instance tag
    // specification reaches the instances (aws-cdk-lib renders LaunchTemplate tags as
    // TagSpecifications for "instance" and "volume").
    // https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html#launch-template-tagging
    Tags.of(props.launchTemplate).add(PATCH_GROUP_TAG, props.patchGroup);

    // A custom baseline rather than AWS-AmazonLinux2023DefaultPatchBaseline: the predefined ones
    // report every missing patch as "Unspecified", and the approval delay is ours to set.
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
    const rule = (
      severity: 'Critical' | 'Important',
      complianceLevel: 'CRITICAL' | 'HIGH',
    ): ssm.CfnPatchBaseline.RuleProperty => ({
      approveAfterDays: props.approveAfterDays,
      complianceLevel,
      patchFilterGroup: {
        patchFilters: [
          { key: 'CLASSIFICATION', values: ['Security'] },
          { key: 'SEVERITY', values: [severity] },
        ],
      },
    });
    this.baseline = new ssm.CfnPatchBaseline(this, 'Baseline', {
      name: props.baselineName,
      description: `EKS nodes of ${props.patchGroup}: Amazon Linux 2023 security updates (Critical, Important), approved ${props.approveAfterDays} days after release. Scan only; fixed by rolling the node AMI.`,
      operatingSystem: 'AMAZON_LINUX_2023',
      approvalRules: { patchRules: [rule('Critical', 'CRITICAL'), rule('Important', 'HIGH')] },
      // Patch Manager gives a node the baseline registered for its PatchGroup tag value, else the
      // region's default baseline for its OS (which this stack leaves alone: other workloads may rely on it).
      // https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-patch-groups.html
      patchGroups: [props.patchGroup],
    });

    this.association = new ssm.CfnAssociation(this, 'Scan', {
      name: 'AWS-RunPatchBaseline',
      associationName: props.associationName,
      // Scan only. An in-place Install on a Kubernetes node would reboot it without draining it: a
      // reboot is not an eviction, so PodDisruptionBudgets are not consulted.
      parameters: { Operation: ['Scan'], RebootOption: ['NoReboot'] },
      targets: [{ key: `tag:${PATCH_GROUP_TAG}`, values: [props.patchGroup] }],
      scheduleExpression: props.scanSchedule,
      // Missing approved security patches are what this association exists to surface.
      complianceSeverity: 'HIGH',
      // A scan runs dnf on a node that serves traffic: a third of the nodes at a time. A node whose
      // scan fails is reported on its own and must not stop the others.
      maxConcurrency: '34%',
      maxErrors: '100%',
    });
  }
}
