import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { STACK_ENVIRONMENTS, validateConfig } from '../../lib/config';
import { DEFAULT_SERVICE, environmentNames } from '../../lib/config';
import { BAKE_WATCH_SCRIPT } from '../../lib/pipeline/bake-watch';
import { type AwsStandIn, startAwsStandIn } from '../support/aws-stand-in';
import { REPO_ROOT } from '../support/paths';

// The bake action's script (lib/pipeline/bake-watch.ts), run with bash and the real AWS CLI
// (.venv/bin/aws, pinned in requirements-dev.txt) against a stand-in for STS, CloudWatch and
// CodePipeline on 127.0.0.1 (test/support/aws-stand-in.ts: why not moto, and the documented
// behaviour each answer encodes). The environment is what CodeBuild gives a build that
// CodePipeline started: CODEBUILD_BUILD_ID (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html)
// and the action's variables, EXECUTION_ID among them as CodePipeline resolves it: in a rollback,
// "CodePipeline will use the variables and artifacts from the execution to which it is rolling
// back" (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html), so it
// names the earlier, STANDARD execution.

const AWS_CLI = path.join(REPO_ROOT, '.venv', 'bin', 'aws');
const available = (): boolean => {
  if (fs.existsSync(AWS_CLI)) return true;
  const hint = 'the AWS CLI is not in .venv: run `bash scripts/setup-python.sh`';
  if (process.env.CI === 'true')
    throw new Error(`${hint}. Under CI=true a missing tool is a failure.`);
  console.warn(`SKIPPING bake watch tests: ${hint}`);
  return false;
};

const PIPELINE = validateConfig(STACK_ENVIRONMENTS).pipeline.name;
const ENV_ACCOUNT = '333333333333';
const REGION = 'us-east-1';
const ALARM = environmentNames(DEFAULT_SERVICE.name, 'prod-us-east-1').bakeAlarm;
const LOOKUP_ROLE = `arn:aws:iam::${ENV_ACCOUNT}:role/cdk-hnb659fds-lookup-role-${ENV_ACCOUNT}-${REGION}`;
const BUILD = 'PipelineprodwaveSmokeAndBake-Ab12Cd34:0b7f6c1e-1111-4222-8333-944445555666';
const STANDARD = '11111111-1111-4111-8111-111111111111';
const ROLLBACK = '22222222-2222-4222-8222-222222222222';

let aws: AwsStandIn;
const ok = available();
beforeAll(async () => {
  if (ok) aws = await startAwsStandIn();
});
afterAll(async () => {
  if (ok) await aws.stop();
});

/** A pipeline whose prod-wave-2 stage runs `BUILD` in `execution`. */
function pipelineRunning(execution: string, type: 'STANDARD' | 'ROLLBACK', build = BUILD) {
  return {
    name: PIPELINE,
    stages: [
      {
        stageName: 'prod-eu-west-1',
        latestExecution: { pipelineExecutionId: STANDARD, status: 'Succeeded' },
        actions: [
          { actionName: 'SmokeAndBake-prod-eu-west-1', externalExecutionId: 'other:0000-earlier' },
        ],
      },
      {
        stageName: 'prod-wave-2',
        latestExecution: { pipelineExecutionId: execution, status: 'InProgress', type },
        actions: [
          { actionName: 'prod-us-east-1.Deploy' },
          { actionName: 'prod-us-east-1.SmokeAndBake-prod-us-east-1', externalExecutionId: build },
        ],
      },
    ],
    executions: { [STANDARD]: 'STANDARD', [ROLLBACK]: 'ROLLBACK' } as Record<
      string,
      'STANDARD' | 'ROLLBACK'
    >,
  };
}

interface Run {
  status: number | null;
  /** Killed at the test's bound: the script was still waiting. */
  killed: boolean;
  out: string;
  calls: AwsStandIn['calls'];
}

