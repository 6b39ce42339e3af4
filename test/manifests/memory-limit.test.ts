import * as fs from 'node:fs';
import { DEFAULT_SERVICE } from '../../lib/config';
import * as path from 'node:path';
import type { Deployment } from 'kubernetes-models/apps/v1';
import { renderWorkload } from '../../lib/manifests/workload';
import { REPO_ROOT } from '../support/paths';

// The pod's memory limit is sized from the service's measured cost per connection
// (app/testdata/connection-memory.json, kept honest by app/connection_memory_test.go), so that
// MAX_CONNECTIONS idle connections fit: past the cap the service refuses or queues connections,
// and the pod is never OOM-killed.
const measured = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'app', 'testdata', 'connection-memory.json'), 'utf8'),
) as {
  baselineRssBytes: number;
  bytesPerIdleConnection: number;
  defaultMaxConnections: number;
  probeMaxConnections: number;
};

/** Kubernetes quantities the manifests use: plain bytes or binary suffixes. */
function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(m[1]) * { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? '']!;
}

const deployment = renderWorkload({
  service: DEFAULT_SERVICE,
  image: 'r/x:t',
  imageTag: 't',
  greeting: 'Hi',
  replicas: { min: 3, max: 12, targetCpuPercent: 70 },
  kubernetesVersion: '1.35',
}).find((o) => o.kind === 'Deployment') as Deployment;
const container = deployment.spec!.template.spec!.containers[0];

test("the memory limit holds MAX_CONNECTIONS idle connections, and the probe listener's, twice over", () => {
  const cap = Number(
    container.env?.find((e) => e.name === 'MAX_CONNECTIONS')?.value ??
      measured.defaultMaxConnections,
  );
  expect(measured.probeMaxConnections).toBeGreaterThan(0);
  const needed =
    measured.baselineRssBytes +
    (cap + measured.probeMaxConnections) * measured.bytesPerIdleConnection;
  // Twice: with GOGC=100 the Go heap may reach twice the live heap before a collection, and the
  // kernel's socket memory, not in the process's RSS, is charged to the pod's cgroup too.
  expect(bytes(String(container.resources!.limits!.memory))).toBeGreaterThanOrEqual(2 * needed);
});

test('the memory request equals the limit: the pod is never OOM-killed for memory the node gave away', () => {
  expect(container.resources!.requests!.memory).toBe(container.resources!.limits!.memory);
});
