import {
  type ActionExecutionDetail,
  type CodePipelineClient,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  type PipelineExecution,
  type PipelineExecutionSummary,
  type StageExecution,
} from '@aws-sdk/client-codepipeline';
import { OperationError, awsErrorName, describeAwsError } from '../common/errors';

/**
 * Read-side queries of CodePipeline for one pipeline, each turning the API's errors into a
 * sentence an operator can act on. RollbackStage itself lives in main.ts next to its error map.
 */
export class PipelineReader {
  constructor(
    private readonly client: CodePipelineClient,
    readonly pipelineName: string,
    readonly region: string,
  ) {}

  /** The stage's latest execution (what it runs now), or undefined if it never ran. */
  async latestStageExecution(stageName: string): Promise<StageExecution | undefined> {
    const state = await this.call(`reading the state of pipeline ${this.pipelineName}`, () => this.client.send(new GetPipelineStateCommand({ name: this.pipelineName })));
    const stage = state.stageStates?.find((s) => s.stageName === stageName);
    if (!stage) {
      const stages = (state.stageStates ?? []).map((s) => s.stageName).join(', ');
      throw new OperationError(`pipeline ${this.pipelineName} has no stage "${stageName}" (it has: ${stages}); was it deployed with this configuration? pass the same --config as the deploy`);
    }
    return stage.latestExecution;
  }

  async execution(id: string): Promise<PipelineExecution> {
    const res = await this.call(`reading pipeline execution ${id}`, () => this.client.send(new GetPipelineExecutionCommand({ pipelineName: this.pipelineName, pipelineExecutionId: id })));
    if (!res.pipelineExecution) throw new OperationError(`pipeline execution ${id} returned no details`);
    return res.pipelineExecution;
  }

  /**
   * Executions in which `stageName` succeeded in the current pipeline structure, newest first:
   * exactly the set RollbackStage accepts as a target (ListPipelineExecutions' succeededInStage
   * filter, https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SucceededInStageFilter.html).
   * Stops early once `stop` says it has seen enough.
   */
  async succeededInStage(stageName: string, stop: (seen: PipelineExecutionSummary[]) => boolean = () => false): Promise<PipelineExecutionSummary[]> {
    const seen: PipelineExecutionSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call(`listing executions that succeeded in ${stageName}`, () =>
        this.client.send(new ListPipelineExecutionsCommand({ pipelineName: this.pipelineName, filter: { succeededInStage: { stageName } }, maxResults: 100, nextToken })),
      );
      seen.push(...(page.pipelineExecutionSummaries ?? []));
      nextToken = page.nextToken;
    } while (nextToken && !stop(seen));
    return seen.sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0));
  }

  /** The action executions of one pipeline execution in one stage. */
  async actionExecutions(pipelineExecutionId: string, stageName: string): Promise<ActionExecutionDetail[]> {
    const out: ActionExecutionDetail[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call(`listing the actions of execution ${pipelineExecutionId}`, () =>
        this.client.send(new ListActionExecutionsCommand({ pipelineName: this.pipelineName, filter: { pipelineExecutionId }, maxResults: 100, nextToken })),
      );
      out.push(...(page.actionExecutionDetails ?? []).filter((a) => a.stageName === stageName));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  private async call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (awsErrorName(e) === 'PipelineNotFoundException') {
        throw new OperationError(`pipeline ${this.pipelineName} not found in ${this.region}; check the account of your credentials and --config (config.pipeline.name/region)`, { cause: e });
      }
      throw new OperationError(describeAwsError(e, doing), { cause: e });
    }
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
    const summary = r.revisionSummary ? ` ${JSON.stringify(oneLineSummary(r.revisionSummary))}` : '';
    return `${r.name ?? 'artifact'} ${r.revisionId ?? 'unknown revision'}${summary}`;
  });
}

/** CodeCommit revision summaries may be JSON ({"ProviderType":"CodeCommit","CommitMessage":...}) or plain text. */
function oneLineSummary(summary: string): string {
  let text = summary;
  try {
    const parsed: unknown = JSON.parse(summary);
    if (parsed && typeof parsed === 'object' && 'CommitMessage' in parsed && typeof parsed.CommitMessage === 'string') text = parsed.CommitMessage;
  } catch {
    // plain text summary: shown as is
  }
  const first = text.split('\n')[0].trim();
  return first.length > 100 ? `${first.slice(0, 97)}...` : first;
}
