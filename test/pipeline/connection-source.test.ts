import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STACK_ENVIRONMENTS } from '../../lib/config';
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

test('the pipeline may use exactly this connection', () => {
  const policies = JSON.stringify(before.pipeline.findResources('AWS::IAM::Policy'));
  expect(policies).toMatch(/"codestar-connections:UseConnection"/);
  expect(policies).toContain(CONNECTION_ARN);
});

test('an app-only change leaves the pipeline stack template byte-for-byte unchanged', () => {
  expect(after.imageTag).not.toBe(before.imageTag);
  expect(JSON.stringify(after.pipeline.toJSON())).toBe(JSON.stringify(before.pipeline.toJSON()));
});
