import * as fs from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { STACK_ENVIRONMENTS, allEnvironments } from '../../lib/config';
import { type Synthesized, pipelineStages, synthesize } from '../support/synth';
import awsCdkPackage from 'aws-cdk/package.json';

let s: Synthesized;
/** The config's alternatives, in one synth: an existing repository, BASIC scanning. */
let alt: Synthesized;
beforeAll(() => {
  s = synthesize();
  alt = synthesize({
    config: {
      ...STACK_ENVIRONMENTS,
      source: { repositoryName: 'existing-repo', branch: 'release', create: false },
      image: { scanning: 'BASIC' },
    },
  });
});

describe('pipeline order', () => {
  test('source, synth, self-mutation, assets, image build, pre-prod, approval, then the prod waves in config order', () => {
    expect(pipelineStages(s.pipeline).map((st) => st.name)).toEqual([
      'Source',
      'Build',
      'UpdatePipeline',
      'Assets',
      'ImageReplicas', // the replica repositories, before any image replicates
      'Image', // build, push, backfill to the replicas
      'ImageGate-preprod-eu-west-1', // the gate outside the stage that rolls back: a rollback never meets it
      'preprod-eu-west-1',
      'PromoteToProd', // the prod regions' gate, then the approval
      'prod-eu-west-1', // wave 1: one region
      'prod-wave-2', // wave 2: us-east-1 and ap-southeast-2
    ]);
  });

  test('the prod gate, the change report and the breakglass check side by side, then the manual approval, are the only actions between pre-prod and the first prod wave', () => {
    const stages = pipelineStages(s.pipeline);
    const approval = stages.find((st) => st.name === 'PromoteToProd')!;
    expect(approval.actions).toEqual([
      expect.objectContaining({ name: 'BreakglassCheck-prod', runOrder: 1, provider: 'CodeBuild' }),
      expect.objectContaining({ name: 'ChangeReport-prod', runOrder: 1, provider: 'CodeBuild' }),
      expect.objectContaining({ name: 'ImageGate-prod', runOrder: 1, provider: 'CodeBuild' }),
      expect.objectContaining({ runOrder: 2, provider: 'Manual' }),
    ]);
    const names = stages.map((st) => st.name);
    expect(names.indexOf('PromoteToProd')).toBe(names.indexOf('preprod-eu-west-1') + 1);
    // no prod deployment before the approval
    for (const st of stages.slice(0, names.indexOf('PromoteToProd'))) {
      expect(
        st.actions.some(
          (a) =>
            a.provider === 'CloudFormation' &&
            a.name.includes('prod-') &&
            !a.name.includes('preprod'),
        ),
      ).toBe(false);
    }
  });

  test('each deploy stage runs: deploy (create or update, no change set), then smoke test and bake', () => {
    for (const name of ['preprod-eu-west-1', 'prod-eu-west-1']) {
      const st = pipelineStages(s.pipeline).find((x) => x.name === name)!;
      expect(st.actions.map((a) => [a.runOrder, a.name.replace(/^.*\./, '.')])).toEqual([
        [1, '.Deploy'],
        [2, `SmokeAndBake-${name}`],
      ]);
      const deploy = st.actions.find((a) => a.name.endsWith('.Deploy'))!;
      expect(deploy.configuration.ActionMode).toBe('CREATE_UPDATE');
    }
  });

  test("a wave's regions deploy in parallel (same run order), each with its own smoke test", () => {
    const wave = pipelineStages(s.pipeline).find((x) => x.name === 'prod-wave-2')!;
    const deploys = wave.actions.filter((a) => a.name.endsWith('.Deploy'));
    expect(deploys.map((a) => a.name).sort()).toEqual([
      'prod-ap-southeast-2.hello-web-prod-ap-southeast-2.Deploy',
      'prod-us-east-1.hello-web-prod-us-east-1.Deploy',
    ]);
    expect(new Set(deploys.map((a) => a.runOrder)).size).toBe(1);
    for (const region of ['us-east-1', 'ap-southeast-2']) {
      expect(
        wave.actions.filter(
          (a) => a.name.startsWith(`prod-${region}.`) && /SmokeAndBake/.test(a.name),
        ),
      ).toHaveLength(1);
    }
  });
});

