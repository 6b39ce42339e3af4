import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  type CfnTemplateJson,
  type PipelineAction,
  type PipelineStage,
  readPipelineStages,
  runOrderGroups,
} from '../tools/dev/diagram';

/**
 * The shape of the synthesized pipeline, read from a cloud assembly directory (`cdk synth -o`):
 * stages, the sequential steps from push to the last prod region, CodeBuild projects, assets per
 * stage and how the Assets stage publishes them, and which consecutive steps do not depend on
 * each other (so could run in parallel).
 */

/** One sequential step of the pipeline: the actions of one stage that share a runOrder. */
export interface Step {
  readonly stage: string;
  readonly runOrder: number;
  readonly actions: readonly PipelineAction[];
}

export type DependencyKind = 'data' | 'side effect' | 'by design' | 'none';

/** Why `later` waits for `earlier`, for two consecutive steps. */
export interface Transition {
  readonly earlier: Step;
  readonly later: Step;
  readonly kind: DependencyKind;
  readonly reason: string;
}

export interface AssetManifestSummary {
  /** The stage (or the pipeline stack) the manifest belongs to. */
  readonly owner: string;
  readonly files: number;
  /** File assets that are the stack's own template: CDK Pipelines deploys those from the pipeline artifact, not through the Assets stage. */
  readonly templates: number;
  readonly dockerImages: number;
}

export interface AssetPublishing {
  /** `cdk-assets publish` commands in the Assets stage's CodeBuild projects. */
  readonly commands: number;
  /** Distinct `<asset>:<destination>` pairs. */
  readonly uniquePairs: number;
  readonly uniqueAssets: number;
  /** Distinct account-region destinations (one bootstrap bucket each). */
  readonly destinations: number;
  /** CodeBuild actions in the Assets stage (CDK Pipelines: one in all, or one per asset when publishing in parallel). */
  readonly actions: number;
  /** Assets published more than once to the same account and region. */
  readonly duplicates: readonly string[];
}

export interface PipelineShape {
  readonly stages: ReadonlyArray<{
    readonly name: string;
    readonly actions: number;
    readonly steps: number;
    readonly onFailure?: string;
  }>;
  /** Sequential runOrder steps from push to the last prod region, approval included. */
  readonly criticalPathSteps: number;
  /** The same if every step that depends on nothing in the step before it ran alongside it. */
  readonly criticalPathIfParallel: number;
  readonly codeBuildProjects: number;
  readonly assetManifests: readonly AssetManifestSummary[];
  readonly publishing: AssetPublishing;
  readonly transitions: readonly Transition[];
}

/** An artifact's name without the hash CDK Pipelines puts in front of some (`<hash>_Source` → `Source`). */
export function artifactName(name: string): string {
  return name.replace(/^[0-9a-f]{16,}_/, '');
}

export const isApproval = (a: PipelineAction) => a.category === 'Approval';
export const isImageGate = (a: PipelineAction) =>
  a.provider === 'CodeBuild' && /ImageGate/.test(a.name);
const isCloudFormation = (a: PipelineAction) => a.provider === 'CloudFormation';
const isChangeSetExecute = (a: PipelineAction) =>
  isCloudFormation(a) && a.configuration.ActionMode === 'CHANGE_SET_EXECUTE';
export const isChangeSetReplace = (a: PipelineAction) =>
  isCloudFormation(a) && a.configuration.ActionMode === 'CHANGE_SET_REPLACE';

/** The pipeline's steps in execution order: stage by stage, runOrder by runOrder. */
export function pipelineSteps(stages: readonly PipelineStage[]): Step[] {
  return stages.flatMap((stage) =>
    runOrderGroups(stage).map((actions) => ({
      stage: stage.name,
      runOrder: actions[0].runOrder,
      actions,
    })),
  );
}

/**
 * Sequential steps, every one counted, the manual approval too: issue 16 counts every safety step
 * (image gate, smoke test, bake, approval) on the path from push to the last prod region.
 */
export function criticalPathSteps(steps: readonly Step[]): number {
  return steps.length;
}

/**
 * Why the later action has to wait for the earlier one, or 'none'. Data dependencies come from the
 * template (artifacts, `#{namespace.variable}`, a change set); the rest are dependencies the
 * template cannot show (CloudFormation reads the file assets from S3, the image gate the image from
 * ECR) or orderings the design asks for (self-mutation first, the approval, the gate before the
 * deployment, waves in order).
 */
