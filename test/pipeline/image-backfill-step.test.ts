import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/**
 * ECR replication copies only images pushed after the rule exists
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication-backfill.html): a region added
 * later never receives an image whose tag was built before, and its gate would time out. The image
 * build therefore backfills every stage region after its push, before any gate.
 */
let s: Synthesized;
beforeAll(() => {
  s = synthesize();
});

function projectRunning(text: string): string {
  const project = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project'))
    .map((p) => JSON.stringify(p))
    .find((p) => p.includes(text));
  if (!project) throw new Error(`no CodeBuild project runs ${text}`);
  return project;
}

test('the image build backfills every other stage region after the push, before any gate', () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  const image = stages[names.indexOf('Image')];
  // one action: the backfill is the build's last command (buildspec.yml; test/pipeline/buildspec.test.ts runs it)
  expect(image.actions.map((a) => a.name)).toEqual(['BuildImage']);
  expect(names.indexOf('Image')).toBeLessThan(
    Math.min(
      ...stages.map((st, i) =>
        st.actions.some((a) => a.name.includes('ImageGate')) ? i : Infinity,
      ),
    ),
  );
  const project = JSON.parse(projectRunning('BACKFILL_REGIONS')) as {
    Properties: { Environment: { EnvironmentVariables: Array<{ Name: string; Value: unknown }> } };
  };
  const vars = Object.fromEntries(
    project.Properties.Environment.EnvironmentVariables.map((v) => [v.Name, v.Value]),
  );
  expect(vars).toMatchObject({
    BACKFILL_REGIONS: 'us-east-1,ap-southeast-2',
    BACKFILL_REGISTRY_ID: '111111111111',
    BACKFILL_TIMEOUT: '1800',
  });
  expect(JSON.stringify(project)).toContain('image-backfill.cjs');
});

test('the build may put images only into the source (its push) and the replicas (the backfill)', () => {
  const policies = Object.values(s.pipeline.findResources('AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p).includes('ecr:StartReplicationBackfill'),
  );
  expect(policies).toHaveLength(1);
  const statements = (
    policies[0] as {
      Properties: {
        PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
      };
    }
  ).Properties.PolicyDocument.Statement;
  const puts = statements.filter((st) => JSON.stringify(st.Action).includes('ecr:PutImage'));
  const resources = JSON.stringify(puts.map((st) => st.Resource));
  expect(resources).toContain(':ecr:us-east-1:111111111111:repository/hello-web');
  expect(resources).toContain(':ecr:ap-southeast-2:111111111111:repository/hello-web');
  // besides the two replicas, only the source repository (by reference): no other region
  expect(resources.match(/:ecr:[a-z0-9-]+:/g)?.sort()).toEqual([
    ':ecr:ap-southeast-2:',
    ':ecr:us-east-1:',
  ]);
  // and it reads the image it copies from the source
  const reads = statements.filter((st) => JSON.stringify(st.Action).includes('ecr:BatchGetImage'));
  expect(JSON.stringify(reads.map((st) => st.Resource))).toContain(
    '"Fn::GetAtt":["ImageRepository',
  );
});

test("the build's time limit holds the build and the backfill's own bound, so CodeBuild never cuts the backfill short", () => {
  const project = JSON.parse(projectRunning('BACKFILL_REGIONS')) as {
    Properties: {
      TimeoutInMinutes: number;
      Environment: { EnvironmentVariables: Array<{ Name: string; Value: unknown }> };
    };
  };
  const backfillSeconds = Number(
    project.Properties.Environment.EnvironmentVariables.find((v) => v.Name === 'BACKFILL_TIMEOUT')!
      .Value,
  );
  // the build itself keeps the hour every pipeline step has (codeBuildDefaults)
  expect(project.Properties.TimeoutInMinutes).toBeGreaterThanOrEqual(60 + backfillSeconds / 60);
});
