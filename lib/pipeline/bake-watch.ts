import { Aws } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { EnvironmentConfig } from '../config';
import { bakeReaderRoleArn } from './stage-conditions';

/**
 * The bake itself, as a shell script the stage's smoke-test action runs right after the smoke test: it
 * watches the environment's composite bake alarm (through the bake reader role in the
 * environment's account, in its region) for BAKE_MINUTES and fails the action, so the stage
 * rolls back (OnFailure: ROLLBACK), as soon as the alarm is in ALARM, or when the bake ends with
 * the alarm anything but OK (no data is not health).
 *
 * Why an action besides the OnSuccess CloudWatchAlarm rule: the rule's WaitTime is documented both
 * as a window in which an ALARM rolls the stage back and as a grace period that passes at once when
 * the alarm is OK at the first check (docs/decisions/0015-bake-alarms-and-rollback.md); this
 * makes the stage last the bake either way. A rollback execution re-runs every action of the
 * stage; the previous release needs no bake, and the alarm may still show the bad one's ALARM, so
 * the script does nothing in a ROLLBACK execution.
 *
 * Inputs (environment): PIPELINE_NAME, EXECUTION_ID, ALARM_NAME, ALARM_REGION, ROLE_ARN,
 * BAKE_MINUTES, and BAKE_POLL_SECONDS (30; tests set 0). All come from validated config.
 */
export const BAKE_WATCH_SCRIPT = `
type=$(aws codepipeline get-pipeline-execution --pipeline-name "$PIPELINE_NAME" --pipeline-execution-id "$EXECUTION_ID" --query pipelineExecution.executionType --output text) || { echo "cannot read execution $EXECUTION_ID of $PIPELINE_NAME"; exit 1; }
if [ "$type" = "ROLLBACK" ]; then
  echo "execution $EXECUTION_ID is a rollback: the previous release is coming back, nothing to bake"
else
  poll=\${BAKE_POLL_SECONDS:-30}
  deadline=$(( $(date +%s) + BAKE_MINUTES * 60 ))
  renew=0
  state=UNKNOWN
  while :; do
    now=$(date +%s)
    if [ "$now" -ge "$renew" ]; then
      creds=$(aws sts assume-role --role-arn "$ROLE_ARN" --role-session-name "bake-\${EXECUTION_ID:0:36}" --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text) || { echo "cannot assume $ROLE_ARN (is the environment deployed, and does it trust this account?)"; exit 1; }
      read -r key secret token <<< "$creds"
      renew=$(( now + 1800 ))
    fi
    state=$(AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_SESSION_TOKEN="$token" aws cloudwatch describe-alarms --region "$ALARM_REGION" --alarm-names "$ALARM_NAME" --alarm-types CompositeAlarm --query 'CompositeAlarms[0].StateValue' --output text) || state=UNREADABLE
    echo "$(date -u +%H:%M:%S) $ALARM_NAME ($ALARM_REGION): $state, $(( (deadline - now + 59) / 60 )) min of bake left"
    if [ "$state" = "ALARM" ]; then
      echo "$ALARM_NAME is in ALARM during the bake: failing, the stage rolls back (docs/runbooks/alarm-rollback.md)"
      exit 1
    fi
    if [ "$now" -ge "$deadline" ]; then break; fi
    sleep "$poll"
  done
  if [ "$state" != "OK" ]; then
    echo "the bake ended with $ALARM_NAME in $state, not OK: no data is not health, failing"
    exit 1
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
 * the variables the script reads and what its role may do. EXECUTION_ID is a pipeline variable,
 * so CDK Pipelines passes it as an action variable (aws-cdk-lib pipelines codebuild-factory:
 * values containing `#{...}` become action environment variables).
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
      EXECUTION_ID: codepipeline.GlobalVariables.executionId,
      ALARM_NAME: env.names.bakeAlarm,
      ALARM_REGION: env.region,
      ROLE_ARN: bakeReaderRoleArn(env),
      BAKE_MINUTES: String(env.bake.minutes),
    },
    policy: [
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [bakeReaderRoleArn(env)] }),
      new iam.PolicyStatement({
        actions: ['codepipeline:GetPipelineExecution'],
        resources: [
          `arn:${Aws.PARTITION}:codepipeline:${Aws.REGION}:${Aws.ACCOUNT_ID}:${pipelineName}`,
        ],
      }),
    ],
    minutes: env.bake.minutes,
  };
}
