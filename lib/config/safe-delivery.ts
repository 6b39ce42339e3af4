import { RegionInfo } from 'aws-cdk-lib/region-info';
import tzdata from 'tzdata/timezone-data.json';
import { z } from 'zod';
import { neverFiresReason, parseCronFields } from './cron';
import { AWS_REGIONS } from './regions';
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
 * The longest value CodePipeline takes in a rule's configuration
 * (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html,
 * `configuration`: value length 1-10000).
 */
export const MAX_RULE_CONFIGURATION_VALUE = 10_000;

/**
 * Checks a DeploymentWindow `Cron` expression the way the rule reads it: 6 required fields and an
 * optional year, seconds `*` only, the values and wildcards of AWS's cron (lib/config/cron.ts)
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html),
 * and a window that opens at least once from `now` on: the rule holds the wave until its window
 * opens, so a window on 30 February, or in a past year, would hold it forever.
 */
export function windowCronCheck(
  expression: string,
  now: Date = new Date(),
): { readonly malformed: string } | { readonly neverOpens: string } | undefined {
  if (expression.length > MAX_RULE_CONFIGURATION_VALUE)
    return {
      malformed: `it is ${expression.length} characters; CodePipeline takes at most ${MAX_RULE_CONFIGURATION_VALUE}`,
    };
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 6 || fields.length > 7) {
    return {
      malformed: `has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 6 or 7: seconds minutes hours day-of-month month day-of-week [year], e.g. "* * 9-16 ? * MON-THU"`,
    };
  }
  const [seconds, minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields;
  if (seconds !== '*')
    return {
      malformed: `seconds field "${seconds}" must be "*" (the rule does not schedule by the second)`,
    };
  const schedule = parseCronFields({ minutes, hours, dayOfMonth, month, dayOfWeek, year });
  if (typeof schedule === 'string') return { malformed: schedule };
  const never = neverFiresReason(schedule, now);
  return never === undefined ? undefined : { neverOpens: never };
}

/** What is wrong with a deployment-window cron, or undefined when it is a window that opens. */
export function cronProblem(expression: string, now: Date = new Date()): string | undefined {
  const check = windowCronCheck(expression, now);
  if (check === undefined) return undefined;
  return 'malformed' in check ? check.malformed : `never opens: ${check.neverOpens}`;
}

/** A value for a message: quoted when short, its length when it is too long to repeat. */
export function shownValue(value: string): string {
  return value.length <= 100 ? JSON.stringify(value) : `a value of ${value.length} characters`;
}

/**
 * The names of the IANA time zone database, zones and links, spelt as IANA spells them (the
 * `tzdata` package, generated from each IANA release). AWS takes the time zone as written
 * (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html,
 * `TimeZone`), while Node.js reads any case ("europe/dublin"), so a name is accepted only in
 * IANA's own spelling. docs/decisions/0033-config-values-aws-accepts.md.
 */
const IANA_TIME_ZONES: ReadonlyMap<string, string> = new Map(
  Object.keys(tzdata.zones).map((name) => [name.toLowerCase(), name]),
);

/** Why `tz` is not an IANA time zone name as AWS reads it, or undefined. */
export function timeZoneProblem(tz: string): string | undefined {
  const spelling = IANA_TIME_ZONES.get(tz.toLowerCase());
  if (spelling !== undefined && spelling !== tz)
    return `${JSON.stringify(tz)} is not spelt as the IANA time zone database spells it; did you mean ${JSON.stringify(spelling)}?`;
  if (spelling === undefined || !nodeKnowsTimeZone(tz))
    return `${JSON.stringify(tz)} is not an IANA time zone (for example "Europe/Dublin", "America/New_York", "UTC")`;
  return undefined;
}

