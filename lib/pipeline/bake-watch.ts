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
 * Everything that stops the watch from reading the alarm fails at once, saying what: a build the
 * pipeline does not show, a role it cannot assume, an alarm it cannot read or that is not there.
 *
 * Inputs (environment): PIPELINE_NAME, ALARM_NAME, ALARM_REGION, ROLE_ARN, BAKE_MINUTES (validated
 * config), BAKE_POLL_SECONDS (30; tests set 0), and CODEBUILD_BUILD_ID, which CodeBuild sets
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html).
 */
export const BAKE_WATCH_SCRIPT = `
bake_fail() { echo "bake: $*"; exit 1; }
build="\${CODEBUILD_BUILD_ID:-}"
case "$build" in
  "" | *[!A-Za-z0-9_.:-]*) bake_fail "CODEBUILD_BUILD_ID '$build' is not a CodeBuild build id: cannot tell which pipeline execution this build belongs to" ;;
esac
errors=$(mktemp)
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
  deadline=$(( $(date +%s) + BAKE_MINUTES * 60 ))
  renew=0
  state=UNKNOWN
  while :; do
    now=$(date +%s)
    if [ "$now" -ge "$renew" ]; then
      creds=$(aws sts assume-role --role-arn "$ROLE_ARN" --role-session-name "bake-$execution" --policy '${JSON.stringify(BAKE_SESSION_POLICY)}' --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text 2>"$errors") || bake_fail "cannot assume $ROLE_ARN: $(cat "$errors") (is the account bootstrapped with --trust for the pipeline account? The preflight checks it.)"
      read -r key secret token <<< "$creds"
      renew=$(( now + 1800 ))
    fi
    state=$(AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_SESSION_TOKEN="$token" aws cloudwatch describe-alarms --region "$ALARM_REGION" --alarm-names "$ALARM_NAME" --alarm-types CompositeAlarm --query 'CompositeAlarms[0].StateValue' --output text 2>"$errors") || bake_fail "cannot read composite alarm $ALARM_NAME in $ALARM_REGION as $ROLE_ARN: $(cat "$errors")"
    if [ -z "$state" ] || [ "$state" = "None" ]; then
      bake_fail "composite alarm $ALARM_NAME not found in account $(echo "$ROLE_ARN" | cut -d: -f5), region $ALARM_REGION (read as $ROLE_ARN): is the environment deployed there?"
    fi
    echo "$(date -u +%H:%M:%S) $ALARM_NAME ($ALARM_REGION): $state, $(( (deadline - now + 59) / 60 )) min of bake left"
    if [ "$state" = "ALARM" ]; then
      bake_fail "$ALARM_NAME is in ALARM during the bake: failing, the stage rolls back (docs/runbooks/alarm-rollback.md)"
    fi
    if [ "$now" -ge "$deadline" ]; then break; fi
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
