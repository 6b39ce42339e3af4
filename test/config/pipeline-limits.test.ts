import {
  STACK_ENVIRONMENTS,
  type DeliveryConfigInput,
  ConfigError,
  validateConfig,
} from '../../lib/config';
import { checkPipelineLimits } from '../../lib/config/pipeline-limits';
import {
  ACTIONS_PER_REGION,
  ACTIONS_PER_REPLICA_REGION,
  MAX_ACTIONS_PER_STAGE,
  MAX_REGIONS_PER_WAVE,
  MAX_ECR_REPLICATION_DESTINATIONS,
} from '../../lib/config/pipeline-shape';
import { MAX_REGIONS_PER_BAKED_WAVE } from '../../lib/config/safe-delivery';
import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/** The widest wave every rule allows: the stage's 50 actions, and the bake's 5 alarm rules per condition. */
const WIDEST_WAVE = Math.min(MAX_REGIONS_PER_WAVE, MAX_REGIONS_PER_BAKED_WAVE);

/**
 * Wide waves. CodePipeline allows 50 actions per stage and CDK Pipelines splits a longer stage into
 * `<wave>.1`, `<wave>.2` (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html;
 * aws-cdk-lib pipelines `chunkTranches(50, ...)`): the split stages would lose their rollback and
 * the names the rollback command knows. A wave that would split is refused by validation, with
 * its path and the limit; the widest allowed wave synthesizes into one stage.
 */
const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'eu-central-1',
  'eu-west-2',
  'eu-west-3',
  'eu-north-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-2',
  'ap-south-1',
  'ca-central-1',
  'sa-east-1',
  'ap-northeast-3',
  'eu-south-1',
  'af-south-1',
  'me-south-1',
];

function withWave(regions: readonly string[]): DeliveryConfigInput {
  return {
    ...STACK_ENVIRONMENTS,
    prod: {
      waves: [
        [{ account: '333333333333', region: 'eu-west-1' }],
        // AZs given: this test is about the wave, not each region's zone letters
        regions.map((region) => ({
          account: '333333333333',
          region,
          availabilityZones: [`${region}a`, `${region}b`],
        })),
      ],
    },
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

test('a wave wider than one stage holds is refused, naming the wave and the limit (no internal error, nothing built)', () => {
  // The bake's 5 alarm rules per condition (lib/config/safe-delivery.ts) refuse a far narrower wave
  // in validateConfig; this rule guards the stage's actions, so it is checked directly, with as
  // many regions as it takes (the schema only knows real region names).
  const size = MAX_REGIONS_PER_WAVE + 1;
  const environments = Array.from({ length: size }, (_, i) => ({
    env: { account: '333333333333', region: `r${i}` },
    path: `prod.waves[1][${i}]`,
    kind: 'prod' as const,
  }));
  const problems = checkPipelineLimits({ environments }).map((p) => `${p.path}: ${p.message}`);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(
    new RegExp(
      `^prod\\.waves\\[1\\]: ${size} environments in one wave need ${size * ACTIONS_PER_REGION} pipeline actions`,
    ),
  );
  expect(problems[0]).toContain(
    `more than the ${MAX_ACTIONS_PER_STAGE} CodePipeline allows in one stage`,
  );
  expect(problems[0]).toContain(`waves of at most ${MAX_REGIONS_PER_WAVE}`);
  expect(checkPipelineLimits({ environments: environments.slice(1) })).toEqual([]);
});

test('a real 17-region wave is refused by validation with the path, not by an internal error', () => {
  expect(REGIONS).toHaveLength(17);
  expect(problemsOf(withWave(REGIONS)).some((p) => p.startsWith('prod.waves[1]'))).toBe(true);
});

test('more replica regions than the ImageReplicas stage or one ECR replication rule holds are refused too', () => {
  // the tighter of the two: 50 actions at 1 per region, and ECR's 25 destinations per rule
  const max = Math.min(
    Math.floor(MAX_ACTIONS_PER_STAGE / ACTIONS_PER_REPLICA_REGION),
    MAX_ECR_REPLICATION_DESTINATIONS,
  );
  expect(max).toBe(25);
  const many = Array.from({ length: max + 1 }, (_, i) => `r${i}`);
  // the replica rule counts distinct regions; the schema only knows real ones, so check the rule directly
  const environments = many.map((region, i) => ({
    env: { account: '333333333333', region },
    path: `prod.waves[${i}][0]`,
    kind: 'prod' as const,
  }));
  expect(
    checkPipelineLimits({ pipelineRegion: 'eu-west-1', environments }).map((p) => p.path),
  ).toEqual(['prod.waves']);
  expect(
    checkPipelineLimits({ pipelineRegion: 'eu-west-1', environments: environments.slice(1) }),
  ).toEqual([]);
});

describe('the widest wave validation allows', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize({ config: withWave(REGIONS.slice(0, WIDEST_WAVE)) });
  });

  test('ACTIONS_PER_REGION is what the synthesized pipeline really puts in a stage per region', () => {
    const preprod = pipelineStages(s.pipeline).find(
      (st) => st.name === s.config.preprod.pipelineStageName,
    )!;
    expect(preprod.actions).toHaveLength(ACTIONS_PER_REGION);
  });

  test('synthesizes into one stage that is not split, rolls back on failure, and is the name every environment of the wave knows', () => {
    const stages = pipelineStages(s.pipeline);
    expect(stages.filter((st) => /\.\d+$/.test(st.name))).toEqual([]);
    const wave = stages.find((st) => st.name === 'prod-wave-2')!;
    expect(wave.actions).toHaveLength(WIDEST_WAVE * ACTIONS_PER_REGION);
    expect(wave.actions.length).toBeLessThanOrEqual(MAX_ACTIONS_PER_STAGE);
    expect(wave.onFailure).toEqual({ Result: 'ROLLBACK' });
    for (const env of s.config.prod.waves[1]) expect(env.pipelineStageName).toBe('prod-wave-2');
  });
});
