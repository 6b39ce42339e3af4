import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import {
  DEFAULT_SERVICE,
  type DeliveryConfigInput,
  type EnvironmentConfig,
  allEnvironments,
  environmentNames,
} from '../../lib/config';
import { BOOTSTRAP_QUALIFIER } from '../../lib/config/bootstrap';
import { containerInsightsMetricsOf } from '../../lib/config/cloudwatch-observability';
import { KUBERNETES_VERSIONS } from '../../lib/config/kubernetes-versions';
import {
  CODEBUILD_ACTION_MAX_MINUTES,
  MAX_BAKE_MINUTES,
  SMOKE_TEST_MINUTES,
} from '../../lib/config/pipeline-shape';
import { smokeAndBakeMinutes } from '../../lib/pipeline/steps';
import { probePaths } from '../../lib/constructs/alarms';
import { NOTIFIED_EVENTS } from '../../lib/pipeline/notifications';
import {
  REPO_ROOT,
  type Synthesized,
  pipelineStages,
  projectBuildSpec,
  synthesize,
} from '../support/synth';
import exampleMultiRegion from '../../config/example-multi-region.json';

const namesOf = (stageName: string) => environmentNames(DEFAULT_SERVICE.name, stageName);

// Safe delivery on the synthesized templates, for the default config and the multi-region example:
// every deploy stage bakes behind its environments' alarms and rolls back on breach (OnSuccess),
// prod waves honour their windows (BeforeEntry), and people hear about approvals, failures,
// rollbacks and releases. CodePipeline and CloudWatch behaviour is encoded from the AWS docs cited
// in lib/pipeline/stage-conditions.ts and lib/constructs/alarms.ts; it cannot run here.

let def: Synthesized;
let example: Synthesized;

beforeAll(() => {
  def = synthesize();
  example = synthesize({
    config: exampleMultiRegion as DeliveryConfigInput,
  });
});

interface Rule {
  Name: string;
  RuleTypeId: { Category: string; Owner: string; Provider: string; Version: string };
  Configuration: Record<string, string>;
  Region?: string;
  RoleArn?: unknown;
}
interface Stage {
  Name: string;
  OnSuccess?: { Conditions: Array<{ Result: string; Rules: Rule[] }> };
  BeforeEntry?: { Conditions: Array<{ Result: string; Rules: Rule[] }> };
  Actions: Array<{
    Name: string;
    ActionTypeId: { Provider: string };
    Configuration?: Record<string, unknown>;
  }>;
}

interface ProjectResource {
  Properties: {
    Environment: { EnvironmentVariables: Array<{ Name: string; Value: unknown }> };
    ServiceRole: { 'Fn::GetAtt': [string, string] };
    TimeoutInMinutes: number;
  };
}

/** The CDK bootstrap lookup role of an environment's account and region. */
const lookupRole = (env: EnvironmentConfig): string =>
  `arn:aws:iam::${env.account}:role/cdk-${BOOTSTRAP_QUALIFIER}-lookup-role-${env.account}-${env.region}`;

function stagesOf(t: Template): Stage[] {
  const [pipeline] = Object.values(t.findResources('AWS::CodePipeline::Pipeline')) as Array<{
    Properties: { Stages: Stage[] };
  }>;
  return pipeline.Properties.Stages;
}

/** `{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::..."]]}` → "arn:aws:iam::..." */
function arnOf(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1].map((p) => (typeof p === 'string' ? p : 'aws')).join(join[0]);
}

/** Environments per CodePipeline deploy stage, from the config: pre-prod, then each wave. */
function deployStages(s: Synthesized): Array<{ name: string; envs: readonly EnvironmentConfig[] }> {
  return [
    { name: s.config.preprod.pipelineStageName, envs: [s.config.preprod] },
    ...s.config.prod.waves.map((w) => ({ name: w[0].pipelineStageName, envs: w })),
  ];
}

