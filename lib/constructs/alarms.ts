import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { containerInsightsMetricsOf } from '../config/cloudwatch-observability';
import type { BakeSettings } from '../config/safe-delivery';
import { type EnvironmentNames, type ServiceConfig, serviceNames } from '../config';
import { WORKLOAD } from '../manifests/workload';
import { logRetention } from './network';

/** The JSON access log as the add-on's Fluent Bit ships it: the service's line parsed under `log_processed`. */
const FIELD = {
  namespace: '$.kubernetes.namespace_name',
  container: '$.kubernetes.container_name',
  msg: '$.log_processed.msg',
  path: '$.log_processed.path',
  status: '$.log_processed.status',
  duration: '$.log_processed.duration_ms',
} as const;

/** Probe paths: the kubelet and the NLB health checks call them every few seconds; they are not user traffic. */
export function probePaths(service: ServiceConfig): string[] {
  return [...new Set([service.healthPath, service.readyPath])];
}

/**
 * The Amazon CloudWatch Observability EKS add-on and the service account its agent and Fluent Bit
 * run as (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html).
 */
export const CLOUDWATCH_OBSERVABILITY_ADDON = {
  name: 'amazon-cloudwatch-observability',
  serviceAccount: 'cloudwatch-agent',
} as const;

export interface ServiceAlarmsProps {
  readonly cluster: eks.Cluster;
  readonly stageName: string;
  /** The service: its Kubernetes names select its log lines and pods, its probe paths are left out of the user traffic. */
  readonly service: ServiceConfig;
  /** The environment's names: cluster, log group, alarms, reader role, metric namespace (lib/config/names.ts). */
  readonly names: EnvironmentNames;
  readonly bake: BakeSettings;
  /** The fewest pods the HPA keeps: fewer running means the environment is degraded. */
  readonly replicasMin: number;
  readonly logRetentionDays: number;
  /**
   * The add-on version to install (the Kubernetes version catalog's entry); the availability alarm
   * reads the Container Insights metric this version publishes.
   */
  readonly addonVersion: string;
}

/**
 * The environment's RED signals and the alarms it bakes behind (docs/decisions/0015-bake-alarms-and-rollback.md).
 *
 * Signal path: the service already writes one JSON line per request (app/middleware_log.go); the
 * Amazon CloudWatch Observability add-on ships container logs to
 * `/aws/containerinsights/<cluster>/application` with the JSON merged under `log_processed`
 * (aws-observability/helm-charts, charts/amazon-cloudwatch-observability/values.yaml,
 * application-log.conf: `Merge_Log On`, `Merge_Log_Key log_processed`), and metric filters turn
 * those lines into request, error and latency metrics. The same add-on publishes Container
 * Insights' `service_number_of_running_pods`. Nothing is added to the request path of the service.
 */
export class ServiceAlarms extends Construct {
  readonly bakeAlarm: cloudwatch.CompositeAlarm;
  readonly alarms: {
    readonly errorRate: cloudwatch.Alarm;
    readonly latency: cloudwatch.Alarm;
    readonly availability: cloudwatch.Alarm;
    readonly signals: cloudwatch.Alarm;
  };
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    const { bake, stageName, names } = props;
    const kubernetes = serviceNames(props.service.name).kubernetes;

