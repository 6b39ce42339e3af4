import {
  type IPolicyValidationContext,
  type PolicyValidationPluginReport,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Every cdk-nag finding this project accepts, with the reason. An entry matches a finding by its
 * rule id (the part in brackets names the exact action, resource or policy) AND the path of the
 * construct it was raised on, so it covers that finding on that kind of resource only: the same
 * rule raised anywhere else still fails the synth. Stage names are matched by `[^/]+`. To list what
 * a change raised: `npx cdk synth -q; python3 scripts/nag-summary.py` (reads cdk.out/validation-report.json).
 */
export interface NagAcknowledgement {
  /** The finding's id, e.g. `AwsSolutions-IAM5[Action::s3:GetObject*]`. */
  readonly finding: RegExp;
  /** The construct path(s) it is accepted on. */
  readonly path: RegExp;
  readonly reason: string;
}

// The pipeline stack's construct id is `<Service>Pipeline` and each stage's application stack is
// `<Service>` (lib/config/names.ts): the backreference holds the two to the same service.
const STAGE_STACK = String.raw`^([A-Za-z0-9-]+)Pipeline/[^/]+/\1/`;
const PIPELINE = String.raw`^[A-Za-z0-9-]+Pipeline/Pipeline/`;
const path = (s: string) => new RegExp(s);
const exact = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

export const NAG_ACKNOWLEDGEMENTS: readonly NagAcknowledgement[] = [
  // --- EKS nodes and cluster: AWS-managed policies EKS documents as required ---
  ...[
    'AmazonEKSWorkerNodePolicy',
    'AmazonEKS_CNI_Policy',
    'AmazonEC2ContainerRegistryReadOnly',
    'AmazonSSMManagedInstanceCore',
  ].map((p) => ({
    finding: exact(`AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${p}]`),
    path: path(`${STAGE_STACK}Eks/NodeRole/Resource$`),
    reason: `${p} is the AWS-managed policy the EKS user guide requires for managed node groups (SSM: patching through Systems Manager, as the seed asked); AWS keeps it current with the service.`,
  })),
  {
    finding: exact(
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]',
    ),
    path: path(`${STAGE_STACK}Eks/Cluster/Role/Resource$`),
    reason:
      'The EKS cluster service role must carry AmazonEKSClusterPolicy (EKS user guide, cluster IAM role); created by aws-eks-v2.',
  },
  // --- CDK-internal provider functions (kubectl provider, AwsCustomResource) ---
  ...[
    'service-role/AWSLambdaBasicExecutionRole',
    'service-role/AWSLambdaVPCAccessExecutionRole',
    'AmazonEC2ContainerRegistryReadOnly',
  ].map((p) => ({
    finding: exact(`AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${p}]`),
    path: path(
      `${STAGE_STACK}(Eks/Cluster/KubectlProvider/.*ServiceRole|AWS679f53fac002430cb0da5b7982bd2287/ServiceRole)/Resource$`,
    ),
    reason: `Role of a CDK-internal provider Lambda (kubectl provider / AwsCustomResource); ${p} is how aws-cdk-lib grants logs, VPC ENIs and the kubectl layer image pull. Not configurable.`,
  })),
  {
    finding:
      /^AwsSolutions-IAM4\[Policy::\{"Fn::If":\["EksClusterKubectlProviderHandlerHasEcrPublic/,
    path: path(`${STAGE_STACK}Eks/Cluster/KubectlProvider/Handler/ServiceRole/Resource$`),
    reason:
      'aws-eks-v2 kubectl provider: conditional AmazonElasticContainerRegistryPublicReadOnly, attached only in regions that pull the helm/kubectl images from ECR Public. Not configurable.',
  },
  {
    finding: exact('AwsSolutions-IAM5[Resource::<EksClusterKubectlProviderHandlerDA75FB7A.Arn>:*]'),
    path: path(
      `${STAGE_STACK}Eks/Cluster/KubectlProvider/Provider/framework-onEvent/ServiceRole/DefaultPolicy/Resource$`,
    ),
    reason:
      'CDK custom-resource framework: may invoke any version of its own kubectl handler function (the wildcard is the version qualifier).',
  },
  {
    finding: exact('AwsSolutions-L1'),
    path: path(`${STAGE_STACK}Eks/Cluster/KubectlProvider/Handler/Resource$`),
    reason:
      'The kubectl handler runtime is chosen by aws-eks-v2 to match the kubectl layer; it is updated with aws-cdk-lib (pinned in package-lock.json).',
  },
  // --- Controllers on the cluster: upstream-documented IAM policies ---
  ...[
    'Resource::*',
    'Resource::arn:<AWS::Partition>:ec2:*:*:security-group/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:listener-rule/app/*/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:listener-rule/net/*/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:listener/app/*/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:listener/net/*/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:loadbalancer/app/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:loadbalancer/net/*/*',
    'Resource::arn:<AWS::Partition>:elasticloadbalancing:*:*:targetgroup/*/*',
  ].map((r) => ({
    finding: exact(`AwsSolutions-IAM5[${r}]`),
    path: path(`${STAGE_STACK}[^/]+-AlbController/alb-sa/Role/DefaultPolicy/Resource$`),
    reason:
      'AWS Load Balancer Controller: the upstream IAM policy (kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json), shipped by aws-eks-v2; the controller creates load balancers whose names are not known in advance, and tag conditions scope its writes.',
  })),
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(`${STAGE_STACK}Eks/Cluster/ClusterAutoscalerSA/Role/DefaultPolicy/Resource$`),
    reason:
      'Cluster Autoscaler: Describe*/Get* calls cannot be scoped to resources (AWS API design); its write actions are limited to ASGs tagged k8s.io/cluster-autoscaler/<cluster>=owned (lib/constructs/cluster.ts).',
  },
  // --- CDK Pipelines: roles and grants it generates ---
  ...[
    's3:GetBucket*',
    's3:GetObject*',
    's3:List*',
    's3:Abort*',
    's3:DeleteObject*',
    'kms:GenerateDataKey*',
    'kms:ReEncrypt*',
  ].map((a) => ({
    finding: exact(`AwsSolutions-IAM5[Action::${a}]`),
    path: path(
      `${PIPELINE}(Pipeline/|UpdatePipeline/|Assets/).*(Role|FileRole|CodePipelineActionRole)/DefaultPolicy/Resource$`,
    ),
    reason: `CDK Pipelines grants its actions read/write on the pipeline's own artifact bucket and KMS key with ${a} (aws-cdk-lib grantRead/grantReadWrite); the resource is that bucket or key only.`,
  })),
  {
    finding: /^AwsSolutions-IAM5\[Resource::<Artifacts[0-9A-F]{8}\.Arn>\/\*\]$/,
    path: path(
      `${PIPELINE}(Pipeline/|UpdatePipeline/|Assets/).*(Role|FileRole|CodePipelineActionRole)/DefaultPolicy/Resource$`,
    ),
    reason:
      "Objects in the pipeline's own artifact bucket: pipeline actions read and write artifacts under keys the service chooses.",
  },
  {
    finding: /^AwsSolutions-IAM5\[Resource::<Artifacts[0-9A-F]{8}\.Arn>\/change-reports\/\*\]$/,
    path: path(
      `${PIPELINE}Pipeline/PromoteToProd/ChangeReport-prod/.*Role/DefaultPolicy/Resource$`,
    ),
    reason:
      "The change report before the prod approval writes its report to change-reports/<pipeline execution id>/ in the pipeline's own artifact bucket (s3:PutObject only): the execution id is known only at run time (docs/decisions/0030-change-report.md).",
  },
  {
    finding:
      /^AwsSolutions-IAM5\[Resource::arn:(aws|<AWS::Partition>):s3:::[a-z0-9-]+bucket[0-9a-f]+\/\*\]$/,
    path: path(`${PIPELINE}Pipeline/Role/DefaultPolicy/Resource$`),
    reason:
      "Objects in CDK Pipelines' cross-region artifact replication buckets (one per prod region): the pipeline copies artifacts there for cross-region deploy actions.",
  },
  {
    finding:
      /^AwsSolutions-IAM5\[Resource::arn:(aws|<AWS::Partition>):(logs|codebuild):[a-z0-9-]+:\d{12}:(log-group:\/aws\/codebuild\/|report-group\/)(<[A-Za-z0-9]+>)?(-\*|:\*|\*)\]$/,
    path: path(`${PIPELINE}(Pipeline/|UpdatePipeline/|Assets/).*Role/DefaultPolicy/Resource$`),
    reason:
      "A CodeBuild project's own log group and report groups (names derived from the project, created at run time); standard CodeBuild service-role grant from aws-cdk-lib.",
  },
  // One entry per role, each saying what its `*` statement grants (test/pipeline/iam-wildcards.test.ts
  // checks the synthesized templates against the same list). cdk-nag reads the policy before
  // lib/pipeline/scoped-grants.ts narrows it, so the first two name what the template finally holds.
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(`${PIPELINE}Pipeline/Role/DefaultPolicy/Resource$`),
    reason:
      "kms:Decrypt/DescribeKey/Encrypt/GenerateDataKey*/ReEncrypt* for the cross-region replication buckets' keys (CDK cannot name a key of another region). lib/pipeline/scoped-grants.ts narrows it in the template to arn:<partition>:kms:<replica region>:<pipeline account>:key/* with kms:ResourceAliases equal to those keys' aliases.",
  },
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(`${PIPELINE}Assets/FileRole/DefaultPolicy/Resource$`),
    reason:
      'codebuild:BatchGetBuilds/StartBuild/StopBuild, written by CDK Pipelines on *; lib/pipeline/scoped-grants.ts narrows it in the template to the asset-publishing projects only (never the self-mutation project).',
  },
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(`${PIPELINE}Pipeline/Image/BuildImage/BuildImage/Role/DefaultPolicy/Resource$`),
    reason:
      "ecr:GetAuthorizationToken (a registry login token) and, for the backfill after the push, ecr:StartReplicationBackfill and ecr:DescribeReplicationBackfillResults (registry-level: they name a destination region, not a repository); none has a resource type. Pushing is scoped to the repository ARN, the backfill's PutImage to the replica repository ARNs.",
  },
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(`${PIPELINE}UpdatePipeline/SelfMutation/Role/DefaultPolicy/Resource$`),
    reason:
      'cloudformation:DescribeStacks and s3:ListBucket (read-only) for CDK Pipelines self-mutation (`cdk deploy` reads stack status and the bootstrap bucket); not configurable in aws-cdk-lib. Its writes go through the bootstrap roles it assumes.',
  },
  {
    finding: exact('AwsSolutions-IAM5[Resource::*]'),
    path: path(
      `${PIPELINE}Pipeline/[^/]+/([^/]+\\.)?ImageGate-[^/]+/ImageGate-[^/]+/Role/DefaultPolicy/Resource$`,
    ),
    reason:
      "Image gate with ENHANCED scanning: inspector2:ListFindings and inspector2:ListCoverage (read-only) have no resource-level scoping; ECR uses them on the caller's permissions to answer DescribeImageScanFindings (ECR user guide, IAM permissions required for enhanced scanning). Its ECR actions are scoped to the repository ARNs.",
  },
  // The Build step's two read-only signals after the synth (lib/pipeline/build-step.ts).
  {
    finding:
      /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z0-9-]+\/\*\]$/,
    path: path(`${PIPELINE}Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy/Resource$`),
    reason:
      "cloudformation:GetTemplate (read-only) on the pipeline's own stack, by name: a stack ARN ends in a unique id CloudFormation assigns at creation, so `/*` stands for that id only. The rollback guard compares the deployed pipeline with the synthesized one.",
  },
  {
    finding:
      /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:ssm:[a-z0-9-]+::parameter\/aws\/service\/eks\/optimized-ami\/\*\]$/,
    path: path(`${PIPELINE}Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy/Resource$`),
    reason:
      'ssm:GetParameter (read-only) on the public parameters AWS publishes for EKS-optimized AMIs (no account in the ARN: nothing of ours is readable through it), one statement per region that hosts an environment; `npm run node-updates` reads <version>/amazon-linux-2023/<arch>/standard/recommended/release_version under it.',
  },
  {
    finding: /^AwsSolutions-IAM5\[Resource::arn:\*:iam::\d{12}:role\/\*\]$/,
    path: path(`${PIPELINE}UpdatePipeline/SelfMutation/Role/DefaultPolicy/Resource$`),
    reason:
      'Self-mutation assumes the CDK bootstrap roles (cdk-<qualifier>-*) of the pipeline account; CDK Pipelines scopes it with an iam:ResourceTag/aws-cdk:bootstrap-role condition.',
  },
  {
    finding: exact(
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy]',
    ),
    path: path(`${STAGE_STACK}Alarms/CloudWatchAgentRole/Resource$`),
    reason:
      'CloudWatch Observability add-on (agent + Fluent Bit, via EKS Pod Identity): CloudWatchAgentServerPolicy is the AWS-managed policy its install guide requires (PutMetricData, PutLogEvents, ...); AWS keeps it in step with the agent.',
  },
  // --- CDK Pipelines cross-region support stacks ---
  {
    finding: exact('AwsSolutions-S1'),
    path: path(
      '^cross-region-stack-\\d{12}:[a-z0-9-]+/Default/CrossRegionCodePipelineReplicationBucket/Resource$',
    ),
    reason:
      'Generated by CodePipeline for cross-region actions: holds transient, KMS-encrypted pipeline artifacts only; every access is already in CloudTrail through the pipeline.',
  },
];