describe.each([
  ['default config', () => def],
  ['multi-region example', () => example],
])('bake and automatic rollback (%s)', (_name, get) => {
  test('every deploy stage rolls back unless every environment in it keeps its bake alarm OK for its bake time', () => {
    const s = get();
    const stages = stagesOf(s.pipeline);
    for (const { name, envs } of deployStages(s)) {
      const stage = stages.find((x) => x.Name === name);
      expect(stage?.OnSuccess?.Conditions).toHaveLength(1);
      const [condition] = stage!.OnSuccess!.Conditions;
      expect(condition.Result).toBe('ROLLBACK');
      // One rule per region of the wave: the wave succeeds only when all of them baked.
      expect(condition.Rules.map((r) => r.Region).sort()).toEqual(envs.map((e) => e.region).sort());
      for (const env of envs) {
        const rule = condition.Rules.find((r) => r.Region === env.region)!;
        expect(rule.RuleTypeId).toEqual({
          Category: 'Rule',
          Owner: 'AWS',
          Provider: 'CloudWatchAlarm',
          Version: '1',
        });
        // WaitTime is a grace period, "to allow for a state change before running the rule
        // result" (rule reference): one evaluation window of the alarms, not the bake, which the
        // SmokeAndBake action owns (docs/decisions/0024-bake-owner-rollback-and-limits.md).
        expect(rule.Configuration).toEqual({
          AlarmName: namesOf(env.stageName).bakeAlarm,
          AlarmStates: 'ALARM',
          WaitTime: String(Math.ceil((env.bake.periodSeconds * env.bake.evaluationPeriods) / 60)),
        });
        // Read in the environment's own account and region, through the role bootstrap created
        // there: it exists before the pipeline names it.
        expect(arnOf(rule.RoleArn)).toBe(lookupRole(env));
      }
    }
  });

  test('every deploy stage ends with one smoke-test-and-bake action per environment that watches its alarm for its bake time', () => {
    const s = get();
    const stages = stagesOf(s.pipeline);
    const resources = s.pipeline.toJSON().Resources as Record<string, ProjectResource>;
    for (const { name, envs } of deployStages(s)) {
      const stage = stages.find((x) => x.Name === name)!;
      const actions = stage.Actions as Array<{
        Name: string;
        RunOrder: number;
        ActionTypeId: { Provider: string };
        Configuration: { EnvironmentVariables?: string; ProjectName: { Ref: string } };
      }>;
      const last = Math.max(...actions.map((a) => a.RunOrder));
      for (const env of envs) {
        const bakes = actions.filter((a) => a.Name.endsWith(`SmokeAndBake-${env.stageName}`));
        expect(bakes).toHaveLength(1);
        const [bake] = bakes;
        expect(bake.ActionTypeId.Provider).toBe('CodeBuild');
        // after everything else in the stage, all environments of a wave in parallel
        expect(bake.RunOrder).toBe(last);
        // The watch finds its own execution from the action it runs in: in a rollback, the
        // pipeline's variables name the execution being rolled back to (stage rollback guide).
        expect(bake.Configuration.EnvironmentVariables ?? '').not.toContain(
          'codepipeline.PipelineExecutionId',
        );
        const project = resources[bake.Configuration.ProjectName.Ref];
        const vars = Object.fromEntries(
          project.Properties.Environment.EnvironmentVariables.map((v) => [v.Name, v.Value]),
        );
        expect(vars).toMatchObject({
          PIPELINE_NAME: s.config.pipeline.name,
          ALARM_NAME: namesOf(env.stageName).bakeAlarm,
          ALARM_REGION: env.region,
          BAKE_MINUTES: String(env.bake.minutes),
        });
        expect(arnOf(vars.ROLE_ARN)).toBe(lookupRole(env));
        // the build outlasts the smoke test's bound and the bake, within the 8 hours CodePipeline
        // gives a CodeBuild action (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html)
        expect(project.Properties.TimeoutInMinutes).toBe(
          smokeAndBakeMinutes(SMOKE_TEST_MINUTES * 60, env.bake.minutes),
        );
        expect(project.Properties.TimeoutInMinutes).toBeGreaterThan(
          env.bake.minutes + SMOKE_TEST_MINUTES,
        );
        expect(project.Properties.TimeoutInMinutes).toBeLessThanOrEqual(
          CODEBUILD_ACTION_MAX_MINUTES,
        );
      }
    }
  });

  test('stages that deploy nothing have no bake', () => {
    const s = get();
    const deploying = new Set(deployStages(s).map((d) => d.name));
    const others = stagesOf(s.pipeline).filter((x) => !deploying.has(x.Name));
    expect(others.map((x) => x.Name)).toEqual(
      expect.arrayContaining(['Source', 'Build', 'PromoteToProd']),
    );
    for (const x of others) {
      expect(x.OnSuccess).toBeUndefined();
      expect(
        x.Actions.some((a) => typeof a.Name === 'string' && a.Name.includes('SmokeAndBake-')),
      ).toBe(false);
    }
  });

  test("the alarm each rule names exists in that environment's stack, which creates no role to read it", () => {
    const s = get();
    for (const env of allEnvironments(s.config)) {
      const t = s.stages[env.stageName];
      t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
        AlarmName: namesOf(env.stageName).bakeAlarm,
      });
      const readers = Object.values(t.findResources('AWS::IAM::Role')).filter((r) =>
        JSON.stringify(r).includes('cloudwatch:DescribeAlarms'),
      );
      expect(readers).toEqual([]);
    }
  });

  // CodePipeline checks, when a pipeline is created or updated, that its role may assume every
  // role the pipeline names (InvalidStructureException "... is not authorized to perform
  // AssumeRole", aws/aws-cdk#22489). A role that a stage of the same pipeline creates does not
  // exist yet on the first deployment, nor when a self-mutation adds a region. So every role the
  // pipeline names is the pipeline stack's own or one `cdk bootstrap` created before.
  test('every role the pipeline names (actions and rules) exists before the pipeline does', () => {
    const s = get();
    const [pipeline] = Object.values(
      s.pipeline.findResources('AWS::CodePipeline::Pipeline'),
    ) as Array<{
      Properties: {
        Stages: Array<{
          Actions: Array<{ RoleArn?: unknown }>;
          OnSuccess?: { Conditions: Array<{ Rules: Rule[] }> };
          BeforeEntry?: { Conditions: Array<{ Rules: Rule[] }> };
        }>;
      };
    }>;
    const named = pipeline.Properties.Stages.flatMap((st) => [
      ...st.Actions.map((a) => a.RoleArn),
      ...[st.OnSuccess, st.BeforeEntry].flatMap((c) =>
        (c?.Conditions ?? []).flatMap((x) => x.Rules.map((r) => r.RoleArn)),
      ),
    ]).filter((r) => r !== undefined);
    expect(named.length).toBeGreaterThan(0);
    const ownRoles = new Set(Object.keys(s.pipeline.findResources('AWS::IAM::Role')));
    for (const role of named) {
      const getAtt = (role as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (getAtt) {
        expect(ownRoles.has(getAtt[0])).toBe(true);
        continue;
      }
      expect(arnOf(role)).toMatch(
        new RegExp(
          `^arn:aws:iam::\\d{12}:role/cdk-${BOOTSTRAP_QUALIFIER}-(deploy|lookup)-role-\\d{12}-[a-z0-9-]+$`,
        ),
      );
    }
  });

  test("the pipeline's role may assume exactly the roles its rules name", () => {
    const s = get();
    const policies = Object.values(s.pipeline.findResources('AWS::IAM::Policy')) as Array<{
      Properties: {
        PolicyDocument: { Statement: Array<{ Sid?: string; Action: unknown; Resource: unknown }> };
      };
    }>;
    const statement = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .find((st) => st.Sid === 'ReadBakeAlarms');
    expect(statement?.Action).toBe('sts:AssumeRole');
    const resources = (
      Array.isArray(statement?.Resource) ? statement.Resource : [statement?.Resource]
    ) as unknown[];
    expect(resources.map(arnOf).sort()).toEqual(
      [...new Set(allEnvironments(s.config).map(lookupRole))].sort(),
    );
  });
});