    // Created before the add-on so it has our retention; Fluent Bit would otherwise create it without one.
    this.logGroup = new logs.LogGroup(this, 'ApplicationLogs', {
      logGroupName: names.applicationLogGroup,
      retention: logRetention(props.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const agentRole = new iam.Role(this, 'CloudWatchAgentRole', {
      description:
        'CloudWatch agent and Fluent Bit of the CloudWatch Observability add-on (EKS Pod Identity)',
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('CloudWatchAgentServerPolicy')],
    });
    const addon = new eks.Addon(this, 'CloudWatchObservability', {
      cluster: props.cluster,
      addonName: CLOUDWATCH_OBSERVABILITY_ADDON.name,
      addonVersion: props.addonVersion,
    });
    (addon.node.defaultChild as eks.CfnAddon).podIdentityAssociations = [
      { serviceAccount: CLOUDWATCH_OBSERVABILITY_ADDON.serviceAccount, roleArn: agentRole.roleArn },
    ];
    addon.node.addDependency(this.logGroup);
    if (props.cluster.eksPodIdentityAgent)
      addon.node.addDependency(props.cluster.eksPodIdentityAgent);

    const period = Duration.seconds(bake.periodSeconds);
    const namespace = names.metricNamespace;
    const ours = [
      logs.FilterPattern.stringValue(FIELD.namespace, '=', kubernetes.namespace),
      logs.FilterPattern.stringValue(FIELD.container, '=', WORKLOAD.container),
      logs.FilterPattern.stringValue(FIELD.msg, '=', 'request'),
    ];
    const userTraffic = [
      ...ours,
      ...probePaths(props.service).map((p) => logs.FilterPattern.stringValue(FIELD.path, '!=', p)),
    ];
    const filter = (
      name: string,
      pattern: logs.IFilterPattern,
      metricValue: string,
      unit: cloudwatch.Unit,
    ) =>
      new logs.MetricFilter(this, `${name}Filter`, {
        logGroup: this.logGroup,
        filterPattern: pattern,
        metricNamespace: namespace,
        metricName: name,
        metricValue,
        unit,
      }).metric({ period });

    const requests = filter(
      'Requests',
      logs.FilterPattern.all(...userTraffic),
      '1',
      cloudwatch.Unit.COUNT,
    ).with({ statistic: cloudwatch.Stats.SUM });
    const errors = filter(
      'Errors',
      logs.FilterPattern.all(
        ...userTraffic,
        logs.FilterPattern.numberValue(FIELD.status, '>=', 500),
      ),
      '1',
      cloudwatch.Unit.COUNT,
    ).with({ statistic: cloudwatch.Stats.SUM });
    const latency = filter(
      'LatencyMs',
      logs.FilterPattern.all(...userTraffic),
      FIELD.duration,
      cloudwatch.Unit.MILLISECONDS,
    ).with({ statistic: cloudwatch.Stats.p(99) });
    // Every access-log line, probes included: the kubelet probes each pod every few seconds, so a
    // silent metric means the signal path is broken (add-on, Fluent Bit, filter), not "no traffic".
    const lines = filter(
      'AccessLogLines',
      logs.FilterPattern.all(...ours),
      '1',
      cloudwatch.Unit.COUNT,
    ).with({ statistic: cloudwatch.Stats.SUM });

    const common = {
      evaluationPeriods: bake.evaluationPeriods,
      datapointsToAlarm: bake.evaluationPeriods,
    };
    // treatMissingData, decided per alarm so that no data never reads as healthy by accident
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data):
    // - error rate and latency: no user request in a period means no user saw an error or a slow
    //   response, so NOT_BREACHING; this is safe only because the `signals` alarm below proves
    //   that the log pipeline is alive in the same periods.
    // - signals and availability: their metrics always have data while the service and the add-on
    //   run (probes, Container Insights every minute); missing data means we cannot see, so BREACHING.
    const errorRate = new cloudwatch.Alarm(this, 'ErrorRate', {
      alarmName: names.bakeSignalAlarms['error-rate'],
      alarmDescription: `${stageName}: 5xx responses above ${bake.errorRatePercent}% of requests (probes excluded) for ${bake.evaluationPeriods} periods of ${bake.periodSeconds} s`,
      metric: new cloudwatch.MathExpression({
        expression: '100 * FILL(errors, 0) / requests',
        usingMetrics: { errors, requests },
        period,
        label: '5xx % of requests',
      }),
      threshold: bake.errorRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...common,
    });
    const latencyAlarm = new cloudwatch.Alarm(this, 'P99Latency', {
      alarmName: names.bakeSignalAlarms['p99-latency'],
      alarmDescription: `${stageName}: p99 request latency above ${bake.p99LatencyMs} ms (probes excluded) for ${bake.evaluationPeriods} periods of ${bake.periodSeconds} s`,
      metric: latency,
      threshold: bake.p99LatencyMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...common,
    });
    // Container Insights (EKS): `service_number_of_running_pods`, dimensions Service, Namespace, ClusterName
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-EKS.html),
    // in the namespace the pinned add-on version publishes it to (throws for an unchecked version).
    const containerInsights = containerInsightsMetricsOf(props.addonVersion);
    const runningPodsMetric = 'service_number_of_running_pods';
    if (!containerInsights.metrics.includes(runningPodsMetric))
      throw new Error(
        `${CLOUDWATCH_OBSERVABILITY_ADDON.name} ${props.addonVersion} does not publish ${runningPodsMetric}: the availability alarm could never see data`,
      );
    const runningPods = new cloudwatch.Metric({
      namespace: containerInsights.namespace,
      metricName: runningPodsMetric,
      dimensionsMap: {
        ClusterName: names.clusterName,
        Namespace: kubernetes.namespace,
        Service: kubernetes.name,
      },
      statistic: cloudwatch.Stats.MINIMUM,
      period,
    });
    const availability = new cloudwatch.Alarm(this, 'Availability', {
      alarmName: names.bakeSignalAlarms['availability'],
      alarmDescription: `${stageName}: fewer than ${props.replicasMin} running pods behind the Service (replicas.min), or no Container Insights data`,
      metric: runningPods,
      threshold: props.replicasMin,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      ...common,
    });
    const signals = new cloudwatch.Alarm(this, 'Signals', {
      alarmName: names.bakeSignalAlarms['signals'],
      alarmDescription: `${stageName}: no access-log line (probes included) reached CloudWatch: the error-rate and latency alarms cannot see`,
      metric: lines,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      ...common,
    });
    this.alarms = { errorRate, latency: latencyAlarm, availability, signals };

    this.bakeAlarm = new cloudwatch.CompositeAlarm(this, 'Bake', {
      compositeAlarmName: names.bakeAlarm,
      alarmDescription: `${stageName} is unhealthy: the pipeline rolls a release back when this alarm is in ALARM during its bake (docs/runbooks/alarm-rollback.md)`,
      alarmRule: cloudwatch.AlarmRule.anyOf(
        ...Object.values(this.alarms).map((a) =>
          cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM),
        ),
      ),
    });
  }
}
