import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CHANGE_REPORT_FINDINGS,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';
import { REPO_ROOT } from '../support/paths';
import { problems } from '../support/config';

const withChangeReport = (changeReport: unknown): DeliveryConfigInput => {
  const cfg = structuredClone<DeliveryConfigInput>(STACK_ENVIRONMENTS);
  (cfg.prod as Record<string, unknown>).changeReport = changeReport;
  return cfg;
};

test('by default the report blocks nothing (it reports and notifies)', () => {
  expect(validateConfig(STACK_ENVIRONMENTS).prod.changeReport).toEqual({ blockOn: [] });
});

test('blockOn takes the findings the report knows', () => {
  const cfg = validateConfig(
    withChangeReport({ blockOn: ['permissions-broadening', 'unchecked'] }),
  );
  expect(cfg.prod.changeReport.blockOn).toEqual(['permissions-broadening', 'unchecked']);
});

test('a typo is an error with its path and the valid values, never a silently weaker block', () => {
  expect(problems(withChangeReport({ blockOn: ['replacements'] }))).toEqual([
    expect.stringMatching(
      /^prod\.changeReport\.blockOn\[0\]: .*"permissions-broadening".*"replacement".*"interruption".*"unchecked"/,
    ),
  ]);
  expect(problems(withChangeReport({ blockOn: ['replacement', 'replacement'] }))).toEqual([
    'prod.changeReport.blockOn: lists a finding twice',
  ]);
  expect(problems(withChangeReport({ block: ['replacement'] }))).toEqual([
    expect.stringMatching(/^prod\.changeReport: .*block/),
  ]);
});

test('docs/configuration.md lists every finding blockOn takes', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  const section = doc.slice(
    doc.indexOf('### `prod.changeReport`'),
    doc.indexOf('### `notifications`'),
  );
  for (const f of CHANGE_REPORT_FINDINGS) expect(section).toContain(`\`${f}\``);
});
