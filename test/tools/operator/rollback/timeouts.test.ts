import {
  CodePipelineClient,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  RollbackStageCommand,
} from '@aws-sdk/client-codepipeline';
import { mockClient } from 'aws-sdk-client-mock';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import { type RollbackDeps, rollbackMain } from '../../../../tools/operator/rollback/main';

/**
 * issue 13, "Timeouts everywhere", for `rollback`: a CodePipeline call that hangs, a pagination
 * token that never ends and a rollback that never ends are each bounded; `--timeout` bounds the
 * whole command; exit 124 says "timed out". CodePipeline is mocked (aws-sdk-client-mock): moto
 * does not implement RollbackStage or the succeededInStage filter.
 */
const PIPELINE = 'hello-web-delivery';
const STAGE = 'prod-wave-2';
const CURRENT = '00000000-0000-4000-8000-000000000003';
const GOOD = '00000000-0000-4000-8000-000000000002';
const ROLLBACK = '00000000-0000-4000-8000-0000000000bb';
const cp = mockClient(CodePipelineClient);

/** Extra dependencies the new code takes (typed loosely so that this file also runs against older code). */
type ExtraDeps = Partial<RollbackDeps> & Record<string, unknown>;

function deps(extra: ExtraDeps = {}) {
  const output = memoryOutput();
  let clock = 0;
  const d: RollbackDeps = {
    codePipeline: (region) =>
      new CodePipelineClient({ region, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    confirm: () => Promise.resolve(true),
    interactive: false,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
    output,
    cwd: process.cwd(),
    pollIntervalMs: 15000,
    ...extra,
  };
  return { deps: d, output };
}

function stageState() {
  cp.on(GetPipelineStateCommand).resolves({
    pipelineName: PIPELINE,
    stageStates: [
      {
        stageName: STAGE,
        latestExecution: { pipelineExecutionId: CURRENT, status: 'Failed', type: 'STANDARD' },
      },
    ],
  });
  cp.on(GetPipelineExecutionCommand).resolves({
    pipelineExecution: {
      pipelineExecutionId: CURRENT,
      status: 'Failed',
      executionType: 'STANDARD',
      artifactRevisions: [],
    },
  });
  cp.on(ListActionExecutionsCommand).resolves({ actionExecutionDetails: [] });
}

const run = (argv: string[], d: RollbackDeps) =>
  runCli('rollback', () => rollbackMain(argv, d), d.output);

beforeEach(() => cp.reset());

test('a CodePipeline call that never answers: exit 124 naming the call, no rollback started', async () => {
  cp.on(GetPipelineStateCommand).callsFake(() => new Promise(() => undefined));
  const { deps: d, output } = deps({ callTimeoutMs: 300 });
  const started = Date.now();
  expect(await run(['--stage', STAGE, '--yes'], d)).toBe(124);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(output.stderr).toContain(
    `reading the state of pipeline ${PIPELINE} did not answer within 0.3 s`,
  );
  expect(cp.commandCalls(RollbackStageCommand)).toHaveLength(0);
}, 15000);

test('a pagination token that never ends is followed a bounded number of pages, then the command stops: could not check (exit 3)', async () => {
  stageState();
  // Every page says "there is more", and holds nothing that qualifies.
  cp.on(ListPipelineExecutionsCommand).resolves({
    pipelineExecutionSummaries: [
      { pipelineExecutionId: CURRENT, status: 'Succeeded', executionType: 'STANDARD' },
    ],
    nextToken: 'again',
  });
  const { deps: d, output } = deps();
  expect(await run(['--stage', STAGE, '--yes'], d)).toBe(3);
  expect(output.stderr).toContain('AWS returned the same page token twice (after 2 pages)');
  expect(cp.commandCalls(ListPipelineExecutionsCommand).length).toBeLessThanOrEqual(50);
  expect(cp.commandCalls(RollbackStageCommand)).toHaveLength(0);
}, 15000);

test('ever new tokens are followed at most 50 pages: could not check (exit 3)', async () => {
  stageState();
  let n = 0;
  cp.on(ListPipelineExecutionsCommand).callsFake(() => ({
    pipelineExecutionSummaries: [],
    nextToken: `token-${(n += 1)}`,
  }));
  const { deps: d, output } = deps();
  expect(await run(['--stage', STAGE, '--yes'], d)).toBe(3);
  expect(output.stderr).toContain('more than 50 pages');
  expect(cp.commandCalls(ListPipelineExecutionsCommand)).toHaveLength(50);
}, 15000);

test('--timeout bounds following a rollback that never ends: exit 124, and the message says the rollback goes on', async () => {
  stageState();
  cp.on(ListPipelineExecutionsCommand).resolves({
    pipelineExecutionSummaries: [
      {
        pipelineExecutionId: GOOD,
        status: 'Succeeded',
        executionType: 'STANDARD',
        startTime: new Date(0),
      },
    ],
  });
  cp.on(GetPipelineExecutionCommand, { pipelineExecutionId: ROLLBACK }).resolves({
    pipelineExecution: {
      pipelineExecutionId: ROLLBACK,
      status: 'InProgress',
      executionType: 'ROLLBACK',
    },
  });
  cp.on(RollbackStageCommand).resolves({ pipelineExecutionId: ROLLBACK });
  const { deps: d, output } = deps();
  expect(await run(['--stage', STAGE, '--yes', '--timeout', '60'], d)).toBe(124);
  expect(output.stderr).toContain(
    `rollback ${ROLLBACK} is still InProgress; it goes on in CodePipeline`,
  );
  expect(cp.commandCalls(RollbackStageCommand)).toHaveLength(1);
  // Polled every 15 s for 60 s: a handful of polls, not thousands.
  expect(
    cp.commandCalls(GetPipelineExecutionCommand, { pipelineExecutionId: ROLLBACK }).length,
  ).toBeLessThanOrEqual(6);
}, 15000);

test.each([['0'], ['abc'], ['90000']])(
  '--timeout %s is bad usage (exit 2), before any AWS call',
  async (value) => {
    const { deps: d, output } = deps();
    expect(await run(['--stage', STAGE, '--timeout', value], d)).toBe(2);
    expect(output.stderr).toContain(
      `--timeout: "${value}" must be a whole number of seconds from 1 to 86400`,
    );
    expect(cp.calls()).toHaveLength(0);
  },
);