test("each bake's role may assume only its environment's lookup role and read this pipeline's state and executions, nothing else", () => {
  const resources = def.pipeline.toJSON().Resources as Record<string, ProjectResource>;
  const policies = Object.values(def.pipeline.findResources('AWS::IAM::Policy')) as Array<{
    Properties: {
      Roles: Array<{ Ref: string }>;
      PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> };
    };
  }>;
  for (const st of stagesOf(def.pipeline)) {
    for (const action of st.Actions.filter(
      (a) => typeof a.Name === 'string' && a.Name.includes('SmokeAndBake-'),
    )) {
      const env = allEnvironments(def.config).find((e) =>
        action.Name.endsWith(`SmokeAndBake-${e.stageName}`),
      )!;
      const project = resources[(action.Configuration!.ProjectName as { Ref: string }).Ref];
      const role = project.Properties.ServiceRole['Fn::GetAtt'][0];
      const statements = policies
        .filter((p) => p.Properties.Roles.some((r) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      const assume = statements.filter((x) => x.Action === 'sts:AssumeRole');
      expect(assume.map((x) => arnOf(x.Resource))).toEqual([lookupRole(env)]);
      const read = statements.find(
        (x) =>
          Array.isArray(x.Action) &&
          x.Action.includes('codepipeline:GetPipelineExecution') &&
          x.Action.includes('codepipeline:GetPipelineState'),
      )!;
      expect(arnOf(read.Resource)).toMatch(
        new RegExp(`^arn:aws:codepipeline:aws:aws:${def.config.pipeline.name}$`),
      );
      expect(
        statements
          .flatMap((x) => (Array.isArray(x.Action) ? (x.Action as unknown[]) : [x.Action]))
          .filter((a) => /^(cloudwatch|iam|sts):/.test(String(a))),
      ).toEqual(['sts:AssumeRole']);
    }
  }
});

describe('alarms of one environment', () => {
  const alarm = (t: Template, name: string) => {
    const found = Object.values(
      t.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: name } }),
    ) as Array<{ Properties: Record<string, unknown> }>;
    expect(found).toHaveLength(1);
    return found[0].Properties;
  };

  test.each([
    ['preprod-eu-west-1', 3, 2],
    ['prod-us-east-1', 5, 3],
  ])(
    '%s: error rate, p99 latency and availability alarms with the configured thresholds and %i evaluation periods',
    (stageName, periods, replicasMin) => {
      const t = def.stages[stageName];
      const env = allEnvironments(def.config).find((e) => e.stageName === stageName)!;
      expect(env.bake.evaluationPeriods).toBe(periods);
      expect(env.replicas.min).toBe(replicasMin);

      const errorRate = alarm(t, namesOf(stageName).bakeSignalAlarms['error-rate']);
      expect(errorRate).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: env.bake.errorRatePercent,
        EvaluationPeriods: periods,
        DatapointsToAlarm: periods,
      });
      expect(errorRate.Metrics).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Expression: '100 * FILL(errors, 0) / requests' }),
          expect.objectContaining({
            Id: 'errors',
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({
                MetricName: 'Errors',
                Namespace: namesOf(stageName).metricNamespace,
              }) as unknown,
              Stat: 'Sum',
              Period: 60,
            }) as unknown,
          }),
          expect.objectContaining({
            Id: 'requests',
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({
                MetricName: 'Requests',
                Namespace: namesOf(stageName).metricNamespace,
              }) as unknown,
              Stat: 'Sum',
              Period: 60,
            }) as unknown,
          }),
        ]),
      );

      expect(alarm(t, namesOf(stageName).bakeSignalAlarms['p99-latency'])).toMatchObject({
        MetricName: 'LatencyMs',
        Namespace: namesOf(stageName).metricNamespace,
        ExtendedStatistic: 'p99',
        Threshold: env.bake.p99LatencyMs,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: periods,
      });

      expect(alarm(t, namesOf(stageName).bakeSignalAlarms['availability'])).toMatchObject({
        Namespace: 'ContainerInsights',
        MetricName: 'service_number_of_running_pods',
        Dimensions: [
          { Name: 'ClusterName', Value: `hello-web-${stageName}` },
          { Name: 'Namespace', Value: 'hello-web' },
          { Name: 'Service', Value: 'hello-web' },
        ],
        Statistic: 'Minimum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: replicasMin,
      });
    },
  );

  test('no data during a bake never reads as healthy: the signals that always report treat missing data as breaching, and the bake alarm fires on any child', () => {
    const stageName = 'prod-eu-west-1';
    const t = def.stages[stageName];
    // Always-reporting signals: probes log every few seconds, Container Insights reports every minute.
    expect(alarm(t, namesOf(stageName).bakeSignalAlarms['availability']).TreatMissingData).toBe(
      'breaching',
    );
    expect(alarm(t, namesOf(stageName).bakeSignalAlarms['signals']).TreatMissingData).toBe(
      'breaching',
    );
    // No user request in a period is no user error; safe because `signals` proves the log path is alive.
    expect(alarm(t, namesOf(stageName).bakeSignalAlarms['error-rate']).TreatMissingData).toBe(
      'notBreaching',
    );
    expect(alarm(t, namesOf(stageName).bakeSignalAlarms['p99-latency']).TreatMissingData).toBe(
      'notBreaching',
    );

    const [composite] = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm')) as Array<{
      Properties: { AlarmRule: unknown };
    }>;
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    for (const logical of Object.keys(t.findResources('AWS::CloudWatch::Alarm')))
      expect(rule).toContain(`"${logical}"`);
    expect(rule).not.toMatch(/AND/);
  });

  test('request, error and latency metrics exclude probes; the signal count includes them', () => {
    const t = def.stages['prod-eu-west-1'];
    const filters = Object.values(t.findResources('AWS::Logs::MetricFilter')) as Array<{
      Properties: {
        FilterPattern: string;
        MetricTransformations: Array<{ MetricName: string; MetricValue: string }>;
        LogGroupName: unknown;
      };
    }>;
    const byMetric = Object.fromEntries(
      filters.map((f) => [f.Properties.MetricTransformations[0].MetricName, f.Properties]),
    );
    expect(Object.keys(byMetric).sort()).toEqual([
      'AccessLogLines',
      'Errors',
      'LatencyMs',
      'Requests',
    ]);
    for (const name of ['Requests', 'Errors', 'LatencyMs']) {
      for (const probe of probePaths(DEFAULT_SERVICE))
        expect(byMetric[name].FilterPattern).toContain(`$.log_processed.path != "${probe}"`);
      expect(byMetric[name].FilterPattern).toContain('$.kubernetes.container_name = "web"');
    }
    expect(byMetric.Errors.FilterPattern).toContain('$.log_processed.status >= 500');
    expect(byMetric.LatencyMs.MetricTransformations[0].MetricValue).toBe(
      '$.log_processed.duration_ms',
    );
    expect(byMetric.AccessLogLines.FilterPattern).not.toContain('/readyz');
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/containerinsights/hello-web-prod-eu-west-1/application',
      RetentionInDays: 90,
    });
  });

  test('the CloudWatch Observability add-on ships the logs, with its own Pod Identity role, after our log group exists', () => {
    const t = def.stages['prod-eu-west-1'];
    const addons = t.findResources('AWS::EKS::Addon', {
      Properties: { AddonName: 'amazon-cloudwatch-observability' },
    });
    const [[, addon]] = Object.entries(addons) as Array<
      [
        string,
        {
          DependsOn?: string[];
          Properties: {
            PodIdentityAssociations: Array<{ ServiceAccount: string; RoleArn: unknown }>;
          };
        },
      ]
    >;
    expect(addon.Properties.PodIdentityAssociations).toEqual([
      {
        ServiceAccount: 'cloudwatch-agent',
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^AlarmsCloudWatchAgentRole/), 'Arn'] },
      },
    ]);
    const logGroup = Object.keys(
      t.findResources('AWS::Logs::LogGroup', {
        Properties: { LogGroupName: Match.stringLikeRegexp('/application$') },
      }),
    )[0];
    expect(addon.DependsOn).toContain(logGroup);
  });

  // A metric nobody publishes is missing data, which availability and signals treat as
  // breaching: the composite alarm would sit in ALARM and every bake would fail. Each alarm's
  // metric is published by a metric filter of the same stack, or by the CloudWatch Observability
  // add-on at the version the environment pins (lib/config/cloudwatch-observability.ts says what
  // each add-on release line publishes, with its sources).
  test.each([
    ['default config', () => def],
    ['multi-region example', () => example],
  ])(
    'every alarm reads a metric its stack publishes: a metric filter, or the pinned add-on version (%s)',
    (_name, get) => {
      const s = get();
      for (const env of allEnvironments(s.config)) {
        const t = s.stages[env.stageName];
        const [addon] = Object.values(
          t.findResources('AWS::EKS::Addon', {
            Properties: { AddonName: 'amazon-cloudwatch-observability' },
          }),
        ) as Array<{ Properties: { AddonVersion?: string } }>;
        const pinned = KUBERNETES_VERSIONS[env.kubernetesVersion].cloudWatchObservabilityAddon;
        expect(addon.Properties.AddonVersion).toBe(pinned);
        const fromAddon = containerInsightsMetricsOf(pinned);
        const fromFilters = (
          Object.values(t.findResources('AWS::Logs::MetricFilter')) as Array<{
            Properties: {
              MetricTransformations: Array<{ MetricNamespace: string; MetricName: string }>;
            };
          }>
        ).flatMap((f) =>
          f.Properties.MetricTransformations.map((m) => `${m.MetricNamespace}/${m.MetricName}`),
        );
        const read = (
          Object.values(t.findResources('AWS::CloudWatch::Alarm')) as Array<{
            Properties: {
              Namespace?: string;
              MetricName?: string;
              Metrics?: Array<{
                MetricStat?: { Metric: { Namespace: string; MetricName: string } };
              }>;
            };
          }>
        ).flatMap((a) =>
          a.Properties.MetricName
            ? [`${a.Properties.Namespace}/${a.Properties.MetricName}`]
            : (a.Properties.Metrics ?? [])
                .filter((m) => m.MetricStat)
                .map((m) => `${m.MetricStat!.Metric.Namespace}/${m.MetricStat!.Metric.MetricName}`),
        );
        expect(read.length).toBeGreaterThanOrEqual(4);
        for (const metric of read) {
          const [namespace, ...name] = metric.split('/');
          const published =
            fromFilters.includes(metric) ||
            (namespace === fromAddon.namespace && fromAddon.metrics.includes(name.join('/')));
          expect({ metric, published }).toEqual({ metric, published: true });
        }
      }
    },
  );

  test('bake settings from config reach the alarms and the watch (example: prod-eu-west-1 bakes 60 min at p99 300 ms)', () => {
    const t = example.stages['prod-eu-west-1'];
    expect(alarm(t, namesOf('prod-eu-west-1').bakeSignalAlarms['p99-latency']).Threshold).toBe(300);
    const resources = example.pipeline.toJSON().Resources as Record<string, ProjectResource>;
    const action = stagesOf(example.pipeline)
      .find((x) => x.Name === 'prod-eu-west-1')!
      .Actions.find((a) => a.Name === 'SmokeAndBake-prod-eu-west-1')!;
    const project = resources[(action.Configuration!.ProjectName as { Ref: string }).Ref];
    expect(project.Properties.Environment.EnvironmentVariables).toContainEqual({
      Name: 'BAKE_MINUTES',
      Type: 'PLAINTEXT',
      Value: '60',
    });
  });
});

