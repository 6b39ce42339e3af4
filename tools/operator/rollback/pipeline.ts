import {
  type ActionExecutionDetail,
  type CodePipelineClient,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  type ListActionExecutionsCommandOutput,
  ListPipelineExecutionsCommand,
  type ListPipelineExecutionsCommandOutput,
  type PipelineExecution,
  type PipelineExecutionSummary,
  type StageExecution,
  paginateListActionExecutions,
  paginateListPipelineExecutions,
} from '@aws-sdk/client-codepipeline';
import type { RunControl } from '../../common/control';
import {
  CouldNotCheckError,
  OperationError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';
import { readPages } from '../../common/pages';

/**
 * Most pages read of one listing. A stage's successful executions in the current pipeline
 * structure fit in a few pages of 100; a listing that goes on beyond this is a fault, not history.
 */
export const MAX_PAGES = 50;

/**
 * Read-side queries of CodePipeline for one pipeline, each turning the API's errors into a
 * sentence an operator can act on. RollbackStage itself lives in main.ts next to its error map.
 */
export class PipelineReader {
  constructor(
    private readonly client: CodePipelineClient,
    readonly pipelineName: string,
    readonly region: string,
    private readonly control: RunControl,
  ) {}

  /** The stage's latest execution (what it runs now), or undefined if it never ran. */
  async latestStageExecution(stageName: string): Promise<StageExecution | undefined> {
    return (await this.stageState(stageName)).latest;
  }

  /**
   * The stage's latest execution and the pipeline's structure: its version (raised by every
   * change to the pipeline's definition, self-mutation included) and when it last changed
   * (GetPipelineState `pipelineVersion`, `updated`).
   */
  async stageState(stageName: string): Promise<{
    latest?: StageExecution;
    pipelineVersion?: number;
    updated?: Date;
  }> {
    const state = await this.call(
      `reading the state of pipeline ${this.pipelineName}`,
      (abortSignal) =>
        this.client.send(new GetPipelineStateCommand({ name: this.pipelineName }), { abortSignal }),
    );
    const stage = state.stageStates?.find((s) => s.stageName === stageName);
    if (!stage) {
      const stages = (state.stageStates ?? []).map((s) => s.stageName).join(', ');
      throw new OperationError(
        `pipeline ${this.pipelineName} has no stage "${stageName}" (it has: ${stages}); was it deployed with this configuration? pass the same --config as the deploy`,
      );
    }
    return {
      latest: stage.latestExecution,
      pipelineVersion: state.pipelineVersion,
      updated: state.updated,
    };
  }

  /**
   * The newest execution (other than `excluded`) that went through the whole pipeline, from one
   * page of the pipeline's history, or undefined. Its status Succeeded means every stage
   * succeeded, so its image is one each deploy stage ran: a candidate to put back by hand when
   * RollbackStage cannot (it may be of an older pipeline structure).
   */
  async lastWholeRelease(
    excluded: ReadonlySet<string>,
  ): Promise<PipelineExecutionSummary | undefined> {
    const page = await this.call(`listing the executions of ${this.pipelineName}`, (abortSignal) =>
      this.client.send(
        new ListPipelineExecutionsCommand({ pipelineName: this.pipelineName, maxResults: 100 }),
        { abortSignal },
      ),
    );
    return (page.pipelineExecutionSummaries ?? [])
      .filter(
        (e) =>
          e.status === 'Succeeded' &&
          e.executionType !== 'ROLLBACK' &&
          e.pipelineExecutionId !== undefined &&
          !excluded.has(e.pipelineExecutionId),
      )
      .sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0))[0];
  }

  async execution(id: string): Promise<PipelineExecution> {
    const res = await this.call(`reading pipeline execution ${id}`, (abortSignal) =>
      this.client.send(
        new GetPipelineExecutionCommand({
          pipelineName: this.pipelineName,
          pipelineExecutionId: id,
        }),
        { abortSignal },
      ),
    );
    if (!res.pipelineExecution)
      throw new OperationError(`pipeline execution ${id} returned no details`);
    return res.pipelineExecution;
  }

  /**
   * Executions in which `stageName` succeeded in the current pipeline structure, newest first:
   * exactly the set RollbackStage accepts as a target (ListPipelineExecutions' succeededInStage
   * filter, https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SucceededInStageFilter.html).
   * Stops early once `stop` says it has seen enough.
   */
  async succeededInStage(
    stageName: string,
    stop: (seen: PipelineExecutionSummary[]) => boolean = () => false,
  ): Promise<PipelineExecutionSummary[]> {
    const seen: PipelineExecutionSummary[] = [];
    await this.pages(
      `listing executions that succeeded in ${stageName}`,
      (abortSignal) =>
        paginateListPipelineExecutions(
          { client: this.client, pageSize: 100 },
          { pipelineName: this.pipelineName, filter: { succeededInStage: { stageName } } },
          { abortSignal },
        ),
      (page: ListPipelineExecutionsCommandOutput) => {
        seen.push(...(page.pipelineExecutionSummaries ?? []));
        return stop(seen);
      },
    );
    return seen.sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0));
  }

  /** The action executions of one pipeline execution in one stage. */
  async actionExecutions(
    pipelineExecutionId: string,
    stageName: string,
  ): Promise<ActionExecutionDetail[]> {
    const out: ActionExecutionDetail[] = [];
    await this.pages(
      `listing the actions of execution ${pipelineExecutionId}`,
      (abortSignal) =>
        paginateListActionExecutions(
          { client: this.client, pageSize: 100 },
          { pipelineName: this.pipelineName, filter: { pipelineExecutionId } },
          { abortSignal },
        ),
      (page: ListActionExecutionsCommandOutput) => {
        out.push(...(page.actionExecutionDetails ?? []).filter((a) => a.stageName === stageName));
      },
    );
    return out;
  }

  /**
   * Reads a listing with the SDK's paginator, each page bounded in time, at most MAX_PAGES of them;
   * a listing that does not end normally is "could not check" (tools/common/pages.ts).
   */
  private async pages<P extends { nextToken?: string }>(
    doing: string,
    paginate: (abortSignal: AbortSignal) => AsyncIterable<P>,
    onPage: (page: P) => boolean | void,
  ): Promise<void> {
    try {
      await readPages({
        doing,
        paginate,
        nextTokenOf: (page) => page.nextToken,
        onPage,
        control: this.control,
        maxPages: MAX_PAGES,
        instead:
          'try again later, or name the target with --to <execution id> (the console lists the executions)',
      });
    } catch (e) {
      throw this.explain(e, doing);
    }
  }

  private async call<T>(doing: string, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.control.call(doing, fn);
    } catch (e) {
      throw this.explain(e, doing);
    }
  }

  /** A failed read as the operator is told it: AWS errors are "could not check" (exit 3). */
  private explain(e: unknown, doing: string): unknown {
    if (isStop(e) || e instanceof OperationError || e instanceof CouldNotCheckError) return e;
    if (awsErrorName(e) === 'PipelineNotFoundException')
      return new CouldNotCheckError(
        `pipeline ${this.pipelineName} not found in ${this.region}; check the account of your credentials and the configuration (pipeline.name/region)`,
        { cause: e },
      );
    return new CouldNotCheckError(describeAwsError(e, doing), { cause: e });
  }
}

