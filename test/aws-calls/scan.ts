import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { PIPELINE_TOOLS, type PipelineTool } from '../../tools/pipeline/bundle';
import { REPO_ROOT } from '../support/paths';
import { type Synthesized, pipelineStages, projectBuildSpec } from '../support/synth';

/**
 * What the pipeline's steps do with AWS at run time, read from what actually runs: the
 * synthesized buildspec of each CodeBuild action (buildspec.yml merged into the image build, the
 * steps' commands from lib/pipeline), the scripts and npm scripts those commands run, and the
 * source of every tool they start, followed through its imports.
 */

/** One CodeBuild action of the pipeline and the role its project runs with. */
export interface StepInstance {
  readonly stage: string;
  readonly action: string;
  readonly projectLogicalId: string;
  readonly roleLogicalId: string;
  /** Every command of the buildspec, as text. */
  readonly commands: string[];
}

export function codeBuildActions(s: Synthesized): StepInstance[] {
  const resources = (
    s.pipeline.toJSON() as {
      Resources: Record<
        string,
        { Properties?: { ServiceRole?: { 'Fn::GetAtt': [string, string] } } }
      >;
    }
  ).Resources;
  return pipelineStages(s.pipeline).flatMap((stage) =>
    stage.actions
      .filter((a) => a.provider === 'CodeBuild')
      .map((a) => {
        const projectLogicalId = (a.configuration.ProjectName as { Ref: string }).Ref;
        const role = resources[projectLogicalId].Properties?.ServiceRole?.['Fn::GetAtt']?.[0];
        if (!role) throw new Error(`CodeBuild project ${projectLogicalId} has no service role`);
        const spec = parse(projectBuildSpec(s, projectLogicalId)) as {
          phases?: Record<string, { commands?: string[] }>;
        };
        return {
          stage: stage.name,
          action: a.name,
          projectLogicalId,
          roleLogicalId: role,
          commands: Object.values(spec.phases ?? {}).flatMap((p) => p.commands ?? []),
        };
      }),
  );
}

/** Text a command runs besides itself: `bash <script>.sh` and `npm run <script>`, followed once each. */
function expand(text: string, seen = new Set<string>()): string {
  let out = text;
  const packageScripts = (
    JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  for (const m of text.matchAll(/\bbash\s+([\w][\w./-]*\.sh)\b/g)) {
    if (seen.has(m[1])) continue;
    seen.add(m[1]);
    out += `\n${expand(fs.readFileSync(path.join(REPO_ROOT, m[1]), 'utf8'), seen)}`;
  }
  for (const m of text.matchAll(/\bnpm run\s+(?:-s\s+)?([\w:-]+)/g)) {
    const key = `npm:${m[1]}`;
    if (seen.has(key) || !packageScripts[m[1]]) continue;
    seen.add(key);
    out += `\n${expand(packageScripts[m[1]], seen)}`;
  }
  return out;
}

/** Comment lines of shell scripts say things, they do not run them. */
const withoutComments = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');

/**
 * The AWS-facing commands in a step's shell: `aws <service> <command>` (AWS CLI), `docker <command>`
 * (a registry), `cdk <command>` (the CDK CLI), and `tool <name>` for each tool it starts: a
 * bundled one (`node …/tools/<name>.cjs`) or one run from source (`tsx tools/<part>/<name>/….ts`,
 * also through `npm run`). `tools` maps each tool to the file it starts from.
 */
export function shellCalls(commands: readonly string[]): {
  calls: string[];
  tools: Map<string, string>;
} {
  const text = withoutComments(expand(commands.join('\n')));
  const found = new Set<string>();
  const tools = new Map<string, string>();
  const before = '(?:^|[\\s;&|(`$!{])';
  for (const m of text.matchAll(new RegExp(`${before}aws\\s+([a-z0-9-]+)\\s+([a-z0-9-]+)`, 'g')))
    found.add(`aws ${m[1]} ${m[2]}`);
  for (const m of text.matchAll(new RegExp(`${before}docker\\s+([a-z]+)`, 'g')))
    found.add(`docker ${m[1]}`);
  for (const m of text.matchAll(new RegExp(`${before}(?:npx\\s+)?cdk\\s+([a-z-]+)`, 'g')))
    found.add(`cdk ${m[1]}`);
  for (const m of text.matchAll(new RegExp(`${before}(?:npx\\s+)?cdk-assets\\b`, 'g')))
    found.add(`cdk-assets ${m[0].trim()}`);
  for (const m of text.matchAll(/\bnode\s+\S*?tools\/([a-z-]+)\.cjs\b/g)) {
    const entry = PIPELINE_TOOLS[m[1] as PipelineTool] as string | undefined;
    if (!entry) throw new Error(`node ${m[0]}: tools/pipeline/bundle.ts bundles no tool ${m[1]}`);
    tools.set(m[1], entry);
  }
  for (const m of text.matchAll(
    /\btsx\s+(tools\/(?:pipeline|operator|dev)\/([\w-]+)[\w./-]*\.ts)\b/g,
  ))
    tools.set(m[2].replace(/\.ts$/, ''), m[1]);
  for (const name of tools.keys()) found.add(`tool ${name}`);
  return { calls: [...found].sort(), tools };
}

const graphs = new Map<string, string[]>();

/** `./x` from `file`: the .ts file or directory index it names, or undefined (a .json, a package). */
function resolveLocal(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(file), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find(
    (f) => f.endsWith('.ts') && fs.existsSync(f),
  );
}

/**
 * The repository's source files a tool can run: its entry and everything it imports, followed
 * through relative imports and re-exports (the files esbuild bundles into `tools/*.cjs`, and tsx
 * loads; `import type` ones too, which only widens the scan).
 */
export function toolSources(entry: string): string[] {
  const known = graphs.get(entry);
  if (known) return known;
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const st of source.statements) {
      const spec =
        (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) &&
        st.moduleSpecifier &&
        ts.isStringLiteral(st.moduleSpecifier)
          ? st.moduleSpecifier.text
          : undefined;
      const next = spec ? resolveLocal(file, spec) : undefined;
      if (next) visit(next);
    }
  };
  visit(path.join(REPO_ROOT, entry));
  const files = [...seen].sort();
  graphs.set(entry, files);
  return files;
}

