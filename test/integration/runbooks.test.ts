import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WORKLOAD } from '../../lib/manifests/workload';
import {
  CdkKubectlHandler,
  type K8sObject,
  deleteNamespace,
  pods,
  waitForReplicas,
} from './support/kubectl';
import { type DeploymentShape, type HpaShape, find, renderAll } from './support/render';
import { RUNBOOKS_DIR, runRunbookCommand, runbookKubectlCommands } from './support/runbooks';

/**
 * The runbooks' kubectl commands, taken from the markdown and run against the real cluster, so a
 * runbook cannot drift from what works. Every runbook with a kubectl command must be covered here
 * or by the test named in COVERED.
 */
const { namespace: NS, name: NAME } = WORKLOAD;
const STAGE = 'preprod-eu-west-1';
const COVERED: Record<string, string> = {
  'rollback.md': 'this file',
  'breakglass.md': 'this file',
  'hpa-replicas-handover.md': 'test/integration/hpa-handover.test.ts',
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-runbooks-'));
const release1 = renderAll(path.join(work, 'r1'), 'app-1111111111111111').get(STAGE) as K8sObject[];
const release2 = renderAll(path.join(work, 'r2'), 'app-2222222222222222').get(STAGE) as K8sObject[];
const image = (objects: K8sObject[]) =>
  find<DeploymentShape>(objects, 'Deployment').spec.template.spec.containers[0].image;
const min = find<HpaShape>(release1, 'HorizontalPodAutoscaler').spec.minReplicas;
const handler = new CdkKubectlHandler(path.join(work, 'handler'));

beforeAll(async () => {
  await deleteNamespace(NS);
  // two releases deployed the stage's way, so there is a previous revision to go back to
  for (const step of [() => handler.create(release1), () => handler.update(release2)]) {
    const r = await step();
    if (r.code !== 0) throw new Error(r.stderr);
    await waitForReplicas(NS, NAME, min);
  }
});
afterAll(async () => {
  await deleteNamespace(NS);
  fs.rmSync(work, { recursive: true, force: true });
});

test('every runbook with kubectl commands is run by a test', () => {
  const withKubectl = fs
    .readdirSync(RUNBOOKS_DIR)
    .filter((f) => f.endsWith('.md') && runbookKubectlCommands(f).length > 0);
  expect(withKubectl.sort()).toEqual(Object.keys(COVERED).sort());
});

test('rollback.md, last resort: rollout history, undo and status bring the previous image back', async () => {
  const commands = runbookKubectlCommands('rollback.md');
  expect(commands.map((c) => /rollout (\w+)/.exec(c)?.[1])).toEqual(['history', 'undo', 'status']);
  const outputs: string[] = [];
  for (const cmd of commands) {
    const r = await runRunbookCommand(cmd);
    expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
    outputs.push(r.stdout);
  }
  expect(outputs[0]).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+.*\n2\s+/);
  expect(outputs[1]).toContain('deployment.apps/hello-web rolled back');
  expect(outputs[2]).toContain('successfully rolled out');
  await waitForReplicas(NS, NAME, min);
  expect(
    (await pods(NS, `app.kubernetes.io/name=${NAME}`))
      .filter((p) => !p.terminating)
      .map((p) => p.image),
  ).toEqual(Array(min).fill(image(release1)));
});

test('breakglass.md: the access check and the rollout status of "Verify" work', async () => {
  const commands = runbookKubectlCommands('breakglass.md');
  expect(commands).toHaveLength(2);
  for (const cmd of commands) {
    const r = await runRunbookCommand(cmd);
    expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
    expect(r.stdout).toMatch(/hello-web/);
  }
});
