import type { Deployment } from 'kubernetes-models/apps/v1';
import { DEFAULT_SERVICE } from '../../lib/config';
import type { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { Namespace, Service } from 'kubernetes-models/v1';
import {
  SHUTDOWN,
  TERMINATION_GRACE_SECONDS,
  WORKLOAD,
  type WorkloadObject,
  renderWorkload,
} from '../../lib/manifests/workload';

const props = {
  service: DEFAULT_SERVICE,
  image: '111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-0123456789abcdef',
  imageTag: 'app-0123456789abcdef',
  greeting: 'Howdy',
  replicas: { min: 3, max: 12, targetCpuPercent: 70 },
  kubernetesVersion: '1.35',
};
const objects = renderWorkload(props);
const find = <T extends WorkloadObject>(kind: string, from: WorkloadObject[] = objects): T =>
  from.find((o) => o.kind === kind) as T;
const deployment = find<Deployment>('Deployment');
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0];

test('renders namespace, service account, deployment, service, PDB and HPA, in apply order', () => {
  expect(objects.map((o) => o.kind)).toEqual([
    'Namespace',
    'ServiceAccount',
    'NetworkPolicy',
    'Deployment',
    'Service',
    'PodDisruptionBudget',
    'HorizontalPodAutoscaler',
  ]);
});

test('the namespace enforces Pod Security "restricted", pinned to the cluster version', () => {
  expect(find<Namespace>('Namespace').metadata!.labels).toMatchObject({
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'v1.35',
  });
});

test('the NLB readiness gate is injected: a rollout waits for the NLB to see new pods healthy', () => {
  expect(find<Namespace>('Namespace').metadata!.labels).toMatchObject({
    'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled',
  });
});

test('runs the given image with the greeting from config', () => {
  expect(container.image).toBe(props.image);
  expect(container.env).toEqual(expect.arrayContaining([{ name: 'HELLO', value: 'Howdy' }]));
});

test('the HPA owns the replica count: the Deployment leaves spec.replicas out, so an apply never resets what the HPA scaled', () => {
  // https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling
  // (proved against a real API server: test/integration/workload.test.ts)
  expect(deployment.spec).not.toHaveProperty('replicas');
  expect(find<HorizontalPodAutoscaler>('HorizontalPodAutoscaler').spec).toMatchObject({
    minReplicas: props.replicas.min,
    scaleTargetRef: { kind: 'Deployment', name: deployment.metadata!.name },
  });
});

test('a rolling update that never drops below the desired count', () => {
  expect(deployment.spec!.strategy).toMatchObject({
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 0 },
  });
});

test('readiness, liveness and startup probes on the health endpoints', () => {
  expect(container.readinessProbe!.httpGet!.path).toBe('/readyz');
  expect(container.livenessProbe!.httpGet!.path).toBe('/healthz');
  expect(container.startupProbe!.httpGet!.path).toBe('/healthz');
});

/** The container port a probe or a Service targets, by name or number. */
const containerPortOf = (port: string | number | undefined): number | undefined =>
  typeof port === 'number' ? port : container.ports!.find((p) => p.name === port)?.containerPort;

test('the probes go to the probe port, which the service listens on apart from the public port and its connection cap', () => {
  // Slow-header clients holding every MAX_CONNECTIONS slot starved probes on the public port and
  // the kubelet restarted healthy pods (issue 27; app/probe_listener_test.go shows it).
  expect(WORKLOAD.probePort).not.toBe(DEFAULT_SERVICE.port);
  for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
    expect(containerPortOf(probe!.httpGet!.port)).toBe(WORKLOAD.probePort);
    expect(probe!.httpGet!.scheme ?? 'HTTP').toBe('HTTP'); // the probe listener is plain HTTP
  }
  expect(container.env).toEqual(
    expect.arrayContaining([
      { name: 'PORT', value: String(DEFAULT_SERVICE.port) },
      { name: 'PROBE_PORT', value: String(WORKLOAD.probePort) },
    ]),
  );
});

test('neither the Service nor the NLB health check reaches the probe port', () => {
  const arn = 'arn:aws:acm:eu-west-1:333333333333:certificate/0123abcd-0000-0000-0000-000000000000';
  for (const objects of [
    renderWorkload(props),
    renderWorkload({ ...props, certificateArn: arn, httpWithTls: true }),
  ]) {
    const svc = find<Service>('Service', objects);
    expect(svc.spec!.ports!.length).toBeGreaterThan(0);
    for (const p of svc.spec!.ports!) {
      expect(containerPortOf(p.targetPort)).toBe(DEFAULT_SERVICE.port);
    }
    // The health check stays on the traffic port (the default: no healthcheck-port annotation),
    // so the NLB sees what its clients get.
    expect(svc.metadata!.annotations).not.toHaveProperty(
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port',
    );
  }
});

