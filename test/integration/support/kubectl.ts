import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The admin kubeconfig of the integration control plane (set by test/integration/global-setup.ts). */
export function kubeconfig(): string {
  const k = process.env.HELLO_WEB_INTEGRATION_KUBECONFIG;
  if (!k)
    throw new Error(
      'HELLO_WEB_INTEGRATION_KUBECONFIG is not set: run the integration tier with `npm run test:integration`',
    );
  return k;
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command without blocking the event loop (so Ctrl-C and the control plane's signal
 * handlers stay responsive while a rollout is awaited), killed after `timeoutMs`.
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr: timedOut ? `${stderr}\n(killed after ${timeoutMs / 1000} s)` : stderr,
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The real kubectl on PATH, against the integration cluster; every call bounded in time. */
export function kubectl(
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return runProcess('kubectl', ['--kubeconfig', kubeconfig(), ...args], opts);
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function getJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
}

/** Deletes the namespace and waits until it is gone (bounded), so one case never sees another's objects. */
export async function deleteNamespace(namespace: string): Promise<void> {
  await kubectlOk(
    ['delete', 'namespace', namespace, '--ignore-not-found', '--wait=true', '--timeout=180s'],
    { timeoutMs: 200_000 },
  );
}

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

/** The objects of a multi-document YAML file, as `npm run manifests` writes them. */
export function readManifest(file: string): K8sObject[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as K8sObject);
}

/**
 * What aws-cdk-lib's KubernetesManifest does to our objects and how its kubectl handler applies
 * them (aws-cdk-lib 2.276, the handler the EKS stage's `cluster.addManifest` runs):
 * - aws-eks-v2/lib/k8s-manifest.js `injectPruneLabel`: every object gets the label
 *   `aws.cdk.eks/prune-<construct address>` with an empty value (pruning is on by default);
 * - custom-resource-handlers/dist/aws-eks-v2/kubectl-handler/apply/__init__.py: the objects are
 *   written as a stream of JSON documents (`{..}{..}`) to manifest.yaml, then
 *   Create -> `kubectl create --kubeconfig K -f manifest.yaml --save-config`,
 *   Update -> `kubectl apply --kubeconfig K -f manifest.yaml --prune -l <prune label>`,
 *   Delete -> `kubectl delete --kubeconfig K -f manifest.yaml`;
 *   no `--validate` flag (SkipValidation is false), so kubectl's default applies: strict
 *   server-side field validation (`--validate=strict`, the default since kubectl 1.27).
 */
export class CdkKubectlHandler {
  /** `aws.cdk.eks/prune-` + the 42-character construct address ("c8" + 40 hex digits) of the manifest. */
  readonly pruneLabel: string;

  /** `id` stands for the construct address: each stage's manifest construct has its own. */
  constructor(
    private readonly workDir: string,
    id = 'hello-web',
  ) {
    fs.mkdirSync(workDir, { recursive: true });
    this.pruneLabel = `aws.cdk.eks/prune-c8${createHash('sha1').update(id).digest('hex')}`;
  }

  /** The objects with the prune label, as aws-eks-v2's KubernetesManifest (injectPruneLabel) gives them. */
  labelled(objects: readonly K8sObject[]): K8sObject[] {
    return objects.map((o) => ({
      ...o,
      metadata: { ...o.metadata, labels: { ...(o.metadata.labels ?? {}), [this.pruneLabel]: '' } },
    }));
  }

  /** Writes the objects as the handler does and returns the file. */
  write(objects: readonly K8sObject[], name = 'manifest.yaml'): string {
    const file = path.join(this.workDir, name);
    fs.writeFileSync(
      file,
      this.labelled(objects)
        .map((o) => JSON.stringify(o))
        .join(''),
    );
    return file;
  }

  create(objects: readonly K8sObject[]): Promise<Run> {
    return kubectlVerb('create', this.write(objects), ['--save-config']);
  }

  /** `extra` only for tests that must see the server's answer (`-o json`); the handler passes none. */
  update(objects: readonly K8sObject[], extra: readonly string[] = []): Promise<Run> {
    return kubectlVerb('apply', this.write(objects), ['--prune', '-l', this.pruneLabel, ...extra]);
  }

  delete(objects: readonly K8sObject[]): Promise<Run> {
    return kubectlVerb('delete', this.write(objects), []);
  }

  /** `kubectl diff` of what Update would apply: exit 0 = no change, 1 = differences, >1 = error. */
  diff(objects: readonly K8sObject[]): Promise<Run> {
    return kubectl(['diff', '-f', this.write(objects, 'diff.yaml')]);
  }
}

function kubectlVerb(verb: string, file: string, opts: string[]): Promise<Run> {
  // the handler's argument order: ['kubectl', verb, '--kubeconfig', kubeconfig, '-f', file] + opts
  return runProcess('kubectl', [verb, '--kubeconfig', kubeconfig(), '-f', file, ...opts]);
}

/** Waits (bounded) until the Deployment's rollout is complete: `kubectl rollout status`. */
export async function rolloutStatus(
  namespace: string,
  name: string,
  timeout = '180s',
): Promise<void> {
  await kubectlOk(
    ['-n', namespace, 'rollout', 'status', `deployment/${name}`, `--timeout=${timeout}`],
    { timeoutMs: 200_000 },
  );
}

/** Waits (bounded) until the Deployment has exactly `replicas` pods, all updated, ready and available, and no others. */
export async function waitForReplicas(
  namespace: string,
  name: string,
  replicas: number,
  timeout = '180s',
): Promise<void> {
  for (const field of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas']) {
    await kubectlOk(
      [
        '-n',
        namespace,
        'wait',
        `deployment/${name}`,
        `--for=jsonpath={.status.${field}}=${replicas}`,
        `--timeout=${timeout}`,
      ],
      { timeoutMs: 200_000 },
    );
  }
}

export interface PodView {
  readonly name: string;
  readonly node: string;
  readonly image: string;
  readonly ready: boolean;
  readonly terminating: boolean;
}

export async function pods(namespace: string, selector: string): Promise<PodView[]> {
  const list = await getJson<{
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      spec: { nodeName?: string; containers: { image: string }[] };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  }>(['-n', namespace, 'get', 'pods', '-l', selector]);
  return list.items.map((p) => ({
    name: p.metadata.name,
    node: p.spec.nodeName ?? '',
    image: p.spec.containers[0].image,
    ready: (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: p.metadata.deletionTimestamp !== undefined,
  }));
}
