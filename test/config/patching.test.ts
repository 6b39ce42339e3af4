import * as fs from 'node:fs';
import * as path from 'node:path';
import { STACK_ENVIRONMENTS, validateConfig } from '../../lib/config';
import {
  PATCHING_DEFAULTS,
  associationScheduleProblem,
  patchingSchema,
} from '../../lib/config/patching';
import { REPO_ROOT } from '../support/paths';

const withPreprodPatching = (patching: unknown) => ({
  ...STACK_ENVIRONMENTS,
  preprod: { account: '222222222222', region: 'eu-west-1', patching },
});

describe('patching settings', () => {
  test('defaults: approve security updates after 7 days, scan daily', () => {
    expect(validateConfig(STACK_ENVIRONMENTS).preprod.patching).toEqual({
      approveAfterDays: 7,
      scanSchedule: 'rate(1 day)',
    });
  });

  test('every problem is reported with its path, with what would be valid', () => {
    expect(() =>
      validateConfig(
        withPreprodPatching({
          approveAfterDays: 400,
          scanSchedule: 'rate(10 minutes)',
          install: true,
        }),
      ),
    ).toThrow(
      /preprod\.patching\.approveAfterDays: .*360[\s\S]*preprod\.patching\.scanSchedule: "rate\(10 minutes\)": an association runs at most every 30 minutes[\s\S]*preprod\.patching: unknown key "install"/,
    );
  });

  test('docs/configuration.md lists every patching setting with its default', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    for (const key of Object.keys(patchingSchema.shape) as Array<keyof typeof PATCHING_DEFAULTS>) {
      expect(doc).toContain(`| \`patching.${key}\` | \`${PATCHING_DEFAULTS[key]}\` |`);
    }
  });

  test.each([
    ['rate(30 minutes)', undefined],
    ['rate(1 day)', undefined],
    ['rate(12 hours)', undefined],
    ['cron(0 3 ? * * *)', undefined],
    ['cron(0 15 13 ? * MON *)', undefined],
    ['rate(1 days)', /rate\(1 day\)/],
    ['rate(2 day)', /rate\(2 days\)/],
    ['rate(31 days)', /under 31 days/],
    ['rate(29 minutes)', /30 minutes/],
    ['cron(0 3 * * *)', /6 fields/],
    ['cron(0 3 1 * MON *)', /"\?"/],
    ['cron(5 0 3 ? * * *)', /seconds field/],
    ['daily', /rate\(1 day\)/],
  ])('association schedule %s', (expression, problem) => {
    const found = associationScheduleProblem(expression);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