describe('automatic rollback', () => {
  test('every stage that deploys rolls back on failure; no other stage does', () => {
    const stages = pipelineStages(s.pipeline);
    const deploying = stages.filter((st) =>
      st.actions.some((a) => a.provider === 'CloudFormation' && a.name.endsWith('.Deploy')),
    );
    expect(deploying.map((st) => st.name)).toEqual([
      'ImageReplicas',
      'preprod-eu-west-1',
      'prod-eu-west-1',
      'prod-wave-2',
    ]);
    for (const st of stages) {
      expect(st.onFailure).toEqual(deploying.includes(st) ? { Result: 'ROLLBACK' } : undefined);
    }
  });

  test('the pipeline is V2 (stage rollback needs it)', () => {
    s.pipeline.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      Name: 'hello-web-delivery',
    });
  });
});

describe('source and synth', () => {
  test('the CodeCommit repository from config is created and watched on the configured branch', () => {
    s.pipeline.hasResourceProperties('AWS::CodeCommit::Repository', {
      RepositoryName: 'hello-web',
    });
    const source = pipelineStages(s.pipeline)[0].actions[0];
    expect(source.provider).toBe('CodeCommit');
    expect(source.configuration).toMatchObject({ BranchName: 'main', PollForSourceChanges: false });
  });

  test('an existing repository is used by name when config says create: false', () => {
    alt.pipeline.resourceCountIs('AWS::CodeCommit::Repository', 0);
    expect(pipelineStages(alt.pipeline)[0].actions[0].configuration).toMatchObject({
      RepositoryName: 'existing-repo',
      BranchName: 'release',
    });
  });

  test('the synth step installs, runs the unit tests before synthesizing, and bundles the tools', () => {
    const projects = s.pipeline.findResources('AWS::CodeBuild::Project');
    const synth = Object.values(projects).find((p) => JSON.stringify(p).includes('cdk synth'));
    expect(synth).toBeDefined();
    const spec = JSON.stringify(
      (synth as { Properties: { Source: { BuildSpec: string } } }).Properties.Source.BuildSpec,
    );
    const at = (cmd: string) => spec.indexOf(cmd);
    expect(at('npm ci')).toBeGreaterThanOrEqual(0);
    expect(at('npm run test:unit')).toBeGreaterThan(at('npm ci'));
    expect(at('npx cdk synth')).toBeGreaterThan(at('npm run test:unit'));
    expect(at('npm run bundle:tools')).toBeGreaterThan(at('npx cdk synth'));
  });

  test('self-mutation is on', () => {
    expect(
      pipelineStages(s.pipeline).find((st) => st.name === 'UpdatePipeline')!.actions,
    ).toHaveLength(1);
  });
});

