import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_SERVICE } from '../../lib/config';
import { renderWorkload, toPlain, toYaml } from '../../lib/manifests/workload';
import { REPO_ROOT } from '../support/paths';

/**
 * The rendered manifests against the Kubernetes 1.35 API (strict decode into k8s.io/api v0.35)
 * and the upstream Pod Security "restricted" evaluator (k8s.io/pod-security-admission), through
 * tools/dev/k8s-validate. Mirrors upstream's pass/fail fixtures: ours pass, each single break fails.
 */
const props = {
  service: DEFAULT_SERVICE,
  image: '111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-0123456789abcdef',
  imageTag: 'app-0123456789abcdef',
  greeting: 'Hello',
  replicas: { min: 3, max: 12, targetCpuPercent: 70 },
  kubernetesVersion: '1.35',
};

function validate(yamlText: string) {
  const r = spawnSync(
    'bash',
    [path.join(REPO_ROOT, 'tools', 'dev', 'k8s-validate', 'run.sh'), '-'],
    {
      input: yamlText,
      encoding: 'utf8',
      timeout: 300000,
    },
  );
  if (r.status === 2) throw new Error(`k8s-validate could not run: ${r.stderr}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The fields of a rendered object the cases below mutate; any other field may be added. */
type Plain = Record<string, unknown>;
type Container = Plain & { securityContext: Plain };
type Deployment = Plain & {
  spec: { template: { spec: Plain & { securityContext: Plain; containers: Container[] } } };
};
function mutated(change: (deployment: Deployment, container: Container) => void): string {
  const objects = toPlain(renderWorkload(props));
  const deployment = objects.find((o) => o.kind === 'Deployment') as Deployment;
  change(deployment, deployment.spec.template.spec.containers[0]);
  return objects.map((o) => stringify(o)).join('---\n');
}

test('the rendered manifests pass: Kubernetes 1.35 schemas and Pod Security restricted', () => {
  const r = validate(
    toYaml(renderWorkload({ ...props, certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x' })),
  );
  expect(r.out).toMatch(/7 objects, 0 findings/);
  expect(r.status).toBe(0);
});

test.each<[string, (d: Deployment, c: Container) => void, RegExp]>([
  ['privileged container', (_d, c) => (c.securityContext.privileged = true), /privileged/],
  [
    'privilege escalation allowed',
    (_d, c) => (c.securityContext.allowPrivilegeEscalation = true),
    /allowPrivilegeEscalation/,
  ],
  [
    'a capability added',
    (_d, c) => (c.securityContext.capabilities = { drop: ['ALL'], add: ['NET_ADMIN'] }),
    /capabilities/i,
  ],
  [
    'running as root',
    (d, c) => {
      c.securityContext.runAsNonRoot = false;
      d.spec.template.spec.securityContext.runAsNonRoot = false;
    },
    /runAsNonRoot/,
  ],
  [
    'seccomp unconfined',
    (d, c) => {
      c.securityContext.seccompProfile = { type: 'Unconfined' };
      d.spec.template.spec.securityContext.seccompProfile = { type: 'Unconfined' };
    },
    /seccomp/i,
  ],
  ['host network', (d) => (d.spec.template.spec.hostNetwork = true), /host/i],
  [
    'a misspelt field (schema)',
    (_d, c) => (c.imagePullPolice = 'Always'),
    /imagePullPolice|unknown field/,
  ],
])('a manifest with %s fails', (_name, change, expected) => {
  const r = validate(mutated(change));
  expect(r.status).toBe(1);
  expect(r.out).toMatch(expected);
});
