import {
  type ActionExecutionDetail,
  CodePipelineClient,
  ConflictException,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  type PipelineExecution,
  PipelineExecutionOutdatedException,
  type PipelineExecutionSummary,
  RollbackStageCommand,
  type StageExecution,
  UnableToRollbackStageException,
} from '@aws-sdk/client-codepipeline';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { type RollbackDeps, rollbackMain } from '../../../../tools/operator/rollback/main';

const PIPELINE = 'hello-web-delivery';
// Execution ids, oldest first. RollbackStage only takes ids of this shape.
const OLDEST = '00000000-0000-4000-8000-000000000001';
const GOOD = '00000000-0000-4000-8000-000000000002';
const BAD = '00000000-0000-4000-8000-000000000003';
const ROLLBACK_RUN = '00000000-0000-4000-8000-0000000000aa';
const NEW_ROLLBACK = '00000000-0000-4000-8000-0000000000bb';

const cp = mockClient(CodePipelineClient);

interface Scenario {
  /** The stage's latest execution (GetPipelineState). */
  latest?: StageExecution;
  /** Executions that succeeded in the stage (ListPipelineExecutions with succeededInStage), any order. */
  succeeded?: PipelineExecutionSummary[];
  executions?: Record<string, PipelineExecution>;
  /** Action executions by pipeline execution id. */
  actions?: Record<string, ActionExecutionDetail[]>;
  /** Statuses GetPipelineExecution returns for the new rollback execution, poll after poll. */
  rollbackStatuses?: string[];
  /** The pipeline's structure version and when it last changed (GetPipelineState). */
  pipelineVersion?: number;
  pipelineUpdated?: Date;
  /** Every recent execution, newest first (ListPipelineExecutions without a filter). */
  history?: PipelineExecutionSummary[];
}

function deployAction(
  execId: string,
  stage: string,
  env: string,
  tag: string | undefined,
  status: 'Succeeded' | 'InProgress' | 'Failed' = 'Succeeded',
): ActionExecutionDetail {
  return {
    pipelineExecutionId: execId,
    stageName: stage,
    actionName: `${env}.HelloWeb.Deploy`,
    status,
    output: tag ? { outputVariables: { ImageTag: tag, ServiceUrl: `http://${env}.example` } } : {},
  };
}

function summary(
  id: string,
  minutesAgo: number,
  type: 'STANDARD' | 'ROLLBACK' = 'STANDARD',
  target?: string,
): PipelineExecutionSummary {
  return {
    pipelineExecutionId: id,
    status: 'Succeeded',
    executionType: type,
    startTime: new Date(Date.UTC(2026, 0, 1, 12, 0) - minutesAgo * 60000),
    rollbackMetadata: target ? { rollbackTargetPipelineExecutionId: target } : undefined,
    sourceRevisions: [{ actionName: 'Source', revisionId: `commit${id.slice(-4)}` }],
  };
}

function execution(
  id: string,
  commit: string,
  message: string,
  extra: Partial<PipelineExecution> = {},
): PipelineExecution {
  return {
    pipelineName: PIPELINE,
    pipelineExecutionId: id,
    status: 'Succeeded',
    executionType: 'STANDARD',
    artifactRevisions: [{ name: 'Source', revisionId: commit, revisionSummary: message }],
    ...extra,
  };
}

