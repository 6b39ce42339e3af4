/**
 * Every command's exit codes and the errors that carry them. `runCli` turns any of these into one
 * line on stderr and the matching exit code; nothing prints a stack trace. One table for every
 * command (EXIT_CODE_TABLE): each `--help` prints it, docs/runbooks/README.md shows it, and
 * test/tools/common/contract.test.ts keeps the three the same. No code means two things.
 */
export const EXIT_OK = 0;
/** A verdict: the check found a problem, the operator or AWS refused, the operation failed. */
export const EXIT_FAILED = 1;
/** The command line (or the config file it names) is wrong; nothing was touched. */
export const EXIT_USAGE = 2;
/** No verdict: AWS or the network could not be asked (credentials, access denied, an AWS error). */
export const EXIT_COULD_NOT_CHECK = 3;

/** The command's --timeout (or one external call's time limit) ran out. As GNU `timeout` says it. */
export const EXIT_TIMEOUT = 124;
/** Stopped by SIGINT (Ctrl-C) or SIGTERM: 128 + the signal's number, as a shell reports it. */
export const EXIT_SIGNAL: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = {
  SIGINT: 130,
  SIGTERM: 143,
};

/** One row per exit code, in the words every `--help` and docs/runbooks/README.md use. */
export const EXIT_CODE_TABLE: readonly { readonly code: string; readonly meaning: string }[] = [
  { code: '0', meaning: 'done: what was asked is done, or nothing is wrong' },
  {
    code: '1',
    meaning:
      'refused or blocked: a verdict (a check failed, the gate blocked, you or AWS said no, the change failed)',
  },
  {
    code: '2',
    meaning: 'bad usage: the command line or the config file is wrong; nothing touched',
  },
  {
    code: '3',
    meaning:
      'could not check: AWS or the network failed (credentials, access denied, an AWS error); no verdict',
  },
  { code: '124', meaning: 'timed out: --timeout, or the time limit of one call, ran out' },
  { code: '130', meaning: 'interrupted: Ctrl-C (143: stopped by SIGTERM)' },
];

/** The exit-code table as every `--help` prints it. */
export function exitCodeHelp(): string {
  const width = Math.max(...EXIT_CODE_TABLE.map((r) => r.code.length));
  return [
    'Exit codes (the same for every command, docs/runbooks/README.md):',
    ...EXIT_CODE_TABLE.map((r) => `  ${r.code.padEnd(width)}  ${r.meaning}`),
  ].join('\n');
}

/** Bad usage: a missing or malformed flag, an unknown name. Exit 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Refused, aborted or failed operation. Exit 1. */
export class OperationError extends Error {
  readonly exitCode = EXIT_FAILED;
  /** `cause`: the underlying (AWS) error, for callers that react to its name. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/** AWS or the network could not be asked, so there is no verdict. Exit 3. */
export class CouldNotCheckError extends Error {
  readonly exitCode = EXIT_COULD_NOT_CHECK;
  /** `cause`: the underlying (AWS) error, for callers that react to its name. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CouldNotCheckError';
  }
}

/** Time ran out (the whole command's --timeout, or one call's limit). Exit 124. */
export class TimeoutError extends Error {
  readonly exitCode = EXIT_TIMEOUT;
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** The operator interrupted the command (Ctrl-C, or a kill with SIGTERM). Exit 130 or 143. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(
    message: string,
    readonly signal: 'SIGINT' | 'SIGTERM',
  ) {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = EXIT_SIGNAL[signal];
  }
}

/** The exit code an error carries (UsageError, TimeoutError, ...), if it carries one. */
export function exitCodeOf(e: unknown): number | undefined {
  const code =
    typeof e === 'object' && e !== null ? (e as { exitCode?: unknown }).exitCode : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** A timeout or an interrupt: passed on as it is, never reworded as a failure of the call it stopped. */
export function isStop(e: unknown): e is TimeoutError | InterruptedError {
  return e instanceof TimeoutError || e instanceof InterruptedError;
}

/** The most of an AWS error message a command prints. */
const MAX_AWS_MESSAGE_CHARS = 300;

interface AwsErrorShape {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The AWS error name (`ConflictException`, `NoSuchKey`, ...), or undefined for other errors. */
export function awsErrorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const err = e as AwsErrorShape;
  if (err.$metadata === undefined && err.name !== 'CredentialsProviderError') return undefined;
  return err.Code ?? err.name;
}

/**
 * One line for an AWS SDK error, with a hint for the causes an operator meets at 3 a.m.
 * (no credentials, expired credentials, access denied).
 */
export function describeAwsError(e: unknown, doing: string): string {
  const name = awsErrorName(e) ?? (e instanceof Error ? e.name : 'Error');
  const message = e instanceof Error ? e.message : String(e);
  // AWS's own words, kept to one line of bounded length (a message is text from outside).
  const flat = message.replace(/\s+/g, ' ').trim();
  const oneLine =
    flat.length > MAX_AWS_MESSAGE_CHARS
      ? `${flat.slice(0, MAX_AWS_MESSAGE_CHARS)}... (${flat.length} characters)`
      : flat;
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return `${doing} failed: no AWS credentials found (set AWS_PROFILE or run \`aws sso login\`, then retry)`;
  }
  if (/ExpiredToken/i.test(name))
    return `${doing} failed: your AWS credentials have expired (${oneLine}); refresh them and retry`;
  if (/AccessDenied|UnauthorizedOperation|Forbidden/i.test(name)) {
    return `${doing} failed: access denied (${oneLine}); use the operator role for this account`;
  }
  return `${doing} failed: ${name}: ${oneLine}`;
}