describe('steps', () => {
  const buildSpecOf = (needle: string): string => {
    const project = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project')).find((p) =>
      JSON.stringify(p).includes(needle),
    );
    if (!project) throw new Error(`no CodeBuild project mentions ${needle}`);
    return JSON.stringify(project);
  };

  test('the smoke test reads the service URL and expected tag from the stage outputs', () => {
    const stage = pipelineStages(s.pipeline).find((x) => x.name === 'preprod-eu-west-1')!;
    const smoke = stage.actions.find((a) => a.name.startsWith('SmokeAndBake'))!;
    const env = JSON.parse(smoke.configuration.EnvironmentVariables as string) as Array<{
      name: string;
      value: string;
    }>;
    // no pipeline execution id: the bake reads its own from the action it runs in
    // (test/pipeline/safe-delivery.test.ts)
    expect(env.map((e) => e.name).sort()).toEqual(['EXPECTED_VERSION', 'SERVICE_URL']);
    expect(env.find((e) => e.name === 'SERVICE_URL')!.value).toMatch(/^#\{.*\.ServiceUrl\}$/);
    expect(env.find((e) => e.name === 'EXPECTED_VERSION')!.value).toMatch(/^#\{.*\.ImageTag\}$/);
    expect(buildSpecOf('smoke-test.cjs')).toContain(
      '--expect-version \\\\\\"$EXPECTED_VERSION\\\\\\"',
    );
  });

  test('the image is built in a privileged CodeBuild project from buildspec.yml, natively for the node architecture', () => {
    const project = buildSpecOf('IMAGE_ARTIFACT');
    expect(project).toContain('docker build');
    expect(project).toContain('"PrivilegedMode":true');
    expect(project).toContain('ARM_CONTAINER');
    expect(project).toContain('LOCAL_DOCKER_LAYER_CACHE');
  });

  test("two image gates: pre-prod's region, then every prod region at once", () => {
    expect(buildSpecOf('--regions eu-west-1 --scan-region')).toContain('--fail-on CRITICAL');
    expect(buildSpecOf('--regions eu-west-1,us-east-1,ap-southeast-2 --scan-region')).toContain(
      '--fail-on CRITICAL',
    );
    const gates = pipelineStages(s.pipeline)
      .flatMap((st) => st.actions)
      .filter((a) => a.name.includes('ImageGate'));
    expect(gates).toHaveLength(2);
  });
});

describe('artifacts and image repository', () => {
  test('artifacts are KMS-encrypted with a rotating key, SSL-only, not public', () => {
    s.pipeline.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp('Pipeline artifacts'),
    });
    s.pipeline.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    s.pipeline.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('the ECR repository has immutable tags, scan on push and a lifecycle keeping 30 images', () => {
    s.pipeline.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'hello-web',
      ImageTagMutability: 'IMMUTABLE',
      ImageScanningConfiguration: { ScanOnPush: true },
      LifecyclePolicy: { LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":30') },
    });
  });

  test('only the delivery accounts may pull', () => {
    const repo = Object.values(s.pipeline.findResources('AWS::ECR::Repository'))[0] as {
      Properties: { RepositoryPolicyText: { Statement: Array<{ Principal: { AWS: unknown[] } }> } };
    };
    const principals = JSON.stringify(
      repo.Properties.RepositoryPolicyText.Statement.map((st) => st.Principal),
    );
    expect(principals).toContain('222222222222');
    expect(principals).toContain('333333333333');
    expect(principals).not.toContain('*');
  });

  test('the image is replicated to every other stage region, into replicas with the same settings and pull policy', () => {
    s.pipeline.hasResourceProperties('AWS::ECR::ReplicationConfiguration', {
      ReplicationConfiguration: {
        Rules: [
          {
            Destinations: [
              { Region: 'us-east-1', RegistryId: '111111111111' },
              { Region: 'ap-southeast-2', RegistryId: '111111111111' },
            ],
            RepositoryFilters: [{ Filter: 'hello-web', FilterType: 'PREFIX_MATCH' }],
          },
        ],
      },
    });
    const stage = s.pipelineStack.node.findChild('ImageReplicas') as unknown as {
      stacks: Array<import('aws-cdk-lib').Stack>;
    };
    expect(stage.stacks.map((st) => [st.account, st.region])).toEqual([
      ['111111111111', 'us-east-1'],
      ['111111111111', 'ap-southeast-2'],
    ]);
    for (const st of stage.stacks) {
      const t = Template.fromStack(st);
      t.hasResourceProperties('AWS::ECR::Repository', {
        RepositoryName: 'hello-web',
        ImageTagMutability: 'IMMUTABLE',
        LifecyclePolicy: { LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":30') },
      });
      const policy = JSON.stringify(t.findResources('AWS::ECR::Repository'));
      expect(policy).toContain('222222222222');
      expect(policy).toContain('333333333333');
      t.resourceCountIs('AWS::ECR::ReplicationConfiguration', 0);
      t.resourceCountIs('AWS::ECR::RegistryScanningConfiguration', 0);
    }
  });

  test('the image tag is not in the pipeline template (it reaches the build through the cloud assembly)', () => {
    expect(JSON.stringify(s.pipeline.toJSON())).not.toContain(s.imageTag);
  });
});

describe('image scanning', () => {
  test('the pushed image is scanned continuously by Amazon Inspector', () => {
    s.pipeline.hasResourceProperties('AWS::ECR::RegistryScanningConfiguration', {
      ScanType: 'ENHANCED',
      Rules: [
        {
          ScanFrequency: 'CONTINUOUS_SCAN',
          RepositoryFilters: [{ Filter: 'hello-web', FilterType: 'WILDCARD' }],
        },
      ],
    });
  });

  test('the gates may read Inspector findings and coverage (ENHANCED) and only describe/scan the repositories they check', () => {
    const policies = Object.values(s.pipeline.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('ecr:DescribeImageScanFindings'),
    );
    expect(policies).toHaveLength(2);
    // pre-prod's gate: the source and its region's repository; the prod gate: the source and the
    // repositories of its three regions (in the pipeline's region, eu-west-1, that is the source
    // itself, named once by ARN and once by reference)
    const counts: number[] = [];
    for (const p of policies) {
      const statements = (
        p as {
          Properties: {
            PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
          };
        }
      ).Properties.PolicyDocument.Statement;
      // The ECR page on enhanced scanning lists both among the permissions to retrieve scan
      // findings (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-iam.html).
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: ['inspector2:ListCoverage', 'inspector2:ListFindings'],
          Resource: '*',
        }),
      );
      const ecrStatement = statements.find((st) =>
        JSON.stringify(st.Action).includes('ecr:DescribeImages'),
      )!;
      const resources = Array.isArray(ecrStatement.Resource)
        ? ecrStatement.Resource
        : [ecrStatement.Resource];
      counts.push(resources.length);
    }
    expect(counts.sort()).toEqual([2, 4]);
  });

  test("each gate checks replication in its stage's region and reads the scan where the image was pushed", () => {
    const gate = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project'))
      .map((p) => JSON.stringify(p))
      .find((p) => p.includes('ap-southeast-2 --scan-region'));
    expect(gate).toContain('--scan-region eu-west-1');
  });

  test('BASIC scanning leaves the registry configuration alone', () => {
    alt.pipeline.resourceCountIs('AWS::ECR::RegistryScanningConfiguration', 0);
    alt.pipeline.hasResourceProperties('AWS::ECR::Repository', {
      ImageScanningConfiguration: { ScanOnPush: true },
    });
  });
});