/** Node.js (its ICU) can read the zone: the synth's own checks and tools use it. */
function nodeKnowsTimeZone(tz: string): boolean {
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
    const check = windowCronCheck(c);
    if (check === undefined) return;
    ctx.addIssue({
      code: 'custom',
      message:
        'malformed' in check
          ? `${shownValue(c)} is not a deployment-window cron: ${check.malformed}`
          : `${shownValue(c)} never opens: ${check.neverOpens}; the wave would wait for it forever`,
    });
  }),
  /** IANA time zone the cron is read in, spelt as IANA spells it. @default "UTC" */
  timeZone: z
    .string()
    .superRefine((tz, ctx) => {
      const problem = timeZoneProblem(tz);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
});

export type DeploymentWindowInput = z.input<typeof deploymentWindowSchema>;

export interface DeploymentWindow {
  readonly cron: string;
  readonly timeZone: string;
}

/**
 * Why `email` cannot be an SNS email subscription, or undefined. The shape is zod's email pattern
 * (dot-atom local part, no empty parts, a dotted domain); the lengths are RFC 5321's (section
 * 4.5.3.1: local part at most 64 octets, a path of at most 256 with its angle brackets, so an
 * address of at most 254; a domain label at most 63, RFC 1035 section 2.3.4).
 * https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1
 */
export function emailProblem(email: string): string | undefined {
  if (email.length > 254) return `must be at most 254 characters, got ${email.length}`;
  const at = email.lastIndexOf('@');
  if (at > 64) return `the part before "@" may be at most 64 characters, got ${at}`;
  const long = email
    .slice(at + 1)
    .split('.')
    .find((label) => label.length > 63);
  if (at >= 0 && long !== undefined)
    return `each part of the domain may be at most 63 characters, got ${long.length}`;
  if (!z.regexes.email.test(email)) return 'must be an email address such as "oncall@example.com"';
  return undefined;
}

const snsEmail = z.string().superRefine((email, ctx) => {
  const problem = emailProblem(email);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const CHATBOT_SLACK_ARN =
  /^arn:(aws[a-z-]*):chatbot::\d{12}:chat-configuration\/slack-channel\/[\w.-]+$/;
const chatbotSlackArn = z.string().regex(CHATBOT_SLACK_ARN, {
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

/**
 * Rules of `notifications` over the raw input: an address once (each is an SNS subscription whose
 * construct id is the address: a second one crashed the synth, and two spellings of one mailbox
 * would get every message twice), and Chatbot channels in the pipeline's partition (a
 * notification rule targets resources of its own partition only).
 */
export function checkNotifications(raw: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const root = obj(raw);
  const notifications = obj(root.notifications);
  if (Array.isArray(notifications.emails)) {
    const seen = new Map<string, { index: number; spelling: string }>();
    notifications.emails.forEach((email, i) => {
      if (typeof email !== 'string') return;
      const first = seen.get(email.toLowerCase());
      if (first === undefined) {
        seen.set(email.toLowerCase(), { index: i, spelling: email });
        return;
      }
      problems.push({
        path: `notifications.emails[${i}]`,
        message: `${shownValue(email)} is already at notifications.emails[${first.index}]${first.spelling === email ? '' : ' (addresses are compared ignoring case)'}; list each address once`,
      });
    });
  }
  const region = obj(root.pipeline).region;
  if (Array.isArray(notifications.chatbotSlackChannelArns) && typeof region === 'string') {
    const pipelinePartition = AWS_REGIONS.includes(region)
      ? RegionInfo.get(region).partition
      : undefined;
    notifications.chatbotSlackChannelArns.forEach((arn, i) => {
      const m = typeof arn === 'string' ? CHATBOT_SLACK_ARN.exec(arn) : null;
      if (!m || pipelinePartition === undefined || m[1] === pipelinePartition) return;
      problems.push({
        path: `notifications.chatbotSlackChannelArns[${i}]`,
        message: `the channel configuration is in partition "${m[1]}", but the pipeline (pipeline.region "${region}") is in "${pipelinePartition}"; a notification rule can only target a channel of its own partition`,
      });
    });
  }
  return problems;
}
