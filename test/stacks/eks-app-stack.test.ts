import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { parseAllDocuments } from 'yaml';
import { STACK_ENVIRONMENTS } from '../../lib/config';
import * as manifests from '../../lib/manifests/workload';
import { type Synthesized, synthesize } from '../support/synth';

let s: Synthesized;
let prod: Template;
let preprod: Template;
/** pre-prod with a public endpoint, an operator role and a certificate: the options a config can turn on. */
let custom: Template;
/** How many times the workload was rendered while the default app (4 environments) was built. */
let renders: number;
/** How many times each element's logical ID was allocated during that synth. */
const allocations = new Map<CfnElement, number>();

beforeAll(() => {
  const render = jest.spyOn(manifests, 'renderWorkload');
  // protected in the typings; CDK calls it for every Ref, GetAtt and template key.
  const allocate = jest.spyOn(
    Stack.prototype as unknown as { allocateLogicalId(e: CfnElement): string },
    'allocateLogicalId',
  );
  s = synthesize();
  renders = render.mock.calls.length;
  for (const [element] of allocate.mock.calls)
    allocations.set(element, (allocations.get(element) ?? 0) + 1);
  render.mockRestore();
  allocate.mockRestore();
  prod = s.stages['prod-us-east-1'];
  preprod = s.stages['preprod-eu-west-1'];
  custom = synthesize({
    config: {
      ...STACK_ENVIRONMENTS,
      preprod: {
        account: '222222222222',
        region: 'eu-west-1',
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        natGateways: 1,
        endpointPublicCidrs: ['203.0.113.0/24'],
        operatorRoleArn: 'arn:aws:iam::222222222222:role/OnCall',
        nodes: { instanceType: 'c7g.xlarge', min: 2, desired: 3, max: 5 },
        replicas: { min: 2, max: 6 },
      },
    },
  }).stages['preprod-eu-west-1'];
});

describe('network', () => {
  test('the VPC spans the configured availability zones, without looking them up', () => {
    const azs = new Set(
      Object.values(prod.findResources('AWS::EC2::Subnet')).map(
        (r) => (r as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone,
      ),
    );
    expect([...azs].sort()).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    const customAzs = new Set(
      Object.values(custom.findResources('AWS::EC2::Subnet')).map(
        (r) => (r as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone,
      ),
    );
    expect([...customAzs].sort()).toEqual(['eu-west-1a', 'eu-west-1b']);
  });

  test('one NAT gateway per AZ by default, and as configured otherwise', () => {
    prod.resourceCountIs('AWS::EC2::NatGateway', 3);
    custom.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  test('VPC flow logs capture all traffic', () => {
    prod.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', ResourceType: 'VPC' });
  });
});

describe('cluster', () => {
  test('Kubernetes 1.35, all five control-plane log types, secrets encrypted with a rotating key', () => {
    prod.hasResourceProperties('AWS::EKS::Cluster', {
      Version: '1.35',
      Logging: {
        ClusterLogging: {
          EnabledTypes: Match.arrayEquals(
            ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((Type) => ({
              Type,
            })),
          ),
        },
      },
      EncryptionConfig: [Match.objectLike({ Resources: ['secrets'] })],
    });
    prod.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp('Kubernetes secrets'),
    });
  });

  test('the endpoint is private unless public CIDRs are configured, and then limited to them', () => {
    prod.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({
        EndpointPrivateAccess: true,
        EndpointPublicAccess: false,
      }),
    });
    custom.hasResourceProperties('AWS::EKS::Cluster', {
      ResourcesVpcConfig: Match.objectLike({
        EndpointPrivateAccess: true,
        EndpointPublicAccess: true,
        PublicAccessCidrs: ['203.0.113.0/24'],
      }),
    });
  });

  test("access entries: the operators' role from config is cluster admin; the pipeline's deploy role may view", () => {
    const entries = (t: Template) =>
      Object.values(t.findResources('AWS::EKS::AccessEntry')).map((r) => JSON.stringify(r));
    const onCall = entries(custom).filter((e) => e.includes('role/OnCall'));
    expect(onCall).toHaveLength(1);
    expect(onCall[0]).toContain('AmazonEKSClusterAdminPolicy');
    const deployRole = entries(prod).filter((e) => e.includes('cdk-hnb659fds-deploy-role-'));
    expect(deployRole).toHaveLength(1);
    expect(deployRole[0]).toContain('AmazonEKSViewPolicy');
    expect(entries(prod).some((e) => e.includes('role/OnCall'))).toBe(false);
  });

  test('managed node group sized from config, in private subnets, on the architecture of the image', () => {
    prod.hasResourceProperties('AWS::EKS::Nodegroup', {
      ScalingConfig: { MinSize: 3, DesiredSize: 3, MaxSize: 9 },
      InstanceTypes: ['m7g.large'],
      AmiType: 'AL2023_ARM_64_STANDARD',
    });
    custom.hasResourceProperties('AWS::EKS::Nodegroup', {
      ScalingConfig: { MinSize: 2, DesiredSize: 3, MaxSize: 5 },
      InstanceTypes: ['c7g.xlarge'],
    });
    // the built-in default gives pre-prod a smaller node group
    preprod.hasResourceProperties('AWS::EKS::Nodegroup', {
      ScalingConfig: { MinSize: 2, DesiredSize: 2, MaxSize: 4 },
    });
  });

  test('nodes require IMDSv2 (hop limit 1) and encrypted volumes', () => {
    prod.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [
          Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }),
        ],
      }),
    });
  });

  test('the node role can be managed (patched) by Systems Manager', () => {
    prod.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.arrayWith([
        Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/AmazonSSMManagedInstanceCore'])],
        }),
      ]),
    });
  });

  test('metrics-server (for the HPA) is an EKS add-on; Cluster Autoscaler runs with Pod Identity', () => {
    prod.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'metrics-server' });
    prod.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'kube-system',
      ServiceAccount: 'cluster-autoscaler',
    });
    prod.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
      Chart: 'cluster-autoscaler',
      Namespace: 'kube-system',
      Version: Match.stringLikeRegexp('^\\d+\\.\\d+\\.\\d+$'),
    });
  });

  test('the cluster installs the AWS Load Balancer Controller (it provisions the NLB)', () => {
    prod.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
      Chart: 'aws-load-balancer-controller',
    });
  });
});

