import { CfnOutput, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { type EnvironmentConfig, KUBERNETES_VERSIONS, serviceNames } from '../config';
import { ServiceAlarms } from '../constructs/alarms';
import { BreakglassStore } from '../constructs/breakglass-store';
import { EksCluster } from '../constructs/cluster';
import { Network } from '../constructs/network';
import { Workload } from '../constructs/workload';
import { imageUri } from '../image/tag';
import { plainToYaml, renderWorkload, workloadPropsFor } from '../manifests/workload';
import { MemoizedLogicalIdStack } from './memoized-logical-ids';

export interface EksAppStackProps extends StackProps {
  readonly environment: EnvironmentConfig;
  /** The image to run: repository in the pipeline account, replicated to this region. */
  readonly image: {
    readonly registryAccount: string;
    readonly repositoryName: string;
    readonly tag: string;
    readonly architecture: 'arm64' | 'amd64';
  };
}

/** The names of the stack's outputs: the pipeline's smoke test and the operator commands read them. */
export const OUTPUTS = {
  serviceUrl: 'ServiceUrl',
  imageTag: 'ImageTag',
  imageUri: 'ImageUri',
  clusterName: 'ClusterName',
  clusterArn: 'ClusterArn',
  manifestBucketName: 'ManifestBucketName',
  manifestObjectKey: 'ManifestObjectKey',
  auditTableName: 'AuditTableName',
  patchGroup: 'PatchGroup',
  bakeAlarmName: 'BakeAlarmName',
} as const;

/** One environment: network, EKS cluster, the hardened workload and the breakglass store. */
export class EksAppStack extends MemoizedLogicalIdStack {
  readonly serviceUrl: CfnOutput;
  readonly imageTag: CfnOutput;
  /** The environment this stack deploys. */
  readonly deployment: EnvironmentConfig;
  /** The workload's objects as the cluster applies them (Workload.appliedObjects); may hold tokens (the URL suffix). */
  readonly workloadObjects: readonly Record<string, unknown>[];
  private readonly azs: readonly string[];

  constructor(scope: Construct, id: string, props: EksAppStackProps) {
    super(scope, id, props);
    const env = props.environment;
    this.deployment = env;
    this.azs = env.availabilityZones;

    const network = new Network(this, 'Network', {
      availabilityZones: env.availabilityZones,
      natGateways: env.natGateways,
      cidr: env.vpcCidr,
      logRetentionDays: env.logRetentionDays,
    });

    const names = serviceNames(env.service.name);
    const { cluster, patching } = new EksCluster(this, 'Eks', {
      names: env.names,
      vpc: network.vpc,
      kubernetesVersion: env.kubernetesVersion,
      endpointPublicCidrs: env.endpointPublicCidrs,
      operatorRoleArn: env.operatorRoleArn,
      nodes: env.nodes,
      architecture: props.image.architecture,
      logRetentionDays: env.logRetentionDays,
      patching: env.patching,
    });

    // The replica of the project's repository in this environment's own region (ECR replication).
    const uri = imageUri({ ...props.image, region: this.region, urlSuffix: this.urlSuffix });
    // Rendered once (issue 15): the cluster applies these objects and the breakglass store keeps them.
    const objects = renderWorkload(workloadPropsFor(env, { uri, tag: props.image.tag }));
    const workload = new Workload(this, 'Workload', { cluster, objects, names: names.kubernetes });
    this.workloadObjects = workload.appliedObjects;
    // What the cluster applies, the CDK's prune label included (Workload.appliedObjects).
    const store = new BreakglassStore(this, 'Breakglass', {
      manifestsYaml: plainToYaml(workload.appliedObjects),
      objectKey: names.manifestObjectKey,
      reader: {
        roleName: env.names.breakglassReaderRole,
        pipelineAccount: props.image.registryAccount,
      },
    });
    const alarms = new ServiceAlarms(this, 'Alarms', {
      cluster,
      stageName: env.stageName,
      service: env.service,
      names: env.names,
      bake: env.bake,
      replicasMin: env.replicas.min,
      logRetentionDays: env.logRetentionDays,
      addonVersion: KUBERNETES_VERSIONS[env.kubernetesVersion].cloudWatchObservabilityAddon,
    });

    // With a certificate the NLB's address is called over TLS (the smoke test presents the
    // certificate's host name, env.tlsHostName); without one, plain HTTP.
    const scheme = env.certificateArn ? 'https' : 'http';
    this.serviceUrl = new CfnOutput(this, OUTPUTS.serviceUrl, {
      value: `${scheme}://${workload.loadBalancerHostname}`,
      description: 'The service through its NLB (the smoke test calls /version)',
    });
    this.imageTag = new CfnOutput(this, OUTPUTS.imageTag, {
      value: props.image.tag,
      description: 'The image tag this deployment runs',
    });
    new CfnOutput(this, OUTPUTS.imageUri, { value: uri });
    new CfnOutput(this, OUTPUTS.clusterName, { value: cluster.clusterName });
    new CfnOutput(this, OUTPUTS.clusterArn, {
      value: cluster.clusterArn,
      description: 'Also the kubectl context name `aws eks update-kubeconfig` creates',
    });
    new CfnOutput(this, OUTPUTS.manifestBucketName, { value: store.bucket.bucketName });
    new CfnOutput(this, OUTPUTS.manifestObjectKey, { value: names.manifestObjectKey });
    new CfnOutput(this, OUTPUTS.auditTableName, { value: store.auditTable.tableName });
    new CfnOutput(this, OUTPUTS.patchGroup, {
      value: patching.patchGroup,
      description:
        'Patch group of the nodes: aws ssm describe-instance-patch-states-for-patch-group --patch-group <this> (docs/runbooks/patching-nodes.md)',
    });
    new CfnOutput(this, OUTPUTS.bakeAlarmName, {
      value: alarms.bakeAlarm.alarmName,
      description:
        'The composite alarm this environment bakes behind (docs/runbooks/alarm-rollback.md)',
    });
  }

  /** The AZs come from config: a stack with an explicit env would otherwise look them up (an AWS call at synth). */
  get availabilityZones(): string[] {
    return [...(this.azs ?? [])];
  }
}