/** Every file some tool's scan has included so far. */
export function scannedToolSources(): Set<string> {
  return new Set([...graphs.values()].flat());
}

/**
 * The AWS API operations a tool's source can call through the AWS SDK for JavaScript v3: every
 * `<Operation>Command` and `paginate<Operation>` it imports from `@aws-sdk/client-<service>`, as
 * `<service> <Operation>`. Each SDK call needs one of them, so this finds every call there is.
 */
export function sdkCalls(files: readonly string[]): string[] {
  const found = new Set<string>();
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const st of source.statements) {
      if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      const m = /^@aws-sdk\/client-([a-z0-9-]+)$/.exec(st.moduleSpecifier.text);
      const bindings = st.importClause?.namedBindings;
      if (!m || !bindings || !ts.isNamedImports(bindings)) continue;
      for (const el of bindings.elements) {
        const name = (el.propertyName ?? el.name).text;
        const op = /^([A-Z]\w*)Command$/.exec(name)?.[1] ?? /^paginate([A-Z]\w*)$/.exec(name)?.[1];
        if (op) found.add(`${m[1]} ${op}`);
      }
    }
  }
  return [...found].sort();
}

/**
 * A policy's `Resource` as a string: `Fn::Join` joined, pseudo parameters and references filled
 * in, and `Fn::GetAtt <Resource>.Arn` as an ARN of that resource's type (what CloudFormation gives).
 */
export function resourceText(
  value: unknown,
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> },
  env: { account: string; region: string },
): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resourceText(p, template, env)).join(sep);
  }
  if (v['Fn::Sub']) {
    return (v['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
      resourceText({ Ref: name }, template, env),
    );
  }
  if (v.Ref) {
    const ref = v.Ref as string;
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return env.region;
    if (ref === 'AWS::AccountId') return env.account;
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    // Ref of a topic is its ARN; its name is CloudFormation's choice, shown as the logical id
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html#aws-resource-sns-topic-return-values)
    if (template.Resources[ref]?.Type === 'AWS::SNS::Topic')
      return `arn:aws:sns:${env.region}:${env.account}:<${ref}>`;
    return `<${ref}>`;
  }
  if (v['Fn::GetAtt']) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    const resource = template.Resources[id];
    if (attr === 'Arn' && resource?.Type === 'AWS::ECR::Repository')
      return `arn:aws:ecr:${env.region}:${env.account}:repository/${String(resource.Properties?.RepositoryName)}`;
    // a key's id is KMS's choice, shown as the logical id
    if (attr === 'Arn' && resource?.Type === 'AWS::KMS::Key')
      return `arn:aws:kms:${env.region}:${env.account}:key/<${id}>`;
    return `<${id}.${attr}>`;
  }
  throw new Error(`cannot read the resource ${JSON.stringify(value)}`);
}