describe('workload and outputs', () => {
  test('the Deployment runs the image from the replica in its own region, tagged by the synth', () => {
    const manifest = JSON.stringify(prod.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
    expect(manifest).toContain(`.dkr.ecr.us-east-1.`);
    expect(manifest).toContain(`/hello-web:${s.imageTag}`);
  });

  test('the service URL comes from the Service in the cluster; the image tag is an output too', () => {
    prod.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesObjectValue', {
      ObjectType: 'service',
      ObjectName: 'hello-web',
      ObjectNamespace: 'hello-web',
      JsonPath: '.status.loadBalancer.ingress[0].hostname',
    });
    prod.hasOutput('ServiceUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
    prod.hasOutput('ImageTag', { Value: s.imageTag });
    for (const name of [
      'ImageUri',
      'ClusterName',
      'ClusterArn',
      'ManifestBucketName',
      'ManifestObjectKey',
      'AuditTableName',
    ])
      prod.hasOutput(name, Match.anyValue());
  });

  test('breakglass: a versioned, encrypted, SSL-only bucket receives the manifests; the audit table has PITR', () => {
    prod.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.anyValue(),
      BucketEncryption: Match.anyValue(),
    });
    const manifestBucket = Object.keys(
      prod.findResources('AWS::S3::Bucket', {
        Properties: { LoggingConfiguration: Match.anyValue() },
      }),
    )[0];
    prod.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: manifestBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    prod.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'environment', KeyType: 'HASH' },
        { AttributeName: 'at', KeyType: 'RANGE' },
      ],
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
      SSESpecification: { SSEEnabled: true },
    });
    const put = JSON.stringify(prod.findResources('Custom::AWS'));
    expect(put).toContain('PutObject');
    expect(put).toContain('manifests/hello-web.yaml');
    expect(put).toContain('kind: Deployment');
  });

  test('the manifests are rendered once per stack (issue 15), not once per consumer', () => {
    expect(renders).toBe(Object.keys(s.stages).length);
  });

  test('breakglass: the stored copy is exactly what the cluster applies, document for document, prune label included', () => {
    // Both are strings with tokens in them (the replica's URL suffix): CloudFormation joins them at
    // deploy time, so join them here the same way, with each Ref as a placeholder.
    const join = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return `<${String(o.Ref)}>`;
      if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(join).join(sep);
    };
    const props = (type: string) =>
      Object.values(prod.findResources(type)).map(
        (r) => (r as { Properties: Record<string, unknown> }).Properties,
      );
    // The workload's manifest is the one with the Deployment (the others are the controllers' service accounts).
    const [manifest, ...others] = props('Custom::AWSCDK-EKS-KubernetesResource').filter((p) =>
      join(p.Manifest).includes('"kind":"Deployment"'),
    );
    expect(others).toEqual([]);
    // aws-eks-v2 adds its prune label to every object it applies, and its kubectl handler prunes by
    // it on update (`kubectl apply --prune -l <PruneLabel>`: aws-cdk-lib custom-resource-handlers
    // aws-eks-v2/kubectl-handler/apply/__init__.py). A breakglass apply of the stored copy must keep
    // the label, or the next update would not prune an object that git removed (issue 26).
    const pruneLabel = manifest.PruneLabel as string;
    expect(pruneLabel).toMatch(/^aws\.cdk\.eks\/prune-c8[0-9a-f]{40}$/);
    const applied = JSON.parse(join(manifest.Manifest)) as Array<{
      metadata: { labels: Record<string, string> };
    }>;
    for (const o of applied) expect(o.metadata.labels[pruneLabel]).toBe('');
    const [put] = props('Custom::AWS').map(
      (p) => JSON.parse(join(p.Create)) as { parameters: { Body: string } },
    );
    const stored = parseAllDocuments(put.parameters.Body).map((d) => d.toJS() as unknown);
    expect(stored.length).toBeGreaterThan(3);
    expect(stored).toEqual(applied);
  });

  test('stage stacks do not claim termination protection the pipeline never applies (docs/runbooks/first-deployment.md turns it on)', () => {
    // CDK Pipelines deploys a stage's stacks with CloudFormation change-set actions, which have no
    // termination-protection setting (aws-cdk-lib/pipelines never reads a stack's terminationProtection);
    // only the CLI applies it, so the pipeline stack (deployed with `cdk deploy`) keeps it.
    const stage = (name: string) =>
      (
        s.pipelineStack.node.findChild(name) as unknown as {
          stack: { terminationProtection: boolean };
        }
      ).stack;
    for (const name of Object.keys(s.stages))
      expect({ name, claimed: stage(name).terminationProtection }).toEqual({
        name,
        claimed: false,
      });
    expect(s.pipelineStack.terminationProtection).toBe(true);
    const runbook = fs.readFileSync(
      path.join(__dirname, '..', '..', 'docs', 'runbooks', 'first-deployment.md'),
      'utf8',
    );
    expect(runbook).toContain('update-termination-protection --enable-termination-protection');
  });
});