/** Findings of CDK's built-in CloudFormation validation, acknowledged by id on one construct type. */
const CFN_VALIDATE_ACKNOWLEDGEMENTS = [
  {
    id: 'CloudFormation-Validate::W3010',
    path: path(`${STAGE_STACK}Network/Vpc/[^/]+/Subnet$`),
    reason:
      'The availability zones come from config on purpose: synth must never call AWS to look them up, and a subnet must stay in the zone it was created in.',
  },
  {
    id: 'CloudFormation-Validate::W9009',
    path: path(`${STAGE_STACK}Eks/Cluster/Resource$`),
    reason:
      "aws-eks-v2 writes EncryptionConfig.Resources: ['secrets'], which the CloudFormation schema marks deprecated but EKS still requires for secrets envelope encryption.",
  },
];

/**
 * cdk-nag's AwsSolutions pack as the app's validation plugin, applying the acknowledgements above
 * to its own findings: the rules run once per synth (each resource of every stack checked once),
 * every finding an entry covers is acknowledged on its own construct with its exact id, and the
 * rest fail the synth. CDK applies acknowledgements after the plugins ran (`collectSuppressions`
 * in aws-cdk-lib core/lib/private/synthesis-validation.js), so validation-report.json lists each
 * acknowledged finding under `suppressedViolations` with its reason: nothing is hidden.
 */
