import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import { STACK_ENVIRONMENTS } from '../../lib/config';
import { matchConnectionActionPrefix } from '../../lib/pipeline/scoped-grants';
import { REPO_ROOT, type Synthesized, pipelineStages, synthesize } from '../support/synth';

/**
 * A CodeConnections source (GitHub here; GitLab and Bitbucket are the same action) instead of
 * CodeCommit: the Source stage uses the connection, no CodeCommit repository is created, and a
 * change to app/ alone still leaves the pipeline's template byte-for-byte unchanged (the same
 * guarantee test/pipeline/app-change.test.ts checks for CodeCommit).
 */
const CONNECTION_ARN =
  'arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
const config = {
  ...STACK_ENVIRONMENTS,
  source: {
    provider: 'GitHub' as const,
    connectionArn: CONNECTION_ARN,
    repository: 'my-org/hello-web',
    branch: 'release',
  },
};

let before: Synthesized;
let after: Synthesized;

beforeAll(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-'));
  fs.cpSync(path.join(REPO_ROOT, 'app'), path.join(root, 'app'), {
    recursive: true,
    filter: (src) => !/\/(bin|testdata\/fuzz)$/.test(src),
  });
  fs.copyFileSync(path.join(REPO_ROOT, 'buildspec.yml'), path.join(root, 'buildspec.yml'));
  before = synthesize({ config, repoRoot: root });
  fs.appendFileSync(path.join(root, 'app', 'main.go'), '\n// a change to the service only\n');
  after = synthesize({ config, repoRoot: root });
});

test('the Source stage watches the repository and branch through the connection', () => {
  const source = pipelineStages(before.pipeline).find((s) => s.name === 'Source')!;
  expect(source.actions).toHaveLength(1);
  expect(source.actions[0].provider).toBe('CodeStarSourceConnection');
  expect(source.actions[0].configuration).toMatchObject({
    ConnectionArn: CONNECTION_ARN,
    FullRepositoryId: 'my-org/hello-web',
    BranchName: 'release',
  });
});

test('no CodeCommit repository is created or referenced', () => {
  before.pipeline.resourceCountIs('AWS::CodeCommit::Repository', 0);
  expect(JSON.stringify(before.pipeline.toJSON())).not.toMatch(/codecommit:/);
});

// "When specifying a resource in the IAM policy, the service prefix needs to match that of the
// resource" (https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html): a
// codeconnections connection needs codeconnections:UseConnection. aws-cdk-lib 2.276 grants
// codestar-connections:UseConnection whatever the ARN says.
function useConnectionGrants(t: Template): Array<{ action: string; resource: unknown }> {
  return (
    Object.values(t.findResources('AWS::IAM::Policy')) as Array<{
      Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } };
    }>
  )
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .flatMap((st) =>
      (Array.isArray(st.Action) ? (st.Action as string[]) : [st.Action as string])
        .filter((a) => a.endsWith(':UseConnection'))
        .map((action) => ({ action, resource: st.Resource })),
    );
}

test('the pipeline may use exactly this connection, with the action of its service prefix', () => {
  expect(useConnectionGrants(before.pipeline)).toEqual([
    { action: 'codeconnections:UseConnection', resource: CONNECTION_ARN },
  ]);
});

test.each([
  ['codeconnections', CONNECTION_ARN],
  ['codestar-connections', CONNECTION_ARN.replace(':codeconnections:', ':codestar-connections:')],
])('a %s connection is used with the action of its own prefix, on any pipeline', (prefix, arn) => {
  const stack = new Stack(new App(), 'Connection', {
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  const pipeline = new codepipeline.Pipeline(stack, 'Pipeline', {
    pipelineType: codepipeline.PipelineType.V2,
  });
  const out = new codepipeline.Artifact();
  pipeline.addStage({
    stageName: 'Source',
    actions: [
      new actions.CodeStarConnectionsSourceAction({
        actionName: 'Source',
        connectionArn: arn,
        owner: 'my-org',
        repo: 'hello-web',
        output: out,
      }),
    ],
  });
  pipeline.addStage({
    stageName: 'Next',
    actions: [new actions.ManualApprovalAction({ actionName: 'Approve' })],
  });
  matchConnectionActionPrefix(pipeline);
  expect(useConnectionGrants(Template.fromStack(stack))).toEqual([
    { action: `${prefix}:UseConnection`, resource: arn },
  ]);
});

test('an app-only change leaves the pipeline stack template byte-for-byte unchanged', () => {
  expect(after.imageTag).not.toBe(before.imageTag);
  expect(JSON.stringify(after.pipeline.toJSON())).toBe(JSON.stringify(before.pipeline.toJSON()));
});
