import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { EnvironmentConfig } from '../config';
import { bakeReaderRoleArn } from './stage-conditions';

/**
 * What the watch's session may do with the role it assumes. The CDK bootstrap lookup role it
 * assumes may read the whole account (ReadOnlyAccess); a session policy narrows this session to
 * the one call it makes (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).
 * On `*`, not the alarm's ARN: DescribeAlarms returns composite alarms only to a caller allowed it
 * on `*` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
 */
/**
 * Transient read errors in a row the watch tolerates after its first good read: with the 30 s
 * poll and the CLI's own 3 attempts per read, about three minutes of an unreadable alarm.
 */
export const BAKE_TRANSIENT_ERRORS_DEFAULT = 5;

export const BAKE_SESSION_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: '*' }],
} as const;

/**
 * The bake, as a shell script the stage's SmokeAndBake action runs right after the smoke test
 * (docs/decisions/0024-bake-owner-rollback-and-limits.md). The watch owns the bake: it watches
 * the environment's composite bake alarm for BAKE_MINUTES and fails the action, so the stage rolls
 * back (OnFailure: ROLLBACK), as soon as the alarm is in ALARM, or when the bake ends with the
 * alarm anything but OK (no data is not health). It reads the alarm in the environment's account
 * and region through the CDK bootstrap lookup role there (ROLE_ARN,
 * docs/decisions/0023-bake-alarm-through-bootstrap-lookup-role.md).
 *
 * Which execution the action belongs to: a rollback runs "the variables and artifacts from the
 * execution to which it is rolling back" (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html),
 * so `#{codepipeline.PipelineExecutionId}` names that older execution. The action's own execution
 * is read instead: the stage whose action is running this very build (CODEBUILD_BUILD_ID, the
 * action's externalExecutionId in GetPipelineState) is running that stage's latest execution, and
 * GetPipelineExecution says whether it is a ROLLBACK. A rollback re-runs the stage to bring the
 * previous release back: nothing to bake, and the alarm may still show the bad release's ALARM.
 *
 * Everything that stops the watch from reading the alarm before its first good read fails at
 * once, saying what: a build the pipeline does not show, a role it cannot assume, an alarm it
 * cannot read or that is not there. After a good read, a read (or a renewal of the role's session)
 * that failed for a reason AWS calls transient is tolerated BAKE_TRANSIENT_ERRORS times in a row,
 * each said in the log; one more fails the bake. Transient is what the AWS CLI's standard retry
 * mode retries (throttling errors, HTTP 500/502/503/504, connection errors:
 * https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-retries.html), which the script
 * sets (the CLI v1 defaults to legacy): an error the CLI retried until it gave up carries
 * "(reached max retries: N)", a connection error one of botocore's connection messages. Any other
 * error (access denied, a missing alarm) still fails at once, and the bake never ends on a failed
 * read: at the end, a good read decides.
 *
 * Inputs (environment): PIPELINE_NAME, ALARM_NAME, ALARM_REGION, ROLE_ARN, BAKE_MINUTES (validated
 * config), BAKE_TRANSIENT_ERRORS (BAKE_TRANSIENT_ERRORS_DEFAULT), BAKE_POLL_SECONDS (30; tests set
 * 0), BAKE_RENEW_SECONDS (1800: when the hour-long session is renewed; tests set 0), and CODEBUILD_BUILD_ID, which CodeBuild sets
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html).
 */
