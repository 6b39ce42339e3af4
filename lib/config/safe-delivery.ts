import { z } from 'zod';
import {
  BUILD_START_MINUTES,
  CODEBUILD_ACTION_MAX_MINUTES,
  MAX_BAKE_MINUTES,
  SMOKE_TEST_MINUTES,
} from './pipeline-shape';
import type { ConfigProblem } from './schema';

/**
 * Safe-delivery settings (docs/decisions/0015-bake-alarms-and-rollback.md,
 * docs/decisions/0016-deployment-windows-and-notifications.md): each environment's bake (alarm
 * thresholds and how long the stage watches them), optional deployment windows for prod waves,
 * and who hears about approvals, failures and rollbacks. A fragment of schema.ts: the schema
 * imports these pieces, load.ts runs `checkSafeDelivery` beside the other cross-field rules.
 */

/**
 * CodePipeline takes at most 5 rules in a condition and one condition in OnSuccess
 * (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-codepipeline-pipeline-successconditions.html);
 * a wave's stage bakes with one CloudWatchAlarm rule per region, so a wave holds at most 5 regions.
 */
export const MAX_REGIONS_PER_BAKED_WAVE = 5;

export const bakeSchema = z.strictObject({
  /** Minutes the SmokeAndBake action watches the environment's bake alarm after the deploy. @default 10 in pre-prod, 30 in prod */
  minutes: z
    .number()
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1')
    .max(
      MAX_BAKE_MINUTES,
      `must be at most ${MAX_BAKE_MINUTES}: a CodeBuild action in CodePipeline stops after 8 hours (${CODEBUILD_ACTION_MAX_MINUTES} minutes), and the bake shares its action with the smoke test (${SMOKE_TEST_MINUTES} minutes) and the build's start (${BUILD_START_MINUTES} minutes)`,
    )
    .optional(),
  /** 5xx responses, percent of requests (probes excluded), above which the error-rate alarm fires. @default 1 */
  errorRatePercent: z.number().gt(0, 'must be above 0').max(100, 'must be at most 100').optional(),
  /** p99 request latency in milliseconds above which the latency alarm fires. @default 500 */
  p99LatencyMs: z
    .number()
    .int('must be a whole number of milliseconds')
    .min(1, 'must be at least 1')
    .max(60_000, 'must be at most 60000')
    .optional(),
  /** Length of one alarm period in seconds (60 or a multiple of 60). @default 60 */
  periodSeconds: z
    .number()
    .int()
    .min(60, 'must be at least 60')
    .max(3600, 'must be at most 3600')
    .refine((s) => s % 60 === 0, { message: 'must be a multiple of 60' })
    .optional(),
  /** Consecutive breaching periods before an alarm fires. @default 3 in pre-prod, 5 in prod */
  evaluationPeriods: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .max(60, 'must be at most 60')
    .optional(),
});

export type BakeInput = z.input<typeof bakeSchema>;