test('the longest bake config allows still fits its SmokeAndBake action in the 8 hours CodePipeline allows', () => {
  expect(smokeAndBakeMinutes(SMOKE_TEST_MINUTES * 60, MAX_BAKE_MINUTES)).toBeLessThanOrEqual(
    CODEBUILD_ACTION_MAX_MINUTES,
  );
  expect(smokeAndBakeMinutes(SMOKE_TEST_MINUTES * 60, MAX_BAKE_MINUTES + 1)).toBeGreaterThan(
    CODEBUILD_ACTION_MAX_MINUTES,
  );
});

describe('deployment windows', () => {
  test('none by default: no stage has an entry condition', () => {
    for (const stage of stagesOf(def.pipeline)) expect(stage.BeforeEntry).toBeUndefined();
  });

  test('a prod wave with a window may be entered only inside it; other waves any time', () => {
    const stages = stagesOf(example.pipeline);
    const windows = (exampleMultiRegion as DeliveryConfigInput).prod.deploymentWindows ?? [];
    expect(windows.length).toBeGreaterThan(0);
    example.config.prod.waves.forEach((wave, w) => {
      const stage = stages.find((x) => x.Name === wave[0].pipelineStageName)!;
      const configured = windows.find((x) => x.wave === w + 1);
      if (!configured) {
        expect(stage.BeforeEntry).toBeUndefined();
        return;
      }
      expect(stage.BeforeEntry?.Conditions).toEqual([
        {
          Result: 'FAIL',
          Rules: [
            {
              Name: `Window-${stage.Name}`,
              RuleTypeId: {
                Category: 'Rule',
                Owner: 'AWS',
                Provider: 'DeploymentWindow',
                Version: '1',
              },
              Configuration: { Cron: configured.cron, TimeZone: configured.timeZone },
            },
          ],
        },
      ]);
    });
  });

  // The DeploymentWindow rule holds the stage until the window opens, it does not fail it: "After
  // the deployment window opens, CodePipeline does not check the CloudWatchAlarm alarm again"
  // (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
  // So an approved release starts on its own when the window opens (docs/decisions/0027-...): the
  // approver must read that, with each held wave and its window, before approving.
  const approvalText = (s: Synthesized): string =>
    String(
      stagesOf(s.pipeline)
        .find((x) => x.Name === 'PromoteToProd')!
        .Actions.find((a) => a.ActionTypeId.Provider === 'Manual')!.Configuration?.CustomData,
    );

  test('the approval says which waves wait for their window and then start unattended', () => {
    const text = approvalText(example);
    example.config.prod.waves.forEach((wave, w) => {
      const window = example.config.prod.deploymentWindows[w];
      const stage = wave[0].pipelineStageName;
      if (window) expect(text).toContain(`${stage} (window "${window.cron}" ${window.timeZone})`);
      else expect(text).not.toContain(`${stage} (window`);
    });
    expect(text).toMatch(/start(s)? on (its|their) own when (its|their) window opens/);
    expect(text).toMatch(/nobody approves again/);
    // where to stop a held wave
    expect(text).toContain('docs/runbooks/alarm-rollback.md#deployment-windows');
  });

  test('without windows the approval promises nothing about them', () => {
    expect(approvalText(def)).not.toMatch(/window/);
  });

  test('the approval text fits CodePipeline: an action configuration value is at most 1000 characters', () => {
    // botocore's CodePipeline model (AWS's own service definition): ActionConfigurationValue max 1000.
    expect(approvalText(example).length).toBeLessThanOrEqual(1000);
    expect(approvalText(def).length).toBeLessThanOrEqual(1000);
    // and once CodePipeline has put the values in: a 40-character commit id, the image tag, the
    // Build step's two lines at their longest (tools/pipeline/rollback-guard clips at 200,
    // scripts/node-ami-signal.sh writes at most 120: build-step.test.ts), and the change report's
    // line at the length its action is told (--summary-max: test/pipeline/change-report.test.ts)
    const report = pipelineStages(example.pipeline)
      .find((x) => x.name === 'PromoteToProd')!
      .actions.find((a) => a.name === 'ChangeReport-prod')!;
    const summaryMax = /--summary-max (\d+)/.exec(
      projectBuildSpec(example, (report.configuration.ProjectName as { Ref: string }).Ref),
    )![1];
    const longest: Record<string, number> = {
      CommitId: 40,
      IMAGE_TAG: example.imageTag.length,
      ROLLBACK_TARGETS: 200,
      NODE_AMIS: 120,
      CHANGE_SUMMARY: Number(summaryMax),
    };
    const resolved = approvalText(example).replace(
      /#\{[^.}]+\.([A-Za-z_]+)\}/g,
      (_, name: string) => 'x'.repeat(longest[name] ?? 1000),
    );
    expect(resolved.length).toBeLessThanOrEqual(1000);
  });
});

