import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  loadConfig,
  validateConfig,
} from '../../lib/config';
import { defaultConfig, problems } from '../support/config';

const base = defaultConfig;
const withProdEnv = (env: Record<string, unknown>): DeliveryConfigInput => ({
  ...base(),
  prod: {
    waves: [[{ account: '333333333333', region: 'eu-west-1', ...env }]],
  },
});

test('the default STACK_ENVIRONMENTS is valid and resolves the defaults', () => {
  const cfg = validateConfig(STACK_ENVIRONMENTS);
  expect(cfg.prod.waves.map((w) => w.map((e) => e.stageName))).toEqual([
    ['prod-eu-west-1'],
    ['prod-us-east-1', 'prod-ap-southeast-2'],
  ]);
  expect(cfg.prod.waves[0][0]).toMatchObject({
    kubernetesVersion: '1.35',
    availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    natGateways: 3,
    nodes: { min: 3, desired: 3, max: 9 },
    replicas: { min: 3, max: 12 },
  });
});

describe('one rule per test; the message names the offending path and what is valid', () => {
  test.each([
    [
      'account ids have 12 digits',
      { ...base(), preprod: { account: '1234', region: 'eu-west-1' } },
      /^preprod\.account: must be a 12-digit AWS account id/,
    ],
    [
      'regions are real AWS regions (with a suggestion)',
      withProdEnv({ region: 'us-east-9' }),
      /^prod\.waves\[0\]\[0\]\.region: "us-east-9" is not an AWS region \(did you mean "us-east-1"\?\)/,
    ],
    [
      'availability zones are in their region',
      withProdEnv({ availabilityZones: ['eu-west-1a', 'us-east-1b'] }),
      /^prod\.waves\[0\]\[0\]\.availabilityZones\[1\]: "us-east-1b" is not an availability zone of eu-west-1/,
    ],
    [
      'at least two availability zones',
      withProdEnv({ availabilityZones: ['eu-west-1a'] }),
      /^prod\.waves\[0\]\[0\]\.availabilityZones: needs at least two availability zones/,
    ],
    [
      'no duplicate availability zones',
      withProdEnv({ availabilityZones: ['eu-west-1a', 'eu-west-1a'] }),
      /^prod\.waves\[0\]\[0\]\.availabilityZones\[1\]: "eu-west-1a" is listed twice/,
    ],
    [
      'at least one prod wave',
      { ...base(), prod: { waves: [] } },
      /^prod\.waves: prod needs at least one wave/,
    ],
    [
      'no empty wave',
      { ...base(), prod: { waves: [[{ account: '333333333333', region: 'eu-west-1' }], []] } },
      /^prod\.waves\[1\]: a wave must hold at least one environment/,
    ],
    [
      'no two prod environments in the same account and region',
      {
        ...base(),
        prod: {
          waves: [
            [{ account: '333333333333', region: 'eu-west-1' }],
            [{ account: '333333333333', region: 'eu-west-1', name: 'prod-eu-west-1-b' }],
          ],
        },
      },
      /^prod\.waves\[1\]\[0\]: account 333333333333 in eu-west-1 is already a prod environment at prod\.waves\[0\]\[0\]/,
    ],
    [
      'unique stage names',
      {
        ...base(),
        prod: {
          waves: [
            [{ account: '333333333333', region: 'eu-west-1' }],
            [{ account: '444444444444', region: 'eu-west-1' }],
          ],
        },
      },
      /^prod\.waves\[1\]\[0\]\.region: stage name "prod-eu-west-1" is already used by prod\.waves\[0\]\[0\]; .*give one of them a "name"/,
    ],
    [
      'Kubernetes versions the project ships a kubectl layer for',
      withProdEnv({ kubernetesVersion: '1.29' }),
      /^prod\.waves\[0\]\[0\]\.kubernetesVersion: "1\.29" has no kubectl layer in this project; supported: 1\.35/,
    ],
    [
      'node group sizes: min <= desired <= max',
      withProdEnv({ nodes: { min: 4, desired: 3, max: 9 } }),
      /^prod\.waves\[0\]\[0\]\.nodes: node group sizes must satisfy 1 <= min <= desired <= max, got min 4, desired 3, max 9/,
    ],
    [
      'node group sizes: at least 1',
      withProdEnv({ nodes: { min: 0 } }),
      /^prod\.waves\[0\]\[0\]\.nodes\.min: must be at least 1/,
    ],
    [
      'unknown keys (typos) are errors',
      withProdEnv({ replica: { min: 3 } }),
      /^prod\.waves\[0\]\[0\]: unknown key "replica" \(a typo\?/,
    ],
    [
      'missing required sections',
      { pipeline: { account: '111111111111', region: 'eu-west-1' } },
      /^source: is required/,
    ],
    [
      'prod runs at least 2 replicas',
      withProdEnv({ replicas: { min: 1, max: 4 } }),
      /^prod\.waves\[0\]\[0\]\.replicas\.min: must be at least 2 in prod/,
    ],
    [
      'instance type matches the image architecture',
      withProdEnv({ nodes: { instanceType: 'm7i.large' } }),
      /^prod\.waves\[0\]\[0\]\.nodes\.instanceType: "m7i\.large" is amd64 but the image is built for arm64/,
    ],
    [
      "the certificate is in the environment's region",
      withProdEnv({
        certificateArn:
          'arn:aws:acm:us-east-1:333333333333:certificate/0123abcd-0000-0000-0000-000000000000',
      }),
      /^prod\.waves\[0\]\[0\]\.certificateArn: the certificate is in us-east-1, but an NLB can only use an ACM certificate of its own region \(eu-west-1\)/,
    ],
    [
      "all environments share the pipeline's partition",
      withProdEnv({ region: 'cn-north-1' }),
      /^prod\.waves\[0\]\[0\]\.region: "cn-north-1" is in partition aws-cn/,
    ],
    [
      'public endpoint CIDRs are CIDRs',
      withProdEnv({ endpointPublicCidrs: ['0.0.0.0'] }),
      /^prod\.waves\[0\]\[0\]\.endpointPublicCidrs\[0\]: must be an IPv4 CIDR/,
    ],
  ])('%s', (_name, raw, expected) => {
    const found = problems(raw);
    expect(found.some((p) => expected.test(p))).toBe(true);
  });
});

test('every problem is reported at once', () => {
  const raw = {
    ...base(),
    prod: {
      waves: [
        [
          {
            account: '333333333333',
            region: 'eu-west-1',
            kubernetesVersion: '1.29',
            nodes: { min: 5, max: 2 },
            availabilityZones: ['eu-west-1a'],
          },
        ],
      ],
    },
  };
  expect(problems(raw).length).toBeGreaterThanOrEqual(3);
  expect(() => validateConfig(raw)).toThrow(
    /Invalid configuration \(STACK_ENVIRONMENTS\): \d+ problems\n {2}- prod\.waves\[0\]\[0\]/,
  );
});

describe('config files (-c config=...)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  });
  const load = (contextValue: string) => loadConfig({ contextValue, cwd: dir, repoRoot: dir });

  test('a JSON file of the same shape replaces the default and is remembered for the pipeline', () => {
    fs.writeFileSync(
      path.join(dir, 'ok.json'),
      JSON.stringify({ ...base(), pipeline: { account: '999999999999', region: 'us-west-2' } }),
    );
    const cfg = load('ok.json');
    expect(cfg.pipeline).toMatchObject({ account: '999999999999', region: 'us-west-2' });
    expect(cfg.configFile).toBe('ok.json');
  });

  test('a missing file is reported with its path', () => {
    expect(() => load('nope.json')).toThrow(/config: .*nope\.json does not exist/);
  });

  test('a file that is not JSON is reported as such', () => {
    fs.writeFileSync(path.join(dir, 'bad.json'), '{ "pipeline": ');
    expect(() => load('bad.json')).toThrow(/config: .*bad\.json is not valid JSON/);
  });

  test('a file outside the repository is refused: the pipeline could not read it', () => {
    fs.writeFileSync(path.join(dir, 'outside.json'), JSON.stringify(base()));
    expect(() =>
      loadConfig({ contextValue: 'outside.json', cwd: dir, repoRoot: path.join(dir, 'repo') }),
    ).toThrow(/outside\.json is outside the repository/);
  });
});

