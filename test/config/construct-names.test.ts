import { type DeliveryConfigInput } from '../../lib/config';
import { synthesize } from '../support/synth';
import { defaultConfig, problems } from '../support/config';

// Config values that become names inside the CDK app: a stage's `name` is the id of its Stage
// construct (lib/pipeline/pipeline-stack.ts) and, when it deploys alone, the id of its CDK
// Pipelines wave; a wave of several environments is a wave named `prod-wave-<n>`. The constructs
// library keeps children in a plain object, so a name an Object already owns ("constructor") was
// "There is already a Construct with name 'constructor'", and two waves of one name were "Node
// with duplicate id". Each name is driven through validation first: refused with its path, or it
// must synthesize.

const base = defaultConfig;

/** The fields whose value names a Stage construct and a pipeline wave, each set by one function. */
const NAME_FIELDS: Array<[string, string, (cfg: DeliveryConfigInput, name: string) => void]> = [
  ['preprod.name', 'preprod-eu-west-1', (cfg, name) => (cfg.preprod.name = name)],
  ['prod.waves[0][0].name', 'prod-eu-west-1', (cfg, name) => (cfg.prod.waves[0][0].name = name)],
  ['prod.waves[1][0].name', 'prod-us-east-1', (cfg, name) => (cfg.prod.waves[1][0].name = name)],
];

/**
 * Names JavaScript objects already own (looked up through the prototype, so `children[name]`
 * finds them before any child exists), and the names the pipeline itself gives its stages and
 * waves for the default config (STACK_ENVIRONMENTS: pre-prod, a one-region wave 1, a two-region
 * wave 2 called prod-wave-2).
 */
const CANDIDATES = [
  ...Object.getOwnPropertyNames(Object.prototype),
  'prod-wave-1',
  'prod-wave-2',
  'preprod-eu-west-1',
  'prod-eu-west-1',
  'prod-us-east-1',
  'prod-ap-southeast-2',
];

describe('every name that becomes a construct or wave id goes through validation first', () => {
  const accepted: Array<{ field: string; name: string; config: DeliveryConfigInput }> = [];
  const refused: string[] = [];
  beforeAll(() => {
    for (const [field, own, set] of NAME_FIELDS) {
      for (const name of CANDIDATES.filter((n) => n !== own)) {
        const cfg = base();
        set(cfg, name);
        const found = problems(cfg);
        if (found.length === 0) accepted.push({ field, name, config: cfg });
        // Refused at the field, or where the collision is (the stage it collides with, named).
        else if (found.some((p) => p.startsWith(`${field}: `) || p.includes(`"${name}"`)))
          refused.push(`${field}=${name}`);
        else
          throw new Error(
            `${field}=${name} was refused, but neither at its field nor naming it: ${found.join('; ')}`,
          );
      }
    }
  });

  test('a name JavaScript objects own is refused at its path, with what is valid', () => {
    const cfg = base();
    cfg.preprod.name = 'constructor';
    expect(problems(cfg)).toEqual([
      expect.stringMatching(
        /^preprod\.name: "constructor" is a name every JavaScript object already has .*; choose another name/,
      ),
    ]);
  });

  test('a stage named like the wave of several regions is refused, wherever it is', () => {
    // prod-wave-2 is the pipeline stage of wave 2 (two regions in one stage).
    const inWave1 = base();
    inWave1.prod.waves[0][0].name = 'prod-wave-2';
    expect(problems(inWave1)).toEqual([
      expect.stringMatching(
        /^prod\.waves\[0\]\[0\]\.name: "prod-wave-2" is also the name of the pipeline stage of wave 2 \(prod\.waves\[1\], 2 environments\); pipeline stage names must be unique: choose another name$/,
      ),
    ]);
    const preprod = base();
    preprod.preprod.name = 'prod-wave-2';
    expect(problems(preprod)).toEqual([
      expect.stringMatching(/^preprod\.name: "prod-wave-2" is also/),
    ]);
  });

  test('every candidate name is either refused at its field or synthesizes', () => {
    // Each accepted name is synthesized once (the synth takes seconds); with today's rules that is
    // the names that collide with nothing: prod-wave-1 (wave 1 deploys alone, so its stage keeps
    // its environment's name) and prod-wave-2 inside wave 2 itself.
    const crashes: string[] = [];
    for (const { field, name, config } of accepted) {
      try {
        synthesize({ config });
      } catch (e) {
        crashes.push(`${field}=${name}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    expect(crashes).toEqual([]);
    expect(refused.length).toBeGreaterThan(accepted.length);
    expect(refused).toEqual(expect.arrayContaining(['preprod.name=constructor']));
  });
});

describe('pipeline.name becomes stack names and the topic display name', () => {
  // `<name>-pipeline` and `<name>-image-<region>` are CloudFormation stack names: a letter, then
  // letters, digits and "-", at most 128 (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html);
  // `<name> notifications` is the SNS topic's display name, at most 100 characters
  // (https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html, DisplayName).
  // Found by the config fuzz test: "5i_.miQ9-@" passed validation and crashed the synth.
  test.each([
    [
      '5i_.miQ9-@',
      /^pipeline\.name: must start with a letter and hold only letters, digits and "-"/,
    ],
    ['my.pipeline', /^pipeline\.name: must start with a letter/],
    ['a'.repeat(87), /^pipeline\.name: must be at most 86 characters, got 87/],
  ])('%s is refused', (name, expected) => {
    const cfg = base();
    cfg.pipeline.name = name;
    expect(problems(cfg)).toEqual([expect.stringMatching(expected)]);
  });

  test('the longest accepted name synthesizes', () => {
    const cfg = base();
    cfg.pipeline.name = `P${'a-1'.repeat(28)}x`;
    expect(cfg.pipeline.name).toHaveLength(86);
    expect(problems(cfg)).toEqual([]);
    expect(() => synthesize({ config: cfg })).not.toThrow();
  });
});
