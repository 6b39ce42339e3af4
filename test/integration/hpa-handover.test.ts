import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SERVICE, serviceNames } from '../../lib/config';
import {
  CdkKubectlHandler,
  type K8sObject,
  deleteNamespace,
  getJson,
  kubectlOk,
  pods,
  rolloutStatus,
  waitForReplicas,
} from './support/kubectl';
import { type DeploymentShape, type HpaShape, find, renderAll } from './support/render';
import { RUNBOOKS_DIR, runRunbookCommand, runbookKubectlCommands } from './support/runbooks';

/**
 * Environments deployed before the Deployment left `spec.replicas` to the HPA: the first apply
 * without the field deletes it (it is in the last-applied annotation), and a deleted replicas is 1.
 * docs/runbooks/hpa-replicas-handover.md removes it from the annotation first; this runs the
 * runbook's own commands against the real API server, then the next release the stage's way.
 */
const { namespace: NS, name: NAME } = serviceNames(DEFAULT_SERVICE.name).kubernetes;
const STAGE = 'preprod-eu-west-1';
const RUNBOOK = 'hpa-replicas-handover.md';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-handover-'));
const release1 = renderAll(path.join(work, 'r1'), 'app-1111111111111111').get(STAGE) as K8sObject[];
const release2 = renderAll(path.join(work, 'r2'), 'app-2222222222222222').get(STAGE) as K8sObject[];
const hpa = find<HpaShape>(release1, 'HorizontalPodAutoscaler');
const scaled = hpa.spec.minReplicas + 1;
/** What earlier versions of the project rendered: the same manifest with spec.replicas = minReplicas. */
const previousRelease = release1.map((o) =>
  o.kind === 'Deployment'
    ? { ...o, spec: { replicas: hpa.spec.minReplicas, ...(o as DeploymentShape).spec } }
    : o,
);
const handler = new CdkKubectlHandler(path.join(work, 'handler'));

async function deployPreviousReleaseAndScaleUp(): Promise<void> {
  await deleteNamespace(NS);
  const created = await handler.create(previousRelease);
  if (created.code !== 0) throw new Error(created.stderr);
  await waitForReplicas(NS, NAME, hpa.spec.minReplicas);
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
}

const deployment = () => getJson<DeploymentShape>(['-n', NS, 'get', 'deployment', NAME]);
const lastApplied = async (): Promise<{ spec: Record<string, unknown> }> =>
  JSON.parse(
    (
      await getJson<{ metadata: { annotations: Record<string, string> } }>([
        '-n',
        NS,
        'get',
        'deployment',
        NAME,
      ])
    ).metadata.annotations[LAST_APPLIED],
  ) as { spec: Record<string, unknown> };
const podNames = async () =>
  (await pods(NS, `app.kubernetes.io/name=${NAME}`)).map((p) => p.name).sort();

afterAll(async () => {
  await deleteNamespace(NS);
  fs.rmSync(work, { recursive: true, force: true });
});

test('the rendered Deployment leaves spec.replicas to the HPA', () => {
  expect(find<DeploymentShape>(release1, 'Deployment').spec).not.toHaveProperty('replicas');
  expect(find<DeploymentShape>(previousRelease, 'Deployment').spec.replicas).toBe(
    hpa.spec.minReplicas,
  );
});

test('the catch is real: without the handover, the first apply without spec.replicas sets the scaled-up Deployment to 1', async () => {
  await deployPreviousReleaseAndScaleUp();
  // the stage's own apply; -o json only to read the API server's answer before the HPA corrects it
  const applied = await handler.update(release2, ['-o', 'json']);
  expect(applied.code).toBe(0);
  const list = JSON.parse(applied.stdout) as { items: DeploymentShape[] };
  expect(list.items.find((o) => o.kind === 'Deployment')?.spec.replicas).toBe(1);
});

test("the runbook's handover keeps every pod; the next release then keeps the HPA's count and rolls to the new tag", async () => {
  await deployPreviousReleaseAndScaleUp();
  expect((await lastApplied()).spec.replicas).toBe(hpa.spec.minReplicas);
  const before = await podNames();

  const commands = runbookKubectlCommands(RUNBOOK);
  expect(commands).toHaveLength(2);
  for (const cmd of commands) {
    const r = await runRunbookCommand(cmd);
    expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
  }
  expect((await lastApplied()).spec).not.toHaveProperty('replicas');
  expect((await deployment()).spec.replicas).toBe(scaled);
  expect(await podNames()).toEqual(before);

  const applied = await handler.update(release2, ['-o', 'json']);
  expect(applied.code).toBe(0);
  expect(
    (JSON.parse(applied.stdout) as { items: DeploymentShape[] }).items.find(
      (o) => o.kind === 'Deployment',
    )?.spec.replicas,
  ).toBe(scaled);
  await rolloutStatus(NS, NAME);
  await waitForReplicas(NS, NAME, scaled);
  const image2 = find<DeploymentShape>(release2, 'Deployment').spec.template.spec.containers[0]
    .image;
  expect(
    (await pods(NS, `app.kubernetes.io/name=${NAME}`))
      .filter((p) => !p.terminating)
      .map((p) => p.image),
  ).toEqual(Array(scaled).fill(image2));
  expect((await handler.diff(release2)).code).toBe(0);
});

test('running the handover again fails without changing anything, with the message the runbook names', async () => {
  const rv = (await deployment()).metadata.resourceVersion;
  const r = await runRunbookCommand(runbookKubectlCommands(RUNBOOK)[0]);
  expect(r.code).not.toBe(0);
  const runbook = fs.readFileSync(path.join(RUNBOOKS_DIR, RUNBOOK), 'utf8');
  const named = /fails with `([^`]+)` when the\s+handover was already done/.exec(runbook)?.[1];
  expect(named).toBeDefined();
  expect(r.stderr).toContain(named);
  expect((await deployment()).metadata.resourceVersion).toBe(rv);
});
