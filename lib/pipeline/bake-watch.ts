import { Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { BAKE_NAMES } from '../constructs/alarms';
import { type DeployStage, bakeReaderRoleArn } from './stage-conditions';

/**
 * The bake itself, as a shell script a CodeBuild action runs after the stage's smoke test: it
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

export interface BakeWatchProps {
  readonly pipeline: codepipeline.Pipeline;
  readonly pipelineName: string;
  readonly stages: readonly DeployStage[];
  /**
   * Runtimes the build selects. The script needs only bash and the AWS CLI, which every CodeBuild
   * image has, so by default it selects none (a step selects exactly the runtimes it runs:
   * test/pipeline/codebuild-runtimes.test.ts).
   * @default none
   */
  readonly runtimeVersions?: Record<string, string>;
}

/**
 * Adds a `Bake-<environment>` CodeBuild action after the last action of every deploy stage, one
 * per environment (a wave's run in parallel), sharing one small CodeBuild project. Added to the
 * built CodePipeline by stage name, after CDK Pipelines built it.
 */
export class BakeWatch extends Construct {
  readonly project: codebuild.PipelineProject;

  constructor(scope: Construct, id: string, props: BakeWatchProps) {
    super(scope, id);
    const longest = Math.max(
      ...props.stages.flatMap((s) => s.environments.map((e) => e.bake.minutes)),
    );
    this.project = new codebuild.PipelineProject(this, 'Project', {
      description: `Bakes a release: watches an environment's bake alarm (${props.pipelineName})`,
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { shell: 'bash' },
        phases: {
          ...(props.runtimeVersions
            ? { install: { 'runtime-versions': props.runtimeVersions } }
            : {}),
          build: { commands: [BAKE_WATCH_SCRIPT] },
        },
      }),
      // The smallest Graviton build: the script only sleeps and calls two APIs.
      environment: {
        buildImage: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_4_0,
        computeType: codebuild.ComputeType.SMALL,
      },
      timeout: Duration.minutes(longest + 15),
      encryptionKey: props.pipeline.artifactBucket.encryptionKey,
    });
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole'],
        resources: props.stages.flatMap((s) => s.environments.map(bakeReaderRoleArn)),
      }),
    );
    this.project.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['codepipeline:GetPipelineExecution'],
        resources: [props.pipeline.pipelineArn],
      }),
    );

    for (const deploy of props.stages) {
      const stage = props.pipeline.stages.find((s) => s.stageName === deploy.stageName);
      if (!stage) throw new Error(`internal: pipeline stage ${deploy.stageName} not found`);
      const last = Math.max(...stage.actions.map((a) => a.actionProperties.runOrder ?? 1));
      // CodePipeline requires an input artifact for a CodeBuild action; any the stage already reads will do.
      const input = stage.actions.flatMap((a) => a.actionProperties.inputs ?? [])[0];
      if (!input)
        throw new Error(
          `internal: stage ${deploy.stageName} has no input artifact to give the bake action`,
        );
      for (const env of deploy.environments) {
        stage.addAction(
          new actions.CodeBuildAction({
            actionName: `Bake-${env.stageName}`,
            project: this.project,
            input,
            runOrder: last + 1,
            environmentVariables: {
              PIPELINE_NAME: { value: props.pipelineName },
              EXECUTION_ID: { value: codepipeline.GlobalVariables.executionId },
              ALARM_NAME: { value: BAKE_NAMES.bakeAlarm(env.stageName) },
              ALARM_REGION: { value: env.region },
              ROLE_ARN: { value: bakeReaderRoleArn(env) },
              BAKE_MINUTES: { value: String(env.bake.minutes) },
            },
          }),
        );
      }
    }
  }
}