export class AcknowledgedAwsSolutionsChecks extends AwsSolutionsChecks {
  override validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = super.validate(context);
    const app = (context as IPolicyValidationContext & { readonly appConstruct: IConstruct })
      .appConstruct;
    // CDK matches an acknowledgement to a finding by `<plugin namespace>::<rule name>`
    // (normalizeValidationId, aws-cdk-lib core/lib/validation/private/validation-id.js).
    const namespace = this.name.replace(/ /g, '-');
    const byPath = new Map(app.node.findAll().map((c) => [c.node.path, c] as const));
    for (const violation of report.violations) {
      for (const resource of violation.violatingResources) {
        const constructPath = resource.constructPath ?? '';
        const ack = NAG_ACKNOWLEDGEMENTS.find(
          (a) => a.finding.test(violation.ruleName) && a.path.test(constructPath),
        );
        const construct = byPath.get(constructPath);
        if (ack && construct)
          Validations.of(construct).acknowledge({
            id: `${namespace}::${violation.ruleName}`,
            reason: ack.reason,
          });
      }
    }
    return report;
  }
}

/** Acknowledges the CloudFormation-validation warnings listed above (that plugin runs on every synth). */
export function acknowledgeCfnValidateFindings(app: IConstruct): void {
  for (const c of app.node.findAll()) {
    for (const ack of CFN_VALIDATE_ACKNOWLEDGEMENTS) {
      if (ack.path.test(c.node.path))
        Validations.of(c).acknowledge({ id: ack.id, reason: ack.reason });
    }
  }
}