export function dependency(
  earlier: { stage: string; action: PipelineAction },
  later: { stage: string; action: PipelineAction },
  stageKinds: ReadonlyMap<string, 'deploy' | 'other'>,
): { kind: DependencyKind; reason: string } {
  const e = earlier.action;
  const l = later.action;
  const shared = l.inputArtifacts.filter((x) => e.outputArtifacts.includes(x));
  if (shared.length > 0)
    return { kind: 'data', reason: `reads artifact ${shared.map(artifactName).join(', ')}` };
  if (e.namespace && JSON.stringify(l.configuration).includes(`#{${e.namespace}.`))
    return { kind: 'data', reason: `reads variables of ${e.name}` };
  if (
    isChangeSetExecute(l) &&
    isChangeSetReplace(e) &&
    l.configuration.StackName === e.configuration.StackName
  )
    return { kind: 'data', reason: 'executes the change set the earlier action created' };
  if (isApproval(e)) return { kind: 'by design', reason: 'waits for the manual approval' };
  if (isApproval(l) && isImageGate(e))
    return { kind: 'by design', reason: 'the approver promotes an image the gate passed' };
  if (isApproval(l))
    return { kind: 'by design', reason: 'the approval is asked once pre-prod passed' };
  if (isImageGate(l) && stageKinds.get(earlier.stage) === 'deploy')
    return { kind: 'by design', reason: "the prod gate judges the image after pre-prod's bake" };
  if (earlier.stage === 'UpdatePipeline')
    return { kind: 'by design', reason: 'self-mutation first: a changed pipeline restarts' };
  if (isCloudFormation(l) && earlier.stage === 'Assets')
    return { kind: 'side effect', reason: 'the stack template and its file assets must be in S3' };
  if (isImageGate(l) && earlier.stage === 'Image')
    return { kind: 'side effect', reason: 'the gate checks the image the build pushed to ECR' };
  if (isCloudFormation(l) && isImageGate(e))
    return { kind: 'by design', reason: 'the image gate guards the deployment' };
  if (isCloudFormation(e) && earlier.stage === 'ImageReplicas' && later.stage === 'Image')
    return {
      kind: 'by design',
      reason: 'the replica repositories exist, with their settings, before the image replicates',
    };
  if (
    earlier.stage !== later.stage &&
    stageKinds.get(earlier.stage) === 'deploy' &&
    stageKinds.get(later.stage) === 'deploy'
  )
    return { kind: 'by design', reason: 'prod waves deploy one after another' };
  return { kind: 'none', reason: 'uses nothing the earlier step produces' };
}

function stepDependency(
  earlier: Step,
  later: Step,
  stageKinds: ReadonlyMap<string, 'deploy' | 'other'>,
): { kind: DependencyKind; reason: string } {
  const order: DependencyKind[] = ['data', 'side effect', 'by design'];
  const found = later.actions.flatMap((l) =>
    earlier.actions.map((e) =>
      dependency(
        { stage: earlier.stage, action: e },
        { stage: later.stage, action: l },
        stageKinds,
      ),
    ),
  );
  for (const kind of order) {
    const hit = found.find((d) => d.kind === kind);
    if (hit) return hit;
  }
  return { kind: 'none', reason: 'uses nothing the earlier step produces' };
}

/** The critical path if each step ran alongside the steps before it that it does not depend on (greedy merge). */
function mergedPathSteps(
  steps: readonly Step[],
  stageKinds: ReadonlyMap<string, 'deploy' | 'other'>,
): number {
  const groups: Step[][] = [];
  for (const step of steps) {
    const current = groups[groups.length - 1];
    if (current && current.every((s) => stepDependency(s, step, stageKinds).kind === 'none'))
      current.push(step);
    else groups.push([step]);
  }
  return groups.length;
}

