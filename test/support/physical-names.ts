import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The physical names a cloud assembly would create, read from its files (manifest.json of the
 * assembly and of every nested stage assembly, and each stack's template), each with the scope
 * in which AWS requires it to be unique. Two assemblies deployed into the same accounts collide
 * exactly where they share an entry.
 */
export interface PhysicalName {
  /** `<account>/<region>`, `<account>/*` for IAM (global per account), `*` for S3 bucket names. */
  readonly scope: string;
  /** `stack`, `export`, `metric`, or the resource type and property, e.g. `AWS::IAM::Role.RoleName`. */
  readonly kind: string;
  readonly name: string;
}

interface StackArtifact {
  readonly templateFile: string;
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
}

interface Manifest {
  artifacts: Record<
    string,
    {
      type: string;
      environment?: string;
      properties?: { templateFile?: string; stackName?: string; directoryName?: string };
    }
  >;
}

/** Every stack of the assembly in `outdir`, nested stage assemblies included. */
export function stacksOf(outdir: string): StackArtifact[] {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'),
  ) as Manifest;
  const stacks: StackArtifact[] = [];
  for (const [id, a] of Object.entries(manifest.artifacts)) {
    if (a.type === 'cdk:cloud-assembly' && a.properties?.directoryName) {
      stacks.push(...stacksOf(path.join(outdir, a.properties.directoryName)));
    } else if (a.type === 'aws:cloudformation:stack') {
      const [account, region] = (a.environment ?? '').replace('aws://', '').split('/');
      stacks.push({
        templateFile: path.join(outdir, a.properties?.templateFile ?? `${id}.template.json`),
        stackName: a.properties?.stackName ?? id,
        account,
        region,
      });
    }
  }
  return stacks;
}

/**
 * Properties that hold something else than the resource's own unique name: scoped to another
 * resource (an inline policy in its role, an add-on or object in its cluster, a metric in its
 * namespace, collected as `metric` instead), a label, or the name of what the resource uses.
 */
const NOT_AN_IDENTITY = new Set([
  'PolicyName',
  'MetricName',
  'AddonName',
  'ObjectName',
  'DisplayName',
  'ClusterName',
  'LogGroupName@AWS::EC2::FlowLog',
  'LogGroupName@AWS::Logs::MetricFilter',
  'Name@AWS::SSM::Association',
]);

/** A name written as a literal (or a join of literals and the stack's own pseudo parameters). */
function literal(value: unknown, stack: StackArtifact): string | undefined {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | null)?.['Fn::Join'];
  if (!join) return undefined;
  const parts: string[] = [];
  for (const p of join[1]) {
    if (typeof p === 'string') parts.push(p);
    else if ((p as { Ref?: string }).Ref === 'AWS::Region') parts.push(stack.region);
    else if ((p as { Ref?: string }).Ref === 'AWS::AccountId') parts.push(stack.account);
    else if ((p as { Ref?: string }).Ref === 'AWS::URLSuffix') parts.push('amazonaws.com');
    else if ((p as { Ref?: string }).Ref === 'AWS::Partition') parts.push('aws');
    else return undefined; // refers to another resource: that resource's own name is collected
  }
  return parts.join(join[0]);
}

export function physicalNames(outdir: string): PhysicalName[] {
  const names: PhysicalName[] = [];
  for (const stack of stacksOf(outdir)) {
    const regional = `${stack.account}/${stack.region}`;
    names.push({ scope: regional, kind: 'stack', name: stack.stackName });
    const template = JSON.parse(fs.readFileSync(stack.templateFile, 'utf8')) as {
      Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      Outputs?: Record<string, { Export?: { Name?: unknown } }>;
    };
    for (const output of Object.values(template.Outputs ?? {})) {
      const name = output.Export ? literal(output.Export.Name, stack) : undefined;
      if (name !== undefined) names.push({ scope: regional, kind: 'export', name });
    }
    for (const r of Object.values(template.Resources ?? {})) {
      const props = r.Properties ?? {};
      for (const [key, value] of Object.entries(props)) {
        if (!/(^|[a-z])Name$/.test(key)) continue;
        if (NOT_AN_IDENTITY.has(key) || NOT_AN_IDENTITY.has(`${key}@${r.Type}`)) continue;
        const name = literal(value, stack);
        if (name === undefined) continue;
        const scope = r.Type.startsWith('AWS::IAM::')
          ? `${stack.account}/*`
          : r.Type === 'AWS::S3::Bucket'
            ? '*'
            : regional;
        names.push({ scope, kind: `${r.Type}.${key}`, name });
      }
      if (r.Type === 'AWS::Logs::MetricFilter') {
        for (const t of (props.MetricTransformations ?? []) as {
          MetricNamespace: string;
          MetricName: string;
        }[])
          names.push({
            scope: regional,
            kind: 'metric',
            name: `${t.MetricNamespace}/${t.MetricName}`,
          });
      }
    }
  }
  return names;
}

export const nameKey = (n: PhysicalName): string => `${n.kind} ${n.name} @ ${n.scope}`;

/** Every file under `dir`, as [relative path, content] pairs (binary files as latin1 text). */
export function filesUnder(dir: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push([p, fs.readFileSync(path.join(dir, p)).toString('latin1')]);
    }
  };
  walk('');
  return out;
}
