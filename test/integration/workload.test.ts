import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WORKLOAD } from '../../lib/manifests/workload';
import { CdkKubectlHandler, type K8sObject, getJson, kubectl, kubectlOk, pods, rolloutStatus, waitForReplicas } from './support/kubectl';
import { type DeploymentShape, type HpaShape, clone, find, renderAll } from './support/render';

/**
 * Every environment of the default configuration and of config/example-multi-region.json, on a
 * real 1.35 control plane, applied exactly as the EKS stage's kubectl handler applies it
 * (support/kubectl.ts, CdkKubectlHandler): created, admitted under Pod Security "restricted",
 * spread across zones, stable under re-apply, a release after the HPA scaled up, rollout undo,
 * and the negative controls that prove the checks are real.
 */
const { namespace: NS, name: NAME } = WORKLOAD;
const SELECTOR = `app.kubernetes.io/name=${NAME}`;
const RELEASE_1 = 'app-1111111111111111';
const RELEASE_2 = 'app-2222222222222222';
const CONFIGS: ReadonlyArray<{ label: string; file?: string }> = [{ label: 'default config' }, { label: 'config/example-multi-region.json', file: 'config/example-multi-region.json' }];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-workload-'));
const cases = CONFIGS.flatMap(({ label, file }) => {
  const slug = file ? 'example' : 'default';
  const r1 = renderAll(path.join(work, `${slug}-1`), RELEASE_1, file);
  const r2 = renderAll(path.join(work, `${slug}-2`), RELEASE_2, file);
  return [...r1.keys()].map((stage) => ({ name: `${label}: ${stage}`, stage, release1: r1.get(stage) as K8sObject[], release2: r2.get(stage) as K8sObject[] }));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const nodeZones = (): Record<string, string> => JSON.parse(process.env.HELLO_WEB_INTEGRATION_NODE_ZONES ?? '{}') as Record<string, string>;

/** resourceVersion and generation of every object of the manifest, as the cluster has them. */
function versions(objects: readonly K8sObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const live = getJson<{ metadata: { resourceVersion: string; generation?: number } }>(['get', `${o.kind}/${o.metadata.name}`, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])]);
    out[`${o.kind}/${o.metadata.name}`] = `rv=${live.metadata.resourceVersion} gen=${live.metadata.generation ?? '-'}`;
  }
  return out;
}

