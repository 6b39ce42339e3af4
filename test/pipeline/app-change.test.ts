import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, type Synthesized, synthesize } from '../support/synth';

/**
 * A change to app/ alone must not change the pipeline's own template: otherwise every code
 * change would restart the pipeline through self-mutation, and automatic rollback (which needs an
 * unchanged pipeline structure) would stop working. The stage templates must change (new tag).
 */
let before: Synthesized;
let after: Synthesized;

beforeAll(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-'));
  fs.cpSync(path.join(REPO_ROOT, 'app'), path.join(root, 'app'), {
    recursive: true,
    filter: (src) => !/\/(bin|testdata\/fuzz)$/.test(src),
  });
  fs.copyFileSync(path.join(REPO_ROOT, 'buildspec.yml'), path.join(root, 'buildspec.yml'));
  before = synthesize({ repoRoot: root });
  fs.appendFileSync(path.join(root, 'app', 'main.go'), '\n// a change to the service only\n');
  after = synthesize({ repoRoot: root });
});

test('the image tag follows app/', () => {
  expect(after.imageTag).not.toBe(before.imageTag);
  const artifact = (s: Synthesized) =>
    JSON.parse(fs.readFileSync(path.join(s.outdir, 'image.json'), 'utf8')) as { tag: string };
  expect(artifact(before).tag).toBe(before.imageTag);
  expect(artifact(after).tag).toBe(after.imageTag);
});

test('the pipeline stack template is byte-for-byte unchanged', () => {
  expect(JSON.stringify(after.pipeline.toJSON())).toBe(JSON.stringify(before.pipeline.toJSON()));
});

test('every stage template changes (it deploys the new tag)', () => {
  for (const name of Object.keys(before.stages)) {
    expect(JSON.stringify(after.stages[name].toJSON())).not.toBe(
      JSON.stringify(before.stages[name].toJSON()),
    );
    expect(JSON.stringify(after.stages[name].toJSON())).toContain(after.imageTag);
  }
});
