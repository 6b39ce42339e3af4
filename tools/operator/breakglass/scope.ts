import { type EnvironmentConfig, serviceNames } from '../../../lib/config';
import { renderWorkload, toPlain, workloadPropsFor } from '../../../lib/manifests/workload';
import { parseDocuments } from './manifest';

/**
 * What breakglass may apply without --allow-outside-workload: the kinds (apiVersion and kind) the
 * workload itself renders for this environment, in its namespace, and that namespace itself.
 * Taken from lib/manifests/workload.ts, so a kind the workload gains is allowed with it.
 */
export interface WorkloadScope {
  readonly namespace: string;
  /** `apiVersion kind` pairs. */
  readonly kinds: ReadonlySet<string>;
}

export function workloadScope(env: EnvironmentConfig): WorkloadScope {
  // The image does not change which kinds the workload has: any well-formed one renders them all.
  const objects = toPlain(
    renderWorkload(workloadPropsFor(env, { uri: 'registry.invalid/scope:probe', tag: 'probe' })),
  );
  return {
    namespace: serviceNames(env.service.name).kubernetes.namespace,
    kinds: new Set(objects.map((o) => `${String(o.apiVersion)} ${String(o.kind)}`)),
  };
}

/** Each object of the manifest outside the scope, described as `<kind>/<name> (<why>)`. */
export function objectsOutsideWorkload(
  text: string,
  source: string,
  scope: WorkloadScope,
): string[] {
  const outside: string[] = [];
  for (const doc of parseDocuments(text, source)) {
    const apiVersion = String(doc.get('apiVersion'));
    const kind = String(doc.get('kind'));
    const name = String(doc.getIn(['metadata', 'name']));
    const ns = doc.getIn(['metadata', 'namespace']);
    const what = `${kind}/${name}`;
    if (!scope.kinds.has(`${apiVersion} ${kind}`))
      outside.push(`${what} (${apiVersion} ${kind} is not a kind the workload has)`);
    else if (kind === 'Namespace') {
      if (name !== scope.namespace)
        outside.push(`${what} (the workload's namespace is ${scope.namespace})`);
    } else if (ns !== scope.namespace) {
      // Without a namespace kubectl would use the context's default one, wherever that points.
      outside.push(
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a YAML scalar, or a YAML node whose toString() prints YAML
        `${what} (${ns === undefined ? 'no metadata.namespace' : `namespace ${String(ns)}`}; the workload's namespace is ${scope.namespace})`,
      );
    }
  }
  return outside;
}
