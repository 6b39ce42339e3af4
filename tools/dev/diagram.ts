import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApp } from '../../lib/app';
import { type DeliveryConfigInput, STACK_ENVIRONMENTS, validateConfig } from '../../lib/config';

/**
 * `npm run diagram`: synthesizes the default app in-process and writes docs/pipeline-diagram.md,
 * a Mermaid flowchart of the synthesized CodePipeline (not of the intended one: what CloudFormation
 * would create). test/docs/pipeline-diagram.test.ts fails when the committed file is stale.
 */

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DIAGRAM_FILE = path.join(REPO_ROOT, 'docs', 'pipeline-diagram.md');

/** A CloudFormation template as JSON (what `Template.toJSON()` or `*.template.json` hold). */
export interface CfnTemplateJson {
  readonly Resources?: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

export interface PipelineAction {
  /** The action's name; a non-string name (the CodeCommit action's Fn::GetAtt) becomes its provider's name. */
  readonly name: string;
  readonly runOrder: number;
  readonly category: string;
  readonly provider: string;
  readonly configuration: Record<string, unknown>;
  readonly inputArtifacts: readonly string[];
  readonly outputArtifacts: readonly string[];
  readonly namespace?: string;
  /** A CodeBuild action that bakes: its project's BAKE_MINUTES (lib/pipeline/bake-watch.ts). */
  readonly bakeMinutes?: number;
}

/** A stage condition's rule: the CloudWatchAlarm bake or the DeploymentWindow. */
export interface ConditionRule {
  readonly provider: string;
  readonly configuration: Record<string, unknown>;
  readonly region?: string;
}

export interface StageCondition {
  /** What happens when a rule fails: ROLLBACK, FAIL, ... */
  readonly result: string;
  readonly rules: readonly ConditionRule[];
}

export interface PipelineStage {
  readonly name: string;
  /** `ROLLBACK` when the stage rolls back on failure. */
  readonly onFailure?: string;
  /** Checked after the stage's actions succeeded (the bake). */
  readonly onSuccess?: StageCondition;
  /** Checked before the stage is entered (the deployment window). */
  readonly beforeEntry?: StageCondition;
  readonly actions: readonly PipelineAction[];
}

function readCondition(value: unknown): StageCondition | undefined {
  const condition = (
    value as
      | { Conditions?: Array<{ Result?: string; Rules?: Array<Record<string, unknown>> }> }
      | undefined
  )?.Conditions?.[0];
  if (!condition) return undefined;
  return {
    result: String(condition.Result),
    rules: (condition.Rules ?? []).map((r) => ({
      provider: (r.RuleTypeId as { Provider: string }).Provider,
      configuration: (r.Configuration ?? {}) as Record<string, unknown>,
      region: typeof r.Region === 'string' ? r.Region : undefined,
    })),
  };
}

/** The single CodePipeline's stages in order, read from a synthesized template. */
export function readPipelineStages(template: CfnTemplateJson): PipelineStage[] {
  const pipelines = Object.values(template.Resources ?? {}).filter(
    (r) => r.Type === 'AWS::CodePipeline::Pipeline',
  );
  if (pipelines.length !== 1)
    throw new Error(
      `expected one AWS::CodePipeline::Pipeline in the template, found ${pipelines.length}`,
    );
  const stages = (pipelines[0].Properties?.Stages ?? []) as Array<Record<string, unknown>>;
  const bakeMinutesOf = (configuration: unknown): number | undefined => {
    const ref = (configuration as { ProjectName?: { Ref?: string } } | undefined)?.ProjectName?.Ref;
    const variables = (
      template.Resources?.[ref ?? '']?.Properties?.Environment as
        { EnvironmentVariables?: Array<{ Name: string; Value: unknown }> } | undefined
    )?.EnvironmentVariables;
    const minutes = variables?.find((v) => v.Name === 'BAKE_MINUTES')?.Value;
    return typeof minutes === 'string' ? Number(minutes) : undefined;
  };
  return stages.map((s) => ({
    name: String(s.Name),
    onFailure: (s.OnFailure as { Result?: string } | undefined)?.Result,
    onSuccess: readCondition(s.OnSuccess),
    beforeEntry: readCondition(s.BeforeEntry),
    actions: ((s.Actions ?? []) as Array<Record<string, unknown>>).map((a) => {
      const type = a.ActionTypeId as { Category: string; Provider: string };
      const artifacts = (list: unknown) =>
        ((list ?? []) as Array<{ Name: string }>).map((x) => x.Name);
      return {
        name: typeof a.Name === 'string' ? a.Name : type.Provider,
        runOrder: typeof a.RunOrder === 'number' ? a.RunOrder : 1,
        category: type.Category,
        provider: type.Provider,
        configuration: (a.Configuration ?? {}) as Record<string, unknown>,
        inputArtifacts: artifacts(a.InputArtifacts),
        outputArtifacts: artifacts(a.OutputArtifacts),
        namespace: typeof a.Namespace === 'string' ? a.Namespace : undefined,
        bakeMinutes: type.Provider === 'CodeBuild' ? bakeMinutesOf(a.Configuration) : undefined,
      };
    }),
  }));
}

/** A stage's actions grouped by runOrder, ascending; the actions of one group run in parallel. */
export function runOrderGroups(stage: PipelineStage): PipelineAction[][] {
  const orders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
  return orders.map((o) =>
    stage.actions.filter((a) => a.runOrder === o).sort((a, b) => a.name.localeCompare(b.name)),
  );
}

/** Mermaid label text: quotes and angle brackets as entities, so any action name is safe. */
function label(text: string): string {
  return text
    .replace(/&/g, '#amp;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;');
}

/**
 * One line per rule: a window's cron and time zone; an alarm check's alarm, region and grace
 * period (its WaitTime: the bake itself is the SmokeAndBake action's, ADR 0024).
 */
function describeRule(rule: ConditionRule): string {
  const c = rule.configuration;
  if (rule.provider === 'DeploymentWindow')
    return `window ${String(c.Cron)} (${String((c.TimeZone as string | undefined) ?? 'UTC')})`;
  if (rule.provider === 'CloudWatchAlarm')
    return `${String(c.AlarmName)}${rule.region ? ` (${rule.region})` : ''}, ${String(c.WaitTime)} min grace`;
  return rule.provider;
}

function describe(action: PipelineAction): string {
  if (action.category === 'Approval') return 'manual approval';
  const branch = action.configuration.BranchName;
  if (action.category === 'Source')
    return typeof branch === 'string' ? `source, branch ${branch}` : 'source';
  const mode = action.configuration.ActionMode;
  if (action.bakeMinutes !== undefined) return `${action.provider}, bake ${action.bakeMinutes} min`;
  return typeof mode === 'string' ? `${action.provider} ${mode}` : action.provider;
}

/**
 * The Mermaid flowchart of a synthesized pipeline: one box per stage in order, inside it the
 * actions by runOrder (a runOrder's actions side by side, in a box when there are several),
 * OnFailure ROLLBACK in the stage title, the manual approval as a hexagon, a deployment window
 * (BeforeEntry) before the first action and the bake (OnSuccess) after the last. Ids are positional
 * (s<stage>, s<stage>a<action>) so the output holds no hashes and is stable.
 */
export function renderPipelineDiagram(template: CfnTemplateJson): string {
  const stages = readPipelineStages(template);
  const lines = ['flowchart LR'];
  const approvals: string[] = [];
  const rollbacks: string[] = [];
  const bakes: string[] = [];
  const windows: string[] = [];
  stages.forEach((stage, si) => {
    const sid = `s${si}`;
    const title = stage.onFailure ? `${stage.name} · OnFailure: ${stage.onFailure}` : stage.name;
    lines.push(`  subgraph ${sid}["${label(title)}"]`, '    direction LR');
    if (stage.onFailure === 'ROLLBACK') rollbacks.push(sid);
    const steps: string[] = [];
    let n = 0;
    runOrderGroups(stage).forEach((group, gi) => {
      const nodes = group.map((action) => {
        const id = `${sid}a${n++}`;
        const text = `${label(action.name)}<br/>${label(describe(action))}`;
        if (action.category === 'Approval') {
          approvals.push(id);
          return `${id}{{"${text}"}}`;
        }
        return `${id}["${text}"]`;
      });
      if (nodes.length === 1) {
        lines.push(`    ${nodes[0]}`);
        steps.push(nodes[0].replace(/[[{].*$/, ''));
      } else {
        const gid = `${sid}r${gi}`;
        lines.push(
          `    subgraph ${gid}["runOrder ${group[0].runOrder}: ${group.length} in parallel"]`,
          '      direction TB',
        );
        for (const node of nodes) lines.push(`      ${node}`);
        lines.push('    end');
        steps.push(gid);
      }
    });
    // The window is checked before the first action, the bake after the last one.
    if (stage.beforeEntry) {
      const id = `${sid}w`;
      lines.push(
        `    ${id}[/"${stage.beforeEntry.rules.map((r) => label(describeRule(r))).join('<br/>')}<br/>BeforeEntry: ${stage.beforeEntry.result} outside"/]`,
      );
      steps.unshift(id);
      windows.push(id);
    }
    if (stage.onSuccess) {
      const id = `${sid}k`;
      lines.push(
        `    ${id}[/"${stage.onSuccess.rules.map((r) => label(describeRule(r))).join('<br/>')}<br/>OnSuccess: ${stage.onSuccess.result} on alarm"/]`,
      );
      steps.push(id);
      bakes.push(id);
    }
    for (let i = 1; i < steps.length; i++) lines.push(`    ${steps[i - 1]} --> ${steps[i]}`);
    lines.push('  end');
  });
  for (let i = 1; i < stages.length; i++) lines.push(`  s${i - 1} --> s${i}`);
  if (approvals.length > 0)
    lines.push(
      '  classDef approval fill:#fff4c2,stroke:#b58900',
      `  class ${approvals.join(',')} approval`,
    );
  if (rollbacks.length > 0)
    lines.push(
      '  classDef rollback stroke:#c0392b,stroke-width:2px',
      `  class ${rollbacks.join(',')} rollback`,
    );
  if (bakes.length > 0)
    lines.push('  classDef bake fill:#e8f4fd,stroke:#2471a3', `  class ${bakes.join(',')} bake`);
  if (windows.length > 0)
    lines.push(
      '  classDef window fill:#f4ecf7,stroke:#7d3c98',
      `  class ${windows.join(',')} window`,
    );
  return `${lines.join('\n')}\n`;
}

/** The whole docs/pipeline-diagram.md. */
export function renderPipelineDiagramDoc(template: CfnTemplateJson): string {
  return [
    '# The synthesized pipeline',
    '',
    '<!-- Generated by `npm run diagram` (tools/dev/diagram.ts). Do not edit by hand: change the pipeline, then run `npm run diagram`. -->',
    '',
    'Generated by `npm run diagram` from the CodePipeline that `cdk synth` produces for the default',
    '`STACK_ENVIRONMENTS`; do not edit it by hand. Each box is a pipeline stage, in order; inside it the',
    'actions run left to right by `runOrder`, and actions sharing a `runOrder` run in parallel. Stages',
    'marked `OnFailure: ROLLBACK` roll back to their last successful execution when they fail. A deploy',
    'stage ends with its bake: a `SmokeAndBake-<environment>` action per environment runs the smoke test,',
    "then watches that environment's alarm for the bake time it names (a failed smoke test or an ALARM",
    "fails it, so the stage rolls back); then the slanted box, the stage's `OnSuccess` condition, checks",
    'the same alarms once more, giving an alarm in ALARM a grace period to recover (`ROLLBACK` if it does',
    'not). A prod wave with a deployment window starts with a box naming it (`BeforeEntry`); the default',
    'configuration has none.',
    '`test/docs/pipeline-diagram.test.ts` fails when this file no longer matches the pipeline.',
    '',
    '```mermaid',
    renderPipelineDiagram(template).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** The feature flags and context of cdk.json, so the in-process synth matches `cdk synth`. */
function cdkJsonContext(): Record<string, unknown> {
  return (
    JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    }
  ).context;
}

/** Synthesizes the app in-process (cdk-nag off, temporary outdir) and returns the pipeline stack's template. */
export function synthesizePipelineTemplate(
  config: DeliveryConfigInput = STACK_ENVIRONMENTS,
): CfnTemplateJson {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-diagram-'));
  try {
    const { app, pipelineStack } = buildApp({
      config: validateConfig(config),
      repoRoot: REPO_ROOT,
      appProps: { outdir, context: cdkJsonContext() },
      nag: false,
    });
    return app.synth().getStackArtifact(pipelineStack.artifactId).template as CfnTemplateJson;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const doc = renderPipelineDiagramDoc(synthesizePipelineTemplate());
  fs.writeFileSync(DIAGRAM_FILE, doc);
  console.log(`wrote ${path.relative(process.cwd(), DIAGRAM_FILE)}`);
}
