import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';
import { MAX_GREETING_CHARACTERS } from '../../lib/config/limits';
import { REPO_ROOT } from '../support/paths';

// One rule for the greeting, shared with the service: app/config_test.go runs the same cases
// against the service's own check, so a greeting the config accepts is one the service starts with.
const rule = JSON.parse(
  fs.readFileSync(path.join(REPO_ROOT, 'app', 'testdata', 'greeting-rule.json'), 'utf8'),
) as { maxCharacters: number; cases: { text: string; valid: boolean; why: string }[] };

function greetingProblems(greeting: string): string[] {
  const raw = { ...(JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as DeliveryConfigInput) };
  raw.preprod = { ...raw.preprod, greeting };
  try {
    validateConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
}

test('the limit is the shared one', () => {
  expect(MAX_GREETING_CHARACTERS).toBe(rule.maxCharacters);
});

test.each(rule.cases.map((c) => [c.why, c] as const))('%s', (_why, c) => {
  const found = greetingProblems(c.text);
  if (c.valid) expect(found).toEqual([]);
  else expect(found).toEqual([expect.stringMatching(/^preprod\.greeting: must /)]);
});

test('the problem says what is wrong and where', () => {
  expect(greetingProblems('Hi\u0007')).toEqual([
    'preprod.greeting: must not contain control characters, got U+0007 at character 3',
  ]);
  expect(greetingProblems('x'.repeat(65))).toEqual([
    'preprod.greeting: must be at most 64 characters, got 65',
  ]);
});

test('config-only: empty, and a lone UTF-16 surrogate (it has no UTF-8 form the service could receive)', () => {
  expect(greetingProblems('')).toEqual([
    expect.stringMatching(/^preprod\.greeting: must not be empty/),
  ]);
  expect(greetingProblems('Hi\ud800')).toEqual([
    expect.stringMatching(/^preprod\.greeting: must be valid Unicode/),
  ]);
});
