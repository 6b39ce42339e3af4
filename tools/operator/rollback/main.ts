import {
  CodePipelineClient,
  type PipelineExecutionSummary,
  RollbackStageCommand,
} from '@aws-sdk/client-codepipeline';
import { parseFlags, requireFlag } from '../../common/args';
import { helpText, printJson, progressOutput } from '../../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../../common/config';
import { RunControl, parseTimeoutSeconds } from '../../common/control';
import {
  CouldNotCheckError,
  EXIT_FAILED,
  EXIT_OK,
  OperationError,
  TimeoutError,
  UsageError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';
import { type Output, formatElapsed } from '../../common/output';
import { type Confirm, confirmOrRefuse } from '../../common/prompt';
import { PipelineReader, describeRevisions, imageTagsOf } from './pipeline';
import { type ResolvedStage, describeScope, resolveStage } from './stages';

const USAGE =
  'Usage: npx delivery rollback --stage <environment or pipeline stage> [--to <pipeline execution id> | --list] [--yes] [--timeout <seconds>] [-c config=<file> | --config <file>] [--json]';

export const ROLLBACK_USAGE = helpText({
  usage: USAGE,
  about: `Rolls one deploy stage of the pipeline back to an execution in which it succeeded (CodePipeline
RollbackStage): the last one before what runs now, or --to. Shows what runs now and what would be
redeployed (commit, image), asks, then follows the rollback to its end. --list only lists the
executions the stage can be rolled back to.`,
  options: [
    ['--stage <name>', 'an environment (prod-us-east-1: its whole wave) or a pipeline stage name'],
    ['--to <execution id>', 'roll back to this execution (default: the last success before now)'],
    ['--list', 'list the executions the stage can roll back to, newest first; change nothing'],
    ['--yes', 'do not ask (needed without a terminal)'],
    ['--timeout <seconds>', `the whole run, following the rollback included (default ${5400})`],
  ],
  config: true,
  json: true,
  verdict:
    'refused (nothing to roll back to, a run in progress, you said no) or the rollback failed',
  runbook: 'docs/runbooks/rollback.md',
});

/** Default --timeout: reading, the prompt, and following the rollback to its end. */
export const DEFAULT_TIMEOUT_SECONDS = 5400;
/** The most one CodePipeline call (with the SDK's retries) may take. */
export const DEFAULT_CALL_TIMEOUT_MS = 30000;

export interface RollbackDeps {
  /** A CodePipeline client for a region (the pipeline's region). */
  readonly codePipeline: (region: string) => CodePipelineClient;
  readonly confirm: Confirm;
  /** Whether a person can answer the prompt (stdin/stdout are terminals). */
  readonly interactive: boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly output: Output;
  /** Directory that relative paths on the command line are relative to. */
  readonly cwd: string;
  /** The repository root (a --config file must be inside it). @default cwd */
  readonly repoRoot?: string;
  /** Time between two progress polls. @default 15000 */
  readonly pollIntervalMs?: number;
  /** How long to follow the rollback before giving up on following it (the rollback goes on). @default 5400000 (90 min) */
  readonly maxWaitMs?: number;
  /** The most one CodePipeline call may take. @default DEFAULT_CALL_TIMEOUT_MS */
  readonly callTimeoutMs?: number;
}

export function defaultRollbackDeps(
  output: Output,
  interactive: boolean,
  confirm: Confirm,
): RollbackDeps {
  return {
    codePipeline: (region) => new CodePipelineClient({ region }),
    confirm,
    interactive,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
    output,
    cwd: invocationDir(),
    repoRoot: REPO_ROOT,
  };
}

const EXECUTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Statuses after which a pipeline execution changes no more. */
const FINAL_STATUSES = new Set(['Succeeded', 'Failed', 'Stopped', 'Cancelled', 'Superseded']);

/**
 * `rollback --stage <name> [--to <id>] [--yes] [--config <file>]`: rolls one deploy stage of the
 * pipeline back to an execution in which it succeeded (CodePipeline RollbackStage), after showing
 * what will be redeployed, then follows the rollback execution to its end.
 * Returns the exit code; throws UsageError/OperationError for the caller to print.
 */
export async function rollbackMain(argv: readonly string[], deps: RollbackDeps): Promise<number> {
  const flags = parseFlags(
    argv,
    {
      stage: { type: 'string' },
      to: { type: 'string' },
      list: { type: 'boolean' },
      yes: { type: 'boolean' },
      config: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (flags.help) {
    deps.output.out(ROLLBACK_USAGE);
    return EXIT_OK;
  }
  const json = flags.json === true;
  // --json: the result is one JSON document on stdout; progress (and the prompt) go to stderr.
  const out = progressOutput(deps.output, json);
  const stageArg = requireFlag(flags.stage, '--stage', USAGE);
  if (flags.list && (flags.to !== undefined || flags.yes))
    throw new UsageError(`--list only lists: give it without --to and --yes\n${USAGE}`);
  if (flags.to !== undefined && !EXECUTION_ID.test(flags.to)) {
    throw new UsageError(
      `--to must be a pipeline execution id such as 1a2b3c4d-0000-4000-8000-123456789abc, got "${flags.to}"`,
    );
  }
  const timeoutSeconds = parseTimeoutSeconds(
    '--timeout',
    flags.timeout,
    DEFAULT_TIMEOUT_SECONDS,
    1,
    86400,
  );
  const { config: cfg, described } = chooseToolConfig(flags.config, deps.cwd, deps.repoRoot);
  const stage = resolveStage(cfg, stageArg);
  const control = new RunControl({
    timeoutMs: timeoutSeconds * 1000,
    callTimeoutMs: deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    now: deps.now,
  });
  const stageName = stage.pipelineStageName;
  const { name: pipelineName, region } = cfg.pipeline;
  const client = deps.codePipeline(region);
  const reader = new PipelineReader(client, pipelineName, region, control);

  out.out(`Configuration: ${described}`);
  out.out(`Pipeline ${pipelineName} (${region}), stage ${stageName}: ${describeScope(stage)}.`);
  const report = (code: number, result: Record<string, unknown>) => {
    if (json)
      printJson(deps.output, 'rollback', code, {
        pipeline: pipelineName,
        region,
        stage: stageName,
        ...result,
      });
    return code;
  };

  if (flags.list) {
    const current = await reader.latestStageExecution(stageName);
    const succeeded = (await reader.succeededInStage(stageName)).filter(
      (e) => e.executionType !== 'ROLLBACK',
    );
    out.out(
      succeeded.length === 0
        ? `No execution succeeded in ${stageName} in the current pipeline structure: nothing to roll back to.`
        : `Executions ${stageName} can be rolled back to, newest first (now: ${current?.pipelineExecutionId ?? 'never ran'}):`,
    );
    for (const e of succeeded)
      out.out(
        `  ${describeSummary(e)}${e.pipelineExecutionId === current?.pipelineExecutionId ? '  (runs now)' : ''}`,
      );
    return report(EXIT_OK, {
      current: current?.pipelineExecutionId ?? null,
      candidates: succeeded.map((e) => ({
        executionId: e.pipelineExecutionId,
        startTime: e.startTime?.toISOString() ?? null,
        revision: e.sourceRevisions?.[0]?.revisionId ?? null,
        current: e.pipelineExecutionId === current?.pipelineExecutionId,
      })),
    });
  }

  const { latest: current, pipelineVersion, updated } = await reader.stageState(stageName);
  if (!current?.pipelineExecutionId) {
    throw new OperationError(
      `nothing to roll back: stage ${stageName} has never run in pipeline ${pipelineName}`,
    );
  }
  const currentId = current.pipelineExecutionId;
  if (
    current.type === 'ROLLBACK' &&
    (current.status === 'InProgress' || current.status === 'Stopping')
  ) {
    throw new OperationError(
      `a rollback of ${stageName} is already running (execution ${currentId}, ${current.status}); wait for it to end, then check the stage again`,
    );
  }
  if (current.status === 'InProgress' || current.status === 'Stopping') {
    throw new OperationError(
      `${stageName} is running execution ${currentId} right now (${current.status}); CodePipeline cannot roll back a running stage. ` +
        `Wait for it to end (a failure rolls back automatically), or stop it first: ` +
        `aws codepipeline stop-pipeline-execution --region ${region} --pipeline-name ${pipelineName} --pipeline-execution-id ${currentId} --abandon`,
    );
  }

  const currentExec = await reader.execution(currentId);
  // A stage that was already rolled back runs its rollback's target: that one is not a
  // candidate either (rolling back "again" means going further back).
  const runningTarget =
    currentExec.executionType === 'ROLLBACK'
      ? currentExec.rollbackMetadata?.rollbackTargetPipelineExecutionId
      : undefined;
  const excluded = new Set(
    [currentId, runningTarget].filter((id): id is string => id !== undefined),
  );
  const isCandidate = (e: PipelineExecutionSummary) =>
    e.pipelineExecutionId !== undefined &&
    e.executionType !== 'ROLLBACK' &&
    !excluded.has(e.pipelineExecutionId);

  let target: PipelineExecutionSummary;
  if (flags.to !== undefined) {
    const wanted = flags.to;
    if (excluded.has(wanted)) {
      throw new OperationError(
        `--to ${wanted} is what ${stageName} runs now (current execution ${currentId}); pick an earlier execution`,
      );
    }
    const succeeded = await reader.succeededInStage(stageName, (seen) =>
      seen.some((e) => e.pipelineExecutionId === wanted),
    );
    const found = succeeded.find((e) => e.pipelineExecutionId === wanted);
    if (!found) {
      const wantedVersion = await versionOf(reader, wanted);
      if (
        wantedVersion !== undefined &&
        pipelineVersion !== undefined &&
        wantedVersion < pipelineVersion
      )
        throw new OperationError(
          `--to ${wanted} ran on pipeline version ${wantedVersion}, and the pipeline is at version ${pipelineVersion}${updated ? ` since ${updated.toISOString()}` : ''}: CodePipeline cannot roll back across a change to the pipeline's definition (${STAGE_ROLLBACK_DOC}). ${FIX_FORWARD}`,
        );
      const options = succeeded.filter(isCandidate).slice(0, 5).map(describeSummary);
      throw new OperationError(
        `--to ${wanted} did not succeed in ${stageName} in the current pipeline structure, so CodePipeline cannot roll back to it; ` +
          (options.length > 0
            ? `executions that did: ${options.join('; ')}`
            : `no earlier execution did`),
      );
    }
    if (found.executionType === 'ROLLBACK') {
      const its = found.rollbackMetadata?.rollbackTargetPipelineExecutionId;
      throw new OperationError(
        `--to ${wanted} is itself a rollback execution, and CodePipeline cannot roll back to one${its ? `; roll back to its target ${its} instead` : ''}`,
      );
    }
    target = found;
  } else {
    const succeeded = await reader.succeededInStage(stageName, (seen) => seen.some(isCandidate));
    const found = succeeded.find(isCandidate);
    if (!found) {
      throw new OperationError(
        await noTargetExplanation(reader, stage, {
          currentId,
          currentVersion: currentExec.pipelineVersion,
          pipelineVersion,
          updated,
          excluded,
        }),
      );
    }
    target = found;
  }
  const targetId = target.pipelineExecutionId as string;

  const targetExec = await reader.execution(targetId);
  const targetImages = imageTagsOf(await reader.actionExecutions(targetId, stageName));
  const currentImages = imageTagsOf(await reader.actionExecutions(currentId, stageName));

  out.out('');
  out.out(
    `Now:      execution ${currentId} (${current.status ?? 'unknown status'}${current.type === 'ROLLBACK' ? `, a rollback to ${runningTarget ?? 'unknown'}` : ''})`,
  );
  for (const r of describeRevisions(currentExec)) out.out(`            source  ${r}`);
  out.out(`            image   ${formatTags(currentImages)}`);
  out.out(
    `Redeploy: execution ${targetId}${target.startTime ? ` (started ${target.startTime.toISOString()})` : ''}`,
  );
  for (const r of describeRevisions(targetExec)) out.out(`            source  ${r}`);
  out.out(`            image   ${formatTags(targetImages)}`);
  out.out('');

  await confirmOrRefuse({
    yes: flags.yes === true,
    interactive: deps.interactive,
    // The prompt is bounded by --timeout too.
    confirm: (question) =>
      control.call('waiting for your answer', (signal) => deps.confirm(question, signal), {
        timeoutMs: control.remainingMs(),
      }),
    question: `Roll back ${stageName} to ${targetId}? [y/N]`,
    what: `roll back ${stageName}`,
  });

  let rollbackId: string;
  try {
    const res = await control.call(`rolling back ${stageName}`, (abortSignal) =>
      client.send(
        new RollbackStageCommand({ pipelineName, stageName, targetPipelineExecutionId: targetId }),
        { abortSignal },
      ),
    );
    if (!res.pipelineExecutionId)
      throw new OperationError(
        'RollbackStage returned no execution id; check the pipeline in the console',
      );
    rollbackId = res.pipelineExecutionId;
  } catch (e) {
    if (e instanceof OperationError) throw e;
    if (e instanceof TimeoutError)
      throw new TimeoutError(
        `${e.message}: the rollback may or may not have started; check stage ${stageName} in the console before trying again`,
      );
    if (isStop(e)) throw e;
    const explained = explainRollbackError(e, stageName, targetId);
    // CodePipeline refusing the rollback is a verdict; not reaching it is "could not check".
    throw REFUSALS.has(awsErrorName(e) ?? '')
      ? new OperationError(explained)
      : new CouldNotCheckError(explained, { cause: e });
  }
  out.out(
    `Rollback started: execution ${rollbackId}. Following it (Ctrl-C stops following, not the rollback).`,
  );

  const final = await follow(reader, rollbackId, stageName, { ...deps, output: out }, control);
  const outcome = {
    current: { executionId: currentId, images: currentImages },
    target: { executionId: targetId, images: targetImages },
    rollback: {
      executionId: rollbackId,
      status: final.status,
      summary: final.summary ?? null,
      seconds: Math.round(final.elapsedMs / 1000),
    },
  };
  if (final.status === 'Succeeded') {
    out.out(
      `Rollback of ${stageName} succeeded after ${formatElapsed(final.elapsedMs)}: it runs ${targetId} again (image ${formatTags(targetImages)}).`,
    );
    out.out(
      `The next pipeline run deploys whatever is in git again: revert or fix the change in git before pushing.`,
    );
    return report(EXIT_OK, outcome);
  }
  out.err(
    `Rollback of ${stageName} ended ${final.status} after ${formatElapsed(final.elapsedMs)}${final.summary ? `: ${final.summary}` : ''}.`,
  );
  out.err(
    `Look at the failed action in the console (pipeline ${pipelineName}, execution ${rollbackId}); docs/runbooks/rollback.md lists the other ways back.`,
  );
  return report(EXIT_FAILED, outcome);
}

async function follow(
  reader: PipelineReader,
  rollbackId: string,
  stageName: string,
  deps: RollbackDeps,
  control: RunControl,
): Promise<{ status: string; summary?: string; elapsedMs: number }> {
  const interval = deps.pollIntervalMs ?? 15000;
  const maxWait = deps.maxWaitMs ?? 90 * 60 * 1000;
  const start = deps.now();
  const lastSeen = new Map<string, string>();
  const report = (what: string, status: string) => {
    if (lastSeen.get(what) === status) return;
    lastSeen.set(what, status);
    deps.output.out(`  [${formatElapsed(deps.now() - start)}] ${what}: ${status}`);
  };
  let status = 'Starting';
  const goesOn = () =>
    `rollback ${rollbackId} is still ${status}; it goes on in CodePipeline, follow it in the console`;
  try {
    for (;;) {
      const exec = await executionOnceVisible(reader, rollbackId, deps.now() - start);
      status = exec?.status ?? 'Starting';
      for (const action of await reader.actionExecutions(rollbackId, stageName)) {
        if (action.actionName && action.status) report(`  ${action.actionName}`, action.status);
      }
      report(`rollback ${rollbackId}`, status);
      if (FINAL_STATUSES.has(status))
        return { status, summary: exec?.statusSummary, elapsedMs: deps.now() - start };
      if (deps.now() - start >= maxWait)
        throw new OperationError(
          `stopped following after ${formatElapsed(deps.now() - start)}: ${goesOn()}`,
        );
      control.checkpoint('following the rollback');
      await deps.sleep(Math.min(interval, control.remainingMs()));
      control.checkpoint('following the rollback');
    }
  } catch (e) {
    if (e instanceof TimeoutError)
      throw new TimeoutError(
        `${e.message} (after ${formatElapsed(deps.now() - start)}): ${goesOn()}`,
      );
    throw e;
  }
}

/**
 * A new execution can take a moment to become readable after RollbackStage returned its id;
 * for the first two minutes "not found" means "not yet" (undefined), after that it is an error.
 */
async function executionOnceVisible(reader: PipelineReader, id: string, elapsedMs: number) {
  try {
    return await reader.execution(id);
  } catch (e) {
    if (
      elapsedMs < 2 * 60 * 1000 &&
      awsErrorName((e as Error).cause) === 'PipelineExecutionNotFoundException'
    )
      return undefined;
    throw e;
  }
}

/** RollbackStage's errors that are CodePipeline saying no (exit 1); any other error is exit 3. */
const REFUSALS = new Set([
  'ConflictException',
  'PipelineExecutionOutdatedException',
  'UnableToRollbackStageException',
  'PipelineExecutionNotFoundException',
  'StageNotFoundException',
]);

/** Where CodePipeline says what a rollback may target. */
const STAGE_ROLLBACK_DOC =
  'https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html';
const FIX_FORWARD =
  'Fix forward instead (docs/runbooks/fix-forward.md), or put an earlier image back with breakglass (docs/runbooks/breakglass.md).';

/** The pipeline version an execution ran on, or undefined when it cannot be read. */
async function versionOf(reader: PipelineReader, id: string): Promise<number | undefined> {
  try {
    return (await reader.execution(id)).pipelineVersion;
  } catch (e) {
    if (isStop(e)) throw e;
    return undefined;
  }
}

/**
 * Why no execution can be a rollback target, and what to do instead. CodePipeline "can only roll
 * back to a previous execution if the previous execution was started in the current pipeline
 * structure version", and a stage auto-rolls back "only after there is a successful pipeline
 * execution in the pipeline stage" (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html).
 * So after a change to the pipeline's definition (any self-mutation: a region, a bake setting, a
 * window, a CDK upgrade) the stage has no target until a release succeeds in it again. Names the
 * newest execution that went through the whole pipeline and its image, so that an operator can
 * put it back with breakglass.
 */
async function noTargetExplanation(
  reader: PipelineReader,
  stage: ResolvedStage,
  facts: {
    currentId: string;
    currentVersion?: number;
    pipelineVersion?: number;
    updated?: Date;
    excluded: ReadonlySet<string>;
  },
): Promise<string> {
  const stageName = stage.pipelineStageName;
  const { currentId, currentVersion, pipelineVersion, updated } = facts;
  const since = updated ? ` since ${updated.toISOString()}` : '';
  const version = pipelineVersion === undefined ? 'unknown version' : `version ${pipelineVersion}`;
  const lines: string[] = [];
  let previous: PipelineExecutionSummary | undefined;
  let previousImages: string[] = [];
  try {
    previous = await reader.lastWholeRelease(facts.excluded);
    if (previous?.pipelineExecutionId)
      previousImages = imageTagsOf(
        await reader.actionExecutions(previous.pipelineExecutionId, stageName),
      );
  } catch (e) {
    if (isStop(e)) throw e;
    previous = undefined; // only a suggestion: the explanation stands without it
  }
  const changedSinceEarlierRelease = previous !== undefined && (pipelineVersion ?? 1) > 1;
  if (changedSinceEarlierRelease)
    lines.push(
      `nothing to roll back to: no execution has succeeded in ${stageName} since the pipeline's definition changed (${version}${since}; ${currentId} is the first release on it${currentVersion !== undefined && pipelineVersion !== undefined && currentVersion < pipelineVersion ? `, though it started on version ${currentVersion}` : ''}).`,
    );
  else
    lines.push(
      `nothing to roll back to: no execution other than ${currentId} has succeeded in ${stageName} on the pipeline's current structure (${version}${since}).`,
    );
  lines.push(
    `CodePipeline rolls a stage back only to an execution that started in the current pipeline structure version and succeeded in that stage (${STAGE_ROLLBACK_DOC}); automatic rollback of ${stageName} cannot work either until a release has succeeded in it on this version.`,
  );
  lines.push(FIX_FORWARD);
  if (previous?.pipelineExecutionId && previousImages.length === 1) {
    lines.push(
      `For breakglass: the last release that went through the whole pipeline is ${previous.pipelineExecutionId} (image ${previousImages[0]}); to run it again in every environment of ${stageName}:`,
    );
    for (const env of stage.environments)
      lines.push(
        `  npx delivery breakglass --env ${env.stageName} --image ${previousImages[0]} --reason "<incident>: ${stageName} has no rollback target"`,
      );
  }
  return lines.join('\n');
}

/** RollbackStage's documented errors, each with what the operator can do about it. */
export function explainRollbackError(e: unknown, stageName: string, targetId: string): string {
  const name = awsErrorName(e);
  const detail = e instanceof Error ? e.message.replace(/\s+/g, ' ').trim() : String(e);
  switch (name) {
    case 'ConflictException':
      return `the pipeline is busy (a rollback or another operation on ${stageName} is already under way): ${detail}; wait for it to end and check the stage again`;
    case 'PipelineExecutionOutdatedException':
      return `execution ${targetId} is outdated for ${stageName} (the pipeline's structure changed since it ran): ${detail}; only executions of the current pipeline structure can be rollback targets`;
    case 'UnableToRollbackStageException':
      return `CodePipeline cannot roll back ${stageName} to ${targetId}: ${detail} (the stage may be running, or the pipeline version changed since that execution)`;
    case 'PipelineExecutionNotFoundException':
      return `execution ${targetId} was not found: ${detail}`;
    case 'StageNotFoundException':
      return `the pipeline has no stage ${stageName}: ${detail}`;
    default:
      return describeAwsError(e, `rolling back ${stageName}`);
  }
}

function formatTags(tags: readonly string[]): string {
  if (tags.length === 0) return 'unknown (no ImageTag output variable in that execution)';
  return tags.length === 1
    ? tags[0]
    : `${tags.join(', ')} (the regions of this stage ran different images)`;
}

function describeSummary(e: PipelineExecutionSummary): string {
  const rev = e.sourceRevisions?.[0]?.revisionId;
  return `${e.pipelineExecutionId}${e.startTime ? ` (${e.startTime.toISOString()})` : ''}${rev ? ` ${rev.slice(0, 12)}` : ''}`;
}
