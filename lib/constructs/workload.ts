import { Duration } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import type { KubernetesNames } from '../config';
import { type WorkloadObject, toPlain } from '../manifests/workload';

export interface WorkloadConstructProps {
  readonly cluster: eks.Cluster;
  /**
   * The rendered manifests (`renderWorkload`): the stack renders them once and hands the same
   * objects to the breakglass copy, so the copy is exactly what the cluster applies.
   */
  readonly objects: readonly WorkloadObject[];
  /** Where the objects live: the Service is read back from there. */
  readonly names: KubernetesNames;
}

/** Applies the rendered workload to the cluster and reads the load balancer's hostname back. */
export class Workload extends Construct {
  /** The NLB's DNS name, read from the Service once the controller has provisioned it. */
  readonly loadBalancerHostname: string;
  /**
   * The objects exactly as the cluster applies them: with the prune label aws-eks-v2 adds to every
   * object of a manifest (KubernetesManifest `injectPruneLabel` labels the objects it is given in
   * place, aws-cdk-lib aws-eks-v2/lib/k8s-manifest.js) and by which its kubectl handler prunes on
   * update (`kubectl apply --prune -l <label>`). The breakglass copy stores these, so that a
   * breakglass apply keeps the label and a later release still prunes what git removed.
   */
  readonly appliedObjects: readonly Record<string, unknown>[];

  constructor(scope: Construct, id: string, props: WorkloadConstructProps) {
    super(scope, id);
    const { cluster } = props;
    const objects = toPlain(props.objects);
    const manifest = cluster.addManifest('Manifests', ...objects);
    this.appliedObjects = objects;
    // The Service needs the AWS Load Balancer Controller's webhook, or it gets a Classic ELB.
    if (cluster.albController) manifest.node.addDependency(cluster.albController);

    const hostname = new eks.KubernetesObjectValue(this, 'LoadBalancerHostname', {
      cluster,
      objectType: 'service',
      objectName: props.names.name,
      objectNamespace: props.names.namespace,
      jsonPath: '.status.loadBalancer.ingress[0].hostname',
      timeout: Duration.minutes(10),
    });
    hostname.node.addDependency(manifest);
    this.loadBalancerHostname = hostname.value;
  }
}
