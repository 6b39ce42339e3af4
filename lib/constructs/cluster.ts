import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bootstrapRoleArn } from '../config/bootstrap';
import {
  KUBERNETES_VERSIONS,
  type SupportedKubernetesVersion,
} from '../config/kubernetes-versions';
import type { EnvironmentNames } from '../config/names';
import type { PatchingConfig } from '../config/patching';
import { logRetention } from './network';
import { NodePatching } from './node-patching';

/**
 * Versions of what the cluster installs besides the workload. Pinned, and changed together with
 * the Kubernetes version (Cluster Autoscaler's minor must match the cluster's).
 */
export const CLUSTER_ADDONS = {
  albController: eks.AlbControllerVersion.V2_17_1,
  clusterAutoscaler: {
    chart: 'cluster-autoscaler',
    repository: 'https://kubernetes.github.io/autoscaler',
    chartVersion: '9.50.1',
    imageTag: 'v1.35.0',
  },
} as const;

export interface ClusterProps {
  /** The environment's names (lib/config/names.ts): cluster, control-plane log group, patch group, autoscaler tag. */
  readonly names: EnvironmentNames;
  readonly vpc: ec2.IVpc;
  readonly kubernetesVersion: SupportedKubernetesVersion;
  /** Empty: private endpoint only. Otherwise public access from these CIDRs (and private access). */
  readonly endpointPublicCidrs: readonly string[];
  /** Given cluster-admin through an access entry. @default none */
  readonly operatorRoleArn?: string;
  readonly nodes: {
    readonly instanceType: string;
    readonly min: number;
    readonly desired: number;
    readonly max: number;
    readonly diskSizeGiB: number;
  };
  readonly architecture: 'arm64' | 'amd64';
  readonly logRetentionDays: number;
  /** Patch compliance reporting of the nodes (Systems Manager Scan). */
  readonly patching: PatchingConfig;
}

export const CLUSTER_LOG_TYPES = [
  eks.ClusterLoggingTypes.API,
  eks.ClusterLoggingTypes.AUDIT,
  eks.ClusterLoggingTypes.AUTHENTICATOR,
  eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
  eks.ClusterLoggingTypes.SCHEDULER,
];

/**
 * The EKS cluster (aws-eks-v2: a native AWS::EKS::Cluster with access entries), its managed node
 * group, and the cluster-level controllers the workload needs: the AWS Load Balancer Controller
 * (the NLB), metrics-server (the HPA) and Cluster Autoscaler with Pod Identity (nodes follow pods).
 */
export class EksCluster extends Construct {
  readonly cluster: eks.Cluster;
  readonly nodegroup: eks.Nodegroup;
  readonly patching: NodePatching;

