/**
 * One shell word for `value`, whatever it holds: POSIX single quotes, with each `'` closed,
 * escaped and reopened. Hand-written because it is this one rule (no npm shell-quoting package
 * is in the project) and CodeBuild runs buildspec commands through a POSIX shell.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