/** Runs the script; `onLine` sees stdout as it comes (to change the alarm mid-bake). */
function bake(
  env: Record<string, string> = {},
  onLine?: (line: string) => void,
  boundMs = 45_000,
): Promise<Run> {
  aws.calls.length = 0;
  return new Promise((resolve) => {
    // --norc: bash reads ~/.bashrc when its stdin is a socket, which Node's pipes are, and a
    // ~/.bashrc may put another `aws` first on the PATH.
    const child = spawn('bash', ['--norc', '--noprofile', '-c', BAKE_WATCH_SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${path.dirname(AWS_CLI)}:${process.env.PATH}`,
        HOME: process.env.HOME ?? '/tmp',
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_ACCESS_KEY_ID: 'AKIABUILDROLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'build-token',
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_REGION: 'eu-west-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        CODEBUILD_BUILD_ID: BUILD,
        PIPELINE_NAME: PIPELINE,
        EXECUTION_ID: STANDARD,
        ALARM_NAME: ALARM,
        ALARM_REGION: REGION,
        ROLE_ARN: LOOKUP_ROLE,
        BAKE_MINUTES: '0',
        BAKE_POLL_SECONDS: '0',
        ...env,
      },
    });
    let out = '';
    let partial = '';
    const take = (d: Buffer) => {
      out += d.toString();
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine?.(l);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, boundMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, killed, out, calls: [...aws.calls] });
    });
  });
}

const ops = (r: Run) => r.calls.map((c) => `${c.service}:${c.operation}`);

describe('the bake watch', () => {
  beforeEach(() => {
    if (!ok) return;
    aws.roles = new Set([LOOKUP_ROLE]);
    aws.compositeAlarms = new Map();
    aws.describeAlarmsError = undefined;
    aws.assumeRoleAnswers = undefined;
    aws.pipeline = pipelineRunning(STANDARD, 'STANDARD');
  });
  const it = ok ? test : test.skip;

  it('an alarm that stays OK to the end passes, read through the lookup role in the environment account and region', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']);
    const r = await bake();
    expect(r.out).toContain(`baked 0 min with ${ALARM} OK`);
    expect(r.status).toBe(0);
    expect(ops(r)).toEqual([
      'codepipeline:GetPipelineState',
      'codepipeline:GetPipelineExecution',
      'sts:AssumeRole',
      'monitoring:DescribeAlarms',
    ]);
    const [state, execution, assume, describe] = r.calls;
    expect(state.params).toEqual({ name: PIPELINE });
    expect(execution.params).toEqual({ pipelineName: PIPELINE, pipelineExecutionId: STANDARD });
    expect(assume.params.RoleArn).toBe(LOOKUP_ROLE);
    // The lookup role may read the whole account (ReadOnlyAccess); the session may only read alarms.
    expect(JSON.parse(assume.params.Policy)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: '*' }],
    });
    expect(describe.accessKey).toMatch(/^ASIA/);
    expect(describe.region).toBe(REGION);
    expect(describe.params).toMatchObject({
      'AlarmNames.member.1': ALARM,
      'AlarmTypes.member.1': 'CompositeAlarm',
    });
  });

  it('an ALARM during the bake fails at once (the stage then rolls back)', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']);
    let reads = 0;
    const r = await bake({ BAKE_MINUTES: '1', BAKE_POLL_SECONDS: '0' }, (line) => {
      // The alarm goes to ALARM after the second reading of the bake.
      if (line.includes(`${ALARM} (${REGION}): OK`) && ++reads === 2)
        aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['ALARM']);
    });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(new RegExp(`${ALARM} is in ALARM during the bake: failing`));
  });

  test.each(['INSUFFICIENT_DATA'] as const)(
    'a bake that ends with the alarm %s fails: no data is not health',
    async (state) => {
      if (!ok) return;
      aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, [state]);
      const r = await bake();
      expect(r.status).toBe(1);
      expect(r.out).toContain(`the bake ended with ${ALARM} in ${state}, not OK`);
    },
  );

  it('a rollback execution does not bake, although its variables name the execution it rolls back to', async () => {
    // The bad release left the alarm in ALARM; the rollback brings the previous release back.
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['ALARM']);
    aws.pipeline = pipelineRunning(ROLLBACK, 'ROLLBACK');
    const r = await bake({ EXECUTION_ID: STANDARD });
    expect(r.out).toContain(`execution ${ROLLBACK} is a rollback`);
    expect(r.status).toBe(0);
    expect(ops(r)).not.toContain('sts:AssumeRole');
    expect(ops(r)).not.toContain('monitoring:DescribeAlarms');
  });

  it('a build that no action of the pipeline is running fails at once: it cannot tell a rollback from a release', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']);
    aws.pipeline = pipelineRunning(STANDARD, 'STANDARD', 'someone-else:0000');
    const r = await bake({ BAKE_MINUTES: '30' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`no action of pipeline ${PIPELINE} is running build ${BUILD}`);
    expect(ops(r)).not.toContain('monitoring:DescribeAlarms');
  });

  it('a missing alarm fails at once, naming the alarm, where it was looked for and through which role', async () => {
    // The alarm exists, but in another region: the environment stack is not deployed here.
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/eu-west-1/${ALARM}`, ['OK']);
    const r = await bake({ BAKE_MINUTES: '30' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      `composite alarm ${ALARM} not found in account ${ENV_ACCOUNT}, region ${REGION} (read as ${LOOKUP_ROLE})`,
    );
    expect(ops(r).filter((o) => o === 'monitoring:DescribeAlarms')).toHaveLength(1);
  });

  it('an unreadable alarm fails at once with the error AWS gave', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']);
    aws.describeAlarmsError = {
      code: 'AccessDenied',
      message: 'User is not authorized to perform: cloudwatch:DescribeAlarms',
    };
    const r = await bake({ BAKE_MINUTES: '30' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`cannot read composite alarm ${ALARM} in ${REGION}`);
    expect(r.out).toContain('AccessDenied');
  });

  // After the first good read, a read that fails for a reason AWS calls transient does not fail
  // the bake at once: the AWS CLI's standard retry mode (which the script sets) retries throttling
  // errors, 500/502/503/504 and connection errors, and tags an error it gave up on after its
  // attempts "(reached max retries: N)" (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-retries.html);
  // the watch then tolerates BAKE_TRANSIENT_ERRORS such failed reads in a row. Every fault below is
  // given ATTEMPTS times: once per attempt of one CLI call.
  const ATTEMPTS = 3; // standard mode's default max_attempts, which the script sets
  const THROTTLED = { status: 400, code: 'Throttling', message: 'Rate exceeded' };
  const UNAVAILABLE = { status: 503, code: 'ServiceUnavailable', message: 'Service Unavailable' };
  const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

  it('after a good read, transient errors in a row (throttling, a 503, a dropped connection) are tolerated and the watch goes on', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, [
      'OK',
      ...times(ATTEMPTS, THROTTLED),
      ...times(ATTEMPTS, UNAVAILABLE),
      ...times(ATTEMPTS, 'drop' as const),
      'OK',
      'ALARM',
    ]);
    const r = await bake({ BAKE_MINUTES: '1', BAKE_TRANSIENT_ERRORS: '3' });
    expect(r.killed).toBe(false);
    // it watched past the errors: the ALARM after them is what failed the bake
    expect(r.out).toContain(`${ALARM} is in ALARM during the bake: failing`);
    expect(r.out).not.toContain('cannot read composite alarm');
    expect(r.out.match(/transient error 1 of 3 in a row/g)).toHaveLength(1);
    expect(r.out).toContain('transient error 3 of 3 in a row');
    expect(r.out).toContain('Throttling');
    expect(r.out).toContain('ServiceUnavailable');
    expect(r.out).toContain('Connection was closed before we received a valid response');
    expect(r.status).toBe(1);
  }, 60_000);

  it('after a good read, a renewal of the session that is throttled is tolerated too: the current session still lasts', async () => {
    aws.assumeRoleAnswers = ['ok', ...times(ATTEMPTS, THROTTLED), 'ok'];
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK', 'OK', 'ALARM']);
    const r = await bake({
      BAKE_MINUTES: '1',
      BAKE_TRANSIENT_ERRORS: '3',
      BAKE_RENEW_SECONDS: '0',
    });
    expect(r.killed).toBe(false);
    expect(r.out).toContain(
      `transient error 1 of 3 in a row tolerated, renewing the session in ${LOOKUP_ROLE}`,
    );
    expect(r.out).toContain(`${ALARM} is in ALARM during the bake: failing`);
    expect(r.status).toBe(1);
  }, 60_000);

  it('renewals that keep failing are counted apart: good reads in between do not reset them, so the session never lapses unseen', async () => {
    // The session lasts an hour and is renewed every BAKE_RENEW_SECONDS; reads with it keep
    // working meanwhile. Were the good reads to reset the count, STS could fail for the rest of
    // the hour and the bake would end on an ExpiredToken that hides the cause.
    aws.assumeRoleAnswers = ['ok', ...times(ATTEMPTS * 4, THROTTLED)];
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']);
    const r = await bake({
      BAKE_MINUTES: '1',
      BAKE_TRANSIENT_ERRORS: '3',
      BAKE_RENEW_SECONDS: '0',
    });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      `cannot renew the session in ${LOOKUP_ROLE}: 4 transient errors in a row (at most 3 are tolerated)`,
    );
    expect(r.out).toContain('Throttling');
    expect(r.out).not.toContain('baked 1 min');
  }, 60_000);

  it('transient errors past the bound fail the bake, saying how many and the last error', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK', THROTTLED]);
    const r = await bake({ BAKE_MINUTES: '30', BAKE_TRANSIENT_ERRORS: '2' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      `cannot read composite alarm ${ALARM} in ${REGION} as ${LOOKUP_ROLE}: 3 transient errors in a row (at most 2 are tolerated)`,
    );
    expect(r.out).toContain('Throttling');
    // one good read, then three CLI calls of ATTEMPTS attempts each
    expect(ops(r).filter((o) => o === 'monitoring:DescribeAlarms')).toHaveLength(1 + 3 * ATTEMPTS);
  }, 60_000);

  it('before the first good read, a transient error fails at once: a missing or unreadable alarm is never waited out', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, [THROTTLED]);
    const r = await bake({ BAKE_MINUTES: '30', BAKE_TRANSIENT_ERRORS: '5' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`cannot read composite alarm ${ALARM} in ${REGION}`);
    expect(r.out).not.toContain('transient error 1 of');
  });

  it('after a good read, an error that is not transient (access denied) fails at once', async () => {
    aws.compositeAlarms.set(`${ENV_ACCOUNT}/${REGION}/${ALARM}`, [
      'OK',
      { status: 403, code: 'AccessDenied', message: 'not authorized' },
    ]);
    const r = await bake({ BAKE_MINUTES: '30', BAKE_TRANSIENT_ERRORS: '5' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`cannot read composite alarm ${ALARM} in ${REGION}`);
    expect(r.out).toContain('AccessDenied');
    expect(ops(r).filter((o) => o === 'monitoring:DescribeAlarms')).toHaveLength(2);
  });

  it('a role that cannot be assumed fails at once with a hint', async () => {
    aws.roles = new Set();
    const r = await bake({ BAKE_MINUTES: '30' });
    expect(r.killed).toBe(false);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`cannot assume ${LOOKUP_ROLE}`);
    expect(r.out).toContain('--trust');
  });
});