export const BAKE_WATCH_SCRIPT = `
bake_fail() { echo "bake: $*"; exit 1; }
build="\${CODEBUILD_BUILD_ID:-}"
case "$build" in
  "" | *[!A-Za-z0-9_.:-]*) bake_fail "CODEBUILD_BUILD_ID '$build' is not a CodeBuild build id: cannot tell which pipeline execution this build belongs to" ;;
esac
errors=$(mktemp)
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=3
transient() { grep -qE '\\(reached max retries: [0-9]+\\)|Could not connect to the endpoint URL|Connection was closed before we received a valid response|Read timeout on endpoint URL|Connect timeout on endpoint URL' "$errors"; }
execution=$(aws codepipeline get-pipeline-state --name "$PIPELINE_NAME" --query "stageStates[?actionStates[?latestExecution.externalExecutionId=='$build']].latestExecution.pipelineExecutionId | [0]" --output text 2>"$errors") || bake_fail "cannot read the state of pipeline $PIPELINE_NAME: $(cat "$errors")"
if [ -z "$execution" ] || [ "$execution" = "None" ]; then
  bake_fail "no action of pipeline $PIPELINE_NAME is running build $build: cannot tell a rollback from a release, so not baking blind"
fi
type=$(aws codepipeline get-pipeline-execution --pipeline-name "$PIPELINE_NAME" --pipeline-execution-id "$execution" --query pipelineExecution.executionType --output text 2>"$errors") || bake_fail "cannot read execution $execution of $PIPELINE_NAME: $(cat "$errors")"
if [ "$type" = "ROLLBACK" ]; then
  echo "execution $execution is a rollback: the previous release is coming back, nothing to bake"
else
  echo "execution $execution ($type): baking \${BAKE_MINUTES} min behind $ALARM_NAME ($ALARM_REGION)"
  poll=\${BAKE_POLL_SECONDS:-30}
  limit=\${BAKE_TRANSIENT_ERRORS:-${BAKE_TRANSIENT_ERRORS_DEFAULT}}
  deadline=$(( $(date +%s) + BAKE_MINUTES * 60 ))
  renew=0
  state=UNKNOWN
  good=0
  misses=0
  renew_misses=0
  # After a good read, a transient failure of "$1" is logged and tolerated up to $limit in a row.
  tolerated() {
    [ "$good" -gt 0 ] && transient || return 1
    misses=$(( misses + 1 ))
    if [ "$misses" -gt "$limit" ]; then
      bake_fail "cannot read composite alarm $ALARM_NAME in $ALARM_REGION as $ROLE_ARN: $misses transient errors in a row (at most $limit are tolerated), the last one $1: $(cat "$errors")"
    fi
    echo "$(date -u +%H:%M:%S) transient error $misses of $limit in a row tolerated, $1: $(tr '\\n' ' ' < "$errors")"
  }
  while :; do
    now=$(date +%s)
    if [ "$now" -ge "$renew" ]; then
      if creds=$(aws sts assume-role --role-arn "$ROLE_ARN" --role-session-name "bake-$execution" --policy '${JSON.stringify(BAKE_SESSION_POLICY)}' --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text 2>"$errors"); then
        read -r key secret token <<< "$creds"
        renew=$(( now + \${BAKE_RENEW_SECONDS:-1800} ))
        renew_misses=0
      elif [ "$good" -gt 0 ] && transient; then
        # Counted apart from the reads: a good read with the current session does not make the
        # next renewal likelier, and the session lapses an hour after it was taken.
        renew_misses=$(( renew_misses + 1 ))
        if [ "$renew_misses" -gt "$limit" ]; then
          bake_fail "cannot renew the session in $ROLE_ARN: $renew_misses transient errors in a row (at most $limit are tolerated), the current session lapses an hour after it was taken: $(cat "$errors")"
        fi
        echo "$(date -u +%H:%M:%S) transient error $renew_misses of $limit in a row tolerated, renewing the session in $ROLE_ARN (the current one lasts an hour): $(tr '\\n' ' ' < "$errors")"
      else
        bake_fail "cannot assume $ROLE_ARN: $(cat "$errors") (is the account bootstrapped with --trust for the pipeline account? The preflight checks it.)"
      fi
    fi
    if read_state=$(AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_SESSION_TOKEN="$token" aws cloudwatch describe-alarms --region "$ALARM_REGION" --alarm-names "$ALARM_NAME" --alarm-types CompositeAlarm --query 'CompositeAlarms[0].StateValue' --output text 2>"$errors"); then
      if [ -z "$read_state" ] || [ "$read_state" = "None" ]; then
        bake_fail "composite alarm $ALARM_NAME not found in account $(echo "$ROLE_ARN" | cut -d: -f5), region $ALARM_REGION (read as $ROLE_ARN): is the environment deployed there?"
      fi
      state=$read_state
      good=$(( good + 1 ))
      misses=0
      echo "$(date -u +%H:%M:%S) $ALARM_NAME ($ALARM_REGION): $state, $(( (deadline - now + 59) / 60 )) min of bake left"
      if [ "$state" = "ALARM" ]; then
        bake_fail "$ALARM_NAME is in ALARM during the bake: failing, the stage rolls back (docs/runbooks/alarm-rollback.md)"
      fi
      if [ "$now" -ge "$deadline" ]; then break; fi
    elif ! tolerated "reading $ALARM_NAME"; then
      bake_fail "cannot read composite alarm $ALARM_NAME in $ALARM_REGION as $ROLE_ARN: $(cat "$errors")"
    fi
    sleep "$poll"
  done
  if [ "$state" != "OK" ]; then
    bake_fail "the bake ended with $ALARM_NAME in $state, not OK: no data is not health, failing"
  fi
  echo "baked \${BAKE_MINUTES} min with $ALARM_NAME OK"
fi
`;

/** What the bake needs to know about one environment and the pipeline that deploys it. */
export interface BakeTarget {
  readonly env: EnvironmentConfig;
  readonly pipelineName: string;
}

/**
 * The bake as part of a step after the deploy (SmokeTestStep runs it right after the smoke test,
 * in the same action, so the two cost one CodeBuild build and one sequential step: issue 16):
 * the variables the script reads and what its role may do: read the pipeline's state and
 * executions, and assume the environment's bootstrap lookup role.
 */
export function bakeWatchFor(target: BakeTarget): {
  env: Record<string, string>;
  policy: iam.PolicyStatement[];
  minutes: number;
} {
  const { env, pipelineName } = target;
  return {
    env: {
      PIPELINE_NAME: pipelineName,
      ALARM_NAME: env.names.bakeAlarm,
      ALARM_REGION: env.region,
      ROLE_ARN: bakeReaderRoleArn(env),
      BAKE_MINUTES: String(env.bake.minutes),
      BAKE_TRANSIENT_ERRORS: String(BAKE_TRANSIENT_ERRORS_DEFAULT),
    },
    policy: [
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [bakeReaderRoleArn(env)] }),
      new iam.PolicyStatement({
        actions: ['codepipeline:GetPipelineExecution', 'codepipeline:GetPipelineState'],
        resources: [
          `arn:${Aws.PARTITION}:codepipeline:${Aws.REGION}:${Aws.ACCOUNT_ID}:${pipelineName}`,
        ],
      }),
    ],
    minutes: env.bake.minutes,
  };
}
