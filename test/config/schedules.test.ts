import { type DeliveryConfigInput } from '../../lib/config';
import { synthesize } from '../support/synth';
import { defaultConfig, problems } from '../support/config';

// Schedules: the prod waves' deployment windows (CodePipeline DeploymentWindow rule) and the
// node patch scan (Systems Manager State Manager association). A schedule AWS refuses fails the
// deploy; a schedule that can never fire makes a wave wait forever (the rule holds the stage
// until the window opens) or a scan never run. Both are validation problems at their path.
//   DeploymentWindow: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
//   Associations:     https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html#reference-cron-and-rate-expressions-association
//   ScheduleExpression length 1-256: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateAssociation.html

const base = defaultConfig;
const withScan = (scanSchedule: string): DeliveryConfigInput => {
  const cfg = base();
  cfg.preprod.patching = { scanSchedule };
  return cfg;
};
const withWindow = (cron: string, timeZone?: string): DeliveryConfigInput => {
  const cfg = base();
  cfg.prod.deploymentWindows = [{ wave: 1, cron, ...(timeZone ? { timeZone } : {}) }];
  return cfg;
};
const thisYear = new Date().getUTCFullYear();
// A year whose February has no fifth Monday: February 1 is not a Monday, or it is not a leap year.
const noFifthMondayInFebruary = Array.from({ length: 10 }, (_, i) => thisYear + 1 + i).find(
  (y) =>
    new Date(Date.UTC(y, 1, 29)).getUTCMonth() !== 1 ||
    new Date(Date.UTC(y, 1, 1)).getUTCDay() !== 1,
)!;

describe('patching.scanSchedule: ranges checked as the deployment-window cron already was', () => {
  const longSchedule = `cron(0 3 ? * * ${Array.from({ length: 2000 }, () => '2030').join(',')})`;
  test.each([
    ['cron(0 99 ? * * *)', /hours field "99" has "99" outside 0-23/],
    ['cron(60 3 ? * * *)', /minutes field "60" has "60" outside 0-59/],
    ['cron(0 3 ? * MON#9 *)', /day-of-week field "MON#9" .*"#" takes the week of the month, 1-5/],
    ['cron(0 3 32 * ? *)', /day-of-month field "32" has "32" outside 1-31/],
    ['cron(0 3 ? 13 * *)', /month field "13" has "13" outside 1-12 or JAN-DEC/],
    ['cron(0 3 ? * * 1969)', /year field "1969" has "1969" outside 1970-2199/],
    ['cron(0 3 ? * FUN *)', /day-of-week field "FUN" has "FUN" outside 1-7 or SUN-SAT/],
    ['cron(0 3-1 ? * * *)', /hours field "3-1" has the range "3-1" backwards/],
    ['cron(* 3 ? * * *)', /runs more often than every 30 minutes/],
    ['cron(0,15 3 ? * * *)', /runs more often than every 30 minutes/],
  ])('%s is refused at its path', (schedule, expected) => {
    const found = problems(withScan(schedule));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^preprod\.patching\.scanSchedule: /);
    expect(found[0]).toMatch(expected);
  });

  test('a 10,000-character schedule is refused by its length, not quoted back', () => {
    expect(longSchedule.length).toBe(10015);
    const found = problems(withScan(longSchedule));
    expect(found).toEqual([
      "preprod.patching.scanSchedule: must be at most 256 characters (Systems Manager's limit for a schedule expression), got 10015",
    ]);
  });

  test.each([
    'cron(0 3 ? * * *)',
    'cron(0/30 * * * ? *)',
    'cron(0 0/12 * * ? *)',
    'cron(15 13 ? * MON *)',
    'cron(0 2 ? * THU#3 *)',
    'cron(0 2 L * ? *)',
    'cron(0 0 2 ? * SUN *)',
    'rate(30 minutes)',
  ])('%s is accepted', (schedule) => {
    expect(problems(withScan(schedule))).toEqual([]);
  });
});

describe('schedules that can never fire are refused', () => {
  test.each([
    [
      `* * 9-16 ? * MON-THU ${thisYear - 1}`,
      new RegExp(`never opens: year field "${thisYear - 1}" lies in the past`),
    ],
    ['* * 9-16 30 2 ?', /never opens: no date has day-of-month "30" in month "2"/],
    [
      '* * 9-16 31 APR,JUN,SEP,NOV ?',
      /never opens: no date has day-of-month "31" in month "APR,JUN,SEP,NOV"/,
    ],
    [`* * 9-16 ? 2 MON#5 ${noFifthMondayInFebruary}`, /never opens: no date matches/],
  ])('deployment window %s', (cron, expected) => {
    const found = problems(withWindow(cron));
    expect(found).toEqual([expect.stringMatching(/^prod\.deploymentWindows\[0\]\.cron: /)]);
    expect(found[0]).toMatch(expected);
  });

  test.each([
    [`cron(0 3 ? * * ${thisYear - 1})`, /never runs: year field/],
    ['cron(0 3 30 2 ? *)', /never runs: no date has day-of-month "30" in month "2"/],
    ['cron(0 3 31 4 ? *)', /never runs: no date has day-of-month "31" in month "4"/],
  ])('patch scan %s', (schedule, expected) => {
    const found = problems(withScan(schedule));
    expect(found).toEqual([expect.stringMatching(/^preprod\.patching\.scanSchedule: /)]);
    expect(found[0]).toMatch(expected);
  });

  test.each([
    '* * 9-16 29 2 ?', // in leap years
    '* * 9-16 31 * ?',
    `* * 9-16 ? * MON-THU ${thisYear}-${thisYear + 1}`,
    '* * 9-16 L 2 ?',
    '* * 9-16 LW * ?',
    '* * 9-16 L-2 * ?',
    '* * 9-16 15W * ?',
    '* * 9-16 ? * 6L',
  ])('%s can fire and is accepted', (cron) => {
    expect(problems(withWindow(cron))).toEqual([]);
  });
});

describe('time zones as IANA spells them: AWS receives the string as written', () => {
  test.each([
    ['utc', 'UTC'],
    ['europe/dublin', 'Europe/Dublin'],
    ['EUROPE/DUBLIN', 'Europe/Dublin'],
    ['America/New_york', 'America/New_York'],
  ])('%s is refused, naming the spelling that is valid', (timeZone, spelling) => {
    expect(problems(withWindow('* * 9-16 ? * MON-THU', timeZone))).toEqual([
      `prod.deploymentWindows[0].timeZone: "${timeZone}" is not spelt as the IANA time zone database spells it; did you mean "${spelling}"?`,
    ]);
  });

  test.each([
    'UTC',
    'Etc/UTC',
    'Europe/Dublin',
    'Asia/Kolkata',
    'Asia/Calcutta',
    'America/Argentina/Buenos_Aires',
  ])('%s is accepted', (timeZone) => {
    expect(problems(withWindow('* * 9-16 ? * MON-THU', timeZone))).toEqual([]);
  });

  test('an unknown zone is still refused', () => {
    expect(problems(withWindow('* * 9-16 ? * MON-THU', 'Mars/Olympus'))).toEqual([
      expect.stringMatching(
        /^prod\.deploymentWindows\[0\]\.timeZone: "Mars\/Olympus" is not an IANA time zone/,
      ),
    ]);
  });

  test('the rule receives the time zone exactly as configured', () => {
    const s = synthesize({ config: withWindow('* * 9-16 ? * MON-THU', 'Asia/Kolkata') });
    expect(JSON.stringify(s.pipeline.toJSON())).toContain('"TimeZone":"Asia/Kolkata"');
  });
});
