import {
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  cronProblem,
  validateConfig,
} from '../../lib/config';
import exampleMultiRegion from '../../config/example-multi-region.json';
import { defaultConfig, problems } from '../support/config';

const base = defaultConfig;
const env = (region: string, extra: Record<string, unknown> = {}) =>
  ({ account: '333333333333', region, ...extra }) as DeliveryConfigInput['preprod'];
const withProd = (prod: Record<string, unknown>): DeliveryConfigInput => ({
  ...base(),
  prod: prod as DeliveryConfigInput['prod'],
});

describe('bake defaults', () => {
  test('pre-prod bakes shorter and alarms sooner than prod, with the same thresholds', () => {
    const cfg = validateConfig(STACK_ENVIRONMENTS);
    expect(cfg.preprod.bake).toEqual({
      minutes: 10,
      errorRatePercent: 1,
      p99LatencyMs: 500,
      periodSeconds: 60,
      evaluationPeriods: 3,
      alarmRule: true,
    });
    for (const e of cfg.prod.waves.flat())
      expect(e.bake).toEqual({
        minutes: 30,
        errorRatePercent: 1,
        p99LatencyMs: 500,
        periodSeconds: 60,
        evaluationPeriods: 5,
        alarmRule: true,
      });
    expect(cfg.preprod.bake.minutes).toBeLessThan(cfg.prod.waves[0][0].bake.minutes);
  });

  test('an environment overrides single bake settings; the rest keep their defaults', () => {
    const cfg = validateConfig(
      withProd({ waves: [[env('eu-west-1', { bake: { minutes: 120, p99LatencyMs: 250 } })]] }),
    );
    expect(cfg.prod.waves[0][0].bake).toEqual({
      minutes: 120,
      errorRatePercent: 1,
      p99LatencyMs: 250,
      periodSeconds: 60,
      evaluationPeriods: 5,
      alarmRule: true,
    });
  });

  test('the longest bake its CodeBuild action can hold is accepted', () => {
    const cfg = validateConfig(
      withProd({ waves: [[env('eu-west-1', { bake: { minutes: 455 } })]] }),
    );
    expect(cfg.prod.waves[0][0].bake.minutes).toBe(455);
  });

  test("an environment may leave out the stage's OnSuccess alarm rule (bake.alarmRule: false); the others keep it", () => {
    const cfg = validateConfig({
      ...withProd({
        waves: [[env('eu-west-1', { bake: { alarmRule: false } }), env('us-east-1')]],
      }),
    });
    expect(cfg.prod.waves[0].map((e) => e.bake.alarmRule)).toEqual([false, true]);
    expect(cfg.preprod.bake.alarmRule).toBe(true);
  });

  test('no windows and no subscriptions by default', () => {
    const cfg = validateConfig(STACK_ENVIRONMENTS);
    expect(cfg.prod.deploymentWindows).toEqual([undefined, undefined]);
    expect(cfg.notifications).toEqual({ emails: [], chatbotSlackChannelArns: [] });
  });
});

