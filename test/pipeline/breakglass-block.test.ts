import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  BREAKGLASS_CHECK_DIR,
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTargets,
  allEnvironments,
  notificationTopicName,
} from '../../lib/config';
import { bootstrapRoleArn } from '../../lib/config/bootstrap';
import { BREAKGLASS_CHECK_ACTION, PIPELINE_STAGES } from '../../lib/pipeline/pipeline-stack';
import { objectsDigest, parseObjects } from '../../tools/common/manifest-objects';
import { resourceText } from '../aws-calls/scan';
import { defaultConfig } from '../support/config';
import { type Synthesized, pipelineStages, projectBuildSpec, synthesize } from '../support/synth';

/**
 * issue 26: a breakglass change blocks the next deploy of its environment before it starts, and a
 * rollback execution is never blocked. CodePipeline's stage rollback re-runs every action of the
 * rolled-back stage (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html),
 * so the check lives only in stages that never roll back (the gate stages, beside the image gates),
 * each before the deploy stages of the environments it checks. On the synthesized pipeline.
 */
let s: Synthesized;
/** The environment whose config sets breakglassCheck.kmsTableUpgrade (ADR 0035, Amendment). */
const UPGRADING = 'prod-us-east-1';
beforeAll(() => {
  // The default config, one environment with the upgrade setting: nothing else in it differs.
  const config = defaultConfig();
  const env = config.prod.waves.flat().find((e) => `prod-${e.region}` === UPGRADING)!;
  env.breakglassCheck = { kmsTableUpgrade: true };
  s = synthesize({ config });
});

const isCheck = (name: string) => name.startsWith(BREAKGLASS_CHECK_ACTION);

/** The environments a check action names (`--environments a,b`), from its CodeBuild project's buildspec. */
function checkedBy(action: { configuration: Record<string, unknown> }): string[] {
  const project = (action.configuration.ProjectName as { Ref: string }).Ref;
  const spec = projectBuildSpec(s, project);
  const m = /breakglass-check\.cjs --environments ([^ "\\]+)/.exec(spec);
  if (!m) throw new Error(`no breakglass-check command in ${project}`);
  return m[1].split(',');
}

test('every environment is checked in a stage before its deploy stage, and no stage that rolls back holds a check', () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  for (const st of stages.filter((x) => x.onFailure?.Result === 'ROLLBACK'))
    expect(st.actions.filter((a) => isCheck(a.name)).map((a) => `${st.name}: ${a.name}`)).toEqual(
      [],
    );
  const checkedIn = new Map<string, number>();
  stages.forEach((st, i) => {
    for (const a of st.actions.filter((x) => isCheck(x.name))) {
      expect(st.onFailure).toBeUndefined();
      for (const env of checkedBy(a)) checkedIn.set(env, i);
    }
  });
  for (const env of allEnvironments(s.config)) {
    const check = checkedIn.get(env.stageName);
    expect({ env: env.stageName, checked: check !== undefined }).toEqual({
      env: env.stageName,
      checked: true,
    });
    expect(check as number).toBeLessThan(names.indexOf(env.pipelineStageName));
  }
});

test('the prod check runs before the approval: the approver never promotes over an outstanding breakglass change', () => {
  const approval = pipelineStages(s.pipeline).find((st) => st.name === PIPELINE_STAGES.approval)!;
  const check = approval.actions.find((a) => isCheck(a.name))!;
  const manual = approval.actions.find((a) => a.provider === 'Manual')!;
  expect(check.runOrder).toBeLessThan(manual.runOrder);
  expect(checkedBy(check).sort()).toEqual(
    s.config.prod.waves
      .flat()
      .map((e) => e.stageName)
      .sort(),
  );
});

/** The CDK bootstrap template the project's pinned CLI deploys (`cdk bootstrap`): AWS's own data. */
function bootstrapTemplate(): {
  Resources: {
    LookupRole: {
      Properties: {
        ManagedPolicyArns: unknown[];
        Policies: Array<{
          PolicyDocument: { Statement: Array<{ Effect: string; Action: string | string[] }> };
        }>;
      };
    };
  };
} {
  return parse(
    fs.readFileSync(
      path.join(
        path.dirname(require.resolve('aws-cdk/package.json')),
        'lib/api/bootstrap/bootstrap-template.yaml',
      ),
      'utf8',
    ),
  ) as ReturnType<typeof bootstrapTemplate>;
}

test("the check reads each environment through its account's bootstrap lookup role, which exists before the environment's stack: no environment stack creates a role for it", () => {
  const actions = pipelineStages(s.pipeline).flatMap((st) =>
    st.actions.filter((a) => isCheck(a.name)),
  );
  const template = s.pipeline.toJSON() as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  for (const action of actions) {
    const project = (action.configuration.ProjectName as { Ref: string }).Ref;
    const role = (
      template.Resources[project].Properties!.ServiceRole as { 'Fn::GetAtt': [string] }
    )['Fn::GetAtt'][0];
    const assumable = Object.values(template.Resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties!.Roles as Array<{ Ref?: string }>).some((x) => x.Ref === role),
      )
      .flatMap(
        (r) =>
          (
            r.Properties!.PolicyDocument as {
              Statement: Array<{ Action: string | string[]; Resource: unknown }>;
            }
          ).Statement,
      )
      .filter((st) => [st.Action].flat().includes('sts:AssumeRole'))
      .flatMap((st) => [st.Resource].flat())
      .map((r) => resourceText(r, template, s.config.pipeline));
    const checked = checkedBy(action).map((name) =>
      allEnvironments(s.config).find((e) => e.stageName === name)!,
    );
    expect(assumable.sort()).toEqual(
      checked.map((e) => bootstrapRoleArn('lookup', e, 'aws')).sort(),
    );
  }
  const targets = JSON.parse(
    fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
  ) as BreakglassCheckTargets;
  for (const t of targets.environments)
    expect(t.lookupRoleArn).toBe(bootstrapRoleArn('lookup', t, 'aws'));
  // Nothing in an environment's stack trusts the pipeline account: a role created there would
  // not exist before that stack is first deployed with it (the upgrade, a region added to a wave).
  for (const env of allEnvironments(s.config)) {
    const trusting = Object.values(s.stages[env.stageName].findResources('AWS::IAM::Role')).filter(
      (r) =>
        JSON.stringify(
          (r as { Properties: { AssumeRolePolicyDocument: unknown } }).Properties
            .AssumeRolePolicyDocument,
        ).includes(`:iam::${s.config.pipeline.account}:root`),
    );
    expect({ env: env.stageName, trusting }).toEqual({ env: env.stageName, trusting: [] });
  }
});

