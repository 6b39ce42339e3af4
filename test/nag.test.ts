import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { STACK_ENVIRONMENTS, validateConfig } from '../lib/config';
import { buildApp } from '../lib/app';
import { NAG_ACKNOWLEDGEMENTS } from '../lib/nag-acknowledgements';
import { CDK_JSON_CONTEXT, REPO_ROOT } from './support/synth';

interface Report {
  pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
}

function synthWithNag(extra?: (app: ReturnType<typeof buildApp>) => void): { report: Report; error?: Error } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-'));
  const built = buildApp({ config: validateConfig(STACK_ENVIRONMENTS), repoRoot: REPO_ROOT, appProps: { outdir, context: CDK_JSON_CONTEXT }, nag: true });
  extra?.(built);
  let error: Error | undefined;
  const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    built.app.synth();
  } catch (e) {
    error = e as Error;
  } finally {
    spy.mockRestore();
  }
  return { report: JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Report, error };
}

let clean: { report: Report; error?: Error };
beforeAll(() => {
  clean = synthWithNag();
});

test('cdk-nag AwsSolutions: no unacknowledged finding on any stack (pipeline, every stage, support stacks)', () => {
  const open = clean.report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${p.pluginName} ${v.ruleName} ${c.constructPath}`)));
  expect(open).toEqual([]);
  expect(clean.error).toBeUndefined();
});

test('a new finding is not swallowed by the acknowledgements', () => {
  const broken = synthWithNag(({ pipelineStack }) => {
    new s3.Bucket(pipelineStack, 'UnloggedBucket', { enforceSSL: true });
  });
  const rules = broken.report.pluginReports.flatMap((p) => p.violations.filter((v) => v.violatingConstructs.some((c) => c.constructPath.includes('UnloggedBucket'))).map((v) => v.ruleName));
  expect(rules).toContain('AwsSolutions-S1');
});

test('every acknowledgement gives a reason a reviewer can check and is scoped to one rule', () => {
  for (const ack of NAG_ACKNOWLEDGEMENTS) {
    expect(ack.reason.length).toBeGreaterThan(40);
    expect(ack.finding.source).toMatch(/AwsSolutions-[A-Z]+\d+/);
    expect(ack.path.source.startsWith('^')).toBe(true);
  }
});
