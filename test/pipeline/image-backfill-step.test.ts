import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/**
 * ECR replication copies only images pushed after the rule exists
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication-backfill.html): a region added
 * later never receives an image whose tag was built before, and its gate would time out. The Image
 * stage therefore backfills every stage region after the build, before any gate stage.
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

test('the Image stage backfills every other stage region after the build, before any gate stage', () => {
  const stages = pipelineStages(s.pipeline);
  const names = stages.map((st) => st.name);
  const image = stages[names.indexOf('Image')];
  const order = (name: string) => image.actions.find((a) => a.name === name)!.runOrder;
  expect(order('BackfillImage')).toBeGreaterThan(order('BuildImage'));
  expect(names.indexOf('Image')).toBeLessThan(
    Math.min(...names.map((n, i) => (n.startsWith('ImageGate-') ? i : Infinity))),
  );

  const command = projectRunning('image-backfill.cjs');
  expect(command).toContain(
    '--source-region eu-west-1 --regions us-east-1,ap-southeast-2 --registry-id 111111111111',
  );
  expect(command).toContain('--tag-file image.json');
});

test('the backfill may put images only into the replicas and read only the source', () => {
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
  const put = statements.find((st) => JSON.stringify(st.Action).includes('ecr:PutImage'))!;
  expect(JSON.stringify(put.Resource)).toContain(
    ':ecr:us-east-1:111111111111:repository/hello-web',
  );
  expect(JSON.stringify(put.Resource)).toContain(
    ':ecr:ap-southeast-2:111111111111:repository/hello-web',
  );
  expect(JSON.stringify(put.Resource)).not.toContain('eu-west-1');
  expect(statements.find((st) => st.Action === 'ecr:BatchGetImage')).toBeDefined();
});
