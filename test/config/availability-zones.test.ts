import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  STACK_ENVIRONMENTS,
  type DeliveryConfigInput,
  ConfigError,
  validateConfig,
} from '../../lib/config';

/**
 * Default availability zones must exist in every account. Zone letters are not the same everywhere:
 * in the oldest Regions AWS maps letters to zones per account, us-west-1 offers each account two
 * zones whose letters differ between accounts, and some Regions skip a letter (ca-central-1 has
 * a, b, d; ap-northeast-1 offers a, c, d). https://docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html
 */
function withProd(env: Record<string, unknown>): DeliveryConfigInput {
  return {
    ...STACK_ENVIRONMENTS,
    prod: { waves: [[{ account: '333333333333', ...env } as never]] },
  };
}
function problemsOf(input: DeliveryConfigInput): string[] {
  try {
    validateConfig(input);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

test.each([
  ['eu-west-1', ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']],
  ['us-east-2', ['us-east-2a', 'us-east-2b', 'us-east-2c']],
  ['ap-northeast-1', ['ap-northeast-1a', 'ap-northeast-1c', 'ap-northeast-1d']],
  ['ca-central-1', ['ca-central-1a', 'ca-central-1b', 'ca-central-1d']],
])('%s defaults to zones that exist in every account', (region, zones) => {
  const config = validateConfig(withProd({ region }));
  expect(config.prod.waves[0][0].availabilityZones).toEqual(zones);
});

test('us-west-1 (two zones per account, letters differ by account) requires availabilityZones, and says how to list them', () => {
  const problems = problemsOf(withProd({ region: 'us-west-1' }));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/^prod\.waves\[0\]\[0\]\.availabilityZones: required in us-west-1/);
  expect(problems[0]).toContain('aws ec2 describe-availability-zones --region us-west-1');
  expect(
    problemsOf(withProd({ region: 'us-west-1', availabilityZones: ['us-west-1b', 'us-west-1c'] })),
  ).toEqual([]);
});

test('a letter the region does not have is refused, with the letters it has', () => {
  const problems = problemsOf(
    withProd({ region: 'ca-central-1', availabilityZones: ['ca-central-1a', 'ca-central-1c'] }),
  );
  expect(problems).toEqual([
    expect.stringMatching(
      /^prod\.waves\[0\]\[0\]\.availabilityZones\[1\]: "ca-central-1c" is not an availability zone of ca-central-1 .*ca-central-1d/,
    ),
  ]);
});

test("docs/configuration.md explains AZ IDs and how to map them to your account's zone names", () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
  expect(doc).toContain('AZ ID');
  expect(doc).toContain('describe-availability-zones');
  expect(doc).toContain('us-west-1');
});
