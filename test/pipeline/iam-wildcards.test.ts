import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * Every IAM statement on `Resource: "*"` in every synthesized template must be on this list, with
 * what it grants and why nothing narrower exists. Where an action supports no resource-level
 * permission, the Service Authorization Reference lists no resource type for it
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 */
interface Allowed {
  /** Logical id of the policy (the hash suffix is not matched). */
  readonly policy: RegExp;
  readonly actions: readonly string[];
  /** The statement must carry this condition (a tag or service condition that does the scoping). */
  readonly condition?: string;
  readonly reason: string;
}

const ALLOWED: readonly Allowed[] = [
  {
    policy: /^PipelineImageBuildImageRoleDefaultPolicy/,
    actions: [
      'ecr:GetAuthorizationToken',
      'ecr:DescribeReplicationBackfillResults',
      'ecr:StartReplicationBackfill',
    ],
    reason:
      'a registry login token, and the registry-level backfill actions the build runs after its push (tools/image-backfill); none has a resource type (ECR service authorization reference). Pushing and copying images is scoped to the repository ARNs. CDK merges the two statements into one.',
  },
  {
    policy: /ImageGate.*RoleDefaultPolicy/,
    actions: ['inspector2:ListCoverage', 'inspector2:ListFindings'],
    reason:
      "read-only Inspector findings and coverage (ENHANCED scanning); neither has a resource type. ECR uses them for DescribeImageScanFindings on the caller's permissions (ECR user guide, IAM permissions required for enhanced scanning).",
  },
  {
    policy: /^PipelineUpdatePipelineSelfMutationRoleDefaultPolicy/,
    actions: ['cloudformation:DescribeStacks', 's3:ListBucket'],
    reason:
      'CDK Pipelines self-mutation (`cdk deploy`): reads stack status and lists the bootstrap bucket; read-only, not configurable in aws-cdk-lib. Writes go through the bootstrap roles it assumes.',
  },
  {
    policy: /ClusterAutoscalerSARoleDefaultPolicy/,
    actions: [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'autoscaling:DescribeLaunchConfigurations',
      'autoscaling:DescribeScalingActivities',
      'autoscaling:DescribeTags',
      'ec2:DescribeImages',
      'ec2:DescribeInstanceTypes',
      'ec2:DescribeLaunchTemplateVersions',
      'ec2:GetInstanceTypesFromInstanceRequirements',
      'eks:DescribeNodegroup',
    ],
    reason: 'Cluster Autoscaler discovery: Describe*/Get* without resource types.',
  },
  {
    policy: /ClusterAutoscalerSARoleDefaultPolicy/,
    actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
    condition: 'aws:ResourceTag/k8s.io/cluster-autoscaler/',
    reason: "Cluster Autoscaler writes, only to ASGs tagged as this cluster's (owned).",
  },
  {
    policy: /AlbControlleralbsaRoleDefaultPolicy/,
    actions: ['*'],
    reason:
      'AWS Load Balancer Controller: the upstream IAM policy (kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json) shipped by aws-eks-v2; its writes carry elbv2.k8s.aws/cluster tag conditions.',
  },
];

let s: Synthesized;
let wildcards: Array<{ file: string; policy: string; actions: string[]; condition: string }>;
beforeAll(() => {
  s = synthesize();
  const files = fs
    .readdirSync(s.outdir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.template.json'));
  wildcards = files.flatMap((file) => {
    const resources = (
      JSON.parse(fs.readFileSync(path.join(s.outdir, file), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      }
    ).Resources;
    return Object.entries(resources)
      .filter(([, r]) =>
        ['AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::IAM::ManagedPolicy'].includes(r.Type),
      )
      .flatMap(([id, r]) => {
        const docs = [
          r.Properties.PolicyDocument,
          ...((r.Properties.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []).map(
            (p) => p.PolicyDocument,
          ),
        ].filter(Boolean) as Array<{ Statement: Array<Record<string, unknown>> }>;
        return docs
          .flatMap((d) => d.Statement)
          .filter(
            (st) =>
              st.Effect === 'Allow' &&
              (st.Resource === '*' || (Array.isArray(st.Resource) && st.Resource.includes('*'))),
          )
          .map((st) => ({
            file,
            policy: id,
            actions: ([] as string[]).concat(st.Action as string | string[]),
            condition: JSON.stringify(st.Condition ?? ''),
          }));
      });
  });
});

test('the scan finds wildcard statements where they are (it cannot pass vacuously)', () => {
  expect(wildcards.some((w) => w.actions.includes('ecr:GetAuthorizationToken'))).toBe(true);
});

test('every Resource "*" statement in every template is on the reasoned list', () => {
  const unlisted = wildcards.filter(
    (w) =>
      !ALLOWED.some(
        (a) =>
          a.policy.test(w.policy) &&
          (a.actions[0] === '*' ||
            (w.actions.every((x) => a.actions.includes(x)) &&
              (a.condition === undefined || w.condition.includes(a.condition)))),
      ),
  );
  expect(unlisted).toEqual([]);
});

test("the pipeline role's KMS grant names the pipeline account's keys in the replica regions, limited to the replication keys' aliases", () => {
  const statements = (
    Object.values(s.pipeline.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p).includes('kms:ResourceAliases'),
    ) as
      { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } } | undefined
  )?.Properties.PolicyDocument.Statement;
  const kms = statements?.find((st) =>
    JSON.stringify(st.Condition ?? '').includes('kms:ResourceAliases'),
  );
  expect(kms?.Resource).toEqual([
    'arn:aws:kms:ap-southeast-2:111111111111:key/*',
    'arn:aws:kms:us-east-1:111111111111:key/*',
  ]);
  const aliases = (kms!.Condition as Record<string, Record<string, string[]>>)[
    'ForAnyValue:StringEquals'
  ]['kms:ResourceAliases'];
  const supportAliases = fs
    .readdirSync(s.outdir)
    .filter((f) => f.startsWith('cross-region-stack-') && f.endsWith('.template.json'))
    .flatMap((f) =>
      Object.values(
        (
          JSON.parse(fs.readFileSync(path.join(s.outdir, f), 'utf8')) as {
            Resources: Record<string, { Type: string; Properties: { AliasName?: string } }>;
          }
        ).Resources,
      )
        .filter((r) => r.Type === 'AWS::KMS::Alias')
        .map((r) => r.Properties.AliasName),
    );
  expect([...aliases].sort()).toEqual([...supportAliases].sort());
});

test('asset publishing may start and stop only its own CodeBuild projects (not self-mutation)', () => {
  const policy = Object.entries(s.pipeline.findResources('AWS::IAM::Policy')).find(([id]) =>
    id.startsWith('PipelineAssetsFileRoleDefaultPolicy'),
  )!;
  const statement = (
    policy[1] as {
      Properties: { PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown }> } };
    }
  ).Properties.PolicyDocument.Statement.find((st) =>
    [].concat(st.Action as never).includes('codebuild:StartBuild' as never),
  )!;
  expect(statement.Resource).toEqual([
    { 'Fn::GetAtt': [expect.stringMatching(/^PipelineAssetsFileAsset/), 'Arn'] },
  ]);
});
