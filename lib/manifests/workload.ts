import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { stringify } from 'yaml';
import { PROBE_PORT, type ServiceConfig, serviceNames } from '../config';

/** What the workload needs to know about its environment. Built from `EnvironmentConfig` by the stack and the CLI alike. */
export interface WorkloadProps {
  /** The service: its name names the namespace and every object; its port and probe paths go into the pod and the load balancer. */
  readonly service: ServiceConfig;
  /** `<repository uri>:<tag>` of the image, in the environment's own region. */
  readonly image: string;
  /** The image tag; the service reports it on /version and the smoke test expects it. */
  readonly imageTag: string;
  readonly greeting: string;
  readonly replicas: {
    readonly min: number;
    readonly max: number;
    readonly targetCpuPercent: number;
  };
  /** Kubernetes minor version of the cluster, e.g. "1.35": Pod Security is pinned to it. */
  readonly kubernetesVersion: string;
  /** ACM certificate ARN; when set the NLB terminates TLS on 443. @default none */
  readonly certificateArn?: string;
  /** With a certificate, keep plain HTTP on 80 as well (an NLB cannot redirect). @default false */
  readonly httpWithTls?: boolean;
}

/**
 * Settings of the workload that do not depend on the service. Its names (namespace, Deployment,
 * Service, ...) come from `service.name` (lib/config/names.ts, `kubernetes`), its port and probe
 * paths from `service`.
 */
export const WORKLOAD = {
  container: 'web',
  /**
   * The service's probe listener (app/probe_listener.go, `PROBE_PORT`): the probe paths apart
   * from the public port and its connection cap, so that clients cannot starve the kubelet's probes.
   * Not in the Service, not in the NetworkPolicy: only the pod's own node reaches it
   * (docs/decisions/0034-probe-port-and-log-drops.md). The app's default is the same number;
   * defined in lib/config/service.ts, where `service.port` is refused if it takes the same one.
   */
  probePort: PROBE_PORT,
  /** numeric non-root user of the image (app/Dockerfile: `USER 65532:65532`) */
  runAsUser: 65532,
} as const;

/**
 * Shutdown timing, end to end (see app/README.md for the service's side):
 * the kubelet runs the preStop sleep while the endpoint is removed from the NLB's targets, then
 * sends SIGTERM; the service fails its readiness path (service.readyPath), waits DRAIN_DELAY, then drains in-flight requests for
 * up to SHUTDOWN_TIMEOUT. The grace period covers all three plus a margin, so no request is cut.
 * The margin also holds the service's last wait for a stdout that takes nothing (2 s for the log
 * lines, 1 s for stderr: app/log_writer.go, logCloseTimeout).
 */
export const SHUTDOWN = {
  preStopSeconds: 10,
  drainDelaySeconds: 5,
  shutdownTimeoutSeconds: 20,
  marginSeconds: 5,
} as const;
export const TERMINATION_GRACE_SECONDS =
  SHUTDOWN.preStopSeconds +
  SHUTDOWN.drainDelaySeconds +
  SHUTDOWN.shutdownTimeoutSeconds +
  SHUTDOWN.marginSeconds;

export type WorkloadObject =
  | Namespace
  | ServiceAccount
  | NetworkPolicy
  | Deployment
  | Service
  | PodDisruptionBudget
  | HorizontalPodAutoscaler;

/**
 * checkov findings this workload accepts, with the reason; written into the Deployment as
 * checkov's own skip annotations, so the reason travels with the manifest.
 */
export const CHECKOV_SKIPS: Record<string, string> = {
  CKV_K8S_11:
    'no CPU limit on purpose: CFS throttling adds tail latency; CPU requests are set and the HPA scales on them',
  CKV_K8S_43:
    'the tag is immutable in ECR (IMMUTABLE repository and replicas), which pins the image as a digest would',
  CKV_K8S_15:
    'IfNotPresent is safe with immutable tags and avoids a registry call on every pod start',
};

