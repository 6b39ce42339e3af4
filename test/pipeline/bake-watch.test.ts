import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BAKE_WATCH_SCRIPT } from '../../lib/pipeline/bake-watch';

// The bake action's script, run with bash against a fake `aws` CLI on PATH: what it reads, when
// it fails (so the stage rolls back) and when it passes. The real CLI calls are the documented
// ones: codepipeline get-pipeline-execution (executionType STANDARD|ROLLBACK), sts assume-role,
// cloudwatch describe-alarms --alarm-types CompositeAlarm.

const FAKE_AWS = `#!/usr/bin/env bash
echo "$* | key=\${AWS_ACCESS_KEY_ID:-}" >> "$FAKE_LOG"
case "$1 $2" in
  "codepipeline get-pipeline-execution") echo "\${FAKE_TYPE:-STANDARD}" ;;
  "sts assume-role") if [ -n "\${FAKE_NO_ROLE:-}" ]; then echo "AccessDenied" >&2; exit 254; fi; printf 'AKIAFAKE\\tsecret\\ttoken\\n' ;;
  "cloudwatch describe-alarms")
    first=$(head -n1 "$FAKE_STATES"); rest=$(tail -n +2 "$FAKE_STATES")
    if [ -n "$rest" ]; then printf '%s\\n' "$rest" > "$FAKE_STATES"; fi
    echo "$first" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-watch-'));
  fs.writeFileSync(path.join(dir, 'aws'), FAKE_AWS, { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function bake(
  states: string[],
  env: Record<string, string> = {},
): { status: number | null; out: string; calls: string[] } {
  const log = path.join(dir, `log-${Math.random()}`);
  const statesFile = path.join(dir, `states-${Math.random()}`);
  fs.writeFileSync(statesFile, `${states.join('\n')}\n`);
  fs.writeFileSync(log, '');
  const r = spawnSync('bash', ['-c', BAKE_WATCH_SCRIPT], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: `${dir}:${process.env.PATH}`,
      FAKE_LOG: log,
      FAKE_STATES: statesFile,
      PIPELINE_NAME: 'hello-web-delivery',
      EXECUTION_ID: '0123abcd-0000-4000-8000-000000000000',
      ALARM_NAME: 'hello-web-prod-us-east-1-bake',
      ALARM_REGION: 'us-east-1',
      ROLE_ARN: 'arn:aws:iam::333333333333:role/hello-web-prod-us-east-1-bake-reader',
      BAKE_MINUTES: '0',
      BAKE_POLL_SECONDS: '0',
      ...env,
    },
  });
  return {
    status: r.status,
    out: `${r.stdout}${r.stderr}`,
    calls: fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
  };
}

test('an alarm that stays OK to the end of the bake passes, read in the environment account and region', () => {
  const r = bake(['OK']);
  expect(r.status).toBe(0);
  expect(r.out).toContain('baked 0 min with hello-web-prod-us-east-1-bake OK');
  expect(r.calls).toEqual([
    expect.stringMatching(
      /^codepipeline get-pipeline-execution --pipeline-name hello-web-delivery --pipeline-execution-id 0123abcd-/,
    ),
    expect.stringMatching(
      /^sts assume-role --role-arn arn:aws:iam::333333333333:role\/hello-web-prod-us-east-1-bake-reader /,
    ),
    expect.stringMatching(
      /^cloudwatch describe-alarms --region us-east-1 --alarm-names hello-web-prod-us-east-1-bake --alarm-types CompositeAlarm .* \| key=AKIAFAKE$/,
    ),
  ]);
});

test('an ALARM during the bake fails at once (the stage then rolls back)', () => {
  const r = bake(['OK', 'OK', 'ALARM', 'OK'], { BAKE_MINUTES: '1' });
  expect(r.status).not.toBe(0);
  expect(r.out).toMatch(/hello-web-prod-us-east-1-bake is in ALARM during the bake: failing/);
  expect(r.calls.filter((c) => c.startsWith('cloudwatch'))).toHaveLength(3);
});

// INSUFFICIENT_DATA: the alarm never evaluated; None: the CLI's answer when no such alarm exists.
test.each([['INSUFFICIENT_DATA'], ['None']])(
  'a bake that ends with the alarm state %s fails: no data is not health',
  (state) => {
    const r = bake([state]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/the bake ended with hello-web-prod-us-east-1-bake in \S+, not OK/);
  },
);

test('a rollback execution does not bake (the previous release is coming back)', () => {
  const r = bake(['ALARM'], { FAKE_TYPE: 'ROLLBACK' });
  expect(r.status).toBe(0);
  expect(r.out).toContain('is a rollback');
  expect(r.calls.some((c) => c.startsWith('cloudwatch') || c.startsWith('sts'))).toBe(false);
});

test('a role that cannot be assumed fails with a hint', () => {
  const r = bake(['OK'], { FAKE_NO_ROLE: '1' });
  expect(r.status).not.toBe(0);
  expect(r.out).toContain(
    'cannot assume arn:aws:iam::333333333333:role/hello-web-prod-us-east-1-bake-reader',
  );
});
