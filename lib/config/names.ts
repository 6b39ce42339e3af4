import type { ConfigProblem } from './schema';

/**
 * Every name derived from the service's name (config `service.name`), in one place: stacks,
 * cluster, namespace and Kubernetes objects, repository default, alarms, roles, log groups, SSM,
 * the pipeline and its notification topic. Code elsewhere takes names from here (through
 * `DeliveryConfig.names` and `EnvironmentConfig.names`), never spells them, so two services
 * delivered from two copies of the repository into the same accounts never collide
 * (docs/decisions/0029-service-as-a-parameter.md).
 *
 * The default service (DEFAULT_SERVICE, defaults.ts) derives exactly the names the project used before the
 * service was a parameter: a different physical name would replace the ECR repository, the
 * breakglass bucket and audit table (test/config/service-names.test.ts holds them).
 *
 * Resources without an explicit name (the breakglass S3 buckets, the DynamoDB audit table, most
 * IAM roles, Lambda functions, the SNS topic) get a name that CloudFormation generates from the
 * stack name and the logical ID and truncates to the service's limit itself (S3: 63 characters),
 * so they follow the stack name and never collide between two services either.
 */

/** `service.name` must be an RFC 1035 label: the Kubernetes Service takes it as its name. */
export const SERVICE_NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** DNS label length (Kubernetes namespace, Service, label values). */
export const SERVICE_NAME_MAX_LENGTH = 63;

/**
 * `orders-api` → `OrdersApi`: the construct ids of the pipeline stack and the application stacks and
 * the metric namespace. A hyphen before a letter is dropped and the letter capitalised; any other
 * hyphen stays (`api-2` → `Api-2`), so two different service names never give the same id
 * (`a-1b` and `a1b` would both be `A1b` otherwise).
 */
export function pascalCase(name: string): string {
  const joined = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return joined.charAt(0).toUpperCase() + joined.slice(1);
}

/** The Kubernetes objects' names: the Namespace, and the Deployment, Service, ServiceAccount, NetworkPolicy, PDB and HPA in it. */
export interface KubernetesNames {
  readonly namespace: string;
  readonly name: string;
  /** `app.kubernetes.io/part-of` */
  readonly partOf: string;
}

/** Names that depend on the service alone. */
export interface ServiceNames {
  readonly service: string;
  /** Construct id of the pipeline stack: the `cdk deploy` selector and the prefix of every construct path in the app. */
  readonly pipelineStackId: string;
  /** Construct id of each environment's application stack. */
  readonly appStackId: string;
  /** Default of `pipeline.name`. */
  readonly defaultPipelineName: string;
  /** Default of `image.repositoryName`. */
  readonly defaultRepositoryName: string;
  /** Default of `source.repositoryName` (CodeCommit). */
  readonly defaultSourceRepositoryName: string;
  readonly kubernetes: KubernetesNames;
  /** Key of the rendered manifests in each environment's breakglass bucket. */
  readonly manifestObjectKey: string;
  /** Directory under `$XDG_STATE_HOME` where breakglass keeps its local trail. */
  readonly breakglassStateDir: string;
  /**
   * STS role session name of `npx delivery preflight`'s AssumeRole: a label CloudTrail shows, at most 64
   * characters (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), so a long
   * service name is cut to fit rather than refused.
   */
  readonly preflightSessionName: string;
}

const MAX_ROLE_SESSION_NAME = 64;

export function serviceNames(service: string): ServiceNames {
  const pascal = pascalCase(service);
  return {
    service,
    pipelineStackId: `${pascal}Pipeline`,
    appStackId: pascal,
    defaultPipelineName: `${service}-delivery`,
    defaultRepositoryName: service,
    defaultSourceRepositoryName: service,
    kubernetes: { namespace: service, name: service, partOf: service },
    manifestObjectKey: `manifests/${service}.yaml`,
    breakglassStateDir: `${service}-breakglass`,
    preflightSessionName: `${service.slice(0, MAX_ROLE_SESSION_NAME - '-preflight'.length)}-preflight`,
  };
}

/** The bake alarms' children, one per signal (lib/constructs/alarms.ts). */
export const BAKE_SIGNALS = ['error-rate', 'p99-latency', 'availability', 'signals'] as const;
export type BakeSignal = (typeof BAKE_SIGNALS)[number];

/** Names of one environment (`<service>-<stage>` and what hangs off it). */
export interface EnvironmentNames {
  /** The application stack's CloudFormation stack name. */
  readonly stackName: string;
  readonly clusterName: string;
  /** The EKS control plane's log group (EKS writes to exactly this name). */
  readonly clusterLogGroup: string;
  /** Where the CloudWatch Observability add-on ships container logs (it writes to exactly this name). */
  readonly applicationLogGroup: string;
  /** The composite alarm the stage bakes behind. */
  readonly bakeAlarm: string;
  readonly bakeSignalAlarms: Readonly<Record<BakeSignal, string>>;
  /** CloudWatch namespace of the access-log metrics, one per environment. */
  readonly metricNamespace: string;
  /** The nodes' SSM patch group (tag value), unique per account and region. */
  readonly patchGroup: string;
  readonly patchBaseline: string;
  readonly patchAssociation: string;
  /** The tag key EKS puts on the node group's Auto Scaling group; the cluster autoscaler's IAM condition names it. */
  readonly autoscalerTagKey: string;
}

