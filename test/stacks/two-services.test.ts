import * as fs from 'node:fs';
import { type DeliveryConfigInput, STACK_ENVIRONMENTS } from '../../lib/config';
import {
  type PhysicalName,
  filesUnder,
  nameKey,
  physicalNames,
  stacksOf,
} from '../support/physical-names';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * The service is a parameter (issue 24): the default service keeps every physical name it has
 * today, another service's assembly holds no trace of the default one, and the two deployed side
 * by side into the same accounts and regions share no name that AWS requires to be unique.
 */

const ORDERS: DeliveryConfigInput = {
  ...STACK_ENVIRONMENTS,
  service: { name: 'orders-api', appDir: 'app' },
};

let hello: Synthesized;
let orders: Synthesized;
let helloNames: PhysicalName[];
let ordersNames: PhysicalName[];
beforeAll(() => {
  hello = synthesize();
  // With cdk-nag: every acknowledgement must still find its construct under the other service's
  // construct ids (lib/nag-acknowledgements.ts), or the synth fails on an unacknowledged finding.
  orders = synthesize({ config: ORDERS, nag: true });
  helloNames = physicalNames(hello.outdir);
  ordersNames = physicalNames(orders.outdir);
});

test('the default service synthesizes every physical name deployments have today', () => {
  // Written out by hand from the names deployed before the service was a parameter: a changed
  // name would make CloudFormation replace the resource (the ECR repository and its rollback
  // images, the CodePipeline replication buckets, the alarms the pipeline's rollback rule watches).
  const pipelineAccount = '111111111111';
  const expected: string[] = [
    `stack hello-web-delivery-pipeline @ ${pipelineAccount}/eu-west-1`,
    `stack hello-web-delivery-image-us-east-1 @ ${pipelineAccount}/us-east-1`,
    `stack hello-web-delivery-image-ap-southeast-2 @ ${pipelineAccount}/ap-southeast-2`,
    `stack hello-web-delivery-pipeline-support-us-east-1 @ ${pipelineAccount}/us-east-1`,
    `stack hello-web-delivery-pipeline-support-ap-southeast-2 @ ${pipelineAccount}/ap-southeast-2`,
    `AWS::CodePipeline::Pipeline.Name hello-web-delivery @ ${pipelineAccount}/eu-west-1`,
    `AWS::CodeBuild::Project.Name hello-web-delivery-selfupdate @ ${pipelineAccount}/eu-west-1`,
    `AWS::CodeCommit::Repository.RepositoryName hello-web @ ${pipelineAccount}/eu-west-1`,
    `AWS::CodeStarNotifications::NotificationRule.Name HelloWebPipelineNotificationsRule65DF6958 @ ${pipelineAccount}/eu-west-1`,
    `AWS::ECR::Repository.RepositoryName hello-web @ ${pipelineAccount}/eu-west-1`,
    `AWS::ECR::Repository.RepositoryName hello-web @ ${pipelineAccount}/us-east-1`,
    `AWS::ECR::Repository.RepositoryName hello-web @ ${pipelineAccount}/ap-southeast-2`,
    `AWS::S3::Bucket.BucketName hello-web-delivery-pipelieplicationbucket5b0745762b499bccf9c5 @ *`,
    `AWS::S3::Bucket.BucketName hello-web-delivery-pipelieplicationbucket6dc22544f282caead56b @ *`,
    `AWS::KMS::Alias.AliasName alias/y-pipelitencryptionalias02e3bd91e4b828fa7ed5 @ ${pipelineAccount}/us-east-1`,
    `AWS::KMS::Alias.AliasName alias/y-pipelitencryptionalias66707a072178b2706181 @ ${pipelineAccount}/ap-southeast-2`,
  ];
  const stages: [string, string, string][] = [
    ['preprod-eu-west-1', '222222222222', 'eu-west-1'],
    ['prod-eu-west-1', '333333333333', 'eu-west-1'],
    ['prod-us-east-1', '333333333333', 'us-east-1'],
    ['prod-ap-southeast-2', '333333333333', 'ap-southeast-2'],
  ];
  for (const [stage, account, region] of stages) {
    const at = `@ ${account}/${region}`;
    expected.push(
      `stack hello-web-${stage} ${at}`,
      `AWS::EKS::Cluster.Name hello-web-${stage} ${at}`,
      `AWS::Logs::LogGroup.LogGroupName /aws/eks/hello-web-${stage}/cluster ${at}`,
      `AWS::Logs::LogGroup.LogGroupName /aws/containerinsights/hello-web-${stage}/application ${at}`,
      `AWS::CloudWatch::CompositeAlarm.AlarmName hello-web-${stage}-bake ${at}`,
      ...['error-rate', 'p99-latency', 'availability', 'signals'].map(
        (s) => `AWS::CloudWatch::Alarm.AlarmName hello-web-${stage}-${s} ${at}`,
      ),
      `AWS::SSM::PatchBaseline.Name hello-web-${stage}-al2023 ${at}`,
      `AWS::SSM::Association.AssociationName hello-web-${stage}-patch-scan ${at}`,
      ...['Requests', 'Errors', 'LatencyMs', 'AccessLogLines'].map(
        (m) => `metric HelloWeb/${stage}/${m} ${at}`,
      ),
    );
  }
  expect(helloNames.map(nameKey)).toEqual(expect.arrayContaining(expected));
});

