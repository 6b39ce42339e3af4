import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

// scripts/cfn-lint.sh is the CloudFormation check that gates a release (npm test and the pipeline's
// Build step) now that CDK's built-in validation is off (docs/decisions/0019-where-each-validator-runs.md).
// It runs the real cfn-lint from .venv (scripts/setup-python.sh), on small templates, no synth.

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function lint(templates: Record<string, unknown>): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-gate-'));
  dirs.push(dir);
  for (const [file, body] of Object.entries(templates)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), JSON.stringify(body));
  }
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'cfn-lint.sh'), dir], {
    encoding: 'utf8',
    timeout: 120000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

const bucket = (properties: Record<string, unknown>) => ({
  Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: properties } },
});

test("an error in a stage assembly's template fails the gate and names the rule", () => {
  const r = lint({
    'Pipeline.template.json': bucket({}),
    'assembly-Pipeline-prod/Stack.template.json': bucket({ BucketNam: 'typo' }),
  });
  expect(r.status).not.toBe(0);
  expect(r.out).toContain('E3002');
  expect(r.out).toContain('cfn-lint: 2 templates');
});

test('warnings are printed but do not fail the gate', () => {
  const r = lint({
    'Pipeline.template.json': { Parameters: { Unused: { Type: 'String' } }, ...bucket({}) },
  });
  expect(r.status).toBe(0);
  expect(r.out).toContain('W2001');
});

test('no template at all fails with what to do, rather than passing on nothing', () => {
  const r = lint({});
  expect(r.status).toBe(1);
  expect(r.out).toMatch(/no \*\.template\.json under .* \(run cdk synth first\)/);
});
