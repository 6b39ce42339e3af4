import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SERVICE, serviceNames } from '../../lib/config';
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
const { namespace: NS, name: NAME } = serviceNames(DEFAULT_SERVICE.name).kubernetes;
const STAGE = 'preprod-eu-west-1';
const COVERED: Record<string, string> = {
  'rollback.md': 'this file',
  'breakglass.md': 'this file',
  'hpa-replicas-handover.md': 'test/integration/hpa-handover.test.ts',
  'alarm-rollback.md': 'this file (read-only checks)',
  'patching-nodes.md': 'this file (read-only checks)',
  'service-saturated.md': 'this file (read-only checks and the HPA floor)',
};

/**
 * Runbook commands that cannot pass here, each with the reason. Every other kubectl line of the
 * runbooks below is run against the cluster and must exit 0.
 */
const NOT_HERE: Record<string, string> = {
  'kubectl -n hello-web top pods':
    'needs metrics-server, which the integration control plane does not run',
  "kubectl -n hello-web describe pods | grep -A3 'Last State'":
    'kwok pods never restart, so there is no Last State for grep to find (it exits 1)',
  'kubectl -n hello-web logs deploy/hello-web | grep \'"listening"\'':
    'kwok runs no container, so there are no logs',
  'kubectl get nodes -L eks.amazonaws.com/nodegroup-image -w': 'watches until interrupted',
};
const READ_ONLY_RUNBOOKS = ['alarm-rollback.md', 'patching-nodes.md', 'service-saturated.md'];

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

test('alarm-rollback.md, patching-nodes.md, service-saturated.md: every kubectl line that can run here works', async () => {
  for (const file of READ_ONLY_RUNBOOKS) {
    const commands = runbookKubectlCommands(file);
    expect(commands.length).toBeGreaterThan(0);
    for (const cmd of commands) {
      const bare = cmd.replace(/\s+#.*$/, '').trim();
      if (NOT_HERE[bare] !== undefined) continue;
      const r = await runRunbookCommand(cmd);
      expect({ file, cmd, code: r.code, stderr: r.stderr.trim() }).toEqual({
        file,
        cmd,
        code: 0,
        stderr: expect.any(String) as string,
      });
    }
  }
  // Every reason above still names a line a runbook has: a runbook change cannot hide behind it.
  const all = READ_ONLY_RUNBOOKS.flatMap((f) =>
    runbookKubectlCommands(f).map((c) => c.replace(/\s+#.*$/, '').trim()),
  );
  for (const cmd of Object.keys(NOT_HERE)) expect(all).toContain(cmd);
});
