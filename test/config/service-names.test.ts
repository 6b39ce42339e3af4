import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type DeliveryConfigInput,
  NAME_LIMITS,
  STACK_ENVIRONMENTS,
  allEnvironments,
  pascalCase,
  validateConfig,
} from '../../lib/config';
import { REPO_ROOT } from '../support/paths';
import { defaultConfig, problems } from '../support/config';

const base = defaultConfig;
const withService = (service: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  ({ ...base(), service, ...more }) as DeliveryConfigInput;

describe('the default service keeps the names deployments already have', () => {
  // Written out by hand, not derived: these are the physical names of stacks and resources that
  // exist in accounts today. A different name would make CloudFormation replace the resource (the
  // ECR repository with every rollback image, the breakglass bucket and audit table).
  const cfg = validateConfig(STACK_ENVIRONMENTS);

  test('service defaults', () => {
    expect(cfg.service).toEqual({
      name: 'hello-web',
      appDir: 'app',
      port: 8080,
      healthPath: '/healthz',
      readyPath: '/readyz',
    });
  });

  test('names of the pipeline account', () => {
    expect(cfg.pipeline.name).toBe('hello-web-delivery');
    expect(cfg.image.repositoryName).toBe('hello-web');
    expect(cfg.source).toMatchObject({ kind: 'codecommit', repositoryName: 'hello-web' });
    expect(cfg.pipelineNames.stackName).toBe('hello-web-delivery-pipeline');
    expect(cfg.pipelineNames.imageReplicaStackName('us-east-1')).toBe(
      'hello-web-delivery-image-us-east-1',
    );
    expect(cfg.pipelineNames.supportStackName('us-east-1')).toBe(
      'hello-web-delivery-pipeline-support-us-east-1',
    );
    expect(cfg.names).toMatchObject({
      pipelineStackId: 'HelloWebPipeline',
      appStackId: 'HelloWeb',
      kubernetes: { namespace: 'hello-web', name: 'hello-web', partOf: 'hello-web' },
      manifestObjectKey: 'manifests/hello-web.yaml',
      breakglassStateDir: 'hello-web-breakglass',
      preflightSessionName: 'hello-web-preflight',
    });
  });

  test.each(allEnvironments(validateConfig(STACK_ENVIRONMENTS)).map((e) => [e.stageName]))(
    'names of %s',
    (stage) => {
      const env = allEnvironments(cfg).find((e) => e.stageName === stage)!;
      expect(env.stackName).toBe(`hello-web-${stage}`);
      expect(env.names).toEqual({
        stackName: `hello-web-${stage}`,
        clusterName: `hello-web-${stage}`,
        clusterLogGroup: `/aws/eks/hello-web-${stage}/cluster`,
        applicationLogGroup: `/aws/containerinsights/hello-web-${stage}/application`,
        bakeAlarm: `hello-web-${stage}-bake`,
        bakeSignalAlarms: {
          'error-rate': `hello-web-${stage}-error-rate`,
          'p99-latency': `hello-web-${stage}-p99-latency`,
          availability: `hello-web-${stage}-availability`,
          signals: `hello-web-${stage}-signals`,
        },
        metricNamespace: `HelloWeb/${stage}`,
        patchGroup: `hello-web-${stage}`,
        patchBaseline: `hello-web-${stage}-al2023`,
        patchAssociation: `hello-web-${stage}-patch-scan`,
        autoscalerTagKey: `k8s.io/cluster-autoscaler/hello-web-${stage}`,
      });
    },
  );
});

describe('another service derives every name from its own', () => {
  const cfg = validateConfig(withService({ name: 'orders-api', appDir: 'app' }));
  const everyName = JSON.stringify({
    names: cfg.names,
    pipeline: cfg.pipeline,
    image: cfg.image,
    source: cfg.source,
    stacks: [cfg.pipelineNames.stackName, cfg.pipelineNames.imageReplicaStackName('us-east-1')],
    envs: allEnvironments(cfg).map((e) => ({ stackName: e.stackName, names: e.names })),
  });

  test('no name holds the default service', () => {
    expect(everyName).not.toMatch(/hello-?web/i);
  });

  test('names follow the service', () => {
    expect(cfg.pipeline.name).toBe('orders-api-delivery');
    expect(cfg.image.repositoryName).toBe('orders-api');
    expect(cfg.source).toMatchObject({ repositoryName: 'orders-api' });
    expect(cfg.names.pipelineStackId).toBe('OrdersApiPipeline');
    expect(cfg.preprod.names.bakeAlarm).toBe('orders-api-preprod-eu-west-1-bake');
    expect(cfg.preprod.names.metricNamespace).toBe('OrdersApi/preprod-eu-west-1');
    expect(cfg.preprod.service).toEqual(cfg.service);
  });

  test('explicit pipeline, repository and source names still win', () => {
    const c = validateConfig(
      withService(
        { name: 'orders-api' },
        {
          pipeline: { ...base().pipeline, name: 'orders' },
          image: { repositoryName: 'team/orders' },
          source: { repositoryName: 'orders-src' },
        },
      ),
    );
    expect([c.pipeline.name, c.image.repositoryName]).toEqual(['orders', 'team/orders']);
    expect(c.source).toMatchObject({ repositoryName: 'orders-src' });
  });
});

test('construct ids from two different service names never coincide', () => {
  expect(pascalCase('hello-web')).toBe('HelloWeb');
  expect(pascalCase('orders-api')).toBe('OrdersApi');
  // A plain "capitalise after each hyphen" would give A1b for both.
  expect(pascalCase('a-1b')).not.toBe(pascalCase('a1b'));
  expect(pascalCase('a--b')).not.toBe(pascalCase('a-b'));
});

describe('service settings are validated like every other key', () => {
  test.each([
    ['uppercase', { name: 'Orders' }, /^service\.name: must be a DNS label/],
    ['a leading digit', { name: '1orders' }, /^service\.name: must be a DNS label/],
    ['an underscore', { name: 'orders_api' }, /^service\.name: must be a DNS label/],
    ['a trailing hyphen', { name: 'orders-' }, /^service\.name: must be a DNS label/],
    ['64 characters', { name: 'a'.repeat(64) }, /^service\.name: must be at most 63 characters/],
    [
      'a path out of the repository',
      { appDir: '../other' },
      /^service\.appDir: must be a directory inside the repository/,
    ],
    ['an absolute path', { appDir: '/srv/app' }, /^service\.appDir: must be a directory inside/],
    ['a shell word', { appDir: 'app;rm' }, /^service\.appDir: must be a directory inside/],
    ['a privileged port', { port: 80 }, /^service\.port: must be at least 1024/],
    ['a port out of range', { port: 70000 }, /^service\.port: must be at most 65535/],
    [
      'the probe port',
      { port: 8081 },
      /^service\.port: must not be 8081: the probe listener takes that port/,
    ],
    ['a path without "/"', { healthPath: 'healthz' }, /^service\.healthPath: must be an HTTP path/],
    [
      'a query in the path',
      { readyPath: '/ready?x=1' },
      /^service\.readyPath: must be an HTTP path/,
    ],
    ['an unknown key', { image: 'x' }, /^service: unknown key "image"/],
  ])('refuses %s', (_what, service, expected) => {
    const found = problems(withService(service));
    expect(found).toEqual([expect.stringMatching(expected)]);
  });

  test('accepts every setting', () => {
    const cfg = validateConfig(
      withService({
        name: 'orders-api',
        appDir: 'services/orders',
        port: 9000,
        healthPath: '/livez',
        readyPath: '/ready/now',
      }),
    );
    expect(cfg.service).toEqual({
      name: 'orders-api',
      appDir: 'services/orders',
      port: 9000,
      healthPath: '/livez',
      readyPath: '/ready/now',
    });
  });
});

describe('the longest derived name must fit its AWS limit', () => {
  test('a long service name with a long stage name overflows the EKS cluster name', () => {
    // 60 + 1 + 40 = 101 > 100 (AWS::EKS::Cluster Name)
    const name = `orders-${'a'.repeat(53)}`;
    const stage = `pp${'x'.repeat(38)}`;
    const found = problems(
      withService(
        { name },
        { preprod: { account: '222222222222', region: 'eu-west-1', name: stage } },
      ),
    );
    expect(found).toEqual([
      `service.name: too long: the EKS cluster name <service>-<stage> is 101 characters with the stage "${stage}" (preprod), and AWS allows at most 100; choose a name 1 character shorter`,
    ]);
  });

  test('a one-letter service name is too short for the ECR repository it names by default', () => {
    // ECR: 2-256 characters (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html);
    // found by test/config/fuzz.test.ts as a synth crash (aws-cdk-lib's InvalidRepositoryName).
    expect(problems(withService({ name: 'a' }))).toEqual([
      expect.stringMatching(
        /^service\.name: too short: the ECR repository name <service> is 1 character, and AWS needs at least 2/,
      ),
    ]);
    expect(problems(withService({ name: 'a' }, { image: { repositoryName: 'team/a' } }))).toEqual(
      [],
    );
  });

  test('the same name fits with the default stage names', () => {
    const name = `orders-${'a'.repeat(53)}`;
    expect(problems(withService({ name }))).toEqual([]);
  });

  test('a long service name still gets a preflight session name AWS accepts', () => {
    const name = `orders-${'a'.repeat(56)}`; // 63 characters, the most a DNS label holds
    const session = validateConfig(withService({ name })).names.preflightSessionName;
    expect(session.length).toBeLessThanOrEqual(64);
    expect(session).toMatch(/^orders-a+-preflight$/);
  });

  test('a pipeline name too long for its derived names is refused once, by the schema', () => {
    // pipeline.name has its own bound (86: its topic display name "<name> notifications" holds at
    // most 100); the derived-name check leaves an invalid pipeline name to it, so one problem.
    const found = problems({ ...base(), pipeline: { ...base().pipeline, name: 'p'.repeat(100) } });
    expect(found).toEqual([
      expect.stringMatching(/^pipeline\.name: must be at most 86 characters/),
    ]);
  });

  test('the default service fits with the longest stage name the schema allows', () => {
    const stage = `a${'b'.repeat(38)}c`; // 40 characters
    expect(
      problems({
        ...base(),
        preprod: { account: '222222222222', region: 'eu-west-1', name: stage },
      }),
    ).toEqual([]);
  });
});

/**
 * The limits checked against AWS's own data where it states one: the CloudFormation resource
 * provider schemas (the registry's, as cfn-lint ships them). Never more permissive than AWS.
 */
describe('NAME_LIMITS against the CloudFormation registry schemas', () => {
  const lib = path.join(REPO_ROOT, '.venv', 'lib');
  const python = fs.existsSync(lib)
    ? fs.readdirSync(lib).find((d) => d.startsWith('python'))
    : undefined;
  const schemas = python
    ? path.join(lib, python, 'site-packages', 'cfnlint', 'data', 'schemas')
    : undefined;
  const have = schemas !== undefined && fs.existsSync(schemas);
  if (!have) {
    const hint = 'cfn-lint not found in .venv: run `bash scripts/setup-python.sh`';
    if (process.env.CI === 'true')
      throw new Error(`${hint}. Under CI=true a missing tool is a failure.`);
    console.warn(`SKIPPING the registry schema comparison: ${hint}`);
  }
  const schemaOf = (type: string): Record<string, unknown> => {
    const providers = JSON.parse(
      fs.readFileSync(path.join(schemas!, 'providers', 'eu-west-1.json'), 'utf8'),
    ) as Record<string, string>;
    return JSON.parse(
      fs.readFileSync(path.join(schemas!, 'resources', `${providers[type]}.json`), 'utf8'),
    ) as Record<string, unknown>;
  };
  const maxOf = (type: string, pointer: string[]): number => {
    let node: unknown = schemaOf(type);
    for (const key of pointer) node = (node as Record<string, unknown>)[key];
    const n = node as { maxLength?: number; pattern?: string };
    if (n.maxLength !== undefined) return n.maxLength;
    const m = /\{\d+,(\d+)\}\$?$/.exec(n.pattern ?? '');
    if (!m) throw new Error(`${type} ${pointer.join('.')} states no length`);
    return Number(m[1]);
  };
  const cases: [keyof typeof NAME_LIMITS, string, string[]][] = [
    ['clusterName', 'AWS::EKS::Cluster', ['properties', 'Name']],
    ['alarmName', 'AWS::CloudWatch::Alarm', ['properties', 'AlarmName']],
    ['alarmName', 'AWS::CloudWatch::CompositeAlarm', ['properties', 'AlarmName']],
    ['logGroupName', 'AWS::Logs::LogGroup', ['properties', 'LogGroupName']],
    [
      'metricNamespace',
      'AWS::Logs::MetricFilter',
      ['definitions', 'MetricTransformation', 'properties', 'MetricNamespace'],
    ],
    ['patchBaselineName', 'AWS::SSM::PatchBaseline', ['properties', 'Name']],
    ['associationName', 'AWS::SSM::Association', ['properties', 'AssociationName']],
    ['repositoryName', 'AWS::ECR::Repository', ['properties', 'RepositoryName']],
    ['tagKey', 'AWS::CodePipeline::Pipeline', ['definitions', 'Tag', 'properties', 'Key']],
    ['tagValue', 'AWS::CodePipeline::Pipeline', ['definitions', 'Tag', 'properties', 'Value']],
  ];
  (have ? test.each(cases) : test.skip.each(cases))('%s fits %s', (kind, type, pointer) => {
    expect(NAME_LIMITS[kind].max).toBeLessThanOrEqual(maxOf(type, pointer));
  });
});