test('CPU and memory requests, memory limit equal to the request', () => {
  expect(container.resources!.requests).toMatchObject({
    cpu: expect.any(String) as unknown,
    memory: expect.any(String) as unknown,
  });
  expect(container.resources!.limits!.memory).toBe(container.resources!.requests!.memory);
});

test('restricted security context: non-root numeric user, no escalation, no capabilities, RuntimeDefault seccomp, read-only root', () => {
  expect(container.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: WORKLOAD.runAsUser,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(WORKLOAD.runAsUser).toBeGreaterThan(0);
  expect(pod.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(pod.automountServiceAccountToken).toBe(false);
  expect(
    find<WorkloadObject & { automountServiceAccountToken?: boolean }>('ServiceAccount')
      .automountServiceAccountToken,
  ).toBe(false);
});

test('topology spread across zones, with a selector that matches the pod labels', () => {
  const zone = pod.topologySpreadConstraints!.find(
    (c) => c.topologyKey === 'topology.kubernetes.io/zone',
  );
  expect(zone).toBeDefined();
  const podLabels = deployment.spec!.template.metadata!.labels!;
  for (const [k, v] of Object.entries(zone!.labelSelector!.matchLabels!))
    expect(podLabels[k]).toBe(v);
  // and the Deployment's own selector too
  for (const [k, v] of Object.entries(deployment.spec!.selector.matchLabels!))
    expect(podLabels[k]).toBe(v);
});

test('preStop delay, and a grace period longer than the delay plus the drain and shutdown time', () => {
  expect(container.lifecycle!.preStop!.sleep!.seconds).toBe(SHUTDOWN.preStopSeconds);
  expect(pod.terminationGracePeriodSeconds).toBe(TERMINATION_GRACE_SECONDS);
  expect(TERMINATION_GRACE_SECONDS).toBeGreaterThan(
    SHUTDOWN.preStopSeconds + SHUTDOWN.drainDelaySeconds + SHUTDOWN.shutdownTimeoutSeconds,
  );
  expect(container.env).toEqual(
    expect.arrayContaining([{ name: 'DRAIN_DELAY', value: `${SHUTDOWN.drainDelaySeconds}s` }]),
  );
});

test('an internet-facing NLB on port 80 without a certificate', () => {
  const svc = find<Service>('Service');
  expect(svc.spec!.type).toBe('LoadBalancer');
  expect(svc.metadata!.annotations).toMatchObject({
    'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
    'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
  });
  expect(svc.spec!.ports!.map((p) => p.port)).toEqual([80]);
  expect(
    svc.metadata!.annotations!['service.beta.kubernetes.io/aws-load-balancer-ssl-cert'],
  ).toBeUndefined();
});

test('with a certificate ARN, TLS on 443 is terminated with ACM at the NLB', () => {
  const arn = 'arn:aws:acm:eu-west-1:333333333333:certificate/0123abcd-0000-0000-0000-000000000000';
  const svc = find<Service>('Service', renderWorkload({ ...props, certificateArn: arn }));
  expect(svc.spec!.ports!.map((p) => p.port)).toEqual([443]); // 80 closes with TLS unless httpWithTls (test/stacks/tls.test.ts)
  expect(svc.metadata!.annotations).toMatchObject({
    'service.beta.kubernetes.io/aws-load-balancer-ssl-cert': arn,
    'service.beta.kubernetes.io/aws-load-balancer-ssl-ports': '443',
  });
});

test('a PodDisruptionBudget and an HPA bounded by the configured replicas', () => {
  expect(find<PodDisruptionBudget>('PodDisruptionBudget').spec).toMatchObject({
    maxUnavailable: 1,
    selector: { matchLabels: deployment.spec!.selector.matchLabels },
  });
  expect(find<HorizontalPodAutoscaler>('HorizontalPodAutoscaler').spec).toMatchObject({
    minReplicas: 3,
    maxReplicas: 12,
    scaleTargetRef: { kind: 'Deployment', name: 'hello-web' },
  });
});

test('a NetworkPolicy lets only the service port in and nothing out', () => {
  const np = find<
    WorkloadObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: unknown[];
        egress?: unknown[];
        policyTypes: string[];
      };
    }
  >('NetworkPolicy');
  // "Egress" in policyTypes with no egress rule denies all egress
  // (https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic).
  // No `egress` key at all: the API server drops an empty list, so `egress: []` made every apply
  // re-send it and `kubectl diff` never clean (proved in test/integration/workload.test.ts).
  expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  // Not the probe port: Kubernetes always lets a pod's own node (its kubelet) in, and nothing else
  // needs it (docs/decisions/0034-probe-port-and-log-drops.md).
  expect(np.spec.ingress).toEqual([{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
  expect(np.spec).not.toHaveProperty('egress');
  for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels))
    expect(deployment.spec!.template.metadata!.labels![k]).toBe(v);
});