test('what the check reads needs no KMS decrypt, which the bootstrap lookup role denies: the audit table under DynamoDB’s own key, the manifests under SSE-S3', () => {
  // The lookup role denies kms:Decrypt on everything (the bootstrap template's "DontReadSecrets").
  const lookup = bootstrapTemplate().Resources.LookupRole.Properties;
  expect(
    lookup.Policies.flatMap((p) => p.PolicyDocument.Statement).filter(
      (st) => st.Effect === 'Deny' && [st.Action].flat().includes('kms:Decrypt'),
    ),
  ).toHaveLength(1);
  // DynamoDB decrypts a table's key with the key the table names (an AWS managed or customer
  // managed key) "on behalf of the user who is accessing the DynamoDB resource", re-asking KMS
  // after five minutes, which "will capture any changes made to the access policies of the KMS key
  // in AWS KMS or AWS Identity and Access Management (IAM)"
  // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html#dynamodb-kms-authz,
  // https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html): the lookup
  // role's Deny would refuse every Query. Under the AWS owned key (SSEEnabled false or absent,
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-globaltable-ssespecification.html)
  // no KMS key of the account is involved. S3 with SSE-S3 (AES256) does not use KMS either.
  for (const env of allEnvironments(s.config)) {
    const t = s.stages[env.stageName].toJSON() as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      Outputs: Record<string, { Value: { Ref: string } }>;
    };
    const table = t.Resources[t.Outputs.AuditTableName.Value.Ref];
    expect(table.Type).toBe('AWS::DynamoDB::GlobalTable');
    const sse = table.Properties.SSESpecification as { SSEEnabled?: boolean } | undefined;
    expect({ env: env.stageName, kms: sse?.SSEEnabled === true }).toEqual({
      env: env.stageName,
      kms: false,
    });
    const bucket = t.Resources[t.Outputs.ManifestBucketName.Value.Ref];
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).toContain('"SSEAlgorithm":"AES256"');
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).not.toContain('kms');
  }
});

test('breakglassCheck.kmsTableUpgrade reaches the check for the environment that sets it, and for no other', () => {
  const targets = JSON.parse(
    fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
  ) as BreakglassCheckTargets;
  expect(targets.environments.filter((t) => t.kmsTableUpgrade).map((t) => t.stageName)).toEqual([
    UPGRADING,
  ]);
});

test('the check compares with exactly the objects each stack applies and stores (prune label aside)', () => {
  const targets = JSON.parse(
    fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
  ) as BreakglassCheckTargets;
  expect(targets.environments.map((e) => e.stageName).sort()).toEqual(
    allEnvironments(s.config)
      .map((e) => e.stageName)
      .sort(),
  );
  for (const target of targets.environments) {
    const rendered = fs.readFileSync(
      path.join(s.outdir, BREAKGLASS_CHECK_DIR, target.manifestFile),
      'utf8',
    );
    // the stored copy: the Body of the stage's PutObject, its one token the partition's URL suffix
    const [put] = Object.values(s.stages[target.stageName].findResources('Custom::AWS')).map(
      (r) => (r as { Properties: { Create: unknown } }).Properties.Create,
    );
    const join = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return o.Ref === 'AWS::URLSuffix' ? 'amazonaws.com' : `<${String(o.Ref)}>`;
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(join).join(sep);
    };
    const body = (JSON.parse(join(put)) as { parameters: { Body: string } }).parameters.Body;
    expect(objectsDigest(parseObjects(rendered, 'rendered'))).toBe(
      objectsDigest(parseObjects(body, 'stored')),
    );
  }
});

test("the notification topic's name follows from the config, and the environments' accounts may publish to it (through SNS's use of its key)", () => {
  s.pipeline.hasResourceProperties('AWS::SNS::Topic', {
    TopicName: notificationTopicName(s.config.pipeline.name),
  });
  const accounts = [...new Set(allEnvironments(s.config).map((e) => e.account))];
  const policies = JSON.stringify(s.pipeline.findResources('AWS::SNS::TopicPolicy'));
  expect(policies).toContain('BreakglassPublish');
  for (const a of accounts) expect(policies).toContain(`:iam::${a}:root`);
  const keys = JSON.stringify(s.pipeline.findResources('AWS::KMS::Key'));
  expect(keys).toContain('BreakglassPublishThroughSns');
  expect(keys).toContain('kms:ViaService');
});