describe('invalid safe-delivery settings are reported with their path', () => {
  test.each([
    [
      'a bake shorter than the alarms can fire',
      withProd({ waves: [[env('eu-west-1', { bake: { minutes: 4 } })]] }),
      /^prod\.waves\[0\]\[0\]\.bake\.minutes: 4 minutes is shorter than the alarms' evaluation window \(5 periods of 60 s = 5 minutes\)/,
    ],
    [
      // A CodeBuild action in CodePipeline stops at 8 hours, and the bake shares its action with
      // the smoke test (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
      'a bake longer than its CodeBuild action may run',
      withProd({ waves: [[env('eu-west-1', { bake: { minutes: 456 } })]] }),
      /^prod\.waves\[0\]\[0\]\.bake\.minutes: must be at most 455: a CodeBuild action in CodePipeline stops after 8 hours \(480 minutes\), and the bake shares its action with the smoke test \(10 minutes\) and the build's start \(15 minutes\)/,
    ],
    [
      'a period that is not whole minutes',
      { ...base(), preprod: { ...base().preprod, bake: { periodSeconds: 90 } } },
      /^preprod\.bake\.periodSeconds: must be a multiple of 60/,
    ],
    [
      'an error-rate threshold of 0 would always fire',
      { ...base(), preprod: { ...base().preprod, bake: { errorRatePercent: 0 } } },
      /^preprod\.bake\.errorRatePercent: must be above 0/,
    ],
    [
      'an alarm rule switch that is not a boolean',
      { ...base(), preprod: { ...base().preprod, bake: { alarmRule: 'no' } } },
      /^preprod\.bake\.alarmRule: /,
    ],
    [
      'typos in bake settings',
      { ...base(), preprod: { ...base().preprod, bake: { minuts: 10 } } },
      /^preprod\.bake: unknown key "minuts"/,
    ],
    [
      'a wave wider than one stage condition can bake',
      withProd({
        waves: [
          [env('eu-west-1')],
          ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'eu-central-1', 'eu-north-1'].map(
            (r) => env(r),
          ),
        ],
      }),
      /^prod\.waves\[1\]: 6 environments in one wave; .* at most 5 rules in a stage condition: split it into waves of at most 5/,
    ],
    [
      'a window for a wave that does not exist',
      withProd({ ...base().prod, deploymentWindows: [{ wave: 3, cron: '* * 9-16 ? * MON-THU' }] }),
      /^prod\.deploymentWindows\[0\]\.wave: wave 3 does not exist: prod has 2 waves/,
    ],
    [
      'two windows for one wave',
      withProd({
        ...base().prod,
        deploymentWindows: [
          { wave: 2, cron: '* * 9-16 ? * MON-THU' },
          { wave: 2, cron: '* * 9-11 ? * FRI' },
        ],
      }),
      /^prod\.deploymentWindows\[1\]\.wave: wave 2 already has a window at prod\.deploymentWindows\[0\]/,
    ],
    [
      'an unknown time zone',
      withProd({
        ...base().prod,
        deploymentWindows: [{ wave: 1, cron: '* * 9-16 ? * MON-THU', timeZone: 'Europe/Dublim' }],
      }),
      /^prod\.deploymentWindows\[0\]\.timeZone: "Europe\/Dublim" is not an IANA time zone/,
    ],
    [
      'a malformed cron (5-field Unix style)',
      withProd({ ...base().prod, deploymentWindows: [{ wave: 1, cron: '0 9-16 * * 1-4' }] }),
      /^prod\.deploymentWindows\[0\]\.cron: "0 9-16 \* \* 1-4" is not a deployment-window cron: has 5 fields; expected 6 or 7/,
    ],
    [
      'an email that is not one',
      { ...base(), notifications: { emails: ['oncall'] } },
      /^notifications\.emails\[0\]: must be an email address/,
    ],
    [
      'a Chatbot ARN that is not a Slack channel configuration',
      {
        ...base(),
        notifications: { chatbotSlackChannelArns: ['arn:aws:sns:eu-west-1:111111111111:topic'] },
      },
      /^notifications\.chatbotSlackChannelArns\[0\]: must be an AWS Chatbot Slack channel configuration ARN/,
    ],
  ])('%s', (_name, config, expected) => {
    expect(problems(config)).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test('safe-delivery problems are reported together with the others', () => {
    const bad = withProd({
      waves: [[env('us-east-9', { bake: { minutes: 1 } })]],
      deploymentWindows: [{ wave: 1, cron: 'nope' }],
    });
    const found = problems(bad);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^prod\.waves\[0\]\[0\]\.region: /),
        expect.stringMatching(/^prod\.waves\[0\]\[0\]\.bake\.minutes: /),
        expect.stringMatching(/^prod\.deploymentWindows\[0\]\.cron: /),
      ]),
    );
  });
});

describe('deployment-window cron, as the DeploymentWindow rule reads it', () => {
  // Field layout and allowed values: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
  test.each([
    ['* * 9-16 ? * MON-THU', 'weekday office hours'],
    ['* 0-59 9-16 ? * 2-5', 'numeric days'],
    ['* */15 8,12,16 ? * MON,WED,FRI', 'lists and steps'],
    // next year: a window only in a past year never opens (test/config/schedules.test.ts)
    [`* * 22-23 L * ? ${new Date().getUTCFullYear() + 1}`, 'last day of the month, with a year'],
    ['* * 10-14 ? * 6L', 'the last Friday'],
    ['* * 10-14 ? * MON#2', 'the second Monday'],
    ['* * 9-17 15W JAN-DEC ?', 'weekday nearest the 15th'],
  ])('accepts %s (%s)', (cron) => {
    expect(cronProblem(cron)).toBeUndefined();
  });

  test.each([
    ['0 * 9-16 ? * MON-THU', /seconds field "0" must be "\*"/],
    ['* 60 9-16 ? * MON-THU', /minutes field "60" has "60" outside 0-59/],
    ['* * 9-24 ? * MON-THU', /hours field "9-24" has "9-24" outside 0-23/],
    ['* * 16-9 ? * MON', /hours field "16-9" has the range "16-9" backwards/],
    [
      '* * 9-16 * * MON-THU',
      /put "\?" in exactly one of day-of-month \("\*"\) and day-of-week \("MON-THU"\)/,
    ],
    ['* * 9-16 ? * ? ', /put "\?" in exactly one of/],
    ['* * 9-16 ? * FUN', /day-of-week field "FUN" has "FUN" outside 1-7 or SUN-SAT/],
    ['* * 9-16 ? 13 MON', /month field "13" has "13" outside 1-12 or JAN-DEC/],
    ['* * 9-16 ? * MON 1969', /year field "1969" has "1969" outside 1970-2199/],
    ['* * 9-16 ? * MON 2099 extra', /has 8 fields; expected 6 or 7/],
  ])('rejects %s', (cron, expected) => {
    expect(cronProblem(cron)).toMatch(expected);
  });
});

describe('the multi-region example', () => {
  test('carries a deployment window and valid bake settings', () => {
    const example = exampleMultiRegion as DeliveryConfigInput;
    const cfg = validateConfig(example);
    expect(cfg.prod.deploymentWindows.some((w) => w !== undefined)).toBe(true);
  });
});
