import { EXIT_FAILED, EXIT_OK } from './errors';
import type { Output } from './output';
import { safeForTerminal } from './terminal';

/**
 * Runs a tool's main and turns its outcome into an exit code. Known errors print their message
 * (prefixed with the tool's name); anything unexpected prints one line too, never a stack trace
 * (set DEBUG=1 to see one).
 */
export async function runCli(
  tool: string,
  main: () => Promise<number>,
  output: Output,
): Promise<number> {
  try {
    return await main();
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    // Messages quote what the operator typed or AWS returned: each line is neutralised for the terminal.
    const [first, ...rest] = String(err.message ?? e)
      .split('\n')
      .map(safeForTerminal);
    output.err(`${tool}: error: ${first}`);
    for (const line of rest) output.err(line);
    if (process.env.DEBUG && err.stack) output.err(err.stack);
    return typeof err.exitCode === 'number' && err.exitCode !== EXIT_OK
      ? err.exitCode
      : EXIT_FAILED;
  }
}
