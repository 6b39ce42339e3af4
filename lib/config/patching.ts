import { z } from 'zod';
import { neverFiresReason, parseCronFields, shortestIntervalMinutes } from './cron';

/**
 * Per-environment settings of node patch compliance (Systems Manager Patch Manager, Scan only;
 * docs/decisions/0018-node-patching.md). A schema fragment: `schema.ts` plugs it into an
 * environment as `patching`, `resolve.ts` applies `PATCHING_DEFAULTS`.
 */

/**
 * Systems Manager's longest schedule expression
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateAssociation.html,
 * `ScheduleExpression`: length 1-256).
 */
export const MAX_SCHEDULE_EXPRESSION_LENGTH = 256;

/** The shortest interval between two runs of an association, in minutes (rate and cron alike). */
export const MIN_ASSOCIATION_INTERVAL_MINUTES = 30;

/**
 * The schedules a State Manager association accepts: `rate(N unit)` of at least 30 minutes and
 * under 31 days, singular unit for 1; or a 6-field cron (7 with a 0 seconds field) with `?` in
 * exactly one of day-of-month and day-of-week, each field within AWS's cron values
 * (lib/config/cron.ts), running at most every 30 minutes, and that runs at all from `now` on.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html#reference-cron-and-rate-expressions-association
 */
export function associationScheduleProblem(
  expression: string,
  now: Date = new Date(),
): string | undefined {
  if (expression.length > MAX_SCHEDULE_EXPRESSION_LENGTH)
    return `must be at most ${MAX_SCHEDULE_EXPRESSION_LENGTH} characters (Systems Manager's limit for a schedule expression), got ${expression.length}`;
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2];
    if (n < 1) return 'a rate must be at least 1';
    if ((n === 1) !== !unit.endsWith('s'))
      return `write "rate(${n} ${n === 1 ? unit.replace(/s$/, '') : unit.replace(/s?$/, 's')})": the unit is singular for 1 and plural otherwise`;
    const minutes = n * (unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440);
    if (minutes < MIN_ASSOCIATION_INTERVAL_MINUTES)
      return `an association runs at most every ${MIN_ASSOCIATION_INTERVAL_MINUTES} minutes`;
    if (minutes >= 31 * 1440) return 'an association rate must be under 31 days';
    return undefined;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length === 7 && fields[0] !== '0')
      return 'the optional seconds field of an association cron must be 0';
    if (fields.length !== 6 && fields.length !== 7)
      return `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
    const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields.slice(fields.length - 6);
    if (dayOfMonth !== '?' && dayOfWeek !== '?')
      return 'put "?" in day-of-month or day-of-week, for example "cron(0 3 ? * * *)"';
    const schedule = parseCronFields({ minutes, hours, dayOfMonth, month, dayOfWeek, year });
    if (typeof schedule === 'string') return schedule;
    const interval = shortestIntervalMinutes(schedule);
    if (interval !== undefined && interval < MIN_ASSOCIATION_INTERVAL_MINUTES)
      return `runs more often than every ${MIN_ASSOCIATION_INTERVAL_MINUTES} minutes (${interval} minutes apart); an association runs at most every ${MIN_ASSOCIATION_INTERVAL_MINUTES} minutes, for example "cron(0/30 * * * ? *)"`;
    const never = neverFiresReason(schedule, now);
    if (never !== undefined) return `never runs: ${never}; the scan would never report`;
    return undefined;
  }
  return 'must be "rate(<n> <minutes|hours|days>)" or "cron(<6 fields>)", for example "rate(1 day)" or "cron(0 3 ? * * *)"';
}

export const patchingSchema = z.strictObject({
  /**
   * Days after a security update (Critical or Important) is released before the patch baseline
   * approves it, i.e. before a node missing it is reported non-compliant. @default 7
   */
  approveAfterDays: z
    .number()
    .int('must be a whole number of days')
    .min(0)
    .max(360, 'Patch Manager accepts at most 360 days')
    .optional(),
  /** When the Scan association runs on the environment's nodes (UTC). @default "rate(1 day)" */
  scanSchedule: z
    .string()
    .superRefine((value, ctx) => {
      const problem = associationScheduleProblem(value);
      if (problem === undefined) return;
      // A value too long to repeat is described by its length only.
      const shown = value.length <= 100 ? `${JSON.stringify(value)}: ` : '';
      ctx.addIssue({ code: 'custom', message: `${shown}${problem}` });
    })
    .optional(),
});

export type PatchingInput = z.input<typeof patchingSchema>;

/** The patching settings of one environment, defaults applied. */
export interface PatchingConfig {
  readonly approveAfterDays: number;
  readonly scanSchedule: string;
}

/** Defaults of `patching`; docs/configuration.md lists the same values. */
export const PATCHING_DEFAULTS: PatchingConfig = {
  // The delay of AWS's own predefined AL2023 baseline:
  // https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-predefined-and-custom-patch-baselines.html
  approveAfterDays: 7,
  scanSchedule: 'rate(1 day)',
};

export function resolvePatching(input: PatchingInput | undefined): PatchingConfig {
  return { ...PATCHING_DEFAULTS, ...input };
}