function expectOk(r: { code: number | null; stdout: string; stderr: string }): void {
  if (r.code !== 0) throw new Error(`kubectl exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
}

function waitNamespaceGone(): void {
  kubectlOk(['wait', '--for=delete', `namespace/${NS}`, '--timeout=180s'], { timeoutMs: 200_000 });
}

test('the rendered environments are the ones the configurations define', () => {
  expect(cases.map((c) => c.name)).toEqual(
    expect.arrayContaining(['default config: preprod-eu-west-1', 'config/example-multi-region.json: prod-ap-northeast-1']),
  );
  expect(cases.length).toBeGreaterThanOrEqual(2 + 7);
});

describe.each(cases)('$name', ({ stage, release1, release2 }) => {
  const handler = new CdkKubectlHandler(path.join(work, 'handler', stage));
  const hpa = find<HpaShape>(release1, 'HorizontalPodAutoscaler');
  const min = hpa.spec.minReplicas;
  const scaled = Math.min(min + 1, hpa.spec.maxReplicas);
  const image1 = find<DeploymentShape>(release1, 'Deployment').spec.template.spec.containers[0].image;
  const image2 = find<DeploymentShape>(release2, 'Deployment').spec.template.spec.containers[0].image;

  beforeAll(() => {
    // a leftover from an earlier, interrupted case must not leak into this one
    kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=180s'], { timeoutMs: 200_000 });
  });
  afterAll(() => {
    kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=180s'], { timeoutMs: 200_000 });
  });

  test('created by the handler (create --save-config, strict validation) without a warning; the HPA brings it to minReplicas; every pod admitted under restricted, Ready, spread across the zones', () => {
    expect(image1).not.toBe(image2);
    const created = handler.create(release1);
    expectOk(created);
    // Pod Security warn=restricted and strict field validation both speak as warnings/errors on stderr
    expect(created.stderr).toBe('');
    expect(created.stdout.trim().split('\n')).toHaveLength(release1.length);
    waitForReplicas(NS, NAME, min);
    const running = pods(NS, SELECTOR).filter((p) => !p.terminating);
    expect(running).toHaveLength(min);
    expect(running.every((p) => p.ready && p.image === image1)).toBe(true);
    const zones = nodeZones();
    const perZone = new Map<string, number>(Object.values(zones).map((z) => [z, 0]));
    for (const p of running) perZone.set(zones[p.node], (perZone.get(zones[p.node]) ?? 0) + 1);
    const counts = [...perZone.values()];
    expect(perZone.size).toBe(3);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  test('a second apply of the same manifest changes nothing: kubectl diff is clean, every object "unchanged", nothing written', () => {
    const before = versions(release1);
    const diff = handler.diff(release1);
    expect({ exit: diff.code, diff: diff.stdout, stderr: diff.stderr }).toEqual({ exit: 0, diff: '', stderr: '' });
    const applied = handler.update(release1);
    expectOk(applied);
    const lines = applied.stdout.trim().split('\n');
    expect(lines.filter((l) => !/ unchanged$/.test(l))).toEqual([]);
    expect(versions(release1)).toEqual(before);
  });

  test(`a release applied after the HPA scaled up through /scale keeps the scaled count, and the new pods run the new tag`, () => {
    expect(scaled).toBeGreaterThan(min);
    kubectlOk(['-n', NS, 'patch', 'deployment', NAME, '--subresource=scale', '--type=merge', '-p', JSON.stringify({ spec: { replicas: scaled } })]);
    waitForReplicas(NS, NAME, scaled);
    expectOk(handler.update(release2));
    expect(getJson<DeploymentShape>(['-n', NS, 'get', 'deployment', NAME]).spec.replicas).toBe(scaled);
    rolloutStatus(NS, NAME);
    waitForReplicas(NS, NAME, scaled);
    const running = pods(NS, SELECTOR).filter((p) => !p.terminating);
    expect(running.map((p) => p.image)).toEqual(Array(scaled).fill(image2));
  });

  test('kubectl rollout undo brings the previous image back, at the scaled count', () => {
    kubectlOk(['-n', NS, 'rollout', 'undo', `deployment/${NAME}`]);
    rolloutStatus(NS, NAME);
    waitForReplicas(NS, NAME, scaled);
    const running = pods(NS, SELECTOR).filter((p) => !p.terminating);
    expect(running.map((p) => p.image)).toEqual(Array(scaled).fill(image1));
  });

  test('negative controls: the pod spec made privileged, or without runAsNonRoot, is rejected by Pod Security in the namespace; a misspelt field by strict validation', () => {
    const podSpec = find<DeploymentShape>(release1, 'Deployment').spec.template.spec;
    const asPod = (spec: typeof podSpec) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-security-control', namespace: NS, labels: { test: 'pod-security-control' } }, spec });
    // the project's pod spec as it is: admitted (server-side dry run runs admission, stores nothing)
    expectOk(kubectl(['create', '--dry-run=server', '-f', '-'], { input: asPod(podSpec) }));

    const privileged = clone(podSpec);
    privileged.containers[0].securityContext = { ...privileged.containers[0].securityContext, privileged: true, allowPrivilegeEscalation: true };
    const p = kubectl(['create', '-f', '-'], { input: asPod(privileged) });
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/violates PodSecurity "restricted:v1\.35": .*privileged/);

    const rootAllowed = clone(podSpec);
    delete rootAllowed.securityContext?.runAsNonRoot;
    delete rootAllowed.containers[0].securityContext?.runAsNonRoot;
    const r = kubectl(['create', '-f', '-'], { input: asPod(rootAllowed) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:v1\.35": .*runAsNonRoot != true/);
    expect(kubectl(['-n', NS, 'get', 'pod', 'pod-security-control']).code).not.toBe(0);

    const before = versions(release1);
    const misspelt = clone(release1).map((o) => {
      if (o.kind !== 'Deployment') return o;
      const d = o as DeploymentShape;
      const { minReadySeconds, ...rest } = d.spec;
      return { ...d, spec: { ...rest, minReadySecond: minReadySeconds } };
    });
    const m = handler.update(misspelt);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain('unknown field "spec.minReadySecond"');
    expect(versions(release1)).toEqual(before);
  });

  test("the handler's Delete removes what it created", () => {
    expectOk(handler.delete(release1));
    waitNamespaceGone();
  });
});
