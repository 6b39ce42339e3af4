import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CloudFormationClient, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import {
  type CodePipelineClient,
  ListPipelineExecutionsCommand,
  type PipelineExecutionSummary,
} from '@aws-sdk/client-codepipeline';
import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { parse as parseYaml } from 'yaml';
import type { RunControl } from '../../common/control';
import { describeAwsError, isStop } from '../../common/errors';

/**
 * The rollback guard: whether each deploy stage would have a rollback target if this release
 * failed there, and, when `pipeline.requireRollbackTarget` is on, refusing a release that builds a
 * new image while one would not.
 *
 * CodePipeline "can only roll back to a previous execution if the previous execution was started in
 * the current pipeline structure version", and a stage configured to roll back automatically does
 * so "only after there is a successful pipeline execution in the pipeline stage"
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html). So a commit
 * that changes the pipeline's definition (self-mutation) leaves every stage without a target until
 * it has succeeded there; if the same commit also changes app/, a failure of the new service cannot
 * roll back (docs/decisions/0026-rollback-targets-across-pipeline-changes.md).
 *
 * Everything is read, never guessed: the synthesized pipeline template against the deployed one
 * (CloudFormation GetTemplate), whether the image tag exists (ECR DescribeImages: the tag is a
 * fingerprint of app/, so a new tag is a changed app/), and each deploy stage's successful
 * executions on the current structure (ListPipelineExecutions with the succeededInStage filter,
 * https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SucceededInStageFilter.html).
 */

/** A fact read from AWS, or why it could not be. */
export type Known<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** The pipeline as the synth step just wrote it. */
export interface SynthesizedPipeline {
  /** CloudFormation name of the stack that holds the pipeline. */
  readonly stackName: string;
  /** Logical id of the AWS::CodePipeline::Pipeline resource. */
  readonly logicalId: string;
  readonly properties: Record<string, unknown>;
}

export interface GuardInputs {
  readonly pipelineName: string;
  /** The pipeline account: its registry holds the image. */
  readonly account: string;
  /** The CodePipeline stages that deploy (pre-prod, then each prod wave), in order. */
  readonly deployStages: readonly string[];
  readonly requireRollbackTarget: boolean;
  readonly synthesized: SynthesizedPipeline;
  readonly image: { readonly repositoryName: string; readonly tag: string };
}

export interface GuardClients {
  readonly cloudFormation: CloudFormationClient;
  readonly ecr: ECRClient;
  readonly codePipeline: CodePipelineClient;
}

export interface Findings {
  /** What this commit changes in the pipeline's definition; empty: nothing. */
  readonly pipelineChanges: Known<readonly string[]>;
  /** 'new': no image has this tag yet (app/ changed); 'built': it exists. */
  readonly image: Known<'new' | 'built'>;
  /** Whether the repository holds no image at all (nothing was ever released). Read only for a new image. */
  readonly repositoryEmpty?: Known<boolean>;
  /** Per deploy stage: the newest standard execution that succeeded in it on the current structure, or null. */
  readonly targets: ReadonlyMap<string, Known<PipelineExecutionSummary | null>>;
}

/** Most pages of one stage's successful executions read; a stage's history is a page or two. */
export const MAX_PAGES = 5;

/** Finds the pipeline (by its name) in the cloud assembly's top-level stacks. */
export function readSynthesizedPipeline(
  assemblyDir: string,
  pipelineName: string,
): SynthesizedPipeline {
  const manifestFile = path.join(assemblyDir, 'manifest.json');
  if (!fs.existsSync(manifestFile))
    throw new Error(`${manifestFile} does not exist: run \`npx cdk synth\` first`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as {
    artifacts?: Record<
      string,
      { type: string; properties?: { templateFile?: string; stackName?: string } }
    >;
  };
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    const file = artifact.properties?.templateFile;
    if (artifact.type !== 'aws:cloudformation:stack' || !file) continue;
    const template = JSON.parse(fs.readFileSync(path.join(assemblyDir, file), 'utf8')) as {
      Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
      if (r.Type === 'AWS::CodePipeline::Pipeline' && r.Properties?.Name === pipelineName)
        return {
          stackName: artifact.properties?.stackName ?? id,
          logicalId,
          properties: r.Properties,
        };
    }
  }
  throw new Error(
    `no AWS::CodePipeline::Pipeline named ${pipelineName} in the cloud assembly at ${assemblyDir} (was it synthesized with the same config?)`,
  );
}