describe('notifications', () => {
  test('an encrypted topic hears approvals waiting, stage failures and pipeline successes', () => {
    def.pipeline.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const rules = Object.values(
      def.pipeline.findResources('AWS::CodeStarNotifications::NotificationRule'),
    ) as Array<{
      Properties: {
        EventTypeIds: string[];
        Targets: Array<{ TargetType: string }>;
        DetailType: string;
      };
    }>;
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventTypeIds.sort()).toEqual(Object.values(NOTIFIED_EVENTS).sort());
    expect(rules[0].Properties.Targets).toEqual([expect.objectContaining({ TargetType: 'SNS' })]);
  });

  test('a rollback (automatic or manual) reaches the topic', () => {
    const rules = Object.values(def.pipeline.findResources('AWS::Events::Rule')) as Array<{
      Properties: { EventPattern: Record<string, unknown>; Targets: Array<{ Arn: unknown }> };
    }>;
    const rollback = rules.find((r) =>
      JSON.stringify(r.Properties.EventPattern).includes('AutomatedRollback'),
    );
    expect(rollback?.Properties.EventPattern).toMatchObject({
      source: ['aws.codepipeline'],
      'detail-type': ['CodePipeline Pipeline Execution State Change'],
      detail: {
        pipeline: [def.config.pipeline.name],
        state: ['STARTED'],
        'execution-trigger': { 'trigger-type': ['AutomatedRollback', 'ManualRollback'] },
      },
    });
    const topic = Object.keys(def.pipeline.findResources('AWS::SNS::Topic'))[0];
    expect(rollback?.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: topic } }),
    ]);
  });

  test('the topic key lets CodeStar Notifications and EventBridge publish', () => {
    const keys = Object.values(def.pipeline.findResources('AWS::KMS::Key')) as Array<{
      Properties: {
        KeyPolicy: { Statement: Array<{ Sid?: string; Principal?: { Service?: unknown } }> };
      };
    }>;
    const statement = keys
      .flatMap((k) => k.Properties.KeyPolicy.Statement)
      .find((st) => st.Sid === 'PublishToEncryptedTopic');
    expect(statement?.Principal?.Service).toEqual([
      'codestar-notifications.amazonaws.com',
      'events.amazonaws.com',
    ]);
  });

  test('no subscriptions by default; the example subscribes its on-call address and a Slack channel', () => {
    def.pipeline.resourceCountIs('AWS::SNS::Subscription', 0);
    example.pipeline.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'platform-oncall@example.com',
    });
    example.pipeline.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      Targets: Match.arrayWith([
        {
          TargetType: 'AWSChatbotSlack',
          TargetAddress:
            'arn:aws:chatbot::111111111111:chat-configuration/slack-channel/hello-web-deploys',
        },
      ]),
    });
  });

  test('the approval names the commit, the image tag and the pre-prod bake result', () => {
    const stages = stagesOf(def.pipeline);
    const approval = stages
      .find((x) => x.Name === 'PromoteToProd')!
      .Actions.find((a) => a.ActionTypeId.Provider === 'Manual')!;
    const text = String(approval.Configuration?.CustomData);
    // Each variable's namespace is the one its action publishes under.
    const namespaceOf = (stage: string, provider: string) =>
      (
        stages
          .find((x) => x.Name === stage)!
          .Actions.find((a) => a.ActionTypeId.Provider === provider) as { Namespace?: string }
      ).Namespace;
    expect(text).toContain(`commit #{${namespaceOf('Source', 'CodeCommit')}.CommitId}`);
    expect(text).toContain(`image #{${namespaceOf('Image', 'CodeBuild')}.IMAGE_TAG}`);
    expect(text).toContain(
      `baked ${def.config.preprod.bake.minutes} min with alarm ${namesOf(def.config.preprod.stageName).bakeAlarm} OK`,
    );
    // what the Build step found: rollback targets (docs/decisions/0026-...) and the node AMIs (ADR 0018)
    const build = namespaceOf('Build', 'CodeBuild');
    expect(text).toContain(`Rollback targets: #{${build}.ROLLBACK_TARGETS}`);
    expect(text).toContain(`Node AMIs: #{${build}.NODE_AMIS}`);
    // The build exports the variable the approval reads.
    const projects = Object.values(def.pipeline.findResources('AWS::CodeBuild::Project')) as Array<{
      Properties: { Source: { BuildSpec?: string } };
    }>;
    expect(
      projects.some((p) =>
        /"exported-variables":\s*\[\s*"IMAGE_TAG"/.test(p.Properties.Source.BuildSpec ?? ''),
      ),
    ).toBe(true);
    // And the tag itself never enters the pipeline's definition (a change to app/ must not change it).
    expect(JSON.stringify(def.pipeline.toJSON())).not.toContain(def.imageTag);
  });
});

