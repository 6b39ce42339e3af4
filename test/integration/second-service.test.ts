import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SERVICE, serviceNames } from '../../lib/config';
import {
  CdkKubectlHandler,
  type K8sObject,
  deleteNamespace,
  getJson,
  pods,
  waitForReplicas,
} from './support/kubectl';
import { type HpaShape, find, renderAll } from './support/render';

/**
 * Issue 24: the service is a parameter. The manifests of a second service
 * (config/example-orders-api.json, `service.name` "orders-api") applied to the real control plane
 * exactly as the EKS stage's kubectl handler applies them, next to the default service's: each
 * lives in its own namespace under its own names, both roll out, and the second one's objects
 * hold no trace of the default service.
 */
const ORDERS_CONFIG = 'config/example-orders-api.json';
const ORDERS = serviceNames('orders-api').kubernetes;
const HELLO = serviceNames(DEFAULT_SERVICE.name).kubernetes;
const TAG = 'app-3333333333333333';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'integ-second-service-'));
const orders = renderAll(path.join(work, 'orders'), TAG, ORDERS_CONFIG).get('preprod-eu-west-1');
const hello = renderAll(path.join(work, 'hello'), TAG).get('preprod-eu-west-1');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the second service renders under its own names only', () => {
  expect(orders).toBeDefined();
  expect(JSON.stringify(orders)).not.toMatch(/hello-?web/i);
  for (const o of orders!)
    if (o.kind === 'Namespace') expect(o.metadata.name).toBe(ORDERS.namespace);
    else expect(o.metadata).toMatchObject({ name: ORDERS.name, namespace: ORDERS.namespace });
});

test('both services applied to one control plane roll out side by side, each in its own namespace', async () => {
  const rendered = [
    { names: ORDERS, objects: orders! },
    { names: HELLO, objects: hello! },
  ];
  for (const { names } of rendered) await deleteNamespace(names.namespace);
  try {
    for (const { names, objects } of rendered) {
      const handler = new CdkKubectlHandler(
        path.join(work, 'handler', names.namespace),
        names.namespace,
      );
      const created = await handler.create(objects);
      if (created.code !== 0) throw new Error(`kubectl exited ${created.code}:\n${created.stderr}`);
      // Pod Security (warn=restricted) and strict field validation both speak on stderr
      expect(created.stderr).toBe('');
      expect(created.stdout.trim().split('\n')).toHaveLength(objects.length);
    }
    for (const { names, objects } of rendered) {
      const min = find<HpaShape>(objects, 'HorizontalPodAutoscaler').spec.minReplicas;
      await waitForReplicas(names.namespace, names.name, min);
      const running = (await pods(names.namespace, `app.kubernetes.io/name=${names.name}`)).filter(
        (p) => !p.terminating,
      );
      expect(running).toHaveLength(min);
      expect(running.every((p) => p.ready)).toBe(true);
      const service = await getJson<K8sObject & { spec: { selector: Record<string, string> } }>([
        '-n',
        names.namespace,
        'get',
        'service',
        names.name,
      ]);
      expect(service.spec.selector['app.kubernetes.io/part-of']).toBe(names.partOf);
    }
  } finally {
    for (const { names } of rendered) await deleteNamespace(names.namespace);
  }
});