/** A wave-2 history: OLDEST and GOOD succeeded, BAD (the current one) failed after the deploy. */
function waveTwo(overrides: Partial<Scenario> = {}): Scenario {
  const stage = 'prod-wave-2';
  return {
    latest: { pipelineExecutionId: BAD, status: 'Failed', type: 'STANDARD' },
    succeeded: [summary(OLDEST, 120), summary(GOOD, 60)],
    executions: {
      [OLDEST]: execution(OLDEST, 'aaaa1111', 'Initial service'),
      [GOOD]: execution(
        GOOD,
        'bbbb2222',
        '{"ProviderType":"CodeCommit","CommitMessage":"Greet in French\\n\\nlonger body"}',
      ),
      [BAD]: execution(BAD, 'cccc3333', 'Break the greeting', { status: 'Failed' }),
      [NEW_ROLLBACK]: execution(NEW_ROLLBACK, 'bbbb2222', 'rollback', {
        executionType: 'ROLLBACK',
        status: 'InProgress',
      }),
    },
    actions: {
      [GOOD]: [
        deployAction(GOOD, stage, 'prod-us-east-1', 'app-good'),
        deployAction(GOOD, stage, 'prod-ap-southeast-2', 'app-good'),
      ],
      [BAD]: [deployAction(BAD, stage, 'prod-us-east-1', 'app-bad', 'Failed')],
      [NEW_ROLLBACK]: [
        deployAction(NEW_ROLLBACK, stage, 'prod-us-east-1', undefined, 'InProgress'),
      ],
    },
    rollbackStatuses: ['InProgress', 'InProgress', 'Succeeded'],
    ...overrides,
  };
}

function arrange(s: Scenario, stage = 'prod-wave-2'): void {
  cp.reset();
  const stages = [
    'Source',
    'Build',
    'UpdatePipeline',
    'Assets',
    'Image',
    'preprod-eu-west-1',
    'PromoteToProd',
    'prod-eu-west-1',
    'prod-wave-2',
  ];
  cp.on(GetPipelineStateCommand, { name: PIPELINE }).resolves({
    pipelineName: PIPELINE,
    pipelineVersion: s.pipelineVersion,
    updated: s.pipelineUpdated,
    stageStates: stages.map((stageName) => ({
      stageName,
      latestExecution:
        stageName === stage ? s.latest : { pipelineExecutionId: GOOD, status: 'Succeeded' },
    })),
  });
  cp.on(ListPipelineExecutionsCommand, { pipelineName: PIPELINE }).resolves({
    pipelineExecutionSummaries: s.history ?? [],
  });
  cp.on(ListPipelineExecutionsCommand, {
    pipelineName: PIPELINE,
    filter: { succeededInStage: { stageName: stage } },
  }).resolves({ pipelineExecutionSummaries: s.succeeded ?? [] });
  for (const [id, exec] of Object.entries(s.executions ?? {})) {
    if (id === NEW_ROLLBACK) continue;
    cp.on(GetPipelineExecutionCommand, {
      pipelineName: PIPELINE,
      pipelineExecutionId: id,
    }).resolves({ pipelineExecution: exec });
  }
  const statuses = [...(s.rollbackStatuses ?? [])];
  const rollbackExec = s.executions?.[NEW_ROLLBACK];
  if (rollbackExec) {
    cp.on(GetPipelineExecutionCommand, {
      pipelineName: PIPELINE,
      pipelineExecutionId: NEW_ROLLBACK,
    }).callsFake(() => ({
      pipelineExecution: {
        ...rollbackExec,
        status: statuses.length > 1 ? statuses.shift() : statuses[0],
        statusSummary: 'deploy action failed',
      },
    }));
  }
  cp.on(ListActionExecutionsCommand).callsFake(
    (input: { filter?: { pipelineExecutionId?: string } }) => {
      const id = input.filter?.pipelineExecutionId ?? '';
      const list = s.actions?.[id] ?? [];
      // the rollback's deploy action finishes when the execution does
      if (id === NEW_ROLLBACK && statuses.length === 1)
        return {
          actionExecutionDetails: list.map((a) => ({
            ...a,
            status: statuses[0] === 'Succeeded' ? 'Succeeded' : 'Failed',
          })),
        };
      return { actionExecutionDetails: list };
    },
  );
  cp.on(RollbackStageCommand).resolves({ pipelineExecutionId: NEW_ROLLBACK });
}