export function environmentNames(service: string, stageName: string): EnvironmentNames {
  const base = `${service}-${stageName}`;
  return {
    stackName: base,
    clusterName: base,
    clusterLogGroup: `/aws/eks/${base}/cluster`,
    applicationLogGroup: `/aws/containerinsights/${base}/application`,
    bakeAlarm: `${base}-bake`,
    bakeSignalAlarms: Object.fromEntries(BAKE_SIGNALS.map((s) => [s, `${base}-${s}`])) as Record<
      BakeSignal,
      string
    >,
    metricNamespace: `${pascalCase(service)}/${stageName}`,
    patchGroup: base,
    patchBaseline: `${base}-al2023`,
    patchAssociation: `${base}-patch-scan`,
    autoscalerTagKey: `k8s.io/cluster-autoscaler/${base}`,
  };
}

/** Names derived from the pipeline's name (by default `<service>-delivery`). */
export interface PipelineNames {
  readonly pipelineName: string;
  /** The pipeline stack's CloudFormation stack name. */
  readonly stackName: string;
  /** CodePipeline's cross-region support stack in `region` (CDK names it `<pipeline stack name>-support-<region>`). */
  readonly supportStackName: (region: string) => string;
  /** The replica repository's stack in `region`. */
  readonly imageReplicaStackName: (region: string) => string;
  /** CDK Pipelines names the self-mutation project after the pipeline. */
  readonly selfUpdateProject: string;
  /** The notification topic's display name. */
  readonly topicDisplayName: string;
  /** The notification topic's name: breakglass publishes to it from the environments' accounts (ADR 0032). */
  readonly notificationTopic: string;
}

export function pipelineNames(pipelineName: string): PipelineNames {
  const stackName = `${pipelineName}-pipeline`;
  return {
    pipelineName,
    stackName,
    supportStackName: (region) => `${stackName}-support-${region}`,
    imageReplicaStackName: (region) => `${pipelineName}-image-${region}`,
    selfUpdateProject: `${pipelineName}-selfupdate`,
    topicDisplayName: `${pipelineName} notifications`,
    notificationTopic: `${pipelineName}-notifications`,
  };
}

/**
 * The longest name each AWS (and Kubernetes) name may be. Where the CloudFormation resource
 * schema states a limit, test/config/service-names.test.ts checks the number against the schema
 * cfn-lint ships (AWS's own registry data); the others cite the API reference.
 */
export const NAME_LIMITS = {
  /** https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html (StackName: 128) */
  stackName: { max: 128, what: 'CloudFormation stack name' },
  /** AWS::EKS::Cluster Name (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html) */
  clusterName: { max: 100, what: 'EKS cluster name' },
  /** AWS::CloudWatch::Alarm / CompositeAlarm AlarmName (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html) */
  alarmName: { max: 255, what: 'CloudWatch alarm name' },
  /** https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html (Namespace: 255) */
  metricNamespace: { max: 255, what: 'CloudWatch metric namespace' },
  /** AWS::Logs::LogGroup LogGroupName (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html) */
  logGroupName: { max: 512, what: 'CloudWatch Logs log group name' },
  /** AWS::SSM::PatchBaseline Name (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreatePatchBaseline.html) */
  patchBaselineName: { max: 128, what: 'SSM patch baseline name' },
  /** AWS::SSM::Association AssociationName (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateAssociation.html) */
  associationName: { max: 128, what: 'SSM association name' },
  /** A patch group is a tag value: 256 (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html) */
  tagValue: { max: 256, what: 'tag value' },
  /** https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (tag key: 128) */
  tagKey: { max: 128, what: 'tag key' },
  /** https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html (name: 100) */
  pipelineName: { max: 100, what: 'CodePipeline name' },
  /** https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html (name: 2-150) */
  codeBuildProjectName: { max: 150, what: 'CodeBuild project name' },
  /** AWS::SNS::Topic DisplayName: "maximum 100 characters" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sns-topic.html) */
  topicDisplayName: { max: 100, what: 'SNS topic display name' },
  /** AWS::ECR::Repository RepositoryName (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html) */
  repositoryName: { min: 2, max: 256, what: 'ECR repository name' },
} as const;

export type NameKind = keyof typeof NAME_LIMITS;

/** One derived name and the kind of AWS name it becomes. */
export interface DerivedName {
  readonly kind: NameKind;
  readonly name: string;
  /** How it is made, for messages: `<service>-<stage>-bake`. The name itself may be long. */
  readonly form: string;
}

