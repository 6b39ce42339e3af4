import { type Document, Scalar, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { OperationError, UsageError } from '../../common/errors';
import { IMAGE_TAG, IMAGE_TAG_RULE } from '../../common/image-tag';
import { safeForTerminal } from '../../common/terminal';

/** The container the service runs in; its image is what `--image` changes (lib/manifests/workload.ts). */
export const WEB_CONTAINER = 'web';

export function checkImageTag(tag: string): string {
  if (!IMAGE_TAG.test(tag)) {
    throw new UsageError(
      `--image "${safeForTerminal(tag)}" is not a valid image tag (${IMAGE_TAG_RULE}); give the tag only, e.g. --image app-0123456789abcdef`,
    );
  }
  return tag;
}

/** Where the web container's image sits in a manifest. */
interface WebImage {
  readonly deployment: string;
  readonly namespace?: string;
  readonly image: string;
  readonly node: Scalar;
  readonly doc: Document.Parsed;
}

/** Parses multi-document YAML; every document must parse. Empty documents (a trailing `---`) are skipped. */
export function parseDocuments(text: string, source: string): Document.Parsed[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0)
      throw new ManifestError(
        `${source}: document ${i + 1} is not valid YAML: ${d.errors[0].message.split('\n')[0]}`,
      );
  });
  return docs.filter(
    (d) => d.contents !== null && !(isScalar(d.contents) && d.contents.value === null),
  );
}

/** A manifest that cannot be used; carries the exit code of the context it was found in. */
export class ManifestError extends OperationError {}

/**
 * Checks a replacement manifest (`--manifest <file>`): YAML documents, each a Kubernetes object
 * with apiVersion, kind and metadata.name. Bad input is bad usage (exit 2): nothing was touched yet.
 */
