#!/usr/bin/env node
// Benchmark baseline, not part of the product (npm run bench): a team's first, plain reading of the
// design card, synthesized side by side with the project. CDK Pipelines, `aws-eks` v1 with the
// kubectl v29 layer the card names, run with ts-node, the same four environments as the project's
// default STACK_ENVIRONMENTS. cdk-nag is left out (its unacknowledged findings would fail this
// synth), which makes the baseline cheaper and the comparison stricter for the project.
import { App, CfnOutput, Stack, type StackProps, Stage, type StageProps } from 'aws-cdk-lib';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { KubectlV29Layer } from '@aws-cdk/lambda-layer-kubectl-v29';
import type { Construct } from 'constructs';

interface Env {
  readonly account: string;
  readonly region: string;
}

const STACK_ENVIRONMENTS = {
  pipeline: { account: '111111111111', region: 'eu-west-1' },
  preprod: { account: '222222222222', region: 'eu-west-1' },
  prod: [
    [{ account: '333333333333', region: 'eu-west-1' }],
    [
      { account: '333333333333', region: 'us-east-1' },
      { account: '333333333333', region: 'ap-southeast-2' },
    ],
  ],
};

class EksAppStack extends Stack {
  readonly serviceUrl: string;

  constructor(scope: Construct, id: string, props: StackProps & { imageUri: string }) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 3 });
    const cluster = new eks.Cluster(this, 'Cluster', {
      vpc,
      version: eks.KubernetesVersion.V1_29,
      kubectlLayer: new KubectlV29Layer(this, 'Kubectl'),
      defaultCapacity: 3,
      defaultCapacityInstance: new ec2.InstanceType('m7g.large'),
    });
    const labels = { app: 'hello-web' };
    cluster.addManifest(
      'HelloWeb',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'hello-web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                { name: 'hello-web', image: props.imageUri, ports: [{ containerPort: 8080 }] },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hello-web' },
        spec: { type: 'LoadBalancer', selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
      },
    );
    this.serviceUrl = new eks.KubernetesObjectValue(this, 'LoadBalancer', {
      cluster,
      objectType: 'service',
      objectName: 'hello-web',
      jsonPath: '.status.loadBalancer.ingress[0].hostname',
    }).value;
  }

  // No AWS lookups at synth: the availability zones are given, as the project gives them.
  get availabilityZones(): string[] {
    return ['a', 'b', 'c'].map((z) => `${this.region}${z}`);
  }
}

class AppStage extends Stage {
  readonly serviceUrl: CfnOutput;

  constructor(scope: Construct, id: string, props: StageProps & { imageUri: string }) {
    super(scope, id, props);
    const stack = new EksAppStack(this, 'EksApp', { imageUri: props.imageUri });
    this.serviceUrl = new CfnOutput(stack, 'ServiceUrl', { value: `http://${stack.serviceUrl}` });
  }
}

class PipelineStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    const repo = new codecommit.Repository(this, 'Repo', { repositoryName: 'hello-web' });
    const images = new ecr.Repository(this, 'Images', {
      repositoryName: 'hello-web',
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
    });
    const source = pipelines.CodePipelineSource.codeCommit(repo, 'main');
    const pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      crossAccountKeys: true,
      synth: new pipelines.ShellStep('Synth', {
        input: source,
        commands: ['npm ci', 'npx cdk synth'],
      }),
    });
    const imageUri = `${images.repositoryUri}:latest`;
    const buildImage = new pipelines.CodeBuildStep('BuildImage', {
      input: source,
      buildEnvironment: { privileged: true },
      env: { REPOSITORY_URI: images.repositoryUri },
      commands: [
        'aws ecr get-login-password | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
        'docker build -t "$REPOSITORY_URI:latest" app',
        'docker push "$REPOSITORY_URI:latest"',
      ],
    });
    const smokeTest = (stage: AppStage) =>
      new pipelines.ShellStep('SmokeTest', {
        envFromCfnOutputs: { URL: stage.serviceUrl },
        commands: ['curl -fsS --retry 10 "$URL/"'],
      });

    const preprod = new AppStage(this, 'preprod', { env: STACK_ENVIRONMENTS.preprod, imageUri });
    pipeline.addStage(preprod, {
      pre: [buildImage],
      post: [smokeTest(preprod), new pipelines.ManualApprovalStep('PromoteToProd')],
    });
    STACK_ENVIRONMENTS.prod.forEach((regions: Env[], i) => {
      const wave = pipeline.addWave(`prod-wave-${i + 1}`);
      for (const env of regions) {
        const stage = new AppStage(this, `prod-${env.region}`, { env, imageUri });
        wave.addStage(stage, { post: [smokeTest(stage)] });
      }
    });
  }
}

const app = new App();
new PipelineStack(app, 'HelloWebPipeline', { env: STACK_ENVIRONMENTS.pipeline });
app.synth();