/** The workload's manifests, in apply order. The single place they are defined. */
export function renderWorkload(props: WorkloadProps): WorkloadObject[] {
  const { namespace, name, partOf } = serviceNames(props.service.name).kubernetes;
  const { port, healthPath, readyPath } = props.service;
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': partOf };
  const podLabels = { ...labels, 'app.kubernetes.io/version': props.imageTag };
  const psaVersion = `v${props.kubernetesVersion}`;

  const ns = new Namespace({
    metadata: {
      name: namespace,
      labels: {
        ...labels,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': psaVersion,
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/audit-version': psaVersion,
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': psaVersion,
        // The AWS Load Balancer Controller holds a new pod out of "ready" until the NLB reports its
        // target healthy, so a rollout never leaves the NLB with only initial or draining targets.
        'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled',
      },
    },
  });

  const sa = new ServiceAccount({
    metadata: { name, namespace, labels },
    automountServiceAccountToken: false,
  });

  // Only the service port in; nothing out (the service calls nothing). Enforced by the VPC CNI's network policy agent.
  // The probe port is not listed: the kubelet's probes come from the pod's own node, which
  // Kubernetes always lets in ("traffic to and from the node where a Pod is running is always
  // allowed", https://kubernetes.io/docs/concepts/services-networking/network-policies/; the VPC
  // CNI's agent allows the node IP, aws/aws-network-policy-agent#65), and nothing else needs it.
  // "Egress" in policyTypes without egress rules denies all egress. No `egress: []`: the API server
  // does not keep an empty list, so every apply would re-send it and `kubectl diff` never be clean.
  const networkPolicy = new NetworkPolicy({
    metadata: { name, namespace, labels },
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ port, protocol: 'TCP' }] }],
    },
  });

  const deployment = new Deployment({
    metadata: {
      name,
      namespace,
      labels,
      annotations: Object.fromEntries(
        Object.entries(CHECKOV_SKIPS).map(([id, reason], i) => [
          `checkov.io/skip${i + 1}`,
          `${id}=${reason}`,
        ]),
      ),
    },
    spec: {
      // No spec.replicas: the HPA owns the count. kubectl apply sends every field whose live value
      // differs from the manifest, so a replicas here would reset what the HPA scaled on every
      // release. A new Deployment starts at 1 and the HPA raises it to minReplicas; environments
      // deployed with the field hand it over once (docs/decisions/0012-hpa-owns-replicas.md).
      revisionHistoryLimit: 10,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      minReadySeconds: 5,
      template: {
        metadata: { labels: podLabels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: WORKLOAD.runAsUser,
            runAsGroup: WORKLOAD.runAsUser,
            fsGroup: WORKLOAD.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            // ScheduleAnyway: when a zone is lost, the pods it held must still be able to start elsewhere.
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: labels },
            },
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [
            {
              name: WORKLOAD.container,
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              ports: [
                { name: 'http', containerPort: port, protocol: 'TCP' },
                { name: 'probe', containerPort: WORKLOAD.probePort, protocol: 'TCP' },
              ],
              env: [
                { name: 'HELLO', value: props.greeting },
                { name: 'PORT', value: String(port) },
                { name: 'PROBE_PORT', value: String(WORKLOAD.probePort) },
                { name: 'DRAIN_DELAY', value: `${SHUTDOWN.drainDelaySeconds}s` },
                { name: 'SHUTDOWN_TIMEOUT', value: `${SHUTDOWN.shutdownTimeoutSeconds}s` },
              ],
              resources: {
                requests: { cpu: '100m', memory: '96Mi' },
                // Memory limit = request: the pod is never OOM-killed for memory the node gave someone else.
                // 96Mi: twice what MAX_CONNECTIONS idle connections measured (app/README.md).
                limits: { memory: '96Mi' },
              },
              // On the probe port: on the public one, clients that hold every MAX_CONNECTIONS slot
              // made the probes time out and the kubelet restart healthy pods (issue 27).
              startupProbe: {
                httpGet: { path: healthPath, port: 'probe' },
                periodSeconds: 2,
                failureThreshold: 30,
              },
              livenessProbe: {
                httpGet: { path: healthPath, port: 'probe' },
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: readyPath, port: 'probe' },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              lifecycle: { preStop: { sleep: { seconds: SHUTDOWN.preStopSeconds } } },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: WORKLOAD.runAsUser,
                runAsGroup: WORKLOAD.runAsUser,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  });

  const annotations: Record<string, string> = {
    // Provisioned by the AWS Load Balancer Controller (installed with the cluster), not the legacy in-tree controller.
    'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
    'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
    'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
    'service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled': 'true',
    'service.beta.kubernetes.io/aws-load-balancer-healthcheck-path': readyPath,
    'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'HTTP',
    'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes':
      'deregistration_delay.timeout_seconds=15',
  };
  // With a certificate, port 80 is closed unless asked for: an NLB cannot redirect it to HTTPS.
  const ports =
    props.certificateArn && !props.httpWithTls
      ? []
      : [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' as const }];
  if (props.certificateArn) {
    annotations['service.beta.kubernetes.io/aws-load-balancer-ssl-cert'] = props.certificateArn;
    annotations['service.beta.kubernetes.io/aws-load-balancer-ssl-ports'] = '443';
    annotations['service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy'] =
      'ELBSecurityPolicy-TLS13-1-2-2021-06';
    ports.push({ name: 'https', port: 443, targetPort: 'http', protocol: 'TCP' });
  }
  const service = new Service({
    metadata: { name, namespace, labels, annotations },
    spec: { type: 'LoadBalancer', selector: labels, ports, externalTrafficPolicy: 'Local' },
  });

  const pdb = new PodDisruptionBudget({
    metadata: { name, namespace, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  });

  const hpa = new HorizontalPodAutoscaler({
    metadata: { name, namespace, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: props.replicas.min,
      maxReplicas: props.replicas.max,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: props.replicas.targetCpuPercent },
          },
        },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  });

  const objects: WorkloadObject[] = [ns, sa, networkPolicy, deployment, service, pdb, hpa];
  for (const o of objects) o.validate();
  return objects;
}

/** Plain JSON objects, as the EKS manifest custom resource takes them. */
export function toPlain(objects: readonly WorkloadObject[]): Record<string, unknown>[] {
  return objects.map((o) => JSON.parse(JSON.stringify(o.toJSON())) as Record<string, unknown>);
}

/** Multi-document YAML, as `kubectl apply -f` and checkov take it. */
export function toYaml(objects: readonly WorkloadObject[]): string {
  return plainToYaml(toPlain(objects));
}

/** Plain objects (as `toPlain` gives them, perhaps labelled since) as multi-document YAML. */
export function plainToYaml(objects: readonly Record<string, unknown>[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** The workload settings of one environment: used by the stack, `npx delivery manifests` and the tests alike. */
export function workloadPropsFor(
  env: {
    readonly service: ServiceConfig;
    readonly greeting: string;
    readonly replicas: WorkloadProps['replicas'];
    readonly kubernetesVersion: string;
    readonly certificateArn?: string;
    readonly httpWithTls?: boolean;
  },
  image: { readonly uri: string; readonly tag: string },
): WorkloadProps {
  return {
    service: env.service,
    image: image.uri,
    imageTag: image.tag,
    greeting: env.greeting,
    replicas: env.replicas,
    kubernetesVersion: env.kubernetesVersion,
    certificateArn: env.certificateArn,
    httpWithTls: env.httpWithTls,
  };
}