/** A canonical form: object keys sorted, so two equal definitions print the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * What differs between the deployed pipeline's properties and the synthesized ones, in words: a
 * stage added, removed or changed (by name), the stages' order, any other property. Empty when the
 * two are the same: then CloudFormation would not update the pipeline and its version stays.
 */
export function pipelineDifferences(
  deployed: Record<string, unknown>,
  synthesized: Record<string, unknown>,
): string[] {
  type Stage = { Name?: string };
  const stages = (p: Record<string, unknown>): Stage[] =>
    Array.isArray(p.Stages) ? (p.Stages as Stage[]) : [];
  const before = new Map(stages(deployed).map((s) => [String(s.Name), s]));
  const after = new Map(stages(synthesized).map((s) => [String(s.Name), s]));
  const out: string[] = [];
  for (const [name, stage] of after) {
    const old = before.get(name);
    if (!old) out.push(`stage ${name} added`);
    else if (canonical(old) !== canonical(stage)) out.push(`stage ${name} changed`);
  }
  for (const name of before.keys()) if (!after.has(name)) out.push(`stage ${name} removed`);
  const common = (names: Iterable<string>, other: Map<string, Stage>) =>
    [...names].filter((n) => other.has(n)).join(',');
  if (out.length === 0 && common(before.keys(), after) !== common(after.keys(), before))
    out.push('the order of the stages changed');
  const keys = new Set([...Object.keys(deployed), ...Object.keys(synthesized)]);
  keys.delete('Stages');
  for (const key of [...keys].sort())
    if (canonical(deployed[key]) !== canonical(synthesized[key])) out.push(`${key} changed`);
  return out;
}

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

async function known<T>(doing: string, run: () => Promise<T>): Promise<Known<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    if (isStop(e)) throw e;
    return { ok: false, reason: describeAwsError(e, doing) };
  }
}

/** Reads every fact the verdict needs; a fact AWS does not give is a reason, never a default. */
export async function investigate(
  inputs: GuardInputs,
  clients: GuardClients,
  control: RunControl,
): Promise<Findings> {
  const { synthesized, image } = inputs;
  const pipelineChanges = known(
    `reading the deployed template of ${synthesized.stackName}`,
    async () => {
      const out = await control.call(
        `CloudFormation GetTemplate ${synthesized.stackName}`,
        (abortSignal) =>
          clients.cloudFormation.send(
            new GetTemplateCommand({ StackName: synthesized.stackName, TemplateStage: 'Original' }),
            { abortSignal },
          ),
      );
      const body = out.TemplateBody;
      if (!body) throw new Error(`GetTemplate ${synthesized.stackName} returned no template body`);
      // CDK deploys JSON; YAML (a superset of JSON) also reads a template someone deployed by hand.
      const deployed = parseYaml(body) as {
        Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
      };
      const resource = deployed.Resources?.[synthesized.logicalId];
      if (!resource || resource.Type !== 'AWS::CodePipeline::Pipeline')
        return [
          `the deployed stack has no pipeline ${synthesized.logicalId} (it is new or renamed)`,
        ];
      return pipelineDifferences(resource.Properties ?? {}, synthesized.properties);
    },
  );

  const describe = (ids?: { imageTag: string }[]) =>
    control.call(`ECR DescribeImages ${image.repositoryName}`, (abortSignal) =>
      clients.ecr.send(
        new DescribeImagesCommand({
          repositoryName: image.repositoryName,
          registryId: inputs.account,
          ...(ids ? { imageIds: ids } : { maxResults: 1 }),
        }),
        { abortSignal },
      ),
    );
  const imageState = known<'new' | 'built'>(
    `looking up ${image.repositoryName}:${image.tag}`,
    async () => {
      try {
        const out = await describe([{ imageTag: image.tag }]);
        return (out.imageDetails ?? []).length > 0 ? 'built' : 'new';
      } catch (e) {
        // Only this error means "not built yet" (ECR DescribeImages, Errors).
        if (errorName(e) === 'ImageNotFoundException') return 'new';
        throw e;
      }
    },
  );

  const targets = new Map<string, Known<PipelineExecutionSummary | null>>();
  await Promise.all(
    inputs.deployStages.map(async (stage) => {
      targets.set(
        stage,
        await known(`listing the executions that succeeded in ${stage}`, () =>
          newestTarget(inputs.pipelineName, stage, clients, control),
        ),
      );
    }),
  );
  const [changes, img] = await Promise.all([pipelineChanges, imageState]);
  const repositoryEmpty =
    img.ok && img.value === 'new'
      ? await known(
          `listing the images of ${image.repositoryName}`,
          async () => ((await describe()).imageDetails ?? []).length === 0,
        )
      : undefined;
  return { pipelineChanges: changes, image: img, repositoryEmpty, targets };
}

