import { InterruptedError, TimeoutError, UsageError } from './errors';
import { formatElapsed } from './output';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Where interrupts come from: the process's SIGINT/SIGTERM in the CLI, a test's hand in tests. Returns a function that stops listening. */
export type SignalSource = (handler: (signal: StopSignal) => void) => () => void;

/** SIGINT and SIGTERM of this process. While a handler is registered node does not exit on them: the command decides when. */
export const processSignals: SignalSource = (handler) => {
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
};

export interface RunControlOptions {
  /** The whole command's budget (--timeout). */
  readonly timeoutMs: number;
  /** The most one external call (an AWS request, with its retries) may take. */
  readonly callTimeoutMs: number;
  readonly now?: () => number;
  /** Told when an interrupt is deferred, so the operator knows why the command goes on. */
  readonly onDeferredInterrupt?: (signal: StopSignal, doing: string) => void;
}

/**
 * Bounds every wait of one command run: each external call gets at most `callTimeoutMs` and never
 * more than what is left of the command's `--timeout`; an interrupt (Ctrl-C, SIGTERM) aborts the
 * call under way, except inside `protect(...)`, where it waits until the protected step is done
 * (the step between a change and its record: the change must never go unrecorded).
 */
export class RunControl {
  private readonly now: () => number;
  private readonly deadline: number;
  private interruptedBy: StopSignal | undefined;
  private protecting: string | undefined;
  private readonly listeners = new Set<(signal: StopSignal) => void>();

  constructor(private readonly opts: RunControlOptions) {
    this.now = opts.now ?? Date.now;
    this.deadline = this.now() + opts.timeoutMs;
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  get callTimeoutMs(): number {
    return this.opts.callTimeoutMs;
  }

  /** What is left of the command's --timeout, in ms (0 once it has run out). */
  remainingMs(): number {
    return Math.max(0, this.deadline - this.now());
  }

  /** The signal that interrupted the run, if one did. */
  get interrupted(): StopSignal | undefined {
    return this.interruptedBy;
  }

  /** Called by the signal source. */
  interrupt(signal: StopSignal): void {
    if (this.interruptedBy === undefined) this.interruptedBy = signal;
    if (this.protecting !== undefined) {
      this.opts.onDeferredInterrupt?.(signal, this.protecting);
      return;
    }
    for (const l of [...this.listeners]) l(signal);
  }

  /** Throws if the run was interrupted or its time is up: the check before each step that changes something. */
  checkpoint(doing: string): void {
    if (this.interruptedBy !== undefined && this.protecting === undefined)
      throw this.interruptError(doing);
    if (this.remainingMs() <= 0) throw this.deadlineError(doing);
  }

  /**
   * Runs one external call: `fn` gets an AbortSignal it must pass on (AWS SDK `abortSignal`,
   * readline's `signal`), and the call is abandoned at its time limit or on an interrupt even if
   * `fn` ignores the signal. `finishing`: a step that records or cleans up what was already done
   * (audit record, upload, releasing a hold): bounded by the call limit only, neither by the
   * command's deadline nor by an interrupt, which must not leave a change unrecorded.
   */
  call<T>(
    doing: string,
    fn: (signal: AbortSignal) => Promise<T>,
    opts: { timeoutMs?: number; finishing?: boolean } = {},
  ): Promise<T> {
    const callLimit = opts.timeoutMs ?? this.opts.callTimeoutMs;
    const remaining = this.remainingMs();
    const byDeadline = !opts.finishing && remaining <= callLimit;
    // Inside protect(...), an interrupt waits: the call is not abandoned.
    const interruptible = !opts.finishing && this.protecting === undefined;
    const limit = opts.finishing ? callLimit : Math.min(callLimit, remaining);
    if (interruptible) {
      try {
        this.checkpoint(doing);
      } catch (e) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes checkpoint's own error on unchanged
        return Promise.reject(e);
      }
    }
    const ac = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (act: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.listeners.delete(onInterrupt);
        act();
      };
      const timer = setTimeout(() => {
        ac.abort();
        finish(() =>
          reject(
            byDeadline
              ? this.deadlineError(doing)
              : new TimeoutError(`${doing} did not answer within ${formatSeconds(limit)}`),
          ),
        );
      }, limit);
      const onInterrupt = (signal: StopSignal) => {
        ac.abort();
        finish(() => reject(this.interruptError(doing, signal)));
      };
      if (interruptible) this.listeners.add(onInterrupt);
      // Through a promise, so that a function that throws or returns a plain value behaves the same.
      Promise.resolve()
        .then(() => fn(ac.signal))
        .then(
          (v) => finish(() => resolve(v)),
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes fn's own rejection on unchanged
          (e: unknown) => finish(() => reject(e)),
        );
    });
  }

  /** Runs `fn` with interrupts deferred until it ends; `doing` is what the operator is told is being finished. */
  async protect<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    const outer = this.protecting;
    this.protecting = doing;
    try {
      return await fn();
    } finally {
      this.protecting = outer;
    }
  }

  /** Sleeps, bounded by the deadline and cut short by an interrupt. */
  sleep(ms: number, doing: string): Promise<void> {
    const wait = Math.min(ms, this.remainingMs());
    return this.call(
      doing,
      (signal) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          signal.addEventListener('abort', () => clearTimeout(t), { once: true });
        }),
      { timeoutMs: wait + 1000 },
    );
  }

  private deadlineError(doing: string): TimeoutError {
    return new TimeoutError(
      `timed out: the command's --timeout of ${formatSeconds(this.opts.timeoutMs)} ran out while ${doing}`,
    );
  }

  private interruptError(
    doing: string,
    signal: StopSignal = this.interruptedBy ?? 'SIGINT',
  ): InterruptedError {
    return new InterruptedError(`interrupted (${signal}) while ${doing}`, signal);
  }
}

export function formatSeconds(ms: number): string {
  return ms < 60000 ? `${Math.round(ms / 100) / 10} s` : formatElapsed(ms);
}

/** Parses a `--timeout <seconds>` flag: a whole number of seconds within bounds. */
export function parseTimeoutSeconds(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const seconds = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= min && seconds <= max))
    throw new UsageError(
      `${flag}: ${JSON.stringify(value)} must be a whole number of seconds from ${min} to ${max}`,
    );
  return seconds;
}
