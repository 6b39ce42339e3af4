/**
 * What the Amazon CloudWatch Observability EKS add-on (`amazon-cloudwatch-observability`)
 * publishes that the bake alarms read (lib/constructs/alarms.ts), by add-on release line. The
 * add-on is the Helm chart of aws-observability/helm-charts, `charts/amazon-cloudwatch-observability`,
 * released under the same version (`v<chart version>-eksbuild.<n>`).
 *
 * The alarms read `service_number_of_running_pods` in the `ContainerInsights` namespace: a metric of
 * Container Insights as the CloudWatch agent publishes it from `logs.metrics_collected.kubernetes`
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-EKS.html).
 * From the chart's sources (values.yaml and RELEASE_NOTES at each release tag):
 * - up to 5.x, the agent's default configuration is `logs.metrics_collected.kubernetes` with
 *   `enhanced_container_insights: true`, and nothing else collects Container Insights;
 * - 6.0.0 "Introduce OTel Container Insights (enabled by default)": an OTLP pipeline beside the
 *   `kubernetes` one (values.yaml: `containerInsights.enabled` and `otelContainerInsights.enabled`
 *   both true, "Both pipelines active"), with node-exporter and kube-state-metrics;
 * - 6.2.0 "Disable Otel Container Insights by default" (`otelContainerInsights.enabled: false`).
 * Issue 22 reports that from 6.2.0 Container Insights is OpenTelemetry-based with PromQL-native
 * metrics instead of this namespace; the chart's own defaults read otherwise. Either way the
 * project pins a 5.x release, where both readings agree, and a version not listed here fails the
 * synth until someone has checked what it publishes and added it
 * (docs/decisions/0024-bake-owner-rollback-and-limits.md).
 */
export interface AddonMetrics {
  /** The CloudWatch namespace of the Container Insights metrics the add-on publishes. */
  readonly namespace: string;
  /** The metrics of that namespace the alarms may read. */
  readonly metrics: readonly string[];
}

const RELEASE_LINES: ReadonlyArray<{
  readonly major: number;
  readonly publishes: AddonMetrics;
}> = [
  {
    major: 5,
    publishes: { namespace: 'ContainerInsights', metrics: ['service_number_of_running_pods'] },
  },
];

/** `v5.4.0-eksbuild.1` → 5; anything else is not an EKS add-on version. */
function majorOf(addonVersion: string): number {
  const m = /^v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)$/.exec(addonVersion);
  if (!m)
    throw new Error(
      `"${addonVersion}" is not an EKS add-on version (v<major>.<minor>.<patch>-eksbuild.<n>)`,
    );
  return Number(m[1]);
}

/**
 * The Container Insights metrics an add-on version publishes. Throws for a release line nobody has
 * checked: the alarms would read metrics that may not exist, and missing data fails every bake.
 */
export function containerInsightsMetricsOf(addonVersion: string): AddonMetrics {
  const major = majorOf(addonVersion);
  const line = RELEASE_LINES.find((l) => l.major === major);
  if (!line)
    throw new Error(
      `amazon-cloudwatch-observability ${addonVersion}: what this release line publishes has not been checked; the bake alarms read ${RELEASE_LINES.map((l) => `${l.publishes.namespace} (${l.publishes.metrics.join(', ')}) as ${l.major}.x publishes it`).join('; ')}. Read the chart's values.yaml and RELEASE_NOTES at that version (aws-observability/helm-charts), then add it to lib/config/cloudwatch-observability.ts`,
    );
  return line.publishes;
}
