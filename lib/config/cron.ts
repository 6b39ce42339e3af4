/**
 * AWS's cron dialect, as two services of this project read it: CodePipeline's DeploymentWindow
 * rule (prod waves, safe-delivery.ts) and Systems Manager State Manager associations (the patch
 * scan, patching.ts). Both take Quartz-style fields with the same values and wildcards:
 *
 * | field        | values             | wildcards          |
 * | ------------ | ------------------ | ------------------ |
 * | minutes      | 0-59               | , - * /            |
 * | hours        | 0-23               | , - * /            |
 * | day-of-month | 1-31               | , - * ? / L W      |
 * | month        | 1-12 or JAN-DEC    | , - * /            |
 * | day-of-week  | 1-7 or SUN-SAT     | , - * ? / L #      |
 * | year         | 1970-2199          | , - * /            |
 *
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html
 *
 * Parsed here into the sets of values each field allows, so that validation can check the ranges
 * (what AWS refuses at deploy) and whether the schedule can fire at all (a window on 30 February
 * would hold its wave forever). Hand-written: the cron libraries on npm read Unix cron or
 * Quartz with seconds, and none knows the AWS field layout, its year range or its "L" alone in
 * day-of-week meaning Saturday.
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** The years AWS's cron takes. */
export const CRON_YEARS = { min: 1970, max: 2199 } as const;

/** Day-of-month: the days listed, or one of the special forms. */
type DayOfMonth =
  | { kind: 'any' } // "?"
  | { kind: 'list'; days: ReadonlySet<number> }
  | { kind: 'last'; offset: number } // "L", "L-3"
  | { kind: 'lastWeekday' } // "LW"
  | { kind: 'nearestWeekday'; day: number }; // "15W"

/** Day-of-week (1 = SUN ... 7 = SAT): the days listed, or one of the special forms. */
type DayOfWeek =
  | { kind: 'any' } // "?"
  | { kind: 'list'; days: ReadonlySet<number> }
  | { kind: 'lastOfMonth'; day: number } // "6L": the last Friday
  | { kind: 'nth'; day: number; week: number }; // "MON#2": the second Monday

/** A cron expression's fields as sets of the values they allow. */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly dayOfMonth: DayOfMonth;
  readonly months: ReadonlySet<number>;
  readonly dayOfWeek: DayOfWeek;
  readonly years: ReadonlySet<number>;
  /** The fields as written, for messages. */
  readonly text: {
    readonly dayOfMonth: string;
    readonly month: string;
    readonly dayOfWeek: string;
    readonly year: string;
  };
}

/** The six date-and-time fields of an expression, in order (seconds already taken off). */
export interface CronFields {
  readonly minutes: string;
  readonly hours: string;
  readonly dayOfMonth: string;
  readonly month: string;
  readonly dayOfWeek: string;
  /** Absent: every year (the DeploymentWindow rule's year is optional). */
  readonly year?: string;
}

/**
 * Parses the fields, or says what is wrong with the first field that is wrong:
 * `hours field "99" has "99" outside 0-23`.
 */
export function parseCronFields(f: CronFields): CronSchedule | string {
  const minutes = valueList(f.minutes, 0, 59);
  if (typeof minutes === 'string') return `minutes field "${f.minutes}" ${minutes}`;
  const hours = valueList(f.hours, 0, 23);
  if (typeof hours === 'string') return `hours field "${f.hours}" ${hours}`;
  const dayOfMonth = parseDayOfMonth(f.dayOfMonth);
  if (typeof dayOfMonth === 'string') return `day-of-month field "${f.dayOfMonth}" ${dayOfMonth}`;
  const months = valueList(f.month, 1, 12, MONTHS);
  if (typeof months === 'string') return `month field "${f.month}" ${months}`;
  const dayOfWeek = parseDayOfWeek(f.dayOfWeek);
  if (typeof dayOfWeek === 'string') return `day-of-week field "${f.dayOfWeek}" ${dayOfWeek}`;
  const years = valueList(f.year ?? '*', CRON_YEARS.min, CRON_YEARS.max);
  if (typeof years === 'string') return `year field "${f.year}" ${years}`;
  if ((dayOfMonth.kind === 'any') === (dayOfWeek.kind === 'any')) {
    return `put "?" in exactly one of day-of-month ("${f.dayOfMonth}") and day-of-week ("${f.dayOfWeek}"): the other one chooses the days`;
  }
  return {
    minutes,
    hours,
    dayOfMonth,
    months,
    dayOfWeek,
    years,
    text: {
      dayOfMonth: f.dayOfMonth,
      month: f.month,
      dayOfWeek: f.dayOfWeek,
      year: f.year ?? '*',
    },
  };
}