test('schema problems and cross-field problems are reported together (a bad region does not hide bad node sizes)', () => {
  const raw = {
    ...base(),
    preprod: {
      account: '222222222222',
      region: 'eu-west-1',
      nodes: { min: 4, desired: 3, max: 2 },
    },
    prod: { waves: [[{ account: '333333333333', region: 'us-east-9' }]] },
  };
  const found = problems(raw);
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^prod\.waves\[0\]\[0\]\.region: "us-east-9" is not an AWS region/),
      expect.stringMatching(
        /^preprod\.nodes: node group sizes must satisfy 1 <= min <= desired <= max, got min 4, desired 3, max 2/,
      ),
    ]),
  );
  expect(found).toHaveLength(2);
});

test('pipeline.requireRollbackTarget: off by default, a boolean when given (docs/decisions/0026-...)', () => {
  expect(validateConfig(STACK_ENVIRONMENTS).pipeline.requireRollbackTarget).toBe(false);
  expect(
    validateConfig({ ...base(), pipeline: { ...base().pipeline, requireRollbackTarget: true } })
      .pipeline.requireRollbackTarget,
  ).toBe(true);
  expect(
    problems({ ...base(), pipeline: { ...base().pipeline, requireRollbackTarget: 'yes' } }),
  ).toEqual([expect.stringMatching(/^pipeline\.requireRollbackTarget: .*boolean/)]);
});

test('breakglassCheck.kmsTableUpgrade: off unless an environment sets it, a boolean, no other key (ADR 0035, Amendment)', () => {
  expect(validateConfig(STACK_ENVIRONMENTS).preprod.breakglassCheck).toEqual({
    kmsTableUpgrade: false,
  });
  const withCheck = (value: unknown) => ({
    ...base(),
    preprod: { ...base().preprod, breakglassCheck: value },
  });
  expect(problems(withCheck({ kmsTableUpgrade: 'yes' }))).toEqual([
    expect.stringMatching(/^preprod\.breakglassCheck\.kmsTableUpgrade: /),
  ]);
  expect(problems(withCheck({ kmsTableUpgrades: true }))).toEqual([
    expect.stringMatching(/^preprod\.breakglassCheck: unknown key "kmsTableUpgrades"/),
  ]);
});

test('a 10,000-character value is shown by its start and length, not repeated back (found by the config fuzz test)', () => {
  const long = 'a'.repeat(10_000);
  const found = problems({ ...base(), pipeline: { account: '111111111111', region: long } });
  expect(found).toEqual([
    `pipeline.region: "${'a'.repeat(40)}…" (10000 characters) is not an AWS region (expected a region such as "eu-west-1"; see docs/configuration.md)`,
  ]);
});