function countResources(template: CfnTemplateJson, type: string): number {
  return Object.values(template.Resources ?? {}).filter((r) => r.Type === type).length;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Every `*.assets.json` of the assembly (the pipeline stack's and each stage's), with counts. */
export function assetManifests(outdir: string, pipelineStackId: string): AssetManifestSummary[] {
  const found: AssetManifestSummary[] = [];
  const summarize = (dir: string, owner: string) => {
    for (const f of fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.assets.json'))
      .sort()) {
      const m = readJson<{
        files?: Record<string, { source?: { path?: string } }>;
        dockerImages?: Record<string, unknown>;
      }>(path.join(dir, f));
      const files = Object.values(m.files ?? {});
      const templates = files.filter((x) => x.source?.path?.endsWith('.template.json')).length;
      found.push({
        owner,
        files: files.length,
        templates,
        dockerImages: Object.keys(m.dockerImages ?? {}).length,
      });
    }
  };
  summarize(outdir, `${pipelineStackId} (pipeline stack, published by self-mutation)`);
  const prefix = `assembly-${pipelineStackId}-`;
  for (const d of fs
    .readdirSync(outdir)
    .filter((n) => n.startsWith(prefix))
    .sort())
    summarize(path.join(outdir, d), d.slice(prefix.length));
  return found;
}

/** The buildspec of a CodeBuild project: inline (JSON or YAML) or a file of the cloud assembly. */
function buildSpecOf(
  template: CfnTemplateJson,
  projectRef: unknown,
  outdir: string,
): { phases?: Record<string, { commands?: string[] }> } {
  const logicalId = (projectRef as { Ref?: string } | undefined)?.Ref;
  const project = logicalId ? template.Resources?.[logicalId] : undefined;
  const spec = (project?.Properties?.Source as { BuildSpec?: unknown } | undefined)?.BuildSpec;
  if (typeof spec !== 'string') return {};
  const file = path.join(outdir, spec);
  const text = !spec.includes('\n') && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : spec;
  return parseYaml(text) as { phases?: Record<string, { commands?: string[] }> };
}

/** What the Assets stage publishes, from its CodeBuild projects' `cdk-assets ... publish "<asset>:<destination>"` commands. */
export function assetPublishing(
  template: CfnTemplateJson,
  stages: readonly PipelineStage[],
  outdir: string,
): AssetPublishing {
  const pairs: string[] = [];
  let actions = 0;
  for (const stage of stages.filter((s) => s.name === 'Assets')) {
    for (const action of stage.actions.filter((a) => a.provider === 'CodeBuild')) {
      actions++;
      const spec = buildSpecOf(template, action.configuration.ProjectName, outdir);
      const commands = Object.values(spec.phases ?? {}).flatMap((p) => p.commands ?? []);
      for (const c of commands)
        for (const m of c.matchAll(/\bpublish\s+"([^"]+)"/g)) pairs.push(m[1]);
    }
  }
  // Destination ids read "<account>-<region>-<hash>"; one account and region is one bootstrap bucket.
  const bucketOf = (pair: string) => pair.split(':')[1]?.replace(/-[0-9a-f]{8}$/, '') ?? pair;
  const perBucket = new Map<string, number>();
  for (const p of pairs) {
    const key = `${p.split(':')[0]} → ${bucketOf(p)}`;
    perBucket.set(key, (perBucket.get(key) ?? 0) + 1);
  }
  return {
    actions,
    commands: pairs.length,
    uniquePairs: new Set(pairs).size,
    uniqueAssets: new Set(pairs.map((p) => p.split(':')[0])).size,
    destinations: new Set(pairs.map(bucketOf)).size,
    duplicates: [...perBucket].filter(([, n]) => n > 1).map(([k, n]) => `${k} (${n}×)`),
  };
}

/** Reads the whole shape from a synthesized cloud assembly. */
export function pipelineShape(outdir: string, pipelineStackId = 'HelloWebPipeline'): PipelineShape {
  const template = readJson<CfnTemplateJson>(path.join(outdir, `${pipelineStackId}.template.json`));
  const stages = readPipelineStages(template);
  const stageKinds = new Map(
    stages.map((s) => [
      s.name,
      s.actions.some(isCloudFormation) ? ('deploy' as const) : ('other' as const),
    ]),
  );
  const steps = pipelineSteps(stages);
  const transitions: Transition[] = [];
  for (let i = 1; i < steps.length; i++)
    transitions.push({
      earlier: steps[i - 1],
      later: steps[i],
      ...stepDependency(steps[i - 1], steps[i], stageKinds),
    });
  return {
    stages: stages.map((s) => ({
      name: s.name,
      actions: s.actions.length,
      steps: runOrderGroups(s).length,
      onFailure: s.onFailure,
    })),
    criticalPathSteps: criticalPathSteps(steps),
    criticalPathIfParallel: mergedPathSteps(steps, stageKinds),
    codeBuildProjects: countResources(template, 'AWS::CodeBuild::Project'),
    assetManifests: assetManifests(outdir, pipelineStackId),
    publishing: assetPublishing(template, stages, outdir),
    transitions,
  };
}
