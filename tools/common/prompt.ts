import * as readline from 'node:readline/promises';
import { OperationError } from './errors';

/** Asks a yes/no question; true only for an explicit yes. `signal` withdraws the question (time is up, Ctrl-C). */
export type Confirm = (question: string, signal?: AbortSignal) => Promise<boolean>;

/**
 * True when a person can answer a prompt: stdin and stderr are terminals. The question goes to
 * stderr, so stdout can be a pipe or a file (`--json > result.json`) and the operator still asked.
 */
export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** Asks on the terminal (stderr); anything but y/yes (case-insensitive) is a no, so Enter alone declines. */
export const terminalConfirm: Confirm = async (question, signal) => {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} `, signal ? { signal } : {});
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
};

/**
 * The confirmation step every changing command shares: `--yes` skips it; without a terminal and
 * without `--yes` the command refuses rather than guess (a pipe or a CI job cannot answer).
 */
export async function confirmOrRefuse(opts: {
  yes: boolean;
  interactive: boolean;
  confirm: Confirm;
  question: string;
  what: string;
}): Promise<void> {
  if (opts.yes) return;
  if (!opts.interactive) {
    throw new OperationError(
      `refusing to ${opts.what} without confirmation: no terminal to ask on; pass --yes to confirm non-interactively`,
    );
  }
  if (!(await opts.confirm(opts.question))) {
    throw new OperationError(`aborted: nothing was changed`);
  }
}