function makeDeps(opts: { interactive?: boolean; answer?: boolean } = {}) {
  const output = memoryOutput();
  const questions: string[] = [];
  let clock = 0;
  const sleeps: number[] = [];
  const deps: RollbackDeps = {
    codePipeline: (region) =>
      new CodePipelineClient({ region, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    confirm: (q) => {
      questions.push(q);
      return Promise.resolve(opts.answer ?? false);
    },
    interactive: opts.interactive ?? false,
    sleep: (ms) => {
      sleeps.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
    output,
    cwd: process.cwd(),
    pollIntervalMs: 20000,
    maxWaitMs: 10 * 60000,
  };
  return { deps, output, questions, sleeps };
}

async function run(argv: string[], deps: RollbackDeps) {
  return runCli('rollback', () => rollbackMain(argv, deps), deps.output);
}

describe('rollback: choosing the stage', () => {
  test('an unknown stage is bad usage and lists every valid name, before any AWS call', async () => {
    arrange(waveTwo());
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-mars-1'], deps)).toBe(2);
    expect(output.stderr).toContain(
      'unknown stage "prod-mars-1"; valid: preprod-eu-west-1, prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2, prod-wave-2',
    );
    expect(cp.calls()).toHaveLength(0);
  });

  test('non-deploy stages are not offered', async () => {
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'Build'], deps)).toBe(2);
    expect(output.stderr).toContain('unknown stage "Build"');
  });

  test('missing --stage, unknown flags and a malformed --to are bad usage (exit 2)', async () => {
    const { deps, output } = makeDeps();
    expect(await run([], deps)).toBe(2);
    expect(output.stderr).toContain('--stage is required');
    expect(await run(['--stage', 'prod-wave-2', '--force'], deps)).toBe(2);
    expect(output.stderr).toContain('unknown option --force');
    expect(await run(['--stage', 'prod-wave-2', '--to', 'yesterday'], deps)).toBe(2);
    expect(output.stderr).toContain('--to must be a pipeline execution id');
    expect(output.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  test('an environment name maps to its wave, and the output says the whole wave rolls back', async () => {
    arrange(waveTwo());
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-us-east-1', '--yes'], deps)).toBe(0);
    expect(output.stdout).toContain(
      'prod-us-east-1 is deployed by pipeline stage prod-wave-2; rolling back a wave rolls back every region in it: prod-us-east-1, prod-ap-southeast-2',
    );
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      pipelineName: PIPELINE,
      stageName: 'prod-wave-2',
      targetPipelineExecutionId: GOOD,
    });
  });

  test('a one-region wave is named after its environment (CDK Pipelines names a one-stage wave after its stage)', async () => {
    arrange(waveTwo(), 'prod-eu-west-1');
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-eu-west-1', '--yes'], deps)).toBe(0);
    expect(output.stdout).toContain('stage prod-eu-west-1 deploys prod-eu-west-1 only');
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      stageName: 'prod-eu-west-1',
      targetPipelineExecutionId: GOOD,
    });
  });

  test('pre-prod is its own stage', async () => {
    arrange(waveTwo(), 'preprod-eu-west-1');
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'preprod-eu-west-1', '--yes'], deps)).toBe(0);
    expect(output.stdout).toContain('stage preprod-eu-west-1 deploys preprod-eu-west-1 only');
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      stageName: 'preprod-eu-west-1',
      targetPipelineExecutionId: GOOD,
    });
  });
});