/**
 * The image tag(s) the stage's deploy actions reported in that execution: CDK Pipelines exposes
 * each stack output as an output variable of its CloudFormation deploy action, and the stage
 * stack outputs `ImageTag`. A wave has one deploy action per region; normally they agree.
 */
export function imageTagsOf(actions: readonly ActionExecutionDetail[]): string[] {
  const tags = new Set<string>();
  for (const a of actions) {
    const tag = a.output?.outputVariables?.ImageTag;
    if (tag) tags.add(tag);
  }
  return [...tags];
}

/** `SourceArtifact 1a2b3c4d "message"` for each artifact revision of an execution. */
export function describeRevisions(exec: PipelineExecution): string[] {
  const revisions = exec.artifactRevisions ?? [];
  if (revisions.length === 0) return ['unknown (the execution lists no artifact revisions)'];
  return revisions.map((r) => {
    const summary = r.revisionSummary
      ? ` ${JSON.stringify(oneLineSummary(r.revisionSummary))}`
      : '';
    return `${r.name ?? 'artifact'} ${r.revisionId ?? 'unknown revision'}${summary}`;
  });
}

/** CodeCommit revision summaries may be JSON ({"ProviderType":"CodeCommit","CommitMessage":...}) or plain text. */
function oneLineSummary(summary: string): string {
  let text = summary;
  try {
    const parsed: unknown = JSON.parse(summary);
    if (
      parsed &&
      typeof parsed === 'object' &&
      'CommitMessage' in parsed &&
      typeof parsed.CommitMessage === 'string'
    )
      text = parsed.CommitMessage;
  } catch {
    // plain text summary: shown as is
  }
  const first = text.split('\n')[0].trim();
  return first.length > 100 ? `${first.slice(0, 97)}...` : first;
}