function parseDayOfMonth(field: string): DayOfMonth | string {
  if (field === '?') return { kind: 'any' };
  if (field === 'L') return { kind: 'last', offset: 0 };
  if (field === 'LW') return { kind: 'lastWeekday' };
  const offset = /^L-(\d{1,2})$/.exec(field);
  if (offset) {
    const n = Number(offset[1]);
    return n <= 30 ? { kind: 'last', offset: n } : 'has an offset from the last day above 30';
  }
  const weekday = /^(\d{1,2})W$/.exec(field);
  if (weekday) {
    const n = Number(weekday[1]);
    return n >= 1 && n <= 31 ? { kind: 'nearestWeekday', day: n } : 'must use a day of 1-31';
  }
  const days = valueList(field, 1, 31);
  return typeof days === 'string' ? days : { kind: 'list', days };
}

function parseDayOfWeek(field: string): DayOfWeek | string {
  if (field === '?') return { kind: 'any' };
  // "L" alone is the last day of the week: Saturday (the DeploymentWindow rule's reference).
  if (field === 'L') return { kind: 'list', days: new Set([7]) };
  const special = /^([A-Za-z0-9]+)(L|#(\d+))$/.exec(field);
  if (special) {
    const day = dayNumber(special[1]);
    if (day === undefined) return 'must use a day of 1-7 or SUN-SAT';
    if (special[2] === 'L') return { kind: 'lastOfMonth', day };
    const week = Number(special[3]);
    if (week < 1 || week > 5)
      return `has "#${special[3]}": "#" takes the week of the month, 1-5 (MON#2 is the second Monday)`;
    return { kind: 'nth', day, week };
  }
  const days = valueList(field, 1, 7, DAYS);
  return typeof days === 'string' ? days : { kind: 'list', days };
}

function dayNumber(v: string): number | undefined {
  if (/^\d$/.test(v)) return Number(v) >= 1 && Number(v) <= 7 ? Number(v) : undefined;
  const i = DAYS.indexOf(v.toUpperCase());
  return i < 0 ? undefined : i + 1;
}

/**
 * `*`, `n`, `a-b`, `*\/s`, `a/s`, `a-b/s`, comma-separated; names (JAN, MON) where the field has
 * them, counted from 1. The set of values, or what is wrong with the field.
 */
function valueList(
  field: string,
  min: number,
  max: number,
  names: readonly string[] = [],
): Set<number> | string {
  const value = (v: string): number | undefined => {
    if (/^\d+$/.test(v)) return Number(v);
    const i = names.indexOf(v.toUpperCase());
    return i < 0 ? undefined : i + 1;
  };
  const range =
    names.length > 0 ? `${min}-${max} or ${names[0]}-${names[names.length - 1]}` : `${min}-${max}`;
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) return `is not a list of values, ranges ("a-b") or steps ("*/n"); allowed: ${range}`;
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > max) return `has a step of ${m[2]}; a step is 1-${max}`;
    let from = min;
    let to = max;
    if (m[1] !== '*') {
      const [a, b] = m[1].split('-').map(value);
      if (
        a === undefined ||
        a < min ||
        a > max ||
        (m[1].includes('-') && (b === undefined || b < min || b > max))
      )
        return `has "${item}" outside ${range}`;
      if (b !== undefined && b < a) return `has the range "${item}" backwards`;
      from = a;
      // "a/s" runs from a to the end of the field; "a" alone is just a.
      to = b ?? (m[2] === undefined ? a : max);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** 1 = SUN ... 7 = SAT, as the cron counts. */
const weekday = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
const isWorkday = (year: number, month: number, day: number) => {
  const d = weekday(year, month, day);
  return d >= 2 && d <= 6;
};

/** Whether the schedule's date fields choose `day` of `month` in `year`. */
function dayMatches(s: CronSchedule, year: number, month: number, day: number): boolean {
  const last = daysIn(year, month);
  const dom = s.dayOfMonth;
  switch (dom.kind) {
    case 'list':
      return dom.days.has(day);
    case 'last':
      return day === last - dom.offset;
    case 'lastWeekday': {
      let d = last;
      while (!isWorkday(year, month, d)) d--;
      return day === d;
    }
    case 'nearestWeekday': {
      // Quartz: the weekday nearest the given day, never crossing into another month; no day at
      // all when the month is too short.
      if (dom.day > last) return false;
      const w = weekday(year, month, dom.day);
      let d = dom.day;
      if (w === 7) d = dom.day === 1 ? 3 : dom.day - 1;
      else if (w === 1) d = dom.day === last ? dom.day - 2 : dom.day + 1;
      return day === d;
    }
    case 'any':
      break;
  }
  const dow = s.dayOfWeek;
  const w = weekday(year, month, day);
  switch (dow.kind) {
    case 'list':
      return dow.days.has(w);
    case 'lastOfMonth':
      return w === dow.day && day + 7 > last;
    case 'nth':
      return w === dow.day && Math.ceil(day / 7) === dow.week;
    case 'any':
      return false;
  }
}

/**
 * The first day, on or after `from` (a UTC date), whose date fields the schedule chooses; or
 * undefined when there is none before the end of the cron's years. Each field has at least one
 * value, so a chosen day always has a time in it.
 */
export function firstDayFrom(
  s: CronSchedule,
  from: Date,
): { year: number; month: number; day: number } | undefined {
  const startYear = from.getUTCFullYear();
  const startMonth = from.getUTCMonth() + 1;
  const years = [...s.years].filter((y) => y >= startYear).sort((a, b) => a - b);
  const months = [...s.months].sort((a, b) => a - b);
  for (const year of years) {
    for (const month of months) {
      if (year === startYear && month < startMonth) continue;
      const first = year === startYear && month === startMonth ? from.getUTCDate() : 1;
      for (let day = first; day <= daysIn(year, month); day++) {
        if (dayMatches(s, year, month, day)) return { year, month, day };
      }
    }
  }
  return undefined;
}

/**
 * Why the schedule can never fire from `now` on, or undefined when it can. "Now" is taken a day
 * early: the schedule may be read in a time zone up to 14 hours behind UTC.
 */
export function neverFiresReason(s: CronSchedule, now: Date = new Date()): string | undefined {
  const from = new Date(now.getTime() - 24 * 3600 * 1000);
  if (firstDayFrom(s, from) !== undefined) return undefined;
  const thisYear = from.getUTCFullYear();
  if ([...s.years].every((y) => y < thisYear))
    return `year field "${s.text.year}" lies in the past (it is ${now.getUTCFullYear()})`;
  if (s.dayOfMonth.kind === 'list') {
    const days = [...s.dayOfMonth.days];
    const fits = [...s.months].some((m) => days.some((d) => d <= (m === 2 ? 29 : daysIn(2001, m))));
    if (!fits) return `no date has day-of-month "${s.text.dayOfMonth}" in month "${s.text.month}"`;
  }
  return `no date matches day-of-month "${s.text.dayOfMonth}", month "${s.text.month}", day-of-week "${s.text.dayOfWeek}" and year "${s.text.year}"`;
}

/**
 * The shortest time in minutes between two runs within a day, or undefined for a schedule that
 * runs at most once an hour. Consecutive hours count the wrap from the last minute of one hour to
 * the first of the next.
 */
export function shortestIntervalMinutes(s: CronSchedule): number | undefined {
  const minutes = [...s.minutes].sort((a, b) => a - b);
  const hours = [...s.hours].sort((a, b) => a - b);
  let shortest: number | undefined;
  const consider = (gap: number) => {
    if (shortest === undefined || gap < shortest) shortest = gap;
  };
  for (let i = 1; i < minutes.length; i++) consider(minutes[i] - minutes[i - 1]);
  const consecutive = hours.some((h, i) => i > 0 && h - hours[i - 1] === 1);
  if (consecutive || (hours.includes(23) && hours.includes(0)))
    consider(60 - minutes[minutes.length - 1] + minutes[0]);
  return shortest;
}
