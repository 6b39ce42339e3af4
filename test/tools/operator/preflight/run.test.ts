import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeClusterVersionsCommand } from '@aws-sdk/client-eks';
import { GetConfigurationCommand } from '@aws-sdk/client-inspector2';
import { GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { memoryOutput } from '../../../../tools/common/output';
import { preflightMain } from '../../../../tools/operator/preflight/main';
import { REPO_ROOT } from '../../../support/paths';
import { NEEDS, TARGET_OF, plainAccess } from './fixtures';
import { mockHealthyOrganisation } from './org';

/**
 * The whole preflight over a mocked organisation (aws-sdk-client-mock): the table, the fixes,
 * progress, the exit code, the time bound of every call, the parallelism bound.
 */
let mocks: ReturnType<typeof mockHealthyOrganisation>;
beforeEach(() => {
  Object.values(mocks ?? {}).forEach((m) => m.restore());
  mocks = mockHealthyOrganisation();
});
afterAll(() => Object.values(mocks).forEach((m) => m.restore()));

async function preflight(argv: string[] = []) {
  const output = memoryOutput();
  const code = await preflightMain(argv, {
    output,
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    aws: () => plainAccess(),
    needs: () => NEEDS,
  });
  return { code, stdout: output.stdout, stderr: output.stderr };
}

const rowOf = (stdout: string, check: string, target: string) =>
  stdout
    .split('\n')
    .find(
      (l) =>
        l.startsWith(check.padEnd(10).slice(0, check.length)) &&
        l.includes(` ${target} `) &&
        l.startsWith(check),
    );

test('a healthy organisation: every row PASS, exit 0', async () => {
  const { code, stdout } = await preflight();
  expect(stdout).not.toMatch(/ (WARN|FAIL|ERROR) +\S/);
  expect(stdout).toContain('0 warnings, 0 failed, 0 could not be checked.');
  expect(code).toBe(0);
});

test('one failing and one warning check: exit 1, each with its fix, numbered under the table', async () => {
  // 333333333333 in us-east-1 was bootstrapped without trusting the pipeline account ...
  mocks.cfn.on(DescribeStacksCommand).callsFake((_input, getClient) => {
    const t = TARGET_OF.get(getClient())!;
    const trusted = t.account === '333333333333' && t.region === 'us-east-1' ? '' : '111111111111';
    return {
      Stacks: [
        {
          StackName: 'CDKToolkit',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '33' }],
          Parameters: [{ ParameterKey: 'TrustedAccounts', ParameterValue: trusted }],
        },
      ],
    };
  });
  // ... and Inspector rescans ECR images for 14 days only (the new-account default).
  mocks.inspector
    .on(GetConfigurationCommand)
    .resolves({ ecrConfiguration: { rescanDurationState: { rescanDuration: 'DAYS_14' } } });
  const { code, stdout } = await preflight();
  if (process.env.PREFLIGHT_TRANSCRIPT) process.stdout.write(`\n$ npm run preflight\n${stdout}`);
  expect(code).toBe(1);
  expect(rowOf(stdout, 'bootstrap trust', '333333333333/us-east-1')).toMatch(
    /FAIL +does not trust the pipeline account 111111111111 .*\[fix 1\]$/,
  );
  expect(rowOf(stdout, 'inspector rescan', '111111111111/eu-west-1')).toMatch(
    /WARN +re-scan duration DAYS_14.*\[fix 2\]$/,
  );
  expect(stdout).toContain(
    '  [1] npx cdk bootstrap aws://333333333333/us-east-1 --trust 111111111111 --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess',
  );
  expect(stdout).toContain(
    '  [2] aws inspector2 update-configuration --ecr-configuration rescanDuration=LIFETIME --region eu-west-1',
  );
  expect(stdout).toContain('54 passed, 1 warning, 1 failed, 0 could not be checked.');
});

test('progress on stdout while it works: one line per finished check, before the table', async () => {
  const { stdout } = await preflight();
  const lines = stdout.split('\n');
  const table = lines.findIndex((l) => l.startsWith('CHECK'));
  const progress = lines.slice(0, table).filter((l) => /^ {2}\[ ?\d+\/\d+\] PASS/.test(l));
  expect(progress.length).toBeGreaterThan(20);
  expect(lines[0]).toBe('Configuration: the built-in STACK_ENVIRONMENTS (lib/config/defaults.ts)');
  expect(lines[1]).toMatch(/^Synthesizing the app/);
});

