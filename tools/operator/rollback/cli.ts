import { type Output, processOutput } from '../../common/output';
import { isInteractive, terminalConfirm } from '../../common/prompt';
import { runCli } from '../../common/run';
import { defaultRollbackDeps, rollbackMain } from './main';

/** `npx delivery rollback ...`: docs/runbooks/rollback.md */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli(
    'rollback',
    () => rollbackMain(argv, defaultRollbackDeps(output, isInteractive(), terminalConfirm)),
    output,
    argv,
  );
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A call abandoned at its time limit may still hold a socket open: the exit code is decided, so
    // do not let it keep the process alive (the timer does not itself keep it alive).
    setTimeout(() => process.exit(code), 2000).unref();
  });
