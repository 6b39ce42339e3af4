import { App, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { KUBERNETES_VERSIONS, SUPPORTED_KUBERNETES_VERSIONS } from '../../lib/config';

describe('the Kubernetes version catalog', () => {
  test.each(SUPPORTED_KUBERNETES_VERSIONS)('%s: the cluster version and its kubectl layer are the same minor', (v) => {
    const entry = KUBERNETES_VERSIONS[v];
    expect(entry.version.version).toBe(v);
    // The layer package is named after its kubectl minor (lambda-layer-kubectl-v35 = kubectl 1.35)...
    const minor = v.split('.')[1];
    expect(entry.layerPackage).toBe(`@aws-cdk/lambda-layer-kubectl-v${minor}`);
    // ...and the layer it builds says so itself.
    const layer = entry.kubectlLayer(new Stack(new App(), 'S'), 'Layer');
    const description = JSON.stringify(Stack.of(layer).resolve((layer.node.defaultChild as { description?: string } | undefined)?.description ?? ''));
    expect(description).toContain(`1.${minor}`);
  });

  test('1.29 is not offered: EKS ended its extended support on 2026-03-23', () => {
    expect(SUPPORTED_KUBERNETES_VERSIONS).not.toContain('1.29');
    expect(eks.KubernetesVersion.V1_35.version).toBe('1.35');
  });
});