describe('rollback: the happy path', () => {
  test('shows both executions (commit, message, image), rolls back to the last success and follows it to the end', async () => {
    arrange(waveTwo());
    const { deps, output, sleeps } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(0);
    const text = output.stdout;
    expect(text).toContain(`Now:      execution ${BAD} (Failed)`);
    expect(text).toContain('source  Source cccc3333 "Break the greeting"');
    expect(text).toContain('image   app-bad');
    expect(text).toContain(`Redeploy: execution ${GOOD}`);
    expect(text).toContain('source  Source bbbb2222 "Greet in French"'); // CodeCommit JSON summary, first line only
    expect(text).toContain('image   app-good');
    expect(text).toContain(`Rollback started: execution ${NEW_ROLLBACK}`);
    expect(text).toContain(`[0:00] rollback ${NEW_ROLLBACK}: InProgress`);
    expect(text).toContain(`[0:40] rollback ${NEW_ROLLBACK}: Succeeded`);
    expect(text).toContain('prod-us-east-1.HelloWeb.Deploy: Succeeded');
    expect(text).toMatch(
      /Rollback of prod-wave-2 succeeded after 0:40: it runs .* again \(image app-good\)/,
    );
    // status lines only on change: InProgress printed once although polled twice
    expect(text.match(/rollback 0{8}-0000-4000-8000-0000000000bb: InProgress/g)).toHaveLength(1);
    expect(sleeps).toEqual([20000, 20000]);
    expect(cp).toHaveReceivedCommandTimes(RollbackStageCommand, 1);
  });

  test('--json: the outcome as one JSON document on stdout, progress on stderr', async () => {
    arrange(waveTwo());
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes', '--json'], deps)).toBe(0);
    expect(JSON.parse(output.stdout)).toEqual({
      command: 'rollback',
      exitCode: 0,
      pipeline: PIPELINE,
      region: 'eu-west-1',
      stage: 'prod-wave-2',
      current: { executionId: BAD, images: ['app-bad'] },
      target: { executionId: GOOD, images: ['app-good'] },
      rollback: {
        executionId: NEW_ROLLBACK,
        status: 'Succeeded',
        summary: expect.any(String) as unknown,
        seconds: 40,
      },
    });
    expect(output.stderr).toContain(`Rollback started: execution ${NEW_ROLLBACK}`);
  });

  test('--list: the executions the stage can roll back to, newest first; nothing rolled back', async () => {
    arrange(waveTwo({ succeeded: [summary(OLDEST, 120), summary(GOOD, 60)] }));
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--list', '--json'], deps)).toBe(0);
    const doc = JSON.parse(output.stdout) as { candidates: Array<{ executionId: string }> };
    expect(doc.candidates.map((c) => c.executionId)).toEqual([GOOD, OLDEST]);
    expect(output.stderr).toContain('Executions prod-wave-2 can be rolled back to, newest first');
    expect(cp).toHaveReceivedCommandTimes(RollbackStageCommand, 0);
  });

  test('picks the newest successful execution even when the API lists them out of order', async () => {
    arrange(waveTwo({ succeeded: [summary(GOOD, 60), summary(OLDEST, 120)].reverse() }));
    const { deps } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(0);
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, { targetPipelineExecutionId: GOOD });
  });

  test('a stage already rolled back goes further back: skips the rollback execution and its target', async () => {
    arrange(
      waveTwo({
        latest: { pipelineExecutionId: ROLLBACK_RUN, status: 'Succeeded', type: 'ROLLBACK' },
        succeeded: [
          summary(ROLLBACK_RUN, 10, 'ROLLBACK', GOOD),
          summary(GOOD, 60),
          summary(OLDEST, 120),
        ],
        executions: {
          ...waveTwo().executions,
          [ROLLBACK_RUN]: execution(ROLLBACK_RUN, 'bbbb2222', 'rollback', {
            executionType: 'ROLLBACK',
            rollbackMetadata: { rollbackTargetPipelineExecutionId: GOOD },
          }),
        },
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(0);
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      targetPipelineExecutionId: OLDEST,
    });
    expect(output.stdout).toContain(`a rollback to ${GOOD}`);
    expect(output.stdout).toContain(
      'image   unknown (no ImageTag output variable in that execution)',
    );
  });

  test('--to rolls back to that execution when it succeeded in the stage', async () => {
    arrange(waveTwo());
    const { deps } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--to', OLDEST, '--yes'], deps)).toBe(0);
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      stageName: 'prod-wave-2',
      targetPipelineExecutionId: OLDEST,
    });
  });

  test('follows every page of ListPipelineExecutions until it finds the --to execution', async () => {
    arrange(waveTwo());
    cp.on(ListPipelineExecutionsCommand).callsFake((input: { nextToken?: string }) =>
      input.nextToken === 'page2'
        ? { pipelineExecutionSummaries: [summary(OLDEST, 120)] }
        : { pipelineExecutionSummaries: [summary(GOOD, 60)], nextToken: 'page2' },
    );
    const { deps } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--to', OLDEST, '--yes'], deps)).toBe(0);
    expect(cp).toHaveReceivedCommandTimes(ListPipelineExecutionsCommand, 2);
    expect(cp).toHaveReceivedCommandWith(RollbackStageCommand, {
      targetPipelineExecutionId: OLDEST,
    });
  });
});