test('a hanging call is abandoned at --call-timeout: that check could not be checked (exit 3), the others still run', async () => {
  mocks.eks.on(DescribeClusterVersionsCommand).callsFake(() => new Promise(() => undefined));
  const started = Date.now();
  const { code, stdout } = await preflight(['--call-timeout', '1']);
  expect(Date.now() - started).toBeLessThan(15000);
  expect(code).toBe(3);
  expect(rowOf(stdout, 'kubernetes version', '333333333333/us-east-1')).toMatch(
    /ERROR +kubernetes version: no answer from EKS DescribeClusterVersions within 1 s/,
  );
  expect(rowOf(stdout, 'availability zones', '333333333333/us-east-1')).toMatch(/PASS/);
});

test('credentials of another account: that account is not checked (ERROR, exit 3) and the fix names --role-name', async () => {
  mocks.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: '111111111111', Arn: 'arn:aws:sts::111111111111:assumed-role/Dev/me' });
  const { code, stdout } = await preflight();
  expect(code).toBe(3);
  expect(rowOf(stdout, 'credentials', '222222222222')).toMatch(
    /ERROR +the credentials are for account 111111111111/,
  );
  expect(stdout).toMatch(
    /pass --role-name <role in every account>, or run with credentials for 222222222222/,
  );
  expect(rowOf(stdout, 'bootstrap', '222222222222/eu-west-1')).toMatch(
    /ERROR +skipped: no usable credentials for 222222222222/,
  );
  expect(
    mocks.cfn
      .commandCalls(DescribeStacksCommand)
      .some((c) => TARGET_OF.get(c.thisValue as object)?.account === '222222222222'),
  ).toBe(false);
});

test('an access-denied check is "could not check" with the reason, not a verdict', async () => {
  mocks.quotas.on(GetServiceQuotaCommand).rejects(
    Object.assign(new Error('User is not authorized to perform: servicequotas:GetServiceQuota'), {
      name: 'AccessDeniedException',
      $metadata: {},
    }),
  );
  const { code, stdout } = await preflight();
  expect(code).toBe(3);
  expect(rowOf(stdout, 'codebuild concurrency', '111111111111/eu-west-1')).toMatch(
    /ERROR +codebuild concurrency failed: access denied/,
  );
});

test('calls run in parallel, never more than --concurrency checks at once', async () => {
  let inFlight = 0;
  let most = 0;
  mocks.eks.on(DescribeClusterVersionsCommand).callsFake(async () => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 30));
    inFlight -= 1;
    return { clusterVersions: [{ clusterVersion: '1.35', versionStatus: 'STANDARD_SUPPORT' }] };
  });
  await preflight(['--concurrency', '2']);
  expect(most).toBe(2);
});

test('-c config=<file>: the accounts of that file are checked', async () => {
  const { stdout } = await preflight(['-c', 'config=config/example-multi-region.json']);
  const accounts = [...stdout.matchAll(/^credentials +(\d{12}) +PASS/gm)].map((m) => m[1]);
  expect(accounts.length).toBeGreaterThan(3);
  expect(accounts).toContain('111111111111');
});

test('an app that does not synthesize: nothing is checked, exit 3 with the reason', async () => {
  const output = memoryOutput();
  const run = preflightMain([], {
    output,
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    aws: () => plainAccess(),
    needs: () => {
      throw new Error('boom: a construct failed');
    },
  });
  await expect(run).rejects.toMatchObject({
    exitCode: 3,
    message: expect.stringContaining(
      'could not synthesize the app to learn what it deploys: boom: a construct failed',
    ) as unknown,
  });
  expect(mocks.sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(0);
});

test('--json: every row as one JSON document on stdout; progress and the table on stderr', async () => {
  const { code, stdout, stderr } = await preflight(['--json']);
  expect(code).toBe(0);
  const doc = JSON.parse(stdout) as {
    command: string;
    exitCode: number;
    outcome: string;
    checks: Array<{ check: string; target: string; status: string }>;
  };
  expect(doc).toMatchObject({ command: 'preflight', exitCode: 0, outcome: 'nothing fails' });
  expect(doc.checks.length).toBeGreaterThan(20);
  expect(doc.checks.every((c) => c.status === 'PASS')).toBe(true);
  expect(stderr).toMatch(/^CHECK +ACCOUNT\/REGION +STATUS +DETAIL$/m);
});
