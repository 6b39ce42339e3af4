import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';

/**
 * Kubernetes manifests as sets of objects, compared by object and field: what the drift report
 * prints, and how the deploy's breakglass check decides whether a commit carries a breakglass
 * change. Nothing here reads a cluster or AWS.
 */
export type K8sObject = Record<string, unknown>;

/**
 * The label CDK's KubernetesManifest adds to every object it applies (`injectPruneLabel`:
 * `PRUNE_LABEL_PREFIX + Node.of(this).addr`, aws-cdk-lib 2.276 aws-eks-v2/lib/k8s-manifest.js),
 * and by which its kubectl handler prunes on update (`kubectl apply ... --prune -l <label>`,
 * custom-resource-handlers/dist/aws-eks-v2/kubectl-handler/apply/__init__.py). Git's render
 * (`npm run manifests`) has no construct and so no label; the stored copy and the cluster have it.
 */
export const CDK_PRUNE_LABEL_PREFIX = 'aws.cdk.eks/prune-';

/** The objects of a multi-document YAML (or JSON) text; empty documents are skipped. */
export function parseObjects(text: string, source: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  const objects: K8sObject[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0)
      throw new Error(
        `${source}: document ${i + 1} is not valid YAML: ${d.errors[0].message.split('\n')[0]}`,
      );
    const value: unknown = d.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value))
      throw new Error(`${source}: document ${i + 1} is not a mapping`);
    objects.push(value as K8sObject);
  });
  return objects;
}

function metadataOf(o: K8sObject): Record<string, unknown> {
  const m = o.metadata;
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : {};
}

/** `Deployment <namespace>/<name>` (kind, namespace/name), or `Namespace <name>` for a cluster-scoped object. */
export function objectName(o: K8sObject): string {
  const m = metadataOf(o);
  const ns = typeof m.namespace === 'string' ? `${m.namespace}/` : '';
  return `${String(o.kind)} ${ns}${String(m.name)}`;
}

/** The object without the CDK prune label (a deep copy; an emptied labels map is dropped). */
export function withoutPruneLabel(o: K8sObject): K8sObject {
  const copy = JSON.parse(JSON.stringify(o)) as K8sObject;
  const m = metadataOf(copy);
  const labels = m.labels as Record<string, unknown> | undefined;
  if (labels && typeof labels === 'object') {
    for (const k of Object.keys(labels)) if (k.startsWith(CDK_PRUNE_LABEL_PREFIX)) delete labels[k];
    if (Object.keys(labels).length === 0) delete m.labels;
  }
  return copy;
}

/** The CDK prune label the objects carry, if any (the first one found). */
export function pruneLabelOf(objects: readonly K8sObject[]): string | undefined {
  for (const o of objects) {
    const labels = metadataOf(o).labels;
    if (labels && typeof labels === 'object')
      for (const k of Object.keys(labels)) if (k.startsWith(CDK_PRUNE_LABEL_PREFIX)) return k;
  }
  return undefined;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** sha256 of the objects in a canonical form (keys sorted, objects by name, prune label left out): equal for equal manifests however they are written. */
export function objectsDigest(objects: readonly K8sObject[]): string {
  const sorted = objects
    .map(withoutPruneLabel)
    .sort((a, b) => objectName(a).localeCompare(objectName(b)));
  return createHash('sha256')
    .update(JSON.stringify(canonical(sorted)))
    .digest('hex');
}

export interface FieldDifference {
  /** `spec.template.spec.containers[web].image` */
  readonly path: string;
  /** undefined: the field is absent on that side. */
  readonly left: unknown;
  readonly right: unknown;
}

export interface ObjectDifference {
  readonly object: string;
  /** `missing-left`: only the right side has the object; `missing-right`: only the left has it. */
  readonly change: 'missing-left' | 'missing-right' | 'fields';
  readonly fields: readonly FieldDifference[];
}

/** An array whose items are all mappings with a string `name` (containers, env, ports, volumes): compared by name. */
function byName(items: readonly unknown[]): Map<string, unknown> | undefined {
  const m = new Map<string, unknown>();
  for (const i of items) {
    if (!i || typeof i !== 'object' || typeof (i as { name?: unknown }).name !== 'string')
      return undefined;
    m.set((i as { name: string }).name, i);
  }
  return m.size === items.length ? m : undefined;
}

/** Every leaf that differs between two values, with its path. */
export function diffValues(left: unknown, right: unknown, path = ''): FieldDifference[] {
  if (JSON.stringify(canonical(left)) === JSON.stringify(canonical(right))) return [];
  const isMap = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isMap(left) && isMap(right)) {
    const l = left as Record<string, unknown>;
    const r = right as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(l), ...Object.keys(r)])].sort();
    // a key that is not a plain name (a label such as app.kubernetes.io/version) is quoted
    const step = (k: string) =>
      /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k)
        ? path
          ? `${path}.${k}`
          : k
        : `${path}[${JSON.stringify(k)}]`;
    return keys.flatMap((k) => diffValues(l[k], r[k], step(k)));
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    const ln = byName(left);
    const rn = byName(right);
    if (ln && rn) {
      const names = [...new Set([...ln.keys(), ...rn.keys()])];
      return names.flatMap((n) => diffValues(ln.get(n), rn.get(n), `${path}[${n}]`));
    }
    if (left.length === right.length)
      return left.flatMap((v, i) => diffValues(v, right[i], `${path}[${i}]`));
  }
  return [{ path: path || '(whole)', left, right }];
}

/** The objects of two manifests compared by name, then field by field (the prune label is left out on both sides). */
export function diffObjectSets(
  left: readonly K8sObject[],
  right: readonly K8sObject[],
): ObjectDifference[] {
  const index = (objects: readonly K8sObject[]) =>
    new Map(objects.map((o) => [objectName(o), withoutPruneLabel(o)]));
  const l = index(left);
  const r = index(right);
  const names = [...new Set([...l.keys(), ...r.keys()])].sort();
  const out: ObjectDifference[] = [];
  for (const name of names) {
    const a = l.get(name);
    const b = r.get(name);
    if (a === undefined) out.push({ object: name, change: 'missing-left', fields: [] });
    else if (b === undefined) out.push({ object: name, change: 'missing-right', fields: [] });
    else {
      const fields = diffValues(a, b);
      if (fields.length > 0) out.push({ object: name, change: 'fields', fields });
    }
  }
  return out;
}

/** A value as one short line for a report. */
export function showValue(v: unknown): string {
  if (v === undefined) return '(absent)';
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(canonical(v));
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
