import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { PIPELINE_TOOLS, type PipelineTool, toolBuildOptions } from '../../tools/pipeline/bundle';
import { REPO_ROOT } from '../support/paths';
import { type Synthesized, pipelineStages, projectBuildSpec } from '../support/synth';

/**
 * What the pipeline's steps do with AWS at run time, read from what actually runs: the
 * synthesized buildspec of each CodeBuild action (buildspec.yml merged into the image build, the
 * steps' commands from lib/pipeline), the scripts and npm scripts those commands run, and the
 * source of every bundled tool they start (the inputs esbuild puts into `cdk.out/tools/*.cjs`).
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

/** Text a command runs besides itself: `bash scripts/x.sh` and `npm run <script>`, followed once each. */
function expand(text: string, seen = new Set<string>()): string {
  let out = text;
  const packageScripts = (
    JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  for (const m of text.matchAll(/\bbash\s+(scripts\/[\w./-]+\.sh)/g)) {
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
 * (a registry), `cdk <command>` (the CDK CLI), and `tool <name>` for each bundled tool it starts.
 */
export function shellCalls(commands: readonly string[]): string[] {
  const text = withoutComments(expand(commands.join('\n')));
  const found = new Set<string>();
  const before = '(?:^|[\\s;&|(`$!{])';
  for (const m of text.matchAll(new RegExp(`${before}aws\\s+([a-z0-9-]+)\\s+([a-z0-9-]+)`, 'g')))
    found.add(`aws ${m[1]} ${m[2]}`);
  for (const m of text.matchAll(new RegExp(`${before}docker\\s+([a-z]+)`, 'g')))
    found.add(`docker ${m[1]}`);
  for (const m of text.matchAll(new RegExp(`${before}(?:npx\\s+)?cdk\\s+([a-z-]+)`, 'g')))
    found.add(`cdk ${m[1]}`);
  for (const m of text.matchAll(new RegExp(`${before}(?:npx\\s+)?cdk-assets\\b`, 'g')))
    found.add(`cdk-assets ${m[0].trim()}`);
  for (const m of text.matchAll(/\bnode\s+\S*?tools\/([a-z-]+)\.cjs\b/g)) found.add(`tool ${m[1]}`);
  return [...found].sort();
}

/** The source files (not node_modules) esbuild bundles into the tool: everything it can run. */
export function toolSources(tool: PipelineTool): string[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-'));
  try {
    const result = buildSync({
      ...toolBuildOptions(REPO_ROOT, outdir, tool),
      write: false,
      metafile: true,
    });
    return Object.keys(result.metafile?.inputs ?? {})
      .filter((f) => !f.includes('node_modules'))
      .map((f) => path.resolve(REPO_ROOT, f));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
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

/** Every tool's SDK calls, bundled once. */
export function allToolCalls(): Record<PipelineTool, { files: string[]; calls: string[] }> {
  return Object.fromEntries(
    (Object.keys(PIPELINE_TOOLS) as PipelineTool[]).map((tool) => {
      const files = toolSources(tool);
      return [tool, { files, calls: sdkCalls(files) }];
    }),
  ) as Record<PipelineTool, { files: string[]; calls: string[] }>;
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
    return `<${ref}>`;
  }
  if (v['Fn::GetAtt']) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    const resource = template.Resources[id];
    if (attr === 'Arn' && resource?.Type === 'AWS::ECR::Repository')
      return `arn:aws:ecr:${env.region}:${env.account}:repository/${String(resource.Properties?.RepositoryName)}`;
    return `<${id}.${attr}>`;
  }
  throw new Error(`cannot read the resource ${JSON.stringify(value)}`);
}