/** An environment's bake with every default applied. */
export interface BakeSettings {
  readonly minutes: number;
  readonly errorRatePercent: number;
  readonly p99LatencyMs: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

/** Defaults per kind: pre-prod bakes shorter and alarms sooner than prod. docs/configuration.md lists the same values. */
export const BAKE_DEFAULTS: Record<'preprod' | 'prod', BakeSettings> = {
  preprod: {
    minutes: 10,
    errorRatePercent: 1,
    p99LatencyMs: 500,
    periodSeconds: 60,
    evaluationPeriods: 3,
  },
  prod: {
    minutes: 30,
    errorRatePercent: 1,
    p99LatencyMs: 500,
    periodSeconds: 60,
    evaluationPeriods: 5,
  },
};

export function resolveBake(input: BakeInput | undefined, kind: 'preprod' | 'prod'): BakeSettings {
  return { ...BAKE_DEFAULTS[kind], ...input };
}

/**
 * Checks a DeploymentWindow `Cron` expression the way the rule reads it: 6 required fields and an
 * optional year, seconds `*` only, day-of-week 1-7 or SUN-SAT, `?` in day-of-month or day-of-week
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
 * Returns what is wrong, or undefined when the expression is well formed. Hand-written: the
 * project has no cron dependency, and this Quartz-like dialect (`?`, `L`, `W`, `#`) is not Unix cron.
 */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 6 || fields.length > 7) {
    return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 6 or 7: seconds minutes hours day-of-month month day-of-week [year], e.g. "* * 9-16 ? * MON-THU"`;
  }
  const [seconds, minutes, hours, dom, month, dow, year] = fields;
  const months = [
    'JAN',
    'FEB',
    'MAR',
    'APR',
    'MAY',
    'JUN',
    'JUL',
    'AUG',
    'SEP',
    'OCT',
    'NOV',
    'DEC',
  ];
  const days = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  const checks: Array<[string, string, string | undefined]> = [
    [
      'seconds',
      seconds,
      seconds === '*' ? undefined : 'must be "*" (the rule does not schedule by the second)',
    ],
    ['minutes', minutes, listProblem(minutes, 0, 59)],
    ['hours', hours, listProblem(hours, 0, 23)],
    [
      'day-of-month',
      dom,
      dom === '?' || /^(L(-\d{1,2})?|LW|\d{1,2}W)$/.test(dom)
        ? domSpecial(dom)
        : listProblem(dom, 1, 31),
    ],
    ['month', month, listProblem(month, 1, 12, months, 1)],
    [
      'day-of-week',
      dow,
      dow === '?' || /^(\d|[A-Z]{3})(L|#[1-5])$/.test(dow) || dow === 'L'
        ? dowSpecial(dow, days)
        : listProblem(dow, 1, 7, days, 1),
    ],
  ];
  if (year !== undefined) checks.push(['year', year, listProblem(year, 1970, 2199)]);
  for (const [name, value, problem] of checks) {
    if (problem) return `${name} field "${value}" ${problem}`;
  }
  if ((dom === '?') === (dow === '?')) {
    return `put "?" in exactly one of day-of-month ("${dom}") and day-of-week ("${dow}"): the other one chooses the days`;
  }
  return undefined;
}

function domSpecial(value: string): string | undefined {
  const m = /^(\d{1,2})W$/.exec(value) ?? /^L-(\d{1,2})$/.exec(value);
  if (m && (Number(m[1]) < 1 || Number(m[1]) > 31)) return 'must use a day of 1-31';
  return undefined;
}

function dowSpecial(value: string, names: string[]): string | undefined {
  if (value === '?' || value === 'L') return undefined;
  const day = value.replace(/(L|#[1-5])$/, '');
  const n = /^\d$/.test(day) ? Number(day) : names.indexOf(day) + 1;
  return n >= 1 && n <= 7 ? undefined : 'must use a day of 1-7 or SUN-SAT';
}

/** `*`, `n`, `a-b`, `*\/s`, `a/s`, `a-b/s`, comma-separated; names (JAN, MON) where the field has them. */
function listProblem(
  field: string,
  min: number,
  max: number,
  names: readonly string[] = [],
  nameBase = 0,
): string | undefined {
  const value = (v: string): number | undefined => {
    if (/^\d+$/.test(v)) return Number(v);
    const i = names.indexOf(v.toUpperCase());
    return i < 0 ? undefined : i + nameBase;
  };
  const range =
    names.length > 0 ? `${min}-${max} or ${names[0]}-${names[names.length - 1]}` : `${min}-${max}`;
  for (const item of field.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) return `is not a list of values, ranges ("a-b") or steps ("*/n"); allowed: ${range}`;
    if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > max))
      return `has a step of ${m[2]}; a step is 1-${max}`;
    if (m[1] === '*') continue;
    const [from, to] = m[1].split('-').map(value);
    if (
      from === undefined ||
      from < min ||
      from > max ||
      (m[1].includes('-') && (to === undefined || to < min || to > max))
    ) {
      return `has "${item}" outside ${range}`;
    }
    if (to !== undefined && to < from) return `has the range "${item}" backwards`;
  }
  return undefined;
}

/** IANA time zones this Node.js knows (the same database AWS uses, e.g. "Europe/Dublin"). */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const deploymentWindowSchema = z.strictObject({
  /** The prod wave this window applies to, counted from 1 as in docs (wave 1 deploys first). Required. */
  wave: z.number().int('must be a whole wave number').min(1, 'waves are counted from 1'),
  /** When the wave may start, as the DeploymentWindow rule's cron (6-7 fields, seconds "*"). Required. */
  cron: z.string().superRefine((c, ctx) => {
    const problem = cronProblem(c);
    if (problem)
      ctx.addIssue({
        code: 'custom',
        message: `"${c}" is not a deployment-window cron: ${problem}`,
      });
  }),
  /** IANA time zone the cron is read in. @default "UTC" */
  timeZone: z
    .string()
    .refine(isTimeZone, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not an IANA time zone (for example "Europe/Dublin", "America/New_York", "UTC")`,
    })
    .optional(),
});

export type DeploymentWindowInput = z.input<typeof deploymentWindowSchema>;

export interface DeploymentWindow {
  readonly cron: string;
  readonly timeZone: string;
}

