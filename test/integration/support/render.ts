import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, TSX_CLI } from '../../support/paths';
import { type K8sObject, readManifest } from './kubectl';

/**
 * Every environment's manifests, rendered by the project's own command
 * (`tsx tools/dev/manifests.ts --out-dir DIR [--config FILE] --tag TAG`, what `npm test` validates):
 * stage name -> objects, in apply order.
 */
export function renderAll(outDir: string, tag: string, config?: string): Map<string, K8sObject[]> {
  const args = [
    TSX_CLI,
    'tools/dev/manifests.ts',
    '--out-dir',
    outDir,
    '--tag',
    tag,
    ...(config ? ['--config', config] : []),
  ];
  const r = spawnSync(process.execPath, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0)
    throw new Error(`rendering the manifests failed (exit ${r.status}): ${r.stderr}`);
  const out = new Map<string, K8sObject[]>();
  for (const f of fs
    .readdirSync(outDir)
    .filter((n) => n.endsWith('.yaml'))
    .sort())
    out.set(f.replace(/\.yaml$/, ''), readManifest(path.join(outDir, f)));
  return out;
}

export function find<T = K8sObject>(objects: readonly K8sObject[], kind: string): T {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} in the rendered manifest`);
  return o as T;
}

export interface DeploymentShape extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpecShape };
    [k: string]: unknown;
  };
}

export interface PodSpecShape {
  securityContext?: Record<string, unknown>;
  containers: {
    name: string;
    image: string;
    env?: { name: string; value: string }[];
    securityContext?: Record<string, unknown>;
    [k: string]: unknown;
  }[];
  [k: string]: unknown;
}

export interface HpaShape extends K8sObject {
  spec: { minReplicas: number; maxReplicas: number };
}

export const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;