describe('rollback: confirmation', () => {
  test('without a terminal and without --yes it refuses, says to pass --yes, and rolls nothing back', async () => {
    arrange(waveTwo());
    const { deps, output, questions } = makeDeps({ interactive: false });
    expect(await run(['--stage', 'prod-wave-2'], deps)).toBe(1);
    expect(output.stderr).toContain('pass --yes');
    expect(questions).toEqual([]);
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  test('on a terminal it asks "Roll back <stage> to <execution>? [y/N]"; no means abort', async () => {
    arrange(waveTwo());
    const { deps, output, questions } = makeDeps({ interactive: true, answer: false });
    expect(await run(['--stage', 'prod-wave-2'], deps)).toBe(1);
    expect(questions).toEqual([`Roll back prod-wave-2 to ${GOOD}? [y/N]`]);
    expect(output.stderr).toContain('aborted: nothing was changed');
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  test('yes on the terminal rolls back', async () => {
    arrange(waveTwo());
    const { deps } = makeDeps({ interactive: true, answer: true });
    expect(await run(['--stage', 'prod-wave-2'], deps)).toBe(0);
    expect(cp).toHaveReceivedCommandTimes(RollbackStageCommand, 1);
  });
});

describe('rollback: refusals and failures', () => {
  test('no earlier successful execution: says so, and that automatic rollback needs one too', async () => {
    arrange(
      waveTwo({
        latest: { pipelineExecutionId: GOOD, status: 'Succeeded', type: 'STANDARD' },
        succeeded: [summary(GOOD, 60)],
        pipelineVersion: 1,
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `nothing to roll back to: no execution other than ${GOOD} has succeeded in prod-wave-2 on the pipeline's current structure (version 1)`,
    );
    expect(output.stderr).toContain('automatic rollback of prod-wave-2 cannot work either');
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  // "The pipeline can only roll back to a previous execution if the previous execution was started
  // in the current pipeline structure version", and auto-rollback works "only after there is a
  // successful pipeline execution in the pipeline stage"
  // (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html). The
  // version and when it changed: GetPipelineState `pipelineVersion`, `updated`; an execution's:
  // GetPipelineExecution `pipelineVersion` (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html).
  test('after a change to the pipeline: says the structure changed (version, when), why nothing can roll back, and what to do instead', async () => {
    const changed = new Date(Date.UTC(2026, 0, 1, 11, 30));
    arrange(
      waveTwo({
        pipelineVersion: 7,
        pipelineUpdated: changed,
        // nothing succeeded in the stage on version 7 (the filter only counts the current version)
        succeeded: [],
        executions: {
          ...waveTwo().executions,
          [GOOD]: execution(GOOD, 'bbbb2222', 'Greet in French', { pipelineVersion: 6 }),
          [BAD]: execution(BAD, 'cccc3333', 'Add a region', {
            status: 'Failed',
            pipelineVersion: 7,
          }),
        },
        history: [
          { ...summary(BAD, 10), status: 'Failed' },
          summary(GOOD, 60),
          summary(OLDEST, 120),
        ],
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    const err = output.stderr;
    expect(err).toContain(
      `nothing to roll back to: no execution has succeeded in prod-wave-2 since the pipeline's definition changed (version 7 since ${changed.toISOString()}; ${BAD} is the first release on it)`,
    );
    expect(err).toContain(
      'CodePipeline rolls a stage back only to an execution that started in the current pipeline structure version',
    );
    expect(err).toContain('automatic rollback of prod-wave-2 cannot work either');
    // what to do: fix forward, or put the last good image back by hand
    expect(err).toContain('docs/runbooks/fix-forward.md');
    expect(err).toContain(
      `the last release that went through the whole pipeline is ${GOOD} (image app-good)`,
    );
    expect(err).toContain('npx delivery breakglass --env prod-us-east-1 --image app-good --reason');
    expect(err).toContain(
      'npx delivery breakglass --env prod-ap-southeast-2 --image app-good --reason',
    );
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  test('--to an execution of an older pipeline structure names both versions', async () => {
    const changed = new Date(Date.UTC(2026, 0, 1, 11, 30));
    arrange(
      waveTwo({
        pipelineVersion: 7,
        pipelineUpdated: changed,
        succeeded: [],
        executions: {
          ...waveTwo().executions,
          [OLDEST]: execution(OLDEST, 'aaaa1111', 'Initial service', { pipelineVersion: 5 }),
        },
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--to', OLDEST, '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `--to ${OLDEST} ran on pipeline version 5, and the pipeline is at version 7 since ${changed.toISOString()}: CodePipeline cannot roll back across a change to the pipeline's definition`,
    );
    expect(output.stderr).toContain('docs/runbooks/fix-forward.md');
  });

  test('a stage that never ran has nothing to roll back', async () => {
    arrange(waveTwo({ latest: undefined }));
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain('nothing to roll back: stage prod-wave-2 has never run');
  });

  test('a rollback already running (latest stage execution of type ROLLBACK, in progress) is refused', async () => {
    arrange(
      waveTwo({
        latest: { pipelineExecutionId: ROLLBACK_RUN, status: 'InProgress', type: 'ROLLBACK' },
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `a rollback of prod-wave-2 is already running (execution ${ROLLBACK_RUN}, InProgress)`,
    );
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  test('a stage running a normal deployment is refused with the stop command', async () => {
    arrange(
      waveTwo({ latest: { pipelineExecutionId: BAD, status: 'InProgress', type: 'STANDARD' } }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `aws codepipeline stop-pipeline-execution --region eu-west-1 --pipeline-name ${PIPELINE} --pipeline-execution-id ${BAD} --abandon`,
    );
  });

  test('ConflictException from RollbackStage (a rollback started meanwhile) is explained', async () => {
    arrange(waveTwo());
    cp.on(RollbackStageCommand).rejects(
      new ConflictException({ message: 'Pipeline is busy', $metadata: {} }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      'the pipeline is busy (a rollback or another operation on prod-wave-2 is already under way): Pipeline is busy',
    );
  });

  test('PipelineExecutionOutdatedException says the pipeline structure changed', async () => {
    arrange(waveTwo());
    cp.on(RollbackStageCommand).rejects(
      new PipelineExecutionOutdatedException({ message: 'outdated', $metadata: {} }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `execution ${GOOD} is outdated for prod-wave-2 (the pipeline's structure changed since it ran)`,
    );
  });

  test('UnableToRollbackStageException is passed on with its message', async () => {
    arrange(waveTwo());
    cp.on(RollbackStageCommand).rejects(
      new UnableToRollbackStageException({ message: 'Stage is in progress', $metadata: {} }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `CodePipeline cannot roll back prod-wave-2 to ${GOOD}: Stage is in progress`,
    );
  });

  test('--to an execution that did not succeed in the stage is refused, listing ones that did', async () => {
    arrange(waveTwo());
    const { deps, output } = makeDeps();
    const failedOne = '00000000-0000-4000-8000-0000000000ff';
    expect(await run(['--stage', 'prod-wave-2', '--to', failedOne, '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `--to ${failedOne} did not succeed in prod-wave-2 in the current pipeline structure`,
    );
    expect(output.stderr).toContain(`executions that did: ${GOOD}`);
    expect(cp).not.toHaveReceivedCommand(RollbackStageCommand);
  });

  test('--to a rollback execution is refused and names its target', async () => {
    arrange(
      waveTwo({
        succeeded: [
          summary(ROLLBACK_RUN, 10, 'ROLLBACK', OLDEST),
          summary(GOOD, 60),
          summary(OLDEST, 120),
        ],
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--to', ROLLBACK_RUN, '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(`roll back to its target ${OLDEST} instead`);
  });

  test('--to the current execution is refused', async () => {
    arrange(
      waveTwo({ latest: { pipelineExecutionId: GOOD, status: 'Succeeded', type: 'STANDARD' } }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--to', GOOD, '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(`--to ${GOOD} is what prod-wave-2 runs now`);
  });

  test('a rollback execution not readable yet right after RollbackStage is waited for, not reported as a failure', async () => {
    arrange(waveTwo());
    const notFound = Object.assign(new Error('execution not found'), {
      name: 'PipelineExecutionNotFoundException',
      $metadata: {},
    });
    cp.on(GetPipelineExecutionCommand, {
      pipelineName: PIPELINE,
      pipelineExecutionId: NEW_ROLLBACK,
    })
      .rejectsOnce(notFound)
      .resolves({
        pipelineExecution: {
          pipelineExecutionId: NEW_ROLLBACK,
          executionType: 'ROLLBACK',
          status: 'Succeeded',
        },
      });
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(0);
    expect(output.stdout).toContain(`[0:00] rollback ${NEW_ROLLBACK}: Starting`);
    expect(output.stdout).toContain(`[0:20] rollback ${NEW_ROLLBACK}: Succeeded`);
  });

  test('a rollback execution that never becomes readable is could not check (exit 3) after two minutes', async () => {
    arrange(waveTwo());
    const notFound = Object.assign(new Error('execution not found'), {
      name: 'PipelineExecutionNotFoundException',
      $metadata: {},
    });
    cp.on(GetPipelineExecutionCommand, {
      pipelineName: PIPELINE,
      pipelineExecutionId: NEW_ROLLBACK,
    }).rejects(notFound);
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(3);
    expect(output.stderr).toContain(
      `reading pipeline execution ${NEW_ROLLBACK} failed: PipelineExecutionNotFoundException`,
    );
  });

  test('a rollback that fails exits 1 with the execution summary', async () => {
    arrange(waveTwo({ rollbackStatuses: ['InProgress', 'Failed'] }));
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stdout).toContain(`[0:20] rollback ${NEW_ROLLBACK}: Failed`);
    expect(output.stderr).toContain(
      'Rollback of prod-wave-2 ended Failed after 0:20: deploy action failed',
    );
  });

  test('gives up following (not the rollback) after the maximum wait', async () => {
    arrange(waveTwo({ rollbackStatuses: ['InProgress'] }));
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(1);
    expect(output.stderr).toContain(
      `stopped following after 10:00: rollback ${NEW_ROLLBACK} is still InProgress; it goes on in CodePipeline`,
    );
  });

  test('a missing pipeline names the pipeline and region (could not check, exit 3)', async () => {
    cp.reset();
    cp.on(GetPipelineStateCommand).rejects(
      Object.assign(new Error('Account does not have a pipeline with name'), {
        name: 'PipelineNotFoundException',
        $metadata: {},
      }),
    );
    const { deps, output } = makeDeps();
    expect(await run(['--stage', 'prod-wave-2', '--yes'], deps)).toBe(3);
    expect(output.stderr).toContain(`pipeline ${PIPELINE} not found in eu-west-1`);
  });
});
