import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SERVICE, serviceNames } from '../../lib/config';
import {
  CdkKubectlHandler,
  type K8sObject,
  type Run,
  deleteNamespace,
  getJson,
  kubectl,
  kubectlOk,
  pods,
  rolloutStatus,
  waitForReplicas,
} from './support/kubectl';
import { type DeploymentShape, type HpaShape, clone, find, renderAll } from './support/render';

/**
 * Every environment of the default configuration and of config/example-multi-region.json, on a
 * real 1.35 control plane, applied exactly as the EKS stage's kubectl handler applies it
 * (support/kubectl.ts, CdkKubectlHandler): created, admitted under Pod Security "restricted",
 * spread across zones, stable under re-apply, a release after the HPA scaled up, rollout undo,
 * and the negative controls that prove the checks are real.
 *
 * The environments run side by side, each in a namespace of its own: the rendered manifest with
 * its namespace `hello-web` renamed to `hello-web-<n>` (nothing else changes), and a prune label of
 * its own, as each stage's manifest construct has its own address. Each environment is one test
 * whose steps run in order; a failure names the step.
 */
const KUBERNETES = serviceNames(DEFAULT_SERVICE.name).kubernetes;
const NAME = KUBERNETES.name;
const SELECTOR = `app.kubernetes.io/name=${NAME}`;
const RELEASE_1 = 'app-1111111111111111';
const RELEASE_2 = 'app-2222222222222222';
const CONFIGS: ReadonlyArray<{ label: string; file?: string }> = [
  { label: 'default config' },
  { label: 'config/example-multi-region.json', file: 'config/example-multi-region.json' },
];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-workload-'));
const cases = CONFIGS.flatMap(({ label, file }) => {
  const slug = file ? 'example' : 'default';
  const r1 = renderAll(path.join(work, `${slug}-1`), RELEASE_1, file);
  const r2 = renderAll(path.join(work, `${slug}-2`), RELEASE_2, file);
  return [...r1.keys()].map((stage) => ({
    name: `${label}: ${stage}`,
    stage,
    release1: r1.get(stage) as K8sObject[],
    release2: r2.get(stage) as K8sObject[],
  }));
}).map((c, i) => ({ ...c, namespace: `${KUBERNETES.namespace}-${i + 1}` }));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** The rendered objects with the namespace renamed: the Namespace itself and every namespaced object. */
function inNamespace(objects: readonly K8sObject[], namespace: string): K8sObject[] {
  return clone(objects).map((o) =>
    o.kind === 'Namespace'
      ? { ...o, metadata: { ...o.metadata, name: namespace } }
      : { ...o, metadata: { ...o.metadata, namespace } },
  );
}

const nodeZones = (): Record<string, string> =>
  JSON.parse(process.env.HELLO_WEB_INTEGRATION_NODE_ZONES ?? '{}') as Record<string, string>;

/** resourceVersion and generation of every object of the manifest, as the cluster has them. */
/**
 * What an apply could have written, per object: the object without its status and without what a
 * status write changes (resourceVersion, the status subresource's managedFields entries). The
 * resourceVersion alone is not enough: controllers write status at any time (the HPA controller
 * every sync, here without metrics), which bumps it while the apply wrote nothing.
 */
async function versions(objects: readonly K8sObject[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const live = await getJson<{
      metadata: {
        resourceVersion?: string;
        generation?: number;
        managedFields?: { subresource?: string }[];
      };
      status?: unknown;
    }>([
      'get',
      `${o.kind}/${o.metadata.name}`,
      ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
    ]);
    delete live.status;
    delete live.metadata.resourceVersion;
    live.metadata.managedFields = (live.metadata.managedFields ?? []).filter(
      (f) => f.subresource !== 'status',
    );
    const digest = createHash('sha256').update(JSON.stringify(live)).digest('hex').slice(0, 12);
    out[`${o.kind}/${o.metadata.name}`] = `gen=${live.metadata.generation ?? '-'} ${digest}`;
  }
  return out;
}