/** Every name the service and one stage derive, with the limit each must fit. */
export function derivedEnvironmentNames(service: string, stageName: string): DerivedName[] {
  const e = environmentNames(service, stageName);
  const base = '<service>-<stage>';
  return [
    { kind: 'stackName', name: e.stackName, form: base },
    { kind: 'clusterName', name: e.clusterName, form: base },
    { kind: 'logGroupName', name: e.clusterLogGroup, form: `/aws/eks/${base}/cluster` },
    {
      kind: 'logGroupName',
      name: e.applicationLogGroup,
      form: `/aws/containerinsights/${base}/application`,
    },
    { kind: 'alarmName', name: e.bakeAlarm, form: `${base}-bake` },
    ...BAKE_SIGNALS.map((s) => ({
      kind: 'alarmName' as const,
      name: e.bakeSignalAlarms[s],
      form: `${base}-${s}`,
    })),
    { kind: 'metricNamespace', name: e.metricNamespace, form: '<Service>/<stage>' },
    { kind: 'tagValue', name: e.patchGroup, form: base },
    { kind: 'patchBaselineName', name: e.patchBaseline, form: `${base}-al2023` },
    { kind: 'associationName', name: e.patchAssociation, form: `${base}-patch-scan` },
    { kind: 'tagKey', name: e.autoscalerTagKey, form: `k8s.io/cluster-autoscaler/${base}` },
  ];
}

/** Every name the pipeline's name derives, with the limit each must fit. */
export function derivedPipelineNames(
  pipelineName: string,
  regions: readonly string[],
): DerivedName[] {
  const p = pipelineNames(pipelineName);
  return [
    { kind: 'pipelineName', name: p.pipelineName, form: '<pipeline>' },
    { kind: 'stackName', name: p.stackName, form: '<pipeline>-pipeline' },
    ...regions.map((r) => ({
      kind: 'stackName' as const,
      name: p.supportStackName(r),
      form: `<pipeline>-pipeline-support-${r}`,
    })),
    ...regions.map((r) => ({
      kind: 'stackName' as const,
      name: p.imageReplicaStackName(r),
      form: `<pipeline>-image-${r}`,
    })),
    { kind: 'codeBuildProjectName', name: p.selfUpdateProject, form: '<pipeline>-selfupdate' },
    { kind: 'topicDisplayName', name: p.topicDisplayName, form: '<pipeline> notifications' },
  ];
}

/** What the name checks need from a config whose other parts may not have parsed. */
export interface NamesInput {
  /** `service.name`, given or default. */
  readonly service: string;
  /** `pipeline.name` when given; else the default derived from the service. */
  readonly pipelineName?: string;
  /** `image.repositoryName` when given; else the default derived from the service. */
  readonly repositoryName?: string;
  /** Stage names of every environment that parsed, with the config path of each. */
  readonly stages: readonly { readonly stageName: string; readonly path: string }[];
  /** Every region an environment deploys to (the pipeline's support stacks and image replicas). */
  readonly regions: readonly string[];
}

/**
 * The longest derived name of each kind, checked against its limit: one problem per kind that
 * does not fit, naming the name, its length and the limit. Reported at `service.name`, or at
 * `pipeline.name` for the names a given pipeline name makes too long.
 */
export function checkDerivedNames(input: NamesInput): ConfigProblem[] {
  const names = serviceNames(input.service);
  const longest = new Map<NameKind, { d: DerivedName; path: string; from: string }>();
  const consider = (d: DerivedName, path: string, from: string) => {
    const seen = longest.get(d.kind);
    if (!seen || d.name.length > seen.d.name.length) longest.set(d.kind, { d, path, from });
  };
  for (const { stageName, path } of input.stages)
    for (const d of derivedEnvironmentNames(input.service, stageName))
      consider(d, 'service.name', ` with the stage "${stageName}" (${path})`);
  const pipelineName = input.pipelineName ?? names.defaultPipelineName;
  const pipelinePath = input.pipelineName === undefined ? 'service.name' : 'pipeline.name';
  for (const d of derivedPipelineNames(pipelineName, input.regions))
    consider(d, pipelinePath, ` with the pipeline "${pipelineName}"`);
  if (input.repositoryName === undefined)
    consider(
      { kind: 'repositoryName', name: names.defaultRepositoryName, form: '<service>' },
      'service.name',
      '',
    );

  const problems: ConfigProblem[] = [];
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  // The derived name is named by its form: it may be long, and it is made of values already shown.
  for (const [kind, { d, path, from }] of longest) {
    const limit: { min?: number; max: number; what: string } = NAME_LIMITS[kind];
    const length = d.name.length;
    if (limit.min !== undefined && length < limit.min)
      problems.push({
        path,
        message: `too short: the ${limit.what} ${d.form} is ${plural(length, 'character')}${from}, and AWS needs at least ${limit.min} (or set image.repositoryName)`,
      });
    if (length > limit.max)
      problems.push({
        path,
        message: `too long: the ${limit.what} ${d.form} is ${plural(length, 'character')}${from}, and AWS allows at most ${limit.max}; choose a name ${plural(length - limit.max, 'character')} shorter`,
      });
  }
  return problems;
}
