import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * A failed first create must be retryable. CloudFormation keeps a `Retain` resource when the
 * create that made it rolls back, and every retry then fails on the named resource with "already
 * exists"; `RetainExceptOnCreate` deletes it on that rollback and keeps it on every later
 * update or delete (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html).
 */
let s: Synthesized;
let templates: Array<{
  file: string;
  resources: Record<
    string,
    {
      Type: string;
      DeletionPolicy?: string;
      UpdateReplacePolicy?: string;
      Properties?: Record<string, unknown>;
    }
  >;
}>;
beforeAll(() => {
  s = synthesize();
  const files = [
    ...fs.readdirSync(s.outdir).filter((f) => f.endsWith('.template.json')),
    ...fs
      .readdirSync(s.outdir)
      .filter((d) => d.startsWith('assembly-'))
      .flatMap((d) =>
        fs
          .readdirSync(path.join(s.outdir, d))
          .filter((f) => f.endsWith('.template.json'))
          .map((f) => path.join(d, f)),
      ),
  ];
  templates = files.map((file) => ({
    file,
    resources: (
      JSON.parse(fs.readFileSync(path.join(s.outdir, file), 'utf8')) as { Resources: never }
    ).Resources,
  }));
});

test('the assembly holds every template: pipeline, cross-region support, replicas, every stage', () => {
  const names = templates.map((t) => t.file).join('\n');
  expect(names).toMatch(/^HelloWebPipeline\.template\.json$/m);
  expect(names).toMatch(/cross-region-stack-/);
  expect(names).toMatch(/assembly-HelloWebPipeline-ImageReplicas\//);
  for (const stage of Object.keys(s.stages))
    expect(names).toContain(`assembly-HelloWebPipeline-${stage}/`);
});

test('no resource in any template is DeletionPolicy: Retain (a rolled-back create would leave it behind)', () => {
  const retained = templates.flatMap((t) =>
    Object.entries(t.resources)
      .filter(([, r]) => r.DeletionPolicy === 'Retain')
      .map(([id, r]) => `${t.file}: ${id} (${r.Type})`),
  );
  expect(retained).toEqual([]);
});

test('the named and data-holding resources are kept on update and delete, removed only when their own create rolls back', () => {
  const policyOf = (
    file: RegExp,
    type: string,
    where: (p: Record<string, unknown>) => boolean = () => true,
  ) => {
    const found = templates
      .filter((t) => file.test(t.file))
      .flatMap((t) =>
        Object.values(t.resources).filter((r) => r.Type === type && where(r.Properties ?? {})),
      );
    expect(found.length).toBeGreaterThan(0);
    return found.map((r) => [r.DeletionPolicy, r.UpdateReplacePolicy]);
  };
  const kept = ['RetainExceptOnCreate', 'Retain'];
  const each = (list: Array<Array<string | undefined>>) =>
    list.forEach((p) => expect(p).toEqual(kept));
  // the pipeline account: source image repository, artifact bucket and its key, access logs
  each(policyOf(/^HelloWebPipeline\.template/, 'AWS::ECR::Repository'));
  each(policyOf(/^HelloWebPipeline\.template/, 'AWS::S3::Bucket'));
  each(policyOf(/^HelloWebPipeline\.template/, 'AWS::KMS::Key'));
  // replica repositories (named like the source: a retry would collide)
  each(policyOf(/ImageReplicas\//, 'AWS::ECR::Repository'));
  // every stage: the control-plane log group (named /aws/eks/<cluster>/cluster), secrets key, breakglass buckets and audit table
  for (const stage of Object.keys(s.stages)) {
    const file = new RegExp(`assembly-HelloWebPipeline-${stage}/`);
    each(
      policyOf(
        file,
        'AWS::Logs::LogGroup',
        (p) => typeof p.LogGroupName === 'string' && p.LogGroupName.endsWith('/cluster'),
      ),
    );
    each(policyOf(file, 'AWS::KMS::Key'));
    each(policyOf(file, 'AWS::S3::Bucket'));
    each(policyOf(file, 'AWS::DynamoDB::GlobalTable'));
  }
});