function expectOk(r: Run): void {
  if (r.code !== 0) throw new Error(`kubectl exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
}

/** Runs one step; a failure says which environment and step, then what failed. */
async function step(env: string, name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    err.message = `[${env}] step "${name}" failed:\n${err.message}`;
    throw err;
  }
  process.stderr.write(`[workload] ${env}: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}

test('the rendered environments are the ones the configurations define', () => {
  expect(cases.map((c) => c.name)).toEqual(
    expect.arrayContaining([
      'default config: preprod-eu-west-1',
      'config/example-multi-region.json: prod-ap-northeast-1',
    ]),
  );
  expect(cases.length).toBeGreaterThanOrEqual(2 + 7);
});

test.concurrent.each(cases)(
  '$name: created, admitted under restricted and spread across zones; re-apply writes nothing; a release after a scale-up keeps the count; rollout undo; negative controls; Delete',
  async ({ name: env, stage, namespace: NS, release1: rendered1, release2: rendered2 }) => {
    const release1 = inNamespace(rendered1, NS);
    const release2 = inNamespace(rendered2, NS);
    const handler = new CdkKubectlHandler(path.join(work, 'handler', `${NS}-${stage}`), NS);
    const hpa = find<HpaShape>(release1, 'HorizontalPodAutoscaler');
    const min = hpa.spec.minReplicas;
    const scaled = min + 1;
    const image1 = find<DeploymentShape>(release1, 'Deployment').spec.template.spec.containers[0]
      .image;
    const image2 = find<DeploymentShape>(release2, 'Deployment').spec.template.spec.containers[0]
      .image;
    const running = async () => (await pods(NS, SELECTOR)).filter((p) => !p.terminating);
    expect(image1).not.toBe(image2);
    expect(scaled).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    await deleteNamespace(NS);

    try {
      await step(
        env,
        'created by the handler (create --save-config, strict validation) without a warning; the HPA raises it to minReplicas; pods admitted, Ready, spread across the zones',
        async () => {
          const created = await handler.create(release1);
          expectOk(created);
          // Pod Security (warn=restricted) and strict field validation both speak on stderr
          expect(created.stderr).toBe('');
          expect(created.stdout.trim().split('\n')).toHaveLength(release1.length);
          await waitForReplicas(NS, NAME, min);
          const live = await running();
          expect(live).toHaveLength(min);
          expect(live.every((p) => p.ready && p.image === image1)).toBe(true);
          const zones = nodeZones();
          const perZone = new Map<string, number>(Object.values(zones).map((z) => [z, 0]));
          for (const p of live) perZone.set(zones[p.node], (perZone.get(zones[p.node]) ?? 0) + 1);
          const counts = [...perZone.values()];
          expect(perZone.size).toBe(3);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      );

      await step(
        env,
        'a second apply changes nothing: kubectl diff clean, nothing written',
        async () => {
          const before = await versions(release1);
          const diff = await handler.diff(release1);
          expect({ exit: diff.code, diff: diff.stdout, stderr: diff.stderr }).toEqual({
            exit: 0,
            diff: '',
            stderr: '',
          });
          const applied = await handler.update(release1);
          expectOk(applied);
          // kubectl always sends a PodDisruptionBudget's selector (its patch strategy is "replace", so
          // the computed patch is never empty: https://github.com/Azure/eno/pull/246) and prints
          // "configured"; the server writes nothing, which the resourceVersions below prove.
          expect(
            applied.stdout
              .trim()
              .split('\n')
              .filter((l) => !/ unchanged$/.test(l)),
          ).toEqual(['poddisruptionbudget.policy/hello-web configured']);
          expect(await versions(release1)).toEqual(before);
        },
      );

      await step(
        env,
        'a release applied after the HPA scaled up through /scale keeps the scaled count; the new pods run the new tag',
        async () => {
          await kubectlOk([
            '-n',
            NS,
            'patch',
            'deployment',
            NAME,
            '--subresource=scale',
            '--type=merge',
            '-p',
            JSON.stringify({ spec: { replicas: scaled } }),
          ]);
          await waitForReplicas(NS, NAME, scaled);
          expectOk(await handler.update(release2));
          expect(
            (await getJson<DeploymentShape>(['-n', NS, 'get', 'deployment', NAME])).spec.replicas,
          ).toBe(scaled);
          await rolloutStatus(NS, NAME);
          await waitForReplicas(NS, NAME, scaled);
          expect((await running()).map((p) => p.image)).toEqual(Array(scaled).fill(image2));
        },
      );

      await step(
        env,
        'kubectl rollout undo brings the previous image back, at the scaled count',
        async () => {
          await kubectlOk(['-n', NS, 'rollout', 'undo', `deployment/${NAME}`]);
          await rolloutStatus(NS, NAME);
          await waitForReplicas(NS, NAME, scaled);
          expect((await running()).map((p) => p.image)).toEqual(Array(scaled).fill(image1));
        },
      );

      await step(
        env,
        'negative controls: the pod spec privileged, or without runAsNonRoot, rejected by Pod Security; a misspelt field rejected by strict validation',
        async () => {
          const podSpec = find<DeploymentShape>(release1, 'Deployment').spec.template.spec;
          const asPod = (spec: typeof podSpec) =>
            JSON.stringify({
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: {
                name: 'pod-security-control',
                namespace: NS,
                labels: { test: 'pod-security-control' },
              },
              spec,
            });
          // the project's pod spec as it is: admitted (a server-side dry run runs admission and stores nothing)
          expectOk(
            await kubectl(['create', '--dry-run=server', '-f', '-'], { input: asPod(podSpec) }),
          );

          const privileged = clone(podSpec);
          privileged.containers[0].securityContext = {
            ...privileged.containers[0].securityContext,
            privileged: true,
            allowPrivilegeEscalation: true,
          };
          const p = await kubectl(['create', '-f', '-'], { input: asPod(privileged) });
          expect(p.code).not.toBe(0);
          expect(p.stderr).toMatch(/violates PodSecurity "restricted:v1\.35": .*privileged/);

          const rootAllowed = clone(podSpec);
          delete rootAllowed.securityContext?.runAsNonRoot;
          delete rootAllowed.containers[0].securityContext?.runAsNonRoot;
          const r = await kubectl(['create', '-f', '-'], { input: asPod(rootAllowed) });
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(
            /violates PodSecurity "restricted:v1\.35": .*runAsNonRoot != true/,
          );
          expect((await kubectl(['-n', NS, 'get', 'pod', 'pod-security-control'])).code).not.toBe(
            0,
          );

          const before = await versions(release1);
          const misspelt = clone(release1).map((o) => {
            if (o.kind !== 'Deployment') return o;
            const d = o as DeploymentShape;
            const { minReadySeconds, ...rest } = d.spec;
            return { ...d, spec: { ...rest, minReadySecond: minReadySeconds } };
          });
          const m = await handler.update(misspelt);
          expect(m.code).not.toBe(0);
          expect(m.stderr).toContain('unknown field "spec.minReadySecond"');
          expect(await versions(release1)).toEqual(before);
        },
      );

      await step(env, "the handler's Delete removes what it created", async () => {
        expectOk(await handler.delete(release1));
        await kubectlOk(['wait', '--for=delete', `namespace/${NS}`, '--timeout=180s'], {
          timeoutMs: 200_000,
        });
      });
    } finally {
      await deleteNamespace(NS);
    }
  },
);