describe('ordering and add-on takeover', () => {
  test('the control-plane log group exists before the cluster (EKS would create it without retention)', () => {
    const cluster = Object.values(prod.findResources('AWS::EKS::Cluster'))[0] as {
      DependsOn?: string[];
    };
    const logGroups = prod.findResources('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/aws/eks/hello-web-prod-us-east-1/cluster' },
    });
    expect(Object.keys(logGroups)).toHaveLength(1);
    expect(cluster.DependsOn).toEqual(expect.arrayContaining(Object.keys(logGroups)));
  });

  test('the managed VPC CNI takes over the self-managed one, with its network policy agent on', () => {
    prod.hasResourceProperties('AWS::EKS::Addon', {
      AddonName: 'vpc-cni',
      ResolveConflicts: 'OVERWRITE',
      ConfigurationValues: Match.serializedJson({ enableNetworkPolicy: 'true' }),
    });
  });
});

describe('synth cost (docs/decisions/0021-synth-growth.md)', () => {
  const stageElements = () =>
    Object.keys(s.stages).flatMap((name) => {
      const stage = s.pipelineStack.node.findChild(name) as unknown as { stack: Stack };
      return stage.stack.node.findAll().filter((c) => CfnElement.isCfnElement(c));
    });

  test("each stage element's logical ID is allocated once per synth, and is the one CDK's scheme gives", () => {
    const elements = stageElements();
    expect(elements.length).toBeGreaterThan(400);
    expect(elements.filter((e) => allocations.get(e) !== 1).map((e) => e.node.path)).toEqual([]);
    // CDK's own allocation (uncached), called on each element's stack.
    const base = Stack.prototype as unknown as {
      allocateLogicalId: (this: Stack, e: CfnElement) => string;
    };
    for (const e of elements)
      expect(e.stack.resolve(e.logicalId)).toBe(base.allocateLogicalId.call(e.stack, e));
  });

  test("the pipeline stack's logical IDs are allocated once per synth too (it grows with every region)", () => {
    const elements = s.pipelineStack.node
      .findAll()
      .filter((c) => CfnElement.isCfnElement(c) && c.stack === s.pipelineStack);
    expect(elements.length).toBeGreaterThan(50);
    expect(
      elements.filter((e) => allocations.get(e as CfnElement) !== 1).map((e) => e.node.path),
    ).toEqual([]);
  });

  test('no construct carries a creation stack trace (CDK_DEBUG=true brings them back)', () => {
    const traced = s.pipelineStack.node
      .findAll()
      .filter((c) => c.node.metadata.some((m) => m.type === 'aws:cdk:creationStack'));
    expect(traced.map((c) => c.node.path)).toEqual([]);
  });
});