describe('the stand-in encodes the composite-alarm rule of DescribeAlarms', () => {
  const it = ok ? test : test.skip;
  it('a session allowed DescribeAlarms on a narrower resource than * sees no composite alarm, and no error', async () => {
    aws.roles = new Set([LOOKUP_ROLE]);
    aws.compositeAlarms = new Map([[`${ENV_ACCOUNT}/${REGION}/${ALARM}`, ['OK']]]);
    const narrow = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'cloudwatch:DescribeAlarms',
          Resource: `arn:aws:cloudwatch:${REGION}:${ENV_ACCOUNT}:alarm:${ALARM}`,
        },
      ],
    });
    const script = (policy: string) => `
      read -r k s t <<< "$(aws sts assume-role --role-arn "$ROLE_ARN" --role-session-name probe --policy '${policy}' --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)"
      AWS_ACCESS_KEY_ID=$k AWS_SECRET_ACCESS_KEY=$s AWS_SESSION_TOKEN=$t aws cloudwatch describe-alarms --region "$ALARM_REGION" --alarm-names "$ALARM_NAME" --alarm-types CompositeAlarm --query 'CompositeAlarms[0].StateValue' --output text`;
    const run = (policy: string) =>
      new Promise<string>((resolve) => {
        const child = spawn('bash', ['--norc', '--noprofile', '-c', script(policy)], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            PATH: `${path.dirname(AWS_CLI)}:${process.env.PATH}`,
            AWS_ENDPOINT_URL: aws.endpoint,
            AWS_ACCESS_KEY_ID: 'AKIABUILDROLE',
            AWS_SECRET_ACCESS_KEY: 'secret',
            AWS_DEFAULT_REGION: 'eu-west-1',
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
            ROLE_ARN: LOOKUP_ROLE,
            ALARM_NAME: ALARM,
            ALARM_REGION: REGION,
          },
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', () => resolve(out.trim()));
      });
    expect(await run(narrow)).toBe('None');
    expect(await run(narrow.replace(/"Resource":"[^"]+"/, '"Resource":"*"'))).toBe('OK');
  });
});
