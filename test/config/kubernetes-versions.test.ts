import { App, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { KUBERNETES_VERSIONS, SUPPORTED_KUBERNETES_VERSIONS } from '../../lib/config';
import { containerInsightsMetricsOf } from '../../lib/config/cloudwatch-observability';

describe('the Kubernetes version catalog', () => {
  test.each(SUPPORTED_KUBERNETES_VERSIONS)(
    '%s: the cluster version and its kubectl layer are the same minor',
    (v) => {
      const entry = KUBERNETES_VERSIONS[v];
      expect(entry.version.version).toBe(v);
      // The layer package is named after its kubectl minor (lambda-layer-kubectl-v35 = kubectl 1.35)...
      const minor = v.split('.')[1];
      expect(entry.layerPackage).toBe(`@aws-cdk/lambda-layer-kubectl-v${minor}`);
      // ...and the layer it builds says so itself.
      const layer = entry.kubectlLayer(new Stack(new App(), 'S'), 'Layer');
      const description = JSON.stringify(
        Stack.of(layer).resolve(
          (layer.node.defaultChild as { description?: string } | undefined)?.description ?? '',
        ),
      );
      expect(description).toContain(`1.${minor}`);
    },
  );

  test.each(SUPPORTED_KUBERNETES_VERSIONS)(
    '%s: the pinned node AMI release is an EKS-optimized release of the same minor, with a real date',
    (v) => {
      // EKS AMI release versions are `<kubernetes version>-<YYYYMMDD>` (awslabs/amazon-eks-ami CHANGELOG.md,
      // "Release version" column), the value of .../recommended/release_version in the public SSM parameters.
      const release = KUBERNETES_VERSIONS[v].nodeAmiReleaseVersion;
      const m = /^(\d+\.\d+)\.\d+-(\d{4})(\d{2})(\d{2})$/.exec(release);
      expect(m).not.toBeNull();
      const [, minor, y, mo, d] = m as RegExpExecArray;
      expect(minor).toBe(v);
      const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
      expect(date.toISOString().slice(0, 10)).toBe(`${y}-${mo}-${d}`);
    },
  );

  test.each(SUPPORTED_KUBERNETES_VERSIONS)(
    '%s: the CloudWatch Observability add-on is pinned to a release whose Container Insights metrics are known',
    (v) => {
      const version = KUBERNETES_VERSIONS[v].cloudWatchObservabilityAddon;
      expect(version).toMatch(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
      expect(containerInsightsMetricsOf(version)).toEqual({
        namespace: 'ContainerInsights',
        metrics: expect.arrayContaining(['service_number_of_running_pods']) as string[],
      });
    },
  );

  test('an add-on release line nobody has checked stops the synth, saying what to read', () => {
    expect(() => containerInsightsMetricsOf('v6.2.0-eksbuild.1')).toThrow(
      /v6\.2\.0-eksbuild\.1: what this release line publishes has not been checked.*aws-observability\/helm-charts/,
    );
    expect(() => containerInsightsMetricsOf('latest')).toThrow(/not an EKS add-on version/);
  });

  test('1.29 is not offered: EKS ended its extended support on 2026-03-23', () => {
    expect(SUPPORTED_KUBERNETES_VERSIONS).not.toContain('1.29');
    expect(eks.KubernetesVersion.V1_35.version).toBe('1.35');
  });
});
