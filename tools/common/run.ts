import { wantsJson } from './args';
import { printJson } from './command';
import { EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_OK, awsErrorName } from './errors';
import type { Output } from './output';
import { safeForTerminal } from './terminal';

/**
 * Runs a tool's main and turns its outcome into an exit code. Known errors print their message
 * (prefixed with the tool's name); anything unexpected prints one line too, never a stack trace
 * (set DEBUG=1 to see one). With `--json` in `argv`, a command that stops with an error still
 * prints its one JSON document: `{"command", "exitCode", "error"}`.
 */
export async function runCli(
  tool: string,
  main: () => Promise<number>,
  output: Output,
  argv: readonly string[] = [],
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
    // An AWS error no command turned into a sentence is still "could not check", never a verdict.
    const code =
      typeof err.exitCode === 'number' && err.exitCode !== EXIT_OK
        ? err.exitCode
        : awsErrorName(e) !== undefined
          ? EXIT_COULD_NOT_CHECK
          : EXIT_FAILED;
    if (wantsJson(argv)) printJson(output, tool, code, { error: String(err.message ?? e) });
    return code;
  }
}
