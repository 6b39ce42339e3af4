import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/**
 * The Kubernetes versions this project can create a cluster with, each paired with the kubectl
 * layer of the same minor version. A cluster's version and its layer come from one entry, so a
 * 1.35 cluster can never be driven by another minor's kubectl (kubectl supports +/-1 minor skew
 * at best; CDK does not check it for you).
 *
 * 1.29 is deliberately absent: EKS ended its extended support on 2026-03-23, so a new 1.29
 * cluster cannot be created (see docs/decisions/0001-kubernetes-1-35.md).
 *
 * Each entry also pins the EKS-optimized Amazon Linux 2023 AMI release the managed node group
 * runs (`nodeAmiReleaseVersion`). Changing it is how nodes get patched: the pipeline deploys the
 * new release and EKS rolls the node group, draining each node through the eviction API
 * (docs/runbooks/patching-nodes.md). `npx delivery node-updates` prints the newest release and the
 * exact line to change here.
 *
 * To add a version: install `@aws-cdk/lambda-layer-kubectl-vNN` and add one entry here.
 */
export const KUBERNETES_VERSIONS = {
  '1.35': {
    version: eks.KubernetesVersion.V1_35,
    kubectlLayer: (scope: Construct, id: string): lambda.ILayerVersion =>
      new KubectlV35Layer(scope, id),
    /** The npm package that provides the layer, for humans and tests. */
    layerPackage: '@aws-cdk/lambda-layer-kubectl-v35',
    /**
     * EKS-optimized AL2023 AMI release (`<kubernetes version>-<YYYYMMDD>`) of every node group on
     * 1.35, the same string for arm64 and x86_64 (awslabs/amazon-eks-ami CHANGELOG.md, release
     * v20260714). Check for a newer one with `npx delivery node-updates`.
     */
    nodeAmiReleaseVersion: '1.35.6-20260714',
    /**
     * The Amazon CloudWatch Observability EKS add-on version every 1.35 cluster runs: its Container
     * Insights metrics are what the bake alarms read, so it is pinned like the AMI, and a version
     * whose metrics nobody has checked fails the synth (lib/config/cloudwatch-observability.ts).
     * 5.4.0 is the last release before 6.0.0 added an OpenTelemetry pipeline
     * (aws-observability/helm-charts RELEASE_NOTES). That EKS offers this exact version for 1.35 in
     * each environment's region is checked by `npx delivery preflight` (DescribeAddonVersions).
     */
    cloudWatchObservabilityAddon: 'v5.4.0-eksbuild.1',
  },
} as const;

export type SupportedKubernetesVersion = keyof typeof KUBERNETES_VERSIONS;

export const SUPPORTED_KUBERNETES_VERSIONS = Object.keys(
  KUBERNETES_VERSIONS,
) as SupportedKubernetesVersion[];

export const DEFAULT_KUBERNETES_VERSION: SupportedKubernetesVersion = '1.35';

export function isSupportedKubernetesVersion(v: string): v is SupportedKubernetesVersion {
  return Object.prototype.hasOwnProperty.call(KUBERNETES_VERSIONS, v);
}