/** The newest standard execution that succeeded in `stage` on the current structure, or null. */
async function newestTarget(
  pipelineName: string,
  stage: string,
  clients: GuardClients,
  control: RunControl,
): Promise<PipelineExecutionSummary | null> {
  const seen = new Set<string>();
  let nextToken: string | undefined;
  const found: PipelineExecutionSummary[] = [];
  for (let page = 1; ; page++) {
    const out = await control.call(`CodePipeline ListPipelineExecutions ${stage}`, (abortSignal) =>
      clients.codePipeline.send(
        new ListPipelineExecutionsCommand({
          pipelineName,
          filter: { succeededInStage: { stageName: stage } },
          maxResults: 100,
          nextToken,
        }),
        { abortSignal },
      ),
    );
    // A rollback execution cannot be a rollback target (stage-rollback.html, considerations).
    found.push(
      ...(out.pipelineExecutionSummaries ?? []).filter((e) => e.executionType !== 'ROLLBACK'),
    );
    if (found.length > 0 || !out.nextToken) break;
    if (seen.has(out.nextToken))
      throw new Error(
        `the listing handed back the same page token twice (after ${page} pages): not everything was read`,
      );
    seen.add(out.nextToken);
    if (page >= MAX_PAGES)
      throw new Error(
        `more than ${MAX_PAGES} pages of rollback executions without a standard one: not everything was read`,
      );
    nextToken = out.nextToken;
  }
  return (
    found.sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0))[0] ?? null
  );
}

export interface Verdict {
  /** true: the release is refused (exit 1). */
  readonly refuse: boolean;
  /** The report for the Build step's log. */
  readonly lines: readonly string[];
  /** One line for the approval text (exported as ROLLBACK_TARGETS), at most 200 characters. */
  readonly summary: string;
}

const RUNBOOK = 'docs/runbooks/fix-forward.md';

/**
 * Judges the findings. Refuses only with `requireRollbackTarget`, and only when the image is new
 * (a release of an image that ran before risks nothing a rollback would have to undo) and at least
 * one image was released before (a first release has nothing to roll back to anyway), and a stage
 * would have no target: because this commit changes the pipeline (after the self-mutation no stage
 * has one), or because a stage has not succeeded on the current structure yet. What AWS did not
 * answer counts against the release when it could decide the verdict: the guard was asked for.
 */