  constructor(scope: Construct, id: string, props: ClusterProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const catalog = KUBERNETES_VERSIONS[props.kubernetesVersion];

    // EKS writes control-plane logs to this exact group; creating it first sets retention and keeps it on delete.
    const controlPlaneLogs = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: props.names.clusterLogGroup,
      retention: logRetention(props.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    const secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Envelope encryption of Kubernetes secrets in ${props.names.clusterName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    const endpointAccess =
      props.endpointPublicCidrs.length === 0
        ? eks.EndpointAccess.PRIVATE
        : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...props.endpointPublicCidrs);

    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: props.names.clusterName,
      version: catalog.version,
      vpc: props.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      endpointAccess,
      secretsEncryptionKey: secretsKey,
      clusterLogging: CLUSTER_LOG_TYPES,
      // Managed node groups, not Auto Mode (docs/decisions/0004-node-scaling.md); capacity is added below.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      kubectlProviderOptions: {
        kubectlLayer: catalog.kubectlLayer(this, 'KubectlLayer'),
        // A private endpoint is reachable only from inside the VPC.
        privateSubnets:
          props.endpointPublicCidrs.length === 0 ? props.vpc.privateSubnets : undefined,
      },
      albController: { version: CLUSTER_ADDONS.albController },
    });
    // The log group must exist before EKS starts logging, or EKS creates it (no retention) first.
    this.cluster.node.addDependency(controlPlaneLogs);

    const nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKSWorkerNodePolicy'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKS_CNI_Policy'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ContainerRegistryReadOnly'),
        // Systems Manager reports the nodes' patch compliance and reaches them (Patch Manager, Session Manager): no SSH keys.
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
      ],
    });

    const launchTemplate = new ec2.LaunchTemplate(this, 'NodeLaunchTemplate', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1, // pods cannot reach the node's instance credentials
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.nodes.diskSizeGiB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });

    this.nodegroup = this.cluster.addNodegroupCapacity('Nodes', {
      instanceTypes: [new ec2.InstanceType(props.nodes.instanceType)],
      amiType:
        props.architecture === 'arm64'
          ? eks.NodegroupAmiType.AL2023_ARM_64_STANDARD
          : eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      minSize: props.nodes.min,
      desiredSize: props.nodes.desired,
      maxSize: props.nodes.max,
      nodeRole,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplateSpec: {
        id: launchTemplate.launchTemplateId!,
        version: launchTemplate.latestVersionNumber,
      },
      // The AMI is pinned in the version catalog, so a newer AMI is a reviewed change the pipeline
      // rolls out. The launch template names no AMI, so EKS accepts releaseVersion:
      // https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html#AmazonEKS-CreateNodegroup-request-releaseVersion
      releaseVersion: catalog.nodeAmiReleaseVersion,
      // A roll drains one node at a time through the eviction API, so the workload's PDB decides
      // when a node may go. aws-cdk-lib defaults forceUpdate to true, which ignores PDBs; without
      // it a drain blocked for 15 minutes fails the update (PodEvictionFailure) and CloudFormation
      // rolls the stack back. https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html
      maxUnavailable: 1,
      forceUpdate: false,
      enableNodeAutoRepair: true,
    });
    // DEFAULT: new nodes come up before old ones are drained (surge), so capacity never drops
    // during a roll; MINIMAL would drain first. Not exposed by aws-cdk-lib's Nodegroup.
    // https://docs.aws.amazon.com/eks/latest/APIReference/API_NodegroupUpdateConfig.html
    (this.nodegroup.node.defaultChild as eks.CfnNodegroup).addPropertyOverride(
      'UpdateConfig.UpdateStrategy',
      'DEFAULT',
    );
    this.patching = new NodePatching(this, 'Patching', {
      patchGroup: props.names.patchGroup,
      baselineName: props.names.patchBaseline,
      associationName: props.names.patchAssociation,
      launchTemplate,
      ...props.patching,
    });

    new eks.Addon(this, 'MetricsServer', { cluster: this.cluster, addonName: 'metrics-server' });
    // The VPC CNI as a managed add-on with its network policy agent on, so the workload's NetworkPolicy is enforced.
    const vpcCni = new eks.Addon(this, 'VpcCni', {
      cluster: this.cluster,
      addonName: 'vpc-cni',
      configurationValues: { enableNetworkPolicy: 'true' },
      preserveOnDelete: true,
    });
    // EKS installed the self-managed VPC CNI at cluster creation; the managed add-on takes it over.
    (vpcCni.node.defaultChild as eks.CfnAddon).resolveConflicts = 'OVERWRITE';
    this.addClusterAutoscaler(props.names, stack.region);

    if (props.operatorRoleArn) {
      this.cluster.grantAccess('OperatorsAccess', props.operatorRoleArn, [
        eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', {
          accessScopeType: eks.AccessScopeType.CLUSTER,
        }),
      ]);
    }
    // The pipeline deploys through CloudFormation with the CDK bootstrap's deploy role; it may read
    // the cluster (diagnostics from the pipeline account), while every change goes through the
    // stack's kubectl provider.
    const deployRoleArn = bootstrapRoleArn('deploy', stack, stack.partition);
    this.cluster.grantAccess('PipelineDeployRoleAccess', deployRoleArn, [
      eks.AccessPolicy.fromAccessPolicyName('AmazonEKSViewPolicy', {
        accessScopeType: eks.AccessScopeType.CLUSTER,
      }),
    ]);
  }

  private addClusterAutoscaler(names: EnvironmentNames, region: string): void {
    const { clusterName } = names;
    const ns = 'kube-system';
    const serviceAccount = this.cluster.addServiceAccount('ClusterAutoscalerSA', {
      name: 'cluster-autoscaler',
      namespace: ns,
      identityType: eks.IdentityType.POD_IDENTITY,
    });
    // https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#iam-policy
    serviceAccount.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
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
        resources: ['*'],
      }),
    );
    serviceAccount.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'autoscaling:SetDesiredCapacity',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
        ],
        resources: ['*'],
        conditions: {
          StringEquals: { [`aws:ResourceTag/${names.autoscalerTagKey}`]: 'owned' },
        },
      }),
    );
    const { chart, repository, chartVersion, imageTag } = CLUSTER_ADDONS.clusterAutoscaler;
    const helm = this.cluster.addHelmChart('ClusterAutoscaler', {
      chart,
      repository,
      version: chartVersion,
      namespace: ns,
      release: 'cluster-autoscaler',
      timeout: Duration.minutes(10),
      values: {
        awsRegion: region,
        autoDiscovery: { clusterName },
        image: { tag: imageTag },
        rbac: { serviceAccount: { create: false, name: 'cluster-autoscaler' } },
        extraArgs: {
          'balance-similar-node-groups': true,
          'skip-nodes-with-system-pods': false,
          expander: 'least-waste',
        },
      },
    });
    helm.node.addDependency(serviceAccount);
  }
}