test('self-mutation and asset publishing install pinned CLI versions, never @latest', () => {
  const projects = JSON.stringify(s.pipeline.findResources('AWS::CodeBuild::Project'));
  expect(projects).not.toMatch(/@latest/);
  expect(projects).toContain(`aws-cdk@${awsCdkPackage.version}`);
  // the asset publishing buildspec is written next to the template, in the cloud assembly
  const specs = fs.readdirSync(s.outdir).filter((f) => /^buildspec-.*FileAsset\.yaml$/.test(f));
  expect(specs).toHaveLength(1);
  const assetSpec = fs.readFileSync(`${s.outdir}/${specs[0]}`, 'utf8');
  expect(assetSpec).toMatch(/npm install -g cdk-assets@\d+\.\d+\.\d+/);
  expect(assetSpec).not.toMatch(/@latest/);
  const parsed = JSON.parse(assetSpec) as { phases: { install: Record<string, unknown> } };
  expect(parsed.phases.install['runtime-versions']).toEqual({ nodejs: '24' });
});

test('every CodeBuild step runs on Node 24, the version the project supports (the other runtimes: test/pipeline/codebuild-runtimes.test.ts)', () => {
  const projects = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project')).filter((p) =>
    JSON.stringify(p).includes('"BuildSpec":"{'),
  );
  expect(projects.length).toBeGreaterThan(5);
  // A step that selects runtimes selects Node 24; one that selects none (the bake watch: bash and the
  // AWS CLI) runs no node, which test/pipeline/codebuild-runtimes.test.ts checks.
  const selected = projects
    .map(
      (p) =>
        (
          JSON.parse(
            (p as { Properties: { Source: { BuildSpec: string } } }).Properties.Source.BuildSpec,
          ) as { phases: { install?: { 'runtime-versions'?: Record<string, string> } } }
        ).phases.install?.['runtime-versions'],
    )
    .filter((rv) => rv !== undefined);
  expect(selected.length).toBeGreaterThan(5);
  for (const rv of selected) expect(rv).toMatchObject({ nodejs: '24' });
});

test("every environment's pipelineStageName (what the rollback command resolves) is a stage of the synthesized pipeline", () => {
  const names = pipelineStages(s.pipeline).map((st) => st.name);
  for (const env of allEnvironments(s.config)) expect(names).toContain(env.pipelineStageName);
});