export function judge(inputs: GuardInputs, f: Findings): Verdict {
  const lines: string[] = [
    'Rollback targets: CodePipeline rolls a stage back only to an execution that succeeded in it on the current pipeline structure (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).',
  ];
  const changes = f.pipelineChanges;
  lines.push(
    changes.ok
      ? changes.value.length === 0
        ? '  pipeline definition: unchanged by this commit'
        : `  pipeline definition: CHANGED by this commit (${changes.value.join('; ')}): after UpdatePipeline no stage has a rollback target until this release succeeds in it`
      : `  pipeline definition: not checked (${changes.reason})`,
  );
  const img = f.image;
  const ref = `${inputs.image.repositoryName}:${inputs.image.tag}`;
  lines.push(
    img.ok
      ? img.value === 'new'
        ? `  image ${ref}: new (app/ changed since every image in the repository was built)`
        : `  image ${ref}: built before (app/ as in an earlier release)`
      : `  image ${ref}: not checked (${img.reason})`,
  );
  const missing: string[] = [];
  const unknown: string[] = [];
  for (const stage of inputs.deployStages) {
    const t = f.targets.get(stage);
    if (!t || !t.ok) {
      unknown.push(stage);
      lines.push(`  ${stage}: not checked (${t && !t.ok ? t.reason : 'not read'})`);
    } else if (t.value === null) {
      missing.push(stage);
      lines.push(
        `  ${stage}: NO rollback target (nothing succeeded here on the current pipeline version)`,
      );
    } else
      lines.push(
        `  ${stage}: rollback target ${t.value.pipelineExecutionId}${t.value.startTime ? ` (started ${t.value.startTime.toISOString()})` : ''}`,
      );
  }

  const changed = changes.ok && changes.value.length > 0;
  const summary = clip(
    changed
      ? `NONE until this release succeeds in each stage: it changes the pipeline (see the Build log; ${RUNBOOK})`
      : missing.length > 0
        ? `NONE in ${missing.join(', ')} (nothing succeeded there on this pipeline version; ${RUNBOOK})`
        : unknown.length > 0 || !changes.ok
          ? `not checked for ${[...(!changes.ok ? ['the pipeline definition'] : []), ...unknown].join(', ')} (see the Build log)`
          : 'every deploy stage has one',
  );

  // Would a failure of this release leave a stage without a target? (undefined: cannot tell)
  const exposed: boolean | undefined =
    changed || missing.length > 0 ? true : changes.ok && unknown.length === 0 ? false : undefined;
  const newImage: boolean | undefined = img.ok ? img.value === 'new' : undefined;
  const firstRelease: boolean | undefined = f.repositoryEmpty?.ok
    ? f.repositoryEmpty.value
    : newImage === false
      ? false
      : undefined;

  if (!inputs.requireRollbackTarget) {
    if (exposed && newImage !== false)
      lines.push(
        `WARNING: if this release fails in ${changed ? 'any deploy stage' : missing.join(', ')}, that stage cannot roll back: fix forward (${RUNBOOK}). Set pipeline.requireRollbackTarget to refuse such releases.`,
      );
    return { refuse: false, lines, summary };
  }
  if (newImage === false) {
    lines.push(
      'requireRollbackTarget: passes (the image was released before; a failure risks no new code)',
    );
    return { refuse: false, lines, summary };
  }
  if (firstRelease === true) {
    lines.push(
      'requireRollbackTarget: passes (the repository holds no image yet: a first release has nothing to roll back to)',
    );
    return { refuse: false, lines, summary };
  }
  if (exposed === false && newImage === true) {
    lines.push(
      'requireRollbackTarget: passes (every deploy stage has a rollback target and the pipeline does not change)',
    );
    return { refuse: false, lines, summary };
  }
  if (exposed === true && newImage === true && firstRelease === false) {
    if (changed)
      lines.push(
        `REFUSED (pipeline.requireRollbackTarget): this commit changes both the pipeline's definition and app/ (new image ${ref}). After the pipeline updates itself no stage has a rollback target, so a failure of the new service could not roll back.`,
        `  Release them one after the other: first the pipeline change with app/ as it runs now (revert the app/ part, push, and let that release succeed in every deploy stage), then push the app/ change. Or set pipeline.requireRollbackTarget to false for this one release (read when the Build step runs: no pipeline change). ${RUNBOOK}`,
      );
    else
      lines.push(
        `REFUSED (pipeline.requireRollbackTarget): ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no successful execution on the current pipeline version, and this release brings a new image (${ref}): a failure there could not roll back.`,
        `  First let the image that runs now succeed there: approve or retry the execution that carries it (or start the pipeline on the commit that runs now), then retry this execution's Build stage (aws codepipeline retry-stage-execution --pipeline-name ${inputs.pipelineName} --stage-name Build --pipeline-execution-id <this execution> --retry-mode ALL_ACTIONS). Or set pipeline.requireRollbackTarget to false for this one release. ${RUNBOOK}`,
      );
    return { refuse: true, lines, summary };
  }
  lines.push(
    'REFUSED (pipeline.requireRollbackTarget): could not tell whether this release would leave a stage without a rollback target (see "not checked" above); the guard was asked for, so it does not guess.',
    `  Retry the Build stage once AWS answers (aws codepipeline retry-stage-execution --pipeline-name ${inputs.pipelineName} --stage-name Build --pipeline-execution-id <this execution> --retry-mode FAILED_ACTIONS), or set pipeline.requireRollbackTarget to false for this one release. ${RUNBOOK}`,
  );
  return { refuse: true, lines, summary };
}

function clip(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 197)}...`;
}
