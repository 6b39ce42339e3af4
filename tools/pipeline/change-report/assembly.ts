import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The stacks a cloud assembly (cdk.out) deploys, read from its manifests: the same files the
 * pipeline's CloudFormation actions deploy from (CDK Pipelines passes the synth output's template
 * files to them), so what is diffed here is exactly what would be deployed.
 */
export interface AssemblyStack {
  /** The CDK Stage the stack belongs to (`prod-eu-west-1`), or "" for a stack of the app itself. */
  readonly stage: string;
  /** Construct path, for people (`<App>Pipeline/prod-eu-west-1/<App>`). */
  readonly displayName: string;
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  /** The template, parsed. */
  readonly template: Template;
  /**
   * The bootstrap lookup role CDK writes for `cdk diff` (a read-only role in the stack's account
   * and region), as the manifest has it: `arn:${AWS::Partition}:iam::...`. Undefined when the
   * synthesizer names none.
   */
  readonly lookupRoleArn?: string;
}

export interface Template {
  readonly Resources?: Record<string, TemplateResource>;
  readonly [key: string]: unknown;
}
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

interface ManifestArtifact {
  readonly type: string;
  readonly environment?: string;
  readonly displayName?: string;
  readonly properties?: {
    readonly directoryName?: string;
    readonly displayName?: string;
    readonly templateFile?: string;
    readonly stackName?: string;
    readonly lookupRole?: { readonly arn?: string };
  };
}

/** The assembly is missing, unreadable or not what the pipeline synthesized. Exit 2 (usage). */
export class AssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssemblyError';
  }
}

function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AssemblyError(
      `cannot read ${what} ${file} (run from the cloud assembly the synth step produced, or give --assembly)`,
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new AssemblyError(`${what} ${file} is not JSON: ${(e as Error).message}`);
  }
}

/** Every stack of the assembly and of the stages nested in it (one level, as CDK Pipelines writes them). */
export function readAssemblyStacks(assemblyDir: string): AssemblyStack[] {
  const stacks: AssemblyStack[] = [];
  const visit = (dir: string, stage: string): void => {
    const manifest = readJson<{ artifacts?: Record<string, ManifestArtifact> }>(
      path.join(dir, 'manifest.json'),
      'cloud assembly manifest',
    );
    for (const artifact of Object.values(manifest.artifacts ?? {})) {
      const props = artifact.properties ?? {};
      if (artifact.type === 'cdk:cloud-assembly' && props.directoryName) {
        const name = (props.displayName ?? props.directoryName).split('/').pop() ?? '';
        visit(path.join(dir, props.directoryName), name);
        continue;
      }
      if (artifact.type !== 'aws:cloudformation:stack' || !props.templateFile) continue;
      const env = /^aws:\/\/(\d{12})\/([a-z0-9-]+)$/.exec(artifact.environment ?? '');
      if (!env)
        throw new AssemblyError(
          `stack ${artifact.displayName ?? props.stackName} has no account and region (${artifact.environment}): every stack the pipeline deploys names both`,
        );
      stacks.push({
        stage,
        displayName: artifact.displayName ?? props.stackName ?? props.templateFile,
        stackName: props.stackName ?? props.templateFile.replace(/\.template\.json$/, ''),
        account: env[1],
        region: env[2],
        template: readJson<Template>(path.join(dir, props.templateFile), 'template'),
        lookupRoleArn: props.lookupRole?.arn,
      });
    }
  };
  visit(assemblyDir, '');
  return stacks;
}

/**
 * The stacks of the named stages, wave by wave, in the order given. A stage the assembly does
 * not hold is an error: a report that silently skipped a prod region would say "no change" for it.
 */
export function stacksOfStages(
  stacks: readonly AssemblyStack[],
  waves: readonly (readonly string[])[],
): { wave: number; stack: AssemblyStack }[] {
  const out: { wave: number; stack: AssemblyStack }[] = [];
  const missing: string[] = [];
  waves.forEach((stages, w) => {
    for (const stage of stages) {
      const of = stacks.filter((s) => s.stage === stage);
      if (of.length === 0) missing.push(stage);
      for (const stack of of) out.push({ wave: w + 1, stack });
    }
  });
  if (missing.length > 0)
    throw new AssemblyError(
      `the cloud assembly holds no stack of ${missing.join(', ')} (stages in it: ${[...new Set(stacks.map((s) => s.stage).filter(Boolean))].join(', ') || 'none'})`,
    );
  return out;
}