describe('cfn-lint knows the stage-condition shapes', () => {
  // cfn-lint's resource schema for AWS::CodePipeline::Pipeline includes OnSuccess/BeforeEntry and
  // RuleDeclaration; the whole-repo gate (scripts/test-all.sh) lints the default synth only, so the
  // example (with windows) is linted here. Without cfn-lint: fail under CI=true, else skip loudly.
  const cfnLint = path.join(REPO_ROOT, '.venv', 'bin', 'cfn-lint');
  const available = (): boolean => {
    if (fs.existsSync(cfnLint)) return true;
    const hint = 'cfn-lint not found: run `bash scripts/setup-python.sh`';
    if (process.env.CI === 'true')
      throw new Error(`${hint}. Under CI=true a missing tool is a failure.`);
    console.warn(`SKIPPING cfn-lint check: ${hint}`);
    return false;
  };
  const lint = (template: unknown): { status: number | null; output: string } => {
    const file = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-')),
      'pipeline.template.json',
    );
    fs.writeFileSync(file, JSON.stringify(template));
    // E3703 (Fn::Sub over Fn::Join): cfn-lint does not apply it to CDK templates, which it knows by
    // their CDKMetadata resource; the in-process synth of the tests writes none (same template otherwise).
    const r = spawnSync(cfnLint, ['--ignore-checks', 'W3005', 'E3703', '--', file], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    // cfn-lint 1.58's IAM action list predates ECR's replication backfill API (2026,
    // https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_StartReplicationBackfill.html):
    // its W3037 on exactly those two actions is dropped; any other finding stays.
    const findings = `${r.stdout}${r.stderr}`
      .split(/\n(?=[EWI]\d{4} )/)
      .filter(
        (f) =>
          f.trim() &&
          !/^W3037 '(startreplicationbackfill|describereplicationbackfillresults)'/.test(f),
      );
    const output = findings.join('\n');
    return { status: output === '' && r.status === 4 ? 0 : r.status, output };
  };

  test('the example pipeline (bake on every deploy stage, windows on waves 2 and 3) has no cfn-lint error, and a misspelt rule property is one', () => {
    if (!available()) return;
    const template = example.pipeline.toJSON() as {
      Resources: Record<string, { Type: string; Properties: { Stages: Stage[] } }>;
    };
    const good = lint(template);
    expect(good.output).toBe('');
    expect(good.status).toBe(0);

    const bad = JSON.parse(JSON.stringify(template)) as typeof template;
    const pipeline = Object.values(bad.Resources).find(
      (r) => r.Type === 'AWS::CodePipeline::Pipeline',
    )!;
    const rule = pipeline.Properties.Stages.find((st) => st.BeforeEntry)!.BeforeEntry!.Conditions[0]
      .Rules[0] as unknown as Record<string, unknown>;
    rule.Regions = 'eu-west-1';
    expect(lint(bad).output).toMatch(/E3002 .*'Regions' was unexpected/);
  }, 240_000);
});