export function checkReplacementManifest(text: string, file: string): void {
  let docs: Document.Parsed[];
  try {
    docs = parseDocuments(text, file);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (docs.length === 0)
    throw new UsageError(
      `${file} holds no YAML document; give the complete manifest (every object), not a patch`,
    );
  const problems: string[] = [];
  docs.forEach((d, i) => {
    const where = `document ${i + 1}`;
    let obj: unknown;
    try {
      obj = d.toJS();
    } catch (e) {
      // The yaml library refuses documents whose aliases would expand beyond reason ("billion
      // laughs"): bad input, so bad usage, like any other manifest that cannot be used.
      throw new UsageError(
        `${file}: ${where} cannot be read: ${(e as Error).message.split('\n')[0]} (YAML aliases that expand too far)`,
      );
    }
    if (!isObject(obj)) {
      problems.push(`${where} is not a mapping`);
      return;
    }
    const missing: string[] = [];
    if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') missing.push('apiVersion');
    if (typeof obj.kind !== 'string' || obj.kind === '') missing.push('kind');
    if (
      !isObject(obj.metadata) ||
      typeof obj.metadata.name !== 'string' ||
      obj.metadata.name === ''
    )
      missing.push('metadata.name');
    if (missing.length > 0)
      problems.push(
        `${where}${typeof obj.kind === 'string' ? ` (${obj.kind})` : ''} has no ${missing.join(', ')}`,
      );
  });
  if (problems.length > 0)
    throw new UsageError(`${file} is not a Kubernetes manifest: ${problems.join('; ')}`);
}

/** The web container's image in every Deployment of the manifest. */
function webImages(docs: readonly Document.Parsed[]): WebImage[] {
  const found: WebImage[] = [];
  for (const doc of docs) {
    if (doc.get('kind') !== 'Deployment') continue;
    const containers = doc.getIn(['spec', 'template', 'spec', 'containers'], true);
    if (!isSeq(containers)) continue;
    for (const c of containers.items) {
      if (!isMap(c) || c.get('name') !== WEB_CONTAINER) continue;
      const node = c.get('image', true);
      if (isScalar(node) && typeof node.value === 'string') {
        const ns = doc.getIn(['metadata', 'namespace']);
        found.push({
          deployment: String(doc.getIn(['metadata', 'name'])),
          namespace: typeof ns === 'string' ? ns : undefined,
          image: node.value,
          node,
          doc,
        });
      }
    }
  }
  return found;
}

/** The image of the web container, or undefined when the manifest has none (a replacement may lack it). */
export function findWebImage(text: string, source: string): string | undefined {
  const found = webImages(parseDocuments(text, source));
  return found.length === 1
    ? found[0].image
    : found.length === 0
      ? undefined
      : found.map((f) => f.image).join(', ');
}

/** `<repository>:<tag>` → `<repository>:<newTag>`. A digest (`@sha256:...`) is dropped: it would pin the old image. */
export function withTag(image: string, tag: string): string {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = name.lastIndexOf('/');
  const lastColon = name.lastIndexOf(':');
  const repository = lastColon > lastSlash ? name.slice(0, lastColon) : name;
  return `${repository}:${tag}`;
}

/** The pod label that states the running version (lib/manifests/workload.ts sets it to the image tag). */
export const VERSION_LABEL = 'app.kubernetes.io/version';

/**
 * Changes the tag of the web container's image, and the pod template's version label when it
 * named the old tag (so pods do not claim a version they do not run), and nothing else: the new
 * text is the old text with those scalars replaced, byte for byte, so the diff shows just them.
 */
export function replaceWebImageTag(
  text: string,
  source: string,
  tag: string,
): { text: string; before: string; after: string } {
  const docs = parseDocuments(text, source);
  const found = webImages(docs);
  if (found.length === 0) {
    throw new OperationError(
      `${source} has no Deployment with a container named "${WEB_CONTAINER}"; use --manifest <file> to replace the whole manifest instead`,
    );
  }
  if (found.length > 1) {
    throw new OperationError(
      `${source} has ${found.length} Deployments with a "${WEB_CONTAINER}" container (${found.map((f) => f.deployment).join(', ')}); use --manifest <file> to say exactly what to apply`,
    );
  }
  const { image, node, doc } = found[0];
  const after = withTag(image, tag);
  const edits: Array<{ node: Scalar; value: string }> = [{ node, value: after }];
  const oldTag = tagOf(image);
  const label = doc.getIn(['spec', 'template', 'metadata', 'labels', VERSION_LABEL], true);
  if (oldTag !== undefined && isScalar(label) && label.value === oldTag)
    edits.push({ node: label, value: tag });

  let next = text;
  // From the end of the text backwards, so earlier offsets stay valid.
  for (const edit of edits.sort((a, b) => (b.node.range?.[0] ?? 0) - (a.node.range?.[0] ?? 0))) {
    next = splice(next, edit.node, edit.value, source);
  }
  // The splice must change exactly that value: re-read it rather than trust offsets.
  const check = findWebImage(next, source);
  if (check !== after)
    throw new OperationError(
      `${source}: replacing the image produced "${check ?? 'no image'}" instead of "${after}"; use --manifest <file> instead`,
    );
  return { text: next, before: image, after };
}

function tagOf(image: string): string | undefined {
  const name = image.split('@')[0];
  const lastColon = name.lastIndexOf(':');
  return lastColon > name.lastIndexOf('/') ? name.slice(lastColon + 1) : undefined;
}

function splice(text: string, node: Scalar, value: string, source: string): string {
  const [start, valueEnd] = node.range ?? [];
  if (start === undefined || valueEnd === undefined)
    throw new OperationError(`${source}: cannot locate ${JSON.stringify(node.value)} in the text`);
  let rendered: string;
  switch (node.type) {
    case Scalar.PLAIN:
      rendered = value;
      break;
    case Scalar.QUOTE_DOUBLE:
      rendered = JSON.stringify(value);
      break;
    case Scalar.QUOTE_SINGLE:
      rendered = `'${value}'`;
      break;
    default:
      throw new OperationError(
        `${source}: ${JSON.stringify(node.value)} is a ${String(node.type)} scalar, which breakglass does not edit; use --manifest <file> instead`,
      );
  }
  return text.slice(0, start) + rendered + text.slice(valueEnd);
}

function isObject(v: unknown): v is Record<string, unknown> & { metadata?: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