test('the default service keeps its construct ids and Kubernetes names', () => {
  // Construct ids name the cloud assembly's artifacts and prefix generated names; the Kubernetes
  // objects are what the clusters run and what the breakglass path applies.
  expect(hello.pipelineStack.node.id).toBe('HelloWebPipeline');
  const preprod = hello.stages['preprod-eu-west-1'].toJSON() as { Resources: object };
  const manifests = JSON.stringify(preprod.Resources);
  expect(manifests).toContain('\\"namespace\\":\\"hello-web\\"');
  expect(manifests).toContain('manifests/hello-web.yaml');
  expect(stacksOf(hello.outdir).map((s) => s.templateFile)).toEqual(
    expect.arrayContaining([expect.stringMatching(/HelloWebPipelinepreprodeuwest1HelloWeb/)]),
  );
});

test('another service leaves no trace of the default one in its cloud assembly', () => {
  // Templates (with the Kubernetes manifests inline), the buildspecs CDK Pipelines writes,
  // manifest.json, tree.json, image.json: every file of the assembly.
  const traces = filesUnder(orders.outdir)
    .filter(([, content]) => /hello-?web/i.test(content))
    .map(([file, content]) => `${file}: ${/.{0,60}hello-?web.{0,60}/i.exec(content)![0]}`);
  expect(traces).toEqual([]);
  expect(orders.pipelineStack.node.id).toBe('OrdersApiPipeline');
});

/**
 * Resource types of which an account holds one per region, whatever their name: a second stack
 * with the same type replaces the first one's settings. The two ECR ones replace the registry's
 * whole scanning and replication configuration
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-replicationconfiguration.html,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-registryscanningconfiguration.html).
 */
const ACCOUNT_SINGLETONS = new Set([
  'AWS::ECR::RegistryScanningConfiguration',
  'AWS::ECR::ReplicationConfiguration',
  'AWS::ECR::RegistryPolicy',
  'AWS::ApiGateway::Account',
  'AWS::EC2::EBSEncryptionByDefault',
  'AWS::GuardDuty::Detector',
  'AWS::Config::ConfigurationRecorder',
  'AWS::IAM::AccountPasswordPolicy',
  'AWS::S3::AccountPublicAccessBlock',
]);

function singletonsOf(outdir: string): string[] {
  return stacksOf(outdir).flatMap((stack) => {
    const template = JSON.parse(fs.readFileSync(stack.templateFile, 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    return Object.values(template.Resources)
      .filter((r) => ACCOUNT_SINGLETONS.has(r.Type))
      .map((r) => `${r.Type} @ ${stack.account}/${stack.region}`);
  });
}

test('what two services in one pipeline account and region share is the ECR registry settings, and nothing else', () => {
  // Not a name: one per registry. The second service's pipeline stack would replace the first's
  // rules, so two services need two pipeline accounts (or regions), which
  // docs/runbooks/deliver-another-service.md says and `npm run preflight` warns about.
  const ordersSingletons = new Set(singletonsOf(orders.outdir));
  expect(singletonsOf(hello.outdir).filter((k) => ordersSingletons.has(k))).toEqual([
    'AWS::ECR::RegistryScanningConfiguration @ 111111111111/eu-west-1',
    'AWS::ECR::ReplicationConfiguration @ 111111111111/eu-west-1',
  ]);
});

test('two services side by side share no physical name, stack or export', () => {
  const helloKeys = new Set(helloNames.map(nameKey));
  const shared = ordersNames.map(nameKey).filter((k) => helloKeys.has(k));
  expect(shared).toEqual([]);
  // Also by name alone, whatever the scope: nothing of one is called like anything of the other.
  const helloByName = new Set(helloNames.map((n) => `${n.kind} ${n.name}`));
  expect(ordersNames.filter((n) => helloByName.has(`${n.kind} ${n.name}`))).toEqual([]);
  // The comparison saw names of every kind it should: a helper that finds nothing proves nothing.
  const kinds = new Set(ordersNames.map((n) => n.kind));
  for (const kind of [
    'stack',
    'metric',
    'AWS::EKS::Cluster.Name',
    'AWS::ECR::Repository.RepositoryName',
    'AWS::CodePipeline::Pipeline.Name',
    'AWS::S3::Bucket.BucketName',
    'AWS::CodeStarNotifications::NotificationRule.Name',
  ])
    expect(kinds).toContain(kind);
  expect(ordersNames.length).toBe(helloNames.length);
});
