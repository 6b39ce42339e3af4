import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { STACK_ENVIRONMENTS, validateConfig } from '../lib/config';
import { buildApp } from '../lib/app';
import { NAG_ACKNOWLEDGEMENTS } from '../lib/nag-acknowledgements';
import { CDK_JSON_CONTEXT, REPO_ROOT } from './support/synth';

interface Violation {
  ruleName: string;
  violatingConstructs: Array<{ constructPath: string }>;
}
interface Report {
  pluginReports: Array<{
    pluginName: string;
    violations: Violation[];
    /** Findings an acknowledgement covers, with its reason and the construct it was made on. */
    suppressedViolations?: Array<Violation & { reason: string; acknowledgedAt: string }>;
  }>;
}

function synthWithNag(extra?: (app: ReturnType<typeof buildApp>) => void): {
  report: Report;
  error?: Error;
} {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-'));
  const built = buildApp({
    config: validateConfig(STACK_ENVIRONMENTS),
    repoRoot: REPO_ROOT,
    appProps: { outdir, context: CDK_JSON_CONTEXT },
    nag: true,
  });
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
  return {
    report: JSON.parse(
      fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'),
    ) as Report,
    error,
  };
}

// One synth for the whole file (each synth of the app costs seconds): the default app plus one
// bucket planted to break AwsSolutions-S1. Every finding but the planted one must be acknowledged,
// and the planted one must fail the synth.
let planted: { report: Report; error?: Error };
/** How many times cdk-nag checked each resource during that synth, by construct path. */
const checks = new Map<string, number>();
beforeAll(() => {
  // checkResource is the pack's per-resource entry point (protected in cdk-nag's typings).
  const pack = AwsSolutionsChecks.prototype as unknown as { checkResource(r: CfnResource): void };
  const check = jest.spyOn(pack, 'checkResource');
  planted = synthWithNag(({ pipelineStack }) => {
    new s3.Bucket(pipelineStack, 'UnloggedBucket', { enforceSSL: true });
  });
  for (const [resource] of check.mock.calls) {
    const p = resource.node.path;
    checks.set(p, (checks.get(p) ?? 0) + 1);
  }
  check.mockRestore();
});

const findings = (r: Report) =>
  r.pluginReports.flatMap((p) =>
    p.violations.flatMap((v) =>
      v.violatingConstructs.map((c) => ({
        plugin: p.pluginName,
        rule: v.ruleName,
        path: c.constructPath,
      })),
    ),
  );

test('cdk-nag AwsSolutions: no unacknowledged finding on any stack (pipeline, every stage, support stacks)', () => {
  const open = findings(planted.report).filter((f) => !f.path.includes('UnloggedBucket'));
  expect(open).toEqual([]);
});

test('a new finding is not swallowed by the acknowledgements, and it fails the synth', () => {
  const rules = findings(planted.report)
    .filter((f) => f.path.includes('UnloggedBucket'))
    .map((f) => f.rule);
  expect(rules).toContain('AwsSolutions-S1');
  expect(planted.error?.message).toMatch(/AwsSolutions-S1/);
});

test("cdk-nag runs in every synth; CDK's built-in CloudFormation validation does not (cfn-lint checks the templates: ADR 0019)", () => {
  const plugins = planted.report.pluginReports.map((p) => p.pluginName);
  expect(plugins).toContain('AwsSolutions'); // cdk-nag's AwsSolutionsChecks
  expect(plugins).not.toContain('CloudFormation Validate');
});

test('cdk-nag runs its rules once per synth: each resource of every stack is checked exactly once', () => {
  const stages = [...checks.keys()].map((p) => p.split('/').slice(0, 3).join('/'));
  expect(new Set(stages).size).toBeGreaterThan(4); // the pipeline and every stage's stacks
  expect([...checks].filter(([, n]) => n !== 1)).toEqual([]);
});

test('every acknowledged finding is still reported, one finding on one construct, with the reason that covers it', () => {
  const acknowledged = planted.report.pluginReports.flatMap((p) =>
    (p.suppressedViolations ?? []).flatMap((v) =>
      v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath, v })),
    ),
  );
  expect(acknowledged.length).toBeGreaterThan(20);
  for (const { rule, path: constructPath, v } of acknowledged) {
    const ack = NAG_ACKNOWLEDGEMENTS.find(
      (a) => a.finding.test(rule) && a.path.test(constructPath),
    );
    expect({ rule, constructPath, reason: v.reason, at: v.acknowledgedAt }).toEqual({
      rule,
      constructPath,
      reason: ack?.reason,
      at: constructPath,
    });
  }
});

test('every acknowledgement gives a reason a reviewer can check and is scoped to one rule', () => {
  for (const ack of NAG_ACKNOWLEDGEMENTS) {
    expect(ack.reason.length).toBeGreaterThan(40);
    expect(ack.finding.source).toMatch(/AwsSolutions-[A-Z]+\d+/);
    expect(ack.path.source.startsWith('^')).toBe(true);
  }
});
