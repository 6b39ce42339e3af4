import { z } from 'zod';

/**
 * Per-environment settings of node patch compliance (Systems Manager Patch Manager, Scan only;
 * docs/decisions/0018-node-patching.md). A schema fragment: `schema.ts` plugs it into an
 * environment as `patching`, `resolve.ts` applies `PATCHING_DEFAULTS`.
 */

/**
 * The schedules a State Manager association accepts: `rate(N unit)` of at least 30 minutes and
 * under 31 days, singular unit for 1; or a 6-field cron (7 with a 0 seconds field) with `?` in
 * day-of-month or day-of-week.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html#reference-cron-and-rate-expressions-association
 */
export function associationScheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2];
    if (n < 1) return 'a rate must be at least 1';
    if ((n === 1) !== !unit.endsWith('s'))
      return `write "rate(${n} ${n === 1 ? unit.replace(/s$/, '') : unit.replace(/s?$/, 's')})": the unit is singular for 1 and plural otherwise`;
    const minutes = n * (unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440);
    if (minutes < 30) return 'an association runs at most every 30 minutes';
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
    const [dayOfMonth, , dayOfWeek] = fields.slice(fields.length - 4);
    if (dayOfMonth !== '?' && dayOfWeek !== '?')
      return 'put "?" in day-of-month or day-of-week, for example "cron(0 3 ? * * *)"';
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
      if (problem)
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: ${problem}` });
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