const snsEmail = z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, {
  message: 'must be an email address such as "oncall@example.com"',
});
const chatbotSlackArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:chatbot::\d{12}:chat-configuration\/slack-channel\/[\w.-]+$/, {
    message:
      'must be an AWS Chatbot Slack channel configuration ARN such as "arn:aws:chatbot::111111111111:chat-configuration/slack-channel/deploys"',
  });

export const notificationsSchema = z.strictObject({
  /** Email addresses subscribed to the pipeline's notification topic (each confirms by email). @default [] */
  emails: z.array(snsEmail).optional(),
  /** AWS Chatbot Slack channel configurations the pipeline's notification rule also targets. @default [] */
  chatbotSlackChannelArns: z.array(chatbotSlackArn).optional(),
});

export type NotificationsInput = z.input<typeof notificationsSchema>;

export interface NotificationSettings {
  readonly emails: readonly string[];
  readonly chatbotSlackChannelArns: readonly string[];
}

export function resolveNotifications(input: NotificationsInput | undefined): NotificationSettings {
  return {
    emails: input?.emails ?? [],
    chatbotSlackChannelArns: input?.chatbotSlackChannelArns ?? [],
  };
}

/** The window of each prod wave (index 0 = wave 1), undefined where the wave has none. */
export function resolveDeploymentWindows(
  input: readonly DeploymentWindowInput[] | undefined,
  waveCount: number,
): (DeploymentWindow | undefined)[] {
  const windows: (DeploymentWindow | undefined)[] = Array.from(
    { length: waveCount },
    () => undefined,
  );
  for (const w of input ?? [])
    windows[w.wave - 1] = { cron: w.cron.trim(), timeZone: w.timeZone ?? 'UTC' };
  return windows;
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Cross-field rules of the safe-delivery settings, over the raw input (so they report even when
 * another part of the config failed the schema): a bake outlasts its alarms' evaluation window, a
 * baked wave fits in one stage condition, a window names an existing wave once.
 */
export function checkSafeDelivery(raw: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const root = obj(raw);
  const checkBake = (env: unknown, path: string, kind: 'preprod' | 'prod') => {
    const parsed = bakeSchema.safeParse(obj(env).bake);
    if (!parsed.success) return;
    const bake = resolveBake(parsed.data, kind);
    const windowMinutes = (bake.periodSeconds / 60) * bake.evaluationPeriods;
    if (bake.minutes < windowMinutes) {
      problems.push({
        path: `${path}.bake.minutes`,
        message: `${bake.minutes} minutes is shorter than the alarms' evaluation window (${bake.evaluationPeriods} periods of ${bake.periodSeconds} s = ${windowMinutes} minutes): an alarm could not fire before the bake ends; bake at least ${windowMinutes} minutes or evaluate fewer periods`,
      });
    }
  };
  checkBake(root.preprod, 'preprod', 'preprod');
  const prod = obj(root.prod);
  const waves = Array.isArray(prod.waves) ? prod.waves : [];
  waves.forEach((wave, w) => {
    if (!Array.isArray(wave)) return;
    wave.forEach((env, i) => checkBake(env, `prod.waves[${w}][${i}]`, 'prod'));
    if (wave.length > MAX_REGIONS_PER_BAKED_WAVE) {
      problems.push({
        path: `prod.waves[${w}]`,
        message: `${wave.length} environments in one wave; a wave bakes behind one CloudWatchAlarm rule per environment and CodePipeline allows at most ${MAX_REGIONS_PER_BAKED_WAVE} rules in a stage condition: split it into waves of at most ${MAX_REGIONS_PER_BAKED_WAVE}`,
      });
    }
  });
  if (Array.isArray(prod.deploymentWindows)) {
    const seen = new Map<number, number>();
    prod.deploymentWindows.forEach((entry, i) => {
      const wave = obj(entry).wave;
      if (typeof wave !== 'number' || !Number.isInteger(wave) || wave < 1) return;
      if (waves.length > 0 && wave > waves.length) {
        problems.push({
          path: `prod.deploymentWindows[${i}].wave`,
          message: `wave ${wave} does not exist: prod has ${waves.length} wave${waves.length === 1 ? '' : 's'} (counted from 1)`,
        });
      }
      const first = seen.get(wave);
      if (first !== undefined)
        problems.push({
          path: `prod.deploymentWindows[${i}].wave`,
          message: `wave ${wave} already has a window at prod.deploymentWindows[${first}]; a wave has at most one`,
        });
      else seen.set(wave, i);
    });
  }
  return problems;
}
